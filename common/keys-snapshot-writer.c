/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Writing and publishing the SSH keys snapshot (keys-snapshot.h): the
 * daemon's side, with the NSS snapshot's discipline — a temporary file in
 * the runtime directory, one fsync, a rename, an fsync of the directory,
 * then the counter bump that tells readers.
 *
 * Unlike the NSS writer, which collects everything in memory (it runs in a
 * child process), this one streams: the daemon walks its store in key order
 * and hands each user over as it goes, and the writer appends (MDB_APPEND)
 * and commits every few MiB. Pages are written with pwrite() (no
 * MDB_WRITEMAP), so the daemon's memory stays at one chunk whatever the
 * number of users, and a full /run is a clean ENOSPC rather than a SIGBUS. */
#include "keys-snapshot.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <lmdb.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lmdb-util.h"
#include "macro.h"
#include "snapshot-format.h"
#include "validate.h"

/* Address space only: the file grows with what is written. A reader maps
 * this much too, which costs a mapping, not memory. */
#define KEYS_MAP_SIZE (8ULL << 30)
/* Bytes appended before an intermediate commit. */
#define KEYS_CHUNK (4U << 20)

struct keys_writer {
        char *dir;
        int dir_fd;
        char *tmp_path;                 /* NULL once renamed */
        int tmp_fd;
        MDB_env *env;
        MDB_txn *txn;
        MDB_dbi meta, keys, account;
        char last_user[USERNAME_MAX + 1];
        uint64_t users;
        size_t chunk;                   /* bytes since the last commit */
};

keys_writer *keys_writer_free(keys_writer *w) {
        if (!w)
                return NULL;
        if (w->txn)
                mdb_txn_abort(w->txn);
        if (w->env)
                mdb_env_close(w->env);
        if (w->tmp_path)
                unlink(w->tmp_path);
        free(w->tmp_path);
        if (w->tmp_fd >= 0)
                close(w->tmp_fd);
        if (w->dir_fd >= 0)
                close(w->dir_fd);
        free(w->dir);
        free(w);
        return NULL;
}

static int put(MDB_txn *txn, MDB_dbi dbi, const void *key, size_t key_size,
               const void *val, size_t val_size, unsigned flags) {
        MDB_val k = { .mv_size = key_size, .mv_data = (void *) key };
        MDB_val v = { .mv_size = val_size, .mv_data = (void *) val };
        return errno_from_mdb(mdb_put(txn, dbi, &k, &v, flags));
}

int keys_writer_new(const char *runtime_dir, gid_t gid, keys_writer **ret) {
        uint32_t format = KEYS_SNAPSHOT_FORMAT_VERSION;
        keys_writer *w;
        int rc, r, fd, flags;

        if (isempty(runtime_dir) || !ret)
                return -EINVAL;
        w = calloc(1, sizeof(*w));
        if (!w)
                return -ENOMEM;
        w->dir_fd = w->tmp_fd = -1;
        w->dir = strdup(runtime_dir);
        if (!w->dir) {
                r = -ENOMEM;
                goto fail;
        }
        w->dir_fd = open(runtime_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (w->dir_fd < 0) {
                r = -errno;
                goto fail;
        }
        if (asprintf(&w->tmp_path, "%s/" KEYS_TMP_PREFIX "XXXXXX", runtime_dir) < 0) {
                w->tmp_path = NULL;
                r = -ENOMEM;
                goto fail;
        }
        /* mkostemp() creates it 0600: nobody but root can open it before
         * the group is right. */
        w->tmp_fd = mkostemp(w->tmp_path, O_CLOEXEC);
        if (w->tmp_fd < 0) {
                r = -errno;
                free(w->tmp_path);
                w->tmp_path = NULL;
                goto fail;
        }
        if (gid != (gid_t) -1) {
                if (fchown(w->tmp_fd, (uid_t) -1, gid) < 0 || fchmod(w->tmp_fd, 0640) < 0) {
                        r = -errno;
                        goto fail;
                }
        } else if (fchmod(w->tmp_fd, 0600) < 0) {
                r = -errno;
                goto fail;
        }

        rc = mdb_env_create(&w->env);
        if (rc != MDB_SUCCESS) {
                w->env = NULL;
                r = errno_from_mdb(rc);
                goto fail;
        }
        rc = mdb_env_set_mapsize(w->env, KEYS_MAP_SIZE);
        if (rc == MDB_SUCCESS)
                rc = mdb_env_set_maxdbs(w->env, 4);
        /* No lock file (nobody else writes it) and no sync per commit: it is
         * synced once, before the rename. The mode argument does not apply
         * to an existing file: the one set above stays. */
        if (rc == MDB_SUCCESS)
                rc = mdb_env_open(w->env, w->tmp_path, MDB_NOSUBDIR | MDB_NOLOCK | MDB_NOSYNC, 0600);
        if (rc == MDB_SUCCESS && mdb_env_get_fd(w->env, &fd) == MDB_SUCCESS &&
            (flags = fcntl(fd, F_GETFD)) >= 0)
                (void) fcntl(fd, F_SETFD, flags | FD_CLOEXEC);
        if (rc == MDB_SUCCESS)
                rc = mdb_txn_begin(w->env, NULL, 0, &w->txn);
        if (rc == MDB_SUCCESS)
                rc = mdb_dbi_open(w->txn, KEYS_DB_META, MDB_CREATE, &w->meta);
        if (rc == MDB_SUCCESS)
                rc = mdb_dbi_open(w->txn, KEYS_DB_KEYS, MDB_CREATE, &w->keys);
        if (rc == MDB_SUCCESS)
                rc = mdb_dbi_open(w->txn, KEYS_DB_ACCOUNT, MDB_CREATE, &w->account);
        if (rc != MDB_SUCCESS) {
                r = errno_from_mdb(rc);
                goto fail;
        }
        r = put(w->txn, w->meta, KEYS_META_FORMAT, strlen(KEYS_META_FORMAT), &format, sizeof(format), 0);
        if (r < 0)
                goto fail;
        *ret = w;
        return 0;
fail:
        keys_writer_free(w);
        return r;
}

int keys_writer_add(keys_writer *w, const char *user, const char *lines, size_t size, bool account_ok) {
        int rc, r;

        if (!w || !w->txn || validate_username(user, NULL) < 0 || !lines || size == 0 ||
            memchr(lines, 0, size) || lines[size - 1] != '\n')
                return -EINVAL;
        /* MDB_APPEND needs ascending keys; strcmp() orders bytes as LMDB's
         * default comparison does. */
        if (w->users > 0 && strcmp(w->last_user, user) >= 0)
                return -EINVAL;
        r = put(w->txn, w->keys, user, strlen(user), lines, size, MDB_APPEND);
        if (r >= 0 && account_ok)
                r = put(w->txn, w->account, user, strlen(user), "", 0, MDB_APPEND);
        if (r < 0)
                return r;
        memcpy(w->last_user, user, strlen(user) + 1);     /* valid: at most USERNAME_MAX */
        w->users++;
        w->chunk += size + strlen(user);
        if (w->chunk >= KEYS_CHUNK) {
                /* Written to the file (no sync); the dirty pages are freed. */
                rc = mdb_txn_commit(w->txn);
                w->txn = NULL;
                if (rc == MDB_SUCCESS)
                        rc = mdb_txn_begin(w->env, NULL, 0, &w->txn);
                if (rc != MDB_SUCCESS) {
                        w->txn = NULL;
                        return errno_from_mdb(rc);
                }
                w->chunk = 0;
        }
        return 0;
}

/* Opens (creating it on first use) RUNTIME/keys.gen, locks it against a
 * concurrent publisher and maps it; *ret_next is the generation to publish.
 * A new file starts from the generation of the keys.mdb in place. */
static int lock_generation(keys_writer *w, int *ret_fd, void **ret_map, uint64_t *ret_next) {
        _cleanup_close_ int fd = -1;
        struct stat st;
        void *map;

        fd = openat(w->dir_fd, KEYS_SNAPSHOT_GENERATION_FILE,
                    O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY, 0644);
        if (fd < 0)
                return -errno;
        if (flock(fd, LOCK_EX) < 0 || fstat(fd, &st) < 0)
                return -errno;
        if (!S_ISREG(st.st_mode))
                return -EBADMSG;
        /* The counter says only that something changed: anyone may read it. */
        if ((st.st_mode & 07777) != 0644 && fchmod(fd, 0644) < 0)
                return -errno;
        if (st.st_size < GEN_FILE_SIZE) {
                char header[GEN_FILE_SIZE], *path = NULL;
                uint64_t seed = 0;
                keys_snapshot *s;

                if (asprintf(&path, "%s/%s", w->dir, KEYS_SNAPSHOT_FILE) < 0)
                        return -ENOMEM;
                if (keys_snapshot_open(path, &s) >= 0) {
                        seed = keys_snapshot_get_generation(s);
                        keys_snapshot_close(s);
                }
                free(path);
                memcpy(header, GEN_MAGIC, GEN_MAGIC_SIZE);
                memcpy(header + GEN_MAGIC_SIZE, &seed, sizeof(seed));
                if (pwrite(fd, header, sizeof(header), 0) != (ssize_t) sizeof(header))
                        return errno > 0 ? -errno : -EIO;
        }
        map = mmap(NULL, GEN_FILE_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
        if (map == MAP_FAILED)
                return -errno;
        if (!snapshot_gen_file_valid(map))
                memcpy(map, GEN_MAGIC, GEN_MAGIC_SIZE);
        *ret_next = __atomic_load_n(snapshot_gen_counter(map), __ATOMIC_ACQUIRE) + 1;
        *ret_map = map;
        *ret_fd = TAKE_FD(fd);
        return 0;
}

int keys_writer_publish(keys_writer *w, uint64_t *ret_generation) {
        _cleanup_close_ int gen_fd = -1;
        void *gen_map = NULL;
        uint64_t generation = 0;
        int rc, r;

        if (!w || !w->txn) {
                keys_writer_free(w);
                return -EINVAL;
        }
        r = lock_generation(w, &gen_fd, &gen_map, &generation);
        if (r >= 0)
                r = put(w->txn, w->meta, KEYS_META_GENERATION, strlen(KEYS_META_GENERATION),
                        &generation, sizeof(generation), 0);
        if (r >= 0)
                r = put(w->txn, w->meta, KEYS_META_USERS, strlen(KEYS_META_USERS), &w->users,
                        sizeof(w->users), 0);
        if (r < 0)
                goto finish;
        rc = mdb_txn_commit(w->txn);
        w->txn = NULL;
        if (rc != MDB_SUCCESS) {
                r = errno_from_mdb(rc);
                goto finish;
        }
        /* Every page is in the file once the environment is closed. */
        mdb_env_close(w->env);
        w->env = NULL;

        /* The data before the name: a rename first could publish a file
         * whose blocks are not on disk yet. */
        if (fsync(w->tmp_fd) < 0 ||
            renameat(w->dir_fd, strrchr(w->tmp_path, '/') + 1, w->dir_fd, KEYS_SNAPSHOT_FILE) < 0) {
                r = -errno;
                goto finish;
        }
        free(w->tmp_path);
        w->tmp_path = NULL;
        /* In place whatever happens next: readers must be told even if the
         * directory sync fails. */
        r = fsync(w->dir_fd) < 0 ? -errno : 0;
        __atomic_store_n(snapshot_gen_counter(gen_map), generation, __ATOMIC_RELEASE);
        if (ret_generation)
                *ret_generation = generation;
finish:
        if (gen_map)
                munmap(gen_map, GEN_FILE_SIZE);
        keys_writer_free(w);
        return r;
}

int keys_writer_remove_stale(const char *runtime_dir) {
        struct dirent *de;
        DIR *d;
        int n = 0;

        if (isempty(runtime_dir))
                return -EINVAL;
        d = opendir(runtime_dir);
        if (!d)
                return errno == ENOENT ? 0 : -errno;
        while ((de = readdir(d)))
                if (strncmp(de->d_name, KEYS_TMP_PREFIX, strlen(KEYS_TMP_PREFIX)) == 0 &&
                    unlinkat(dirfd(d), de->d_name, 0) == 0)
                        n++;
        closedir(d);
        return n;
}
