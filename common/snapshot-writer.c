/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Writing and publishing snapshots: the daemon's side, never linked into the
 * NSS module. */
#include "snapshot-format.h"
#include "snapshot-writer.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <lmdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "array.h"
#include "lmdb-util.h"
#include "macro.h"
#include "validate.h"

/* ======================================================================
 * Publishing a file: what a whole snapshot and an update share
 * ====================================================================== */

/* A new snapshot on its way into RUNTIME: a temporary file in the directory,
 * then fsync, rename over RUNTIME/nss.mdb, fsync of the directory, and the
 * counter bump that tells readers. */
typedef struct publish_target {
        char *dir;
        int dir_fd;
        char *tmp_path;         /* NULL once renamed */
        const char *tmp_name;   /* relative to dir */
        int tmp_fd;
        int gen_fd;             /* locked against a concurrent publisher */
        void *gen_map;
} publish_target;

#define PUBLISH_TARGET_INIT { .dir_fd = -1, .tmp_fd = -1, .gen_fd = -1 }

static void target_done(publish_target *t) {
        if (t->tmp_path)
                unlink(t->tmp_path);
        free(t->tmp_path);
        if (t->tmp_fd >= 0)
                close(t->tmp_fd);
        if (t->gen_map)
                munmap(t->gen_map, GEN_FILE_SIZE);
        if (t->gen_fd >= 0)
                close(t->gen_fd);
        if (t->dir_fd >= 0)
                close(t->dir_fd);
        free(t->dir);
        *t = (publish_target) PUBLISH_TARGET_INIT;
}

/* Creates RUNTIME (0755) if needed and a temporary file (0644) in it. */
static int target_open(publish_target *t, const char *runtime_dir) {
        if (isempty(runtime_dir))
                return -EINVAL;
        t->dir = strdup(runtime_dir);
        if (!t->dir)
                return -ENOMEM;
        if (mkdir(runtime_dir, 0755) == 0) {
                /* mkdir() honours the umask; readers of every uid need to get in. */
                if (chmod(runtime_dir, 0755) < 0)
                        return -errno;
        } else if (errno != EEXIST)
                return -errno;
        t->dir_fd = open(runtime_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (t->dir_fd < 0)
                return -errno;
        if (asprintf(&t->tmp_path, "%s/" TMP_PREFIX "XXXXXX", runtime_dir) < 0) {
                t->tmp_path = NULL;
                return -ENOMEM;
        }
        t->tmp_fd = mkostemp(t->tmp_path, O_CLOEXEC);
        if (t->tmp_fd < 0) {
                int r = -errno;
                free(t->tmp_path);
                t->tmp_path = NULL;
                return r;
        }
        t->tmp_name = strrchr(t->tmp_path, '/') + 1;
        if (fchmod(t->tmp_fd, 0644) < 0)
                return -errno;
        return 0;
}

static int target_open_published(publish_target *t, snapshot **ret) {
        _cleanup_free_ char *path = NULL;

        if (asprintf(&path, "%s/%s", t->dir, SNAPSHOT_FILE) < 0)
                return -ENOMEM;
        return snapshot_open(path, NULL, ret);
}

/* Opens (creating it on first use) the generation file, locks it against a
 * concurrent publisher and maps it writable; *ret_next is the generation the
 * new snapshot gets. The counter carries on from its current value; a new
 * file starts from the generation of the snapshot in place, so that readers
 * holding that snapshot see the next one as new. */
static int target_lock_generation(publish_target *t, uint64_t *ret_next) {
        _cleanup_close_ int fd = -1;
        struct stat st;
        void *map;

        fd = openat(t->dir_fd, SNAPSHOT_GENERATION_FILE,
                    O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY, 0644);
        if (fd < 0)
                return -errno;
        if (flock(fd, LOCK_EX) < 0)
                return -errno;
        if (fstat(fd, &st) < 0)
                return -errno;
        if (!S_ISREG(st.st_mode))
                return -EBADMSG;
        if ((st.st_mode & 07777) != 0644 && fchmod(fd, 0644) < 0)
                return -errno;

        if (st.st_size < GEN_FILE_SIZE) {
                /* New (or never completed): only ever grown, never shrunk. */
                char header[GEN_FILE_SIZE];
                uint64_t seed = 0;
                snapshot *s;

                if (target_open_published(t, &s) >= 0) {
                        seed = snapshot_get_generation(s);
                        snapshot_close(s);
                }
                memcpy(header, GEN_MAGIC, GEN_MAGIC_SIZE);
                memcpy(header + GEN_MAGIC_SIZE, &seed, sizeof(seed));
                if (pwrite(fd, header, sizeof(header), 0) != (ssize_t) sizeof(header))
                        return errno > 0 ? -errno : -EIO;
        }

        map = mmap(NULL, GEN_FILE_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
        if (map == MAP_FAILED)
                return -errno;
        if (!snapshot_gen_file_valid(map)) {
                /* Someone else's file under our name: claim it, keeping the
                 * counter field as the best guess of where to go on. */
                memcpy(map, GEN_MAGIC, GEN_MAGIC_SIZE);
        }
        t->gen_fd = TAKE_FD(fd);
        t->gen_map = map;
        *ret_next = __atomic_load_n(snapshot_gen_counter(map), __ATOMIC_ACQUIRE) + 1;
        return 0;
}

/* The temporary file is complete as `name` (the base or the delta) of
 * `generation`: make it durable, put it in place, tell the readers. */
static int target_publish(publish_target *t, const char *name, uint64_t generation) {
        int r;

        /* The data first: a rename before the fsync could publish a file
         * whose blocks are not on disk yet. */
        if (fsync(t->tmp_fd) < 0)
                return -errno;
        if (renameat(t->dir_fd, t->tmp_name, t->dir_fd, name) < 0)
                return -errno;
        free(t->tmp_path);
        t->tmp_path = NULL;
        t->tmp_name = NULL;
        /* A new base supersedes the delta beside it, which readers ignore
         * from now on (it applies to the old base): remove it. */
        if (strcmp(name, SNAPSHOT_FILE) == 0)
                (void) unlinkat(t->dir_fd, SNAPSHOT_DELTA_FILE, 0);

        /* The new file is in place whatever happens next, so readers must be
         * told about it even if the directory sync fails. */
        r = fsync(t->dir_fd) < 0 ? -errno : 0;
        __atomic_store_n(snapshot_gen_counter(t->gen_map), generation, __ATOMIC_RELEASE);
        return r;
}

/* ======================================================================
 * A whole snapshot
 * ====================================================================== */

/* Records are collected in memory and written at publication, sorted, with
 * MDB_APPEND: that is several times faster than inserting in arrival order,
 * and lets the map be sized from the real data. */

typedef struct arena_chunk {
        struct arena_chunk *next;
        size_t used, size;
        char data[];
} arena_chunk;

#define ARENA_CHUNK_SIZE (256 * 1024)

typedef struct writer_entry {
        uint32_t id;
        uint32_t gid;           /* users: the primary gid */
        uint32_t size;          /* of rec */
        uint32_t n;             /* users: supplementary gids; groups: members */
        const char *name;       /* inside rec */
        const char *rec;        /* users: the strings; groups: the whole record */
        size_t first_gid;       /* users: index of the first gid in members */
        uint32_t flags;         /* users: USER_PRIVATE_GROUP */
        uint16_t lens[4];       /* users: of name, gecos, home, shell */
        bool folded;            /* groups: carried by its user's record */
} writer_entry;

typedef struct writer_member {
        const char *user;       /* inside a group record; NULL once given to a user */
        uint32_t gid;
} writer_member;

typedef struct entry_array {
        writer_entry *v;
        size_t n, cap;
} entry_array;

struct snapshot_writer {
        publish_target target;

        arena_chunk *arena;
        entry_array users, groups;
        writer_member *members;
        size_t n_members, cap_members;
        size_t data_size;       /* records plus keys, for the map size */
        size_t n_large;         /* records that need overflow pages */
};

static void *arena_alloc(snapshot_writer *w, size_t size) {
        arena_chunk *c = w->arena;
        void *p;

        if (!c || c->size - c->used < size) {
                size_t csize = size > ARENA_CHUNK_SIZE ? size : ARENA_CHUNK_SIZE;
                c = malloc(sizeof(*c) + csize);
                if (!c)
                        return NULL;
                c->next = w->arena;
                c->used = 0;
                c->size = csize;
                w->arena = c;
        }
        p = c->data + c->used;
        c->used += size;
        return p;
}

static bool field_valid(const char *s) {
        return !strpbrk(s, ":\n");
}

int snapshot_writer_new(const char *runtime_dir, size_t expected_users,
                        size_t expected_groups, snapshot_writer **ret) {
        snapshot_writer *w;
        int r;

        if (!ret)
                return -EINVAL;

        w = calloc(1, sizeof(*w));
        if (!w)
                return -ENOMEM;
        w->target = (publish_target) PUBLISH_TARGET_INIT;
        r = target_open(&w->target, runtime_dir);
        if (r < 0)
                goto fail;

        /* Sized from the hints up front: the arrays then rarely grow. */
        r = ARRAY_RESERVE(w->users.v, w->users.cap, expected_users > 0 ? expected_users : 1);
        if (r >= 0)
                r = ARRAY_RESERVE(w->groups.v, w->groups.cap, expected_groups > 0 ? expected_groups : 1);
        if (r < 0)
                goto fail;

        *ret = w;
        return 0;

fail:
        snapshot_writer_free(w);
        return r;
}

static writer_entry *add_entry(snapshot_writer *w, entry_array *a, size_t size) {
        if (size > UINT32_MAX)
                return NULL;
        if (ARRAY_RESERVE(a->v, a->cap, a->n + 1) < 0)
                return NULL;
        if (size > 1024)
                w->n_large++;
        a->v[a->n] = (writer_entry) { .size = (uint32_t) size };
        return &a->v[a->n++];
}

int snapshot_writer_add_user(snapshot_writer *w, const char *name, uint32_t uid, uint32_t gid,
                             const char *gecos, const char *home, const char *shell) {
        const char *fields[4];
        size_t lens[4], size = 0;
        writer_entry *e;
        char *rec, *p;

        if (!w || validate_username(name, NULL) < 0 || uid == UINT32_MAX || gid == UINT32_MAX)
                return -EINVAL;
        fields[0] = name;
        fields[1] = strempty(gecos);
        fields[2] = strempty(home);
        fields[3] = strempty(shell);
        for (size_t i = 0; i < ELEMENTSOF(fields); i++) {
                if (!field_valid(fields[i]))
                        return -EINVAL;
                lens[i] = strlen(fields[i]);
                if (lens[i] >= USER_FIELD_MAX)
                        return -EINVAL;
                size += lens[i] + 1;
        }

        rec = arena_alloc(w, size);
        if (!rec)
                return -ENOMEM;
        p = rec;
        for (size_t i = 0; i < ELEMENTSOF(fields); i++) {
                memcpy(p, fields[i], lens[i] + 1);
                p += lens[i] + 1;
        }
        e = add_entry(w, &w->users, size);
        if (!e)
                return -ENOMEM;
        e->id = uid;
        e->gid = gid;
        e->name = rec;
        e->rec = rec;
        for (size_t i = 0; i < ELEMENTSOF(lens); i++)
                e->lens[i] = (uint16_t) lens[i];
        /* The record under both keys, the keys, LMDB's node headers. */
        w->data_size += 2 * (USER_HEADER_SIZE + size) + lens[0] + sizeof(uint32_t) + 32;
        return 0;
}

int snapshot_writer_add_group(snapshot_writer *w, const char *name, uint32_t gid,
                              char *const *members) {
        size_t n = strv_length(members), name_len, size;
        writer_entry *e;
        uint32_t count;
        char *rec, *p;
        int r;

        if (!w || validate_group_name(name, NULL) < 0 || gid == UINT32_MAX || n > UINT32_MAX)
                return -EINVAL;
        name_len = strlen(name);
        size = GROUP_HEADER_SIZE + name_len + 1;
        for (size_t i = 0; i < n; i++) {
                if (validate_username(members[i], NULL) < 0)
                        return -EINVAL;
                size += strlen(members[i]) + 1;
        }
        r = ARRAY_RESERVE(w->members, w->cap_members, w->n_members + n);
        if (r < 0)
                return r;

        rec = arena_alloc(w, size);
        if (!rec)
                return -ENOMEM;
        count = (uint32_t) n;
        memcpy(rec, &gid, sizeof(gid));
        memcpy(rec + 4, &count, sizeof(count));
        p = rec + GROUP_HEADER_SIZE;
        memcpy(p, name, name_len + 1);
        p += name_len + 1;
        for (size_t i = 0; i < n; i++) {
                size_t len = strlen(members[i]);
                memcpy(p, members[i], len + 1);
                w->members[w->n_members + i] = (writer_member) { .user = p, .gid = gid };
                p += len + 1;
        }

        e = add_entry(w, &w->groups, size);
        if (!e)
                return -ENOMEM;
        e->id = gid;
        e->n = count;
        e->name = rec + GROUP_HEADER_SIZE;
        e->rec = rec;
        w->n_members += n;
        w->data_size += size + 2 * name_len + 2 * sizeof(uint32_t) + 32 +
                        n * (sizeof(uint32_t) + 8);
        return 0;
}

/* A natural merge sort: it finds the ascending runs and merges them pairwise.
 * The daemon hands records over mostly in order (users by name, each group's
 * members in user order), which then costs O(n) to O(n log runs) rather
 * than qsort's O(n log n) calls through a function pointer. Stable. */
#define DEFINE_RUN_SORT(fname, type, le)                                        \
        static int fname(type *v, size_t n) {                                   \
                size_t *b, nb = 0;                                              \
                type *src = v;                                                  \
                type *dst;                                                      \
                type *tmp;                                                      \
                                                                                \
                if (n < 2)                                                      \
                        return 0;                                               \
                b = malloc((n + 1) * sizeof(*b));                               \
                if (!b)                                                         \
                        return -ENOMEM;                                         \
                b[nb++] = 0;                                                    \
                for (size_t i = 1; i < n; i++)                                  \
                        if (!le(&v[i - 1], &v[i]))                              \
                                b[nb++] = i;                                    \
                b[nb++] = n;                                                    \
                if (nb == 2) {                                                  \
                        free(b);                                                \
                        return 0;                                               \
                }                                                               \
                tmp = dst = malloc(n * sizeof(type));                           \
                if (!dst) {                                                     \
                        free(b);                                                \
                        return -ENOMEM;                                         \
                }                                                               \
                /* b[0..nb) are run boundaries; each pass halves the runs. */   \
                while (nb > 2) {                                                \
                        size_t k = 0;                                           \
                        for (size_t r = 0; r + 1 < nb; r += 2) {                \
                                size_t lo = b[r], mid = b[r + 1];               \
                                size_t hi = r + 2 < nb ? b[r + 2] : mid;        \
                                size_t i = lo, j = mid, o = lo;                 \
                                while (i < mid && j < hi)                       \
                                        dst[o++] = le(&src[i], &src[j]) ? src[i++] : src[j++]; \
                                while (i < mid)                                 \
                                        dst[o++] = src[i++];                    \
                                while (j < hi)                                  \
                                        dst[o++] = src[j++];                    \
                                b[k++] = lo;                                    \
                        }                                                       \
                        b[k++] = n;                                             \
                        nb = k;                                                 \
                        type *swap = src;                                       \
                        src = dst;                                              \
                        dst = swap;                                             \
                }                                                               \
                if (src != v)                                                   \
                        memcpy(v, src, n * sizeof(type));                       \
                free(tmp);                                                      \
                free(b);                                                        \
                return 0;                                                       \
        }

static inline bool entry_id_le(const writer_entry *a, const writer_entry *b) {
        return a->id <= b->id;
}

static inline bool entry_name_le(writer_entry *const *a, writer_entry *const *b) {
        return strcmp((*a)->name, (*b)->name) <= 0;
}

static inline bool member_le(const writer_member *a, const writer_member *b) {
        int c = strcmp(a->user, b->user);
        return c < 0 || (c == 0 && a->gid <= b->gid);
}

DEFINE_RUN_SORT(sort_entries_by_id, writer_entry, entry_id_le)
DEFINE_RUN_SORT(sort_entries_by_name, writer_entry *, entry_name_le)
DEFINE_RUN_SORT(sort_members, writer_member, member_le)

typedef struct writer_order {
        writer_entry **users_by_name;
        writer_entry **groups_by_name;  /* the groups not folded into users */
        size_t n_groups_by_name;
} writer_order;

static int sort_by_id(entry_array *a) {
        int r = sort_entries_by_id(a->v, a->n);
        if (r < 0)
                return r;
        for (size_t i = 1; i < a->n; i++)
                if (a->v[i - 1].id == a->v[i].id)
                        return -EEXIST;
        return 0;
}

static int sort_by_name(writer_entry **v, size_t n) {
        int r = sort_entries_by_name(v, n);
        if (r < 0)
                return r;
        for (size_t i = 1; i < n; i++)
                if (strcmp(v[i - 1]->name, v[i]->name) == 0)
                        return -EEXIST;
        return 0;
}

static writer_entry *find_by_name(writer_entry **v, size_t n, const char *name) {
        size_t lo = 0, hi = n;

        while (lo < hi) {
                size_t mid = lo + (hi - lo) / 2;
                int c = strcmp(v[mid]->name, name);
                if (c == 0)
                        return v[mid];
                if (c < 0)
                        lo = mid + 1;
                else
                        hi = mid;
        }
        return NULL;
}

/* Puts everything in the order it is written in and checks uniqueness:
 * users and groups by id, users by name; folds private groups into their
 * users; orders the other groups by name; hands each user its gids. */
static int writer_prepare(snapshot_writer *w, writer_order *o) {
        size_t n_users = w->users.n, n_groups = w->groups.n, k;
        int r;

        r = sort_by_id(&w->users);
        if (r >= 0)
                r = sort_by_id(&w->groups);
        if (r < 0)
                return r;

        o->users_by_name = malloc((n_users ? n_users : 1) * sizeof(writer_entry *));
        o->groups_by_name = malloc((n_groups ? n_groups : 1) * sizeof(writer_entry *));
        if (!o->users_by_name || !o->groups_by_name)
                return -ENOMEM;
        for (size_t i = 0; i < n_users; i++)
                o->users_by_name[i] = &w->users.v[i];
        r = sort_by_name(o->users_by_name, n_users);
        if (r < 0)
                return r;

        /* Private groups: both lists are in id order, so one joint walk. */
        k = 0;
        for (size_t i = 0, u = 0; i < n_groups; i++) {
                writer_entry *g = &w->groups.v[i];

                while (u < n_users && w->users.v[u].id < g->id)
                        u++;
                if (g->n == 0 && u < n_users) {
                        writer_entry *user = &w->users.v[u];
                        if (user->id == g->id && user->gid == user->id &&
                            strcmp(user->name, g->name) == 0) {
                                user->flags |= USER_PRIVATE_GROUP;
                                g->folded = true;
                                continue;
                        }
                }
                o->groups_by_name[k++] = g;
        }
        o->n_groups_by_name = k;
        r = sort_by_name(o->groups_by_name, k);
        if (r < 0)
                return r;
        /* Group names are unique across both kinds. */
        for (size_t i = 0; i < k; i++) {
                writer_entry *user = find_by_name(o->users_by_name, n_users,
                                                  o->groups_by_name[i]->name);
                if (user && (user->flags & USER_PRIVATE_GROUP))
                        return -EEXIST;
        }

        /* Supplementary groups: members sorted by (name, gid), duplicates
         * dropped, then walked along with the users in name order. */
        r = sort_members(w->members, w->n_members);
        if (r < 0)
                return r;
        k = 0;
        for (size_t i = 0; i < w->n_members; i++)
                if (k == 0 || strcmp(w->members[k - 1].user, w->members[i].user) != 0 ||
                    w->members[k - 1].gid != w->members[i].gid)
                        w->members[k++] = w->members[i];
        w->n_members = k;
        for (size_t i = 0, m = 0; i < n_users && m < w->n_members; i++) {
                writer_entry *user = o->users_by_name[i];
                int c = -1;

                while (m < w->n_members && (c = strcmp(w->members[m].user, user->name)) < 0)
                        m++;
                user->first_gid = m;
                for (; m < w->n_members && c == 0 &&
                       strcmp(w->members[m].user, user->name) == 0; m++) {
                        w->members[m].user = NULL;
                        user->n++;
                }
        }
        return 0;
}

static int put(MDB_txn *txn, MDB_dbi dbi, const void *key, size_t key_size,
               const void *val, size_t val_size, unsigned flags) {
        MDB_val k = { .mv_size = key_size, .mv_data = (void *) key };
        MDB_val v = { .mv_size = val_size, .mv_data = (void *) val };
        return mdb_put(txn, dbi, &k, &v, flags);
}

static int put_meta(MDB_txn *txn, MDB_dbi dbi, const char *key, const void *val, size_t size) {
        return put(txn, dbi, key, strlen(key), val, size, 0);
}

static int put_user(snapshot_writer *w, MDB_txn *txn, MDB_dbi dbi, const void *key,
                    size_t key_size, const writer_entry *e) {
        size_t gids_size = (size_t) e->n * sizeof(uint32_t);
        MDB_val k = { .mv_size = key_size, .mv_data = (void *) key };
        MDB_val v = { .mv_size = USER_HEADER_SIZE + gids_size + e->size };
        char *p;
        int rc;

        /* Reserved in place, then filled: no intermediate copy. */
        rc = mdb_put(txn, dbi, &k, &v, MDB_APPEND | MDB_RESERVE);
        if (rc)
                return rc;
        p = v.mv_data;
        memcpy(p, &e->id, sizeof(uint32_t));
        memcpy(p + 4, &e->gid, sizeof(uint32_t));
        memcpy(p + 8, &e->flags, sizeof(uint32_t));
        memcpy(p + 12, &e->n, sizeof(uint32_t));
        memcpy(p + 16, e->lens, sizeof(e->lens));
        p += USER_HEADER_SIZE;
        for (size_t i = 0; i < e->n; i++, p += sizeof(uint32_t))
                memcpy(p, &w->members[e->first_gid + i].gid, sizeof(uint32_t));
        memcpy(p, e->rec, e->size);
        return MDB_SUCCESS;
}

static int write_tables(snapshot_writer *w, const writer_order *o, MDB_txn *txn,
                        uint64_t generation) {
        MDB_dbi meta, user_byid, user_byname, group_byid, group_byname, initgroups;
        uint32_t format = SNAPSHOT_FORMAT_VERSION;
        uint64_t n_users = w->users.n, n_groups = w->groups.n;
        _cleanup_free_ uint32_t *gids = NULL;
        size_t cap_gids = 0;
        int rc;

        if ((rc = mdb_dbi_open(txn, DB_META, MDB_CREATE, &meta)) ||
            (rc = mdb_dbi_open(txn, DB_USER_BYID, MDB_CREATE | MDB_INTEGERKEY, &user_byid)) ||
            (rc = mdb_dbi_open(txn, DB_USER_BYNAME, MDB_CREATE, &user_byname)) ||
            (rc = mdb_dbi_open(txn, DB_GROUP_BYID, MDB_CREATE | MDB_INTEGERKEY, &group_byid)) ||
            (rc = mdb_dbi_open(txn, DB_GROUP_BYNAME, MDB_CREATE, &group_byname)) ||
            (rc = mdb_dbi_open(txn, DB_INITGROUPS, MDB_CREATE, &initgroups)))
                return rc;

        if ((rc = put_meta(txn, meta, META_FORMAT, &format, sizeof(format))) ||
            (rc = put_meta(txn, meta, META_GENERATION, &generation, sizeof(generation))) ||
            (rc = put_meta(txn, meta, META_USERS, &n_users, sizeof(n_users))) ||
            (rc = put_meta(txn, meta, META_GROUPS, &n_groups, sizeof(n_groups))))
                return rc;

        for (size_t i = 0; i < w->users.n; i++) {
                const writer_entry *e = &w->users.v[i];
                rc = put_user(w, txn, user_byid, &e->id, sizeof(e->id), e);
                if (rc)
                        return rc;
        }
        for (size_t i = 0; i < w->users.n; i++) {
                const writer_entry *e = o->users_by_name[i];
                rc = put_user(w, txn, user_byname, e->name, e->lens[0], e);
                if (rc)
                        return rc;
        }
        for (size_t i = 0; i < w->groups.n; i++) {
                const writer_entry *e = &w->groups.v[i];
                if (e->folded)
                        continue;
                rc = put(txn, group_byid, &e->id, sizeof(e->id), e->rec, e->size, MDB_APPEND);
                if (rc)
                        return rc;
        }
        for (size_t i = 0; i < o->n_groups_by_name; i++) {
                const writer_entry *e = o->groups_by_name[i];
                rc = put(txn, group_byname, e->name, strlen(e->name), &e->id, sizeof(e->id),
                         MDB_APPEND);
                if (rc)
                        return rc;
        }

        /* Members that are not users of this snapshot (the daemon publishes
         * none, but a member list is just names): one run per name. */
        for (size_t i = 0; i < w->n_members;) {
                const char *user = w->members[i].user;
                size_t n = 0;

                if (!user) {
                        i++;
                        continue;
                }
                for (; i < w->n_members && w->members[i].user &&
                       strcmp(w->members[i].user, user) == 0; i++) {
                        if (ARRAY_RESERVE(gids, cap_gids, n + 1) < 0)
                                return ENOMEM;
                        gids[n++] = w->members[i].gid;
                }
                rc = put(txn, initgroups, user, strlen(user), gids, n * sizeof(*gids), MDB_APPEND);
                if (rc)
                        return rc;
        }
        return MDB_SUCCESS;
}

/* Writes the whole snapshot into the temporary file with a map of
 * `map_size` bytes; MDB_MAP_FULL comes back as -ENOSPC so that the caller
 * can retry with a larger map. */
static int write_file(snapshot_writer *w, const writer_order *o, uint64_t generation,
                      size_t map_size) {
        MDB_env *env = NULL;
        MDB_txn *txn = NULL;
        MDB_envinfo info;
        MDB_stat st;
        int rc, fd, flags;

        /* An earlier attempt may have left a partial environment behind. */
        if (ftruncate(w->target.tmp_fd, 0) < 0)
                return -errno;

        rc = mdb_env_create(&env);
        if (rc)
                return errno_from_mdb(rc);
        if ((rc = mdb_env_set_mapsize(env, map_size)) ||
            (rc = mdb_env_set_maxdbs(env, SNAPSHOT_MAX_DBS)))
                goto finish;
        /* No lock file (nobody else ever writes this file), writes straight
         * into the map, and no sync per commit: the file is synced once, below,
         * before it is renamed into place. */
        rc = mdb_env_open(env, w->target.tmp_path,
                          MDB_NOSUBDIR | MDB_NOLOCK | MDB_WRITEMAP | MDB_NOSYNC, 0644);
        if (rc)
                goto finish;
        /* As for readers: LMDB's descriptor must not leak into a program the
         * daemon starts (sendmail) while it publishes. */
        if (mdb_env_get_fd(env, &fd) == MDB_SUCCESS && (flags = fcntl(fd, F_GETFD)) >= 0)
                (void) fcntl(fd, F_SETFD, flags | FD_CLOEXEC);
        /* With MDB_WRITEMAP, LMDB only ftruncate()s the file to the map size,
         * leaving it sparse: on a full tmpfs the first write through the map
         * would raise SIGBUS and take the daemon down. Reserving the blocks
         * (existing content is kept) turns that into a clean ENOSPC. */
        rc = posix_fallocate(w->target.tmp_fd, 0, (off_t) map_size);
        if (rc) {
                mdb_env_close(env);
                return -rc;
        }
        rc = mdb_txn_begin(env, NULL, 0, &txn);
        if (rc)
                goto finish;
        rc = write_tables(w, o, txn, generation);
        if (rc) {
                mdb_txn_abort(txn);
                goto finish;
        }
        rc = mdb_txn_commit(txn);
        if (rc)
                goto finish;
        rc = mdb_env_info(env, &info);
        if (!rc)
                rc = mdb_env_stat(env, &st);

finish:
        mdb_env_close(env);
        if (rc)
                return errno_from_mdb(rc);

        /* With MDB_WRITEMAP LMDB grows the file to the whole map; give the
         * unused tail back. Closing the environment unmapped it, so the
         * pages written through the map are now ordinary dirty pages of the
         * file, and one fsync() at publication writes them all. */
        if (ftruncate(w->target.tmp_fd, (off_t) ((info.me_last_pgno + 1) * st.ms_psize)) < 0)
                return -errno;
        return 0;
}

static int writer_publish(snapshot_writer *w, uint64_t *ret_generation) {
        writer_order o = {};
        uint64_t generation = 0;
        size_t map_size, page = (size_t) sysconf(_SC_PAGESIZE);
        int r;

        r = writer_prepare(w, &o);
        if (r < 0)
                goto finish;
        r = target_lock_generation(&w->target, &generation);
        if (r < 0)
                goto finish;

        /* Appended B-trees are full pages; twice the payload plus some pages
         * for the branch levels and overflow records is ample. */
        map_size = 2 * w->data_size + (w->n_large + 64) * page + 1024 * 1024;
        map_size = (map_size + page - 1) / page * page;
        for (int attempt = 0;; attempt++) {
                r = write_file(w, &o, generation, map_size);
                if (r != -ENOSPC || attempt >= 4)
                        break;
                map_size *= 2;
        }
        if (r < 0)
                goto finish;
        r = target_publish(&w->target, SNAPSHOT_FILE, generation);
        if (r >= 0 && ret_generation)
                *ret_generation = generation;

finish:
        free(o.users_by_name);
        free(o.groups_by_name);
        return r;
}

int snapshot_writer_publish(snapshot_writer *w, uint64_t *ret_generation) {
        int r;

        if (!w)
                return -EINVAL;
        r = writer_publish(w, ret_generation);
        snapshot_writer_free(w);
        return r;
}

snapshot_writer *snapshot_writer_free(snapshot_writer *w) {
        if (!w)
                return NULL;
        target_done(&w->target);
        for (arena_chunk *c = w->arena, *next; c; c = next) {
                next = c->next;
                free(c);
        }
        free(w->users.v);
        free(w->groups.v);
        free(w->members);
        free(w);
        return NULL;
}

int snapshot_writer_remove_stale(const char *runtime_dir) {
        _cleanup_close_ int fd = -1;
        struct dirent *de;
        DIR *d;
        int n = 0;

        if (isempty(runtime_dir))
                return -EINVAL;
        fd = open(runtime_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0)
                return errno == ENOENT ? 0 : -errno;
        d = fdopendir(fd);
        if (!d)
                return -errno;
        fd = -1;        /* owned by d now */
        while ((de = readdir(d)))
                if (strncmp(de->d_name, TMP_PREFIX, strlen(TMP_PREFIX)) == 0 &&
                    unlinkat(dirfd(d), de->d_name, 0) == 0)
                        n++;
        closedir(d);
        return n;
}


/* ======================================================================
 * An update: a new delta, the changed entries of the base, whole
 * ====================================================================== */

/* Room for a delta to grow in one update (a group of 100,000 members is a
 * ~1 MiB record). */
#define UPDATE_MAP_SLACK (64ULL << 20)

struct snapshot_update {
        publish_target target;
        uint64_t generation;
        snapshot *base;                 /* the published base, read-only */
        snapshot_txn base_txn;
        uint64_t base_generation;
        MDB_env *env;                   /* the new delta */
        MDB_txn *txn;
        MDB_dbi meta, user_byid, user_byname, group_byid, group_byname, initgroups;
};

/* The published delta, when it applies to the published base, into the
 * temporary file (inside the kernel): the new delta starts from it. */
static int copy_delta(publish_target *t, const snapshot *published, uint64_t *ret_size) {
        _cleanup_close_ int fd = -1;
        struct stat st;
        dev_t dev;
        ino_t ino;
        off_t left;

        *ret_size = 0;
        if (!snapshot_get_delta_file_id(published, &dev, &ino))
                return 0;
        fd = openat(t->dir_fd, SNAPSHOT_DELTA_FILE, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
        if (fd < 0)
                return -errno;
        if (fstat(fd, &st) < 0)
                return -errno;
        if (st.st_dev != dev || st.st_ino != ino)
                return -ESTALE;         /* not what we opened: nobody else writes here */
        for (left = st.st_size; left > 0;) {
                ssize_t n = copy_file_range(fd, NULL, t->tmp_fd, NULL, (size_t) left, 0);
                if (n < 0)
                        return -errno;
                if (n == 0)
                        return -EBADMSG;
                left -= n;
        }
        *ret_size = (uint64_t) st.st_size;
        return 0;
}

int snapshot_update_begin(const char *runtime_dir, snapshot_update **ret) {
        _cleanup_free_ char *base_path = NULL, *delta_path = NULL;
        snapshot *published = NULL;
        snapshot_update *u;
        uint64_t size = 0;
        MDB_dbi *dbis[] = { NULL, NULL, NULL, NULL, NULL, NULL };
        const char *names[] = { DB_META, DB_USER_BYID, DB_USER_BYNAME, DB_GROUP_BYID, DB_GROUP_BYNAME, DB_INITGROUPS };
        const unsigned flags[] = { 0, MDB_INTEGERKEY, 0, MDB_INTEGERKEY, 0, 0 };
        int rc, r, fd, fdflags;

        u = calloc(1, sizeof(*u));
        if (!u)
                return -ENOMEM;
        u->target = (publish_target) PUBLISH_TARGET_INIT;
        dbis[0] = &u->meta, dbis[1] = &u->user_byid, dbis[2] = &u->user_byname;
        dbis[3] = &u->group_byid, dbis[4] = &u->group_byname, dbis[5] = &u->initgroups;

        r = target_open(&u->target, runtime_dir);
        if (r >= 0)
                r = target_lock_generation(&u->target, &u->generation);
        if (r < 0)
                goto fail;
        if (asprintf(&base_path, "%s/%s", runtime_dir, SNAPSHOT_FILE) < 0 ||
            asprintf(&delta_path, "%s/%s", runtime_dir, SNAPSHOT_DELTA_FILE) < 0) {
                r = -ENOMEM;
                goto fail;
        }
        /* The published pair, to start from its delta; and its base alone,
         * to read what the new delta does not override. */
        r = snapshot_open(base_path, delta_path, &published);
        if (r >= 0)
                r = copy_delta(&u->target, published, &size);
        if (r >= 0)
                r = snapshot_open(base_path, NULL, &u->base);
        if (r >= 0) {
                u->base_generation = snapshot_get_generation(u->base);
                /* The pair and the base alone were opened apart: they must
                 * be of the same base (we hold the publication lock). */
                if (snapshot_get_delta_file_id(published, NULL, NULL) &&
                    snapshot_get_generation(published) < u->base_generation)
                        r = -ESTALE;
        }
        published = snapshot_close(published);
        if (r >= 0)
                r = snapshot_txn_begin(u->base, &u->base_txn);
        if (r < 0)
                goto fail;

        rc = mdb_env_create(&u->env);
        if (rc == 0)
                rc = mdb_env_set_maxdbs(u->env, SNAPSHOT_MAX_DBS);
        if (rc == 0)
                rc = mdb_env_set_mapsize(u->env, (size_t) (size + UPDATE_MAP_SLACK));
        /* No lock file and no sync per commit, as for a whole snapshot; and
         * no MDB_WRITEMAP: pages are written with pwrite(), so a full file
         * system is a clean ENOSPC, never a SIGBUS. */
        if (rc == 0)
                rc = mdb_env_open(u->env, u->target.tmp_path, MDB_NOSUBDIR | MDB_NOLOCK | MDB_NOSYNC, 0644);
        if (rc == 0 && mdb_env_get_fd(u->env, &fd) == MDB_SUCCESS && (fdflags = fcntl(fd, F_GETFD)) >= 0)
                (void) fcntl(fd, F_SETFD, fdflags | FD_CLOEXEC);
        if (rc == 0)
                rc = mdb_txn_begin(u->env, NULL, 0, &u->txn);
        for (size_t i = 0; rc == 0 && i < ELEMENTSOF(names); i++)
                rc = mdb_dbi_open(u->txn, names[i], MDB_CREATE | flags[i], dbis[i]);
        if (rc != 0) {
                r = errno_from_mdb(rc);
                goto fail;
        }
        {
                uint32_t format = SNAPSHOT_FORMAT_VERSION;
                r = errno_from_mdb(put_meta(u->txn, u->meta, META_FORMAT, &format, sizeof(format)));
                if (r >= 0)
                        r = errno_from_mdb(put_meta(u->txn, u->meta, META_BASE, &u->base_generation,
                                                    sizeof(u->base_generation)));
                if (r < 0)
                        goto fail;
        }
        *ret = u;
        return 0;
fail:
        snapshot_close(published);
        snapshot_update_free(u);
        return r;
}

snapshot_update *snapshot_update_free(snapshot_update *u) {
        if (!u)
                return NULL;
        if (u->txn)
                mdb_txn_abort(u->txn);
        if (u->env)
                mdb_env_close(u->env);
        if (u->base_txn.base)
                snapshot_txn_end(&u->base_txn);
        snapshot_close(u->base);
        target_done(&u->target);
        free(u);
        return NULL;
}

/* What the snapshot holds under key after this update so far: the new
 * delta's entry (-ENOENT for one marked gone), else the base's. Sets
 * *ret_in_delta. */
static int delta_get(snapshot_update *u, MDB_dbi dbi, const void *key, size_t key_size, MDB_val *ret,
                     bool *ret_in_delta) {
        MDB_val k = { key_size, (void *) key };
        int rc = mdb_get(u->txn, dbi, &k, ret);

        *ret_in_delta = rc == MDB_SUCCESS;
        if (rc == MDB_SUCCESS)
                return ret->mv_size > 0 ? 0 : -ENOENT;
        return errno_from_mdb(rc);
}

static int lookup_user(snapshot_update *u, const char *name, snapshot_user *ret) {
        MDB_val v;
        bool in_delta;
        int r = delta_get(u, u->user_byname, name, strlen(name), &v, &in_delta);

        if (in_delta)
                return r < 0 ? r : snapshot_parse_user(v.mv_data, v.mv_size, ret);
        if (r != -ENOENT)
                return r;
        return snapshot_get_user_by_name(&u->base_txn, name, ret);
}

static int lookup_user_by_uid(snapshot_update *u, uint32_t uid, snapshot_user *ret) {
        MDB_val v;
        bool in_delta;
        int r = delta_get(u, u->user_byid, &uid, sizeof(uid), &v, &in_delta);

        if (in_delta)
                return r < 0 ? r : snapshot_parse_user(v.mv_data, v.mv_size, ret);
        if (r != -ENOENT)
                return r;
        return snapshot_get_user_by_uid(&u->base_txn, uid, ret);
}

static int lookup_group(snapshot_update *u, uint32_t gid, snapshot_group *ret) {
        snapshot_user owner;
        MDB_val v;
        bool in_delta;
        int r = delta_get(u, u->group_byid, &gid, sizeof(gid), &v, &in_delta);

        if (in_delta)
                return r < 0 ? r : snapshot_parse_group(v.mv_data, v.mv_size, ret);
        if (r != -ENOENT)
                return r;
        /* The base answers for private groups too: those are no groups of
         * their own here. */
        if (snapshot_get_user_by_uid(&u->base_txn, gid, &owner) >= 0)
                return -ENOENT;
        return snapshot_get_group_by_gid(&u->base_txn, gid, ret);
}

static int lookup_group_by_name(snapshot_update *u, const char *name, uint32_t *ret_gid) {
        snapshot_group g;
        MDB_val v;
        bool in_delta;
        int r = delta_get(u, u->group_byname, name, strlen(name), &v, &in_delta);

        if (in_delta) {
                if (r < 0)
                        return r;
                if (v.mv_size != sizeof(uint32_t))
                        return -EBADMSG;
                *ret_gid = snapshot_read_u32(v.mv_data);
                return 0;
        }
        if (r != -ENOENT)
                return r;
        r = snapshot_get_group_by_name(&u->base_txn, name, &g);
        if (r < 0)
                return r;
        if (g.n_members == 0 && g.name_len == strlen(name) && snapshot_get_user_by_name(&u->base_txn, name, &(snapshot_user) {}) >= 0)
                return -ENOENT;         /* a user's private group */
        *ret_gid = g.gid;
        return 0;
}

static int mark_gone(snapshot_update *u, MDB_dbi dbi, const void *key, size_t key_size) {
        return errno_from_mdb(put(u->txn, dbi, key, key_size, "", 0, 0));
}

/* The group record with member `name` taken out or put in (sorted). */
static int group_record_with(const snapshot_group *g, const char *name, bool add, char **ret, size_t *ret_size) {
        size_t name_len = strlen(name), size = GROUP_HEADER_SIZE + g->name_len + 1;
        const char *m = g->members, *end = g->members ? g->members + g->members_size : NULL;
        uint32_t count = 0;
        bool placed = !add;
        char *rec, *p;

        rec = malloc(size + g->members_size + (add ? name_len + 1 : 0));
        if (!rec)
                return -ENOMEM;
        p = rec + GROUP_HEADER_SIZE;
        memcpy(p, g->name, g->name_len);
        p[g->name_len] = 0;
        p += g->name_len + 1;
        for (; m && m < end; m += strlen(m) + 1) {
                int c = strcmp(m, name);
                if (c == 0)
                        continue;       /* taken out, or put back below */
                if (!placed && c > 0) {
                        memcpy(p, name, name_len + 1);
                        p += name_len + 1;
                        count++;
                        placed = true;
                }
                memcpy(p, m, strlen(m) + 1);
                p += strlen(m) + 1;
                count++;
        }
        if (!placed) {
                memcpy(p, name, name_len + 1);
                p += name_len + 1;
                count++;
        }
        memcpy(rec, &g->gid, sizeof(uint32_t));
        memcpy(rec + 4, &count, sizeof(uint32_t));
        *ret = rec;
        *ret_size = (size_t) (p - rec);
        return 0;
}

static int update_membership(snapshot_update *u, uint32_t gid, const char *name, bool add) {
        _cleanup_free_ char *rec = NULL;
        snapshot_group g;
        size_t size;
        int r;

        r = lookup_group(u, gid, &g);
        if (r < 0)
                return r == -ENOENT ? -EINVAL : r;     /* a gid of no group */
        r = group_record_with(&g, name, add, &rec, &size);
        if (r < 0)
                return r;
        return errno_from_mdb(put(u->txn, u->group_byid, &gid, sizeof(gid), rec, size, 0));
}

static bool gids_contain(const uint32_t *gids, size_t n, uint32_t gid) {
        for (size_t i = 0; i < n; i++)
                if (gids[i] == gid)
                        return true;
        return false;
}

/* The gids of a user record, copied out of a map that later writes may move. */
static int copy_gids(const snapshot_user *user, uint32_t **ret, size_t *ret_n) {
        uint32_t *v = malloc((user->n_gids ? user->n_gids : 1) * sizeof(uint32_t));

        if (!v)
                return -ENOMEM;
        for (size_t i = 0; i < user->n_gids; i++)
                v[i] = snapshot_gid_at(user->gids, i);
        *ret = v;
        *ret_n = user->n_gids;
        return 0;
}

int snapshot_update_remove_user(snapshot_update *u, const char *name) {
        _cleanup_free_ uint32_t *gids = NULL;
        snapshot_user old;
        size_t n;
        uint32_t uid;
        int r;

        if (!u || validate_username(name, NULL) < 0)
                return -EINVAL;
        r = lookup_user(u, name, &old);
        if (r == -ENOENT)
                return 0;
        if (r < 0)
                return r;
        uid = old.uid;
        r = copy_gids(&old, &gids, &n);
        for (size_t i = 0; r >= 0 && i < n; i++)
                r = update_membership(u, gids[i], name, false);
        if (r >= 0)
                r = mark_gone(u, u->user_byid, &uid, sizeof(uid));
        if (r >= 0)
                r = mark_gone(u, u->user_byname, name, strlen(name));
        return r;
}

int snapshot_update_set_user(snapshot_update *u, const char *name, uint32_t uid, uint32_t gid,
                             const char *gecos, const char *home, const char *shell,
                             const uint32_t *gids, size_t n_gids) {
        const char *fields[4] = { name, strempty(gecos), strempty(home), strempty(shell) };
        _cleanup_free_ uint32_t *sorted = NULL, *old_gids = NULL;
        _cleanup_free_ char *rec = NULL;
        snapshot_user old;
        size_t lens[4], strings = 0, n = 0, n_old = 0, size;
        uint32_t flags = USER_PRIVATE_GROUP, n32;
        uint16_t lens16[4];
        char *p;
        int r;

        if (!u || validate_username(name, NULL) < 0 || uid == UINT32_MAX || gid == UINT32_MAX)
                return -EINVAL;
        for (size_t i = 0; i < 4; i++) {
                if (!field_valid(fields[i]))
                        return -EINVAL;
                lens[i] = strlen(fields[i]);
                if (lens[i] >= USER_FIELD_MAX)
                        return -EINVAL;
                strings += lens[i] + 1;
        }

        /* Another user under this uid (or this user under another uid) goes
         * first, memberships and all. */
        r = lookup_user_by_uid(u, uid, &old);
        if (r == 0 && (old.name_len != lens[0] || memcmp(old.name, name, lens[0]) != 0)) {
                char other[USERNAME_MAX + 1];
                snprintf(other, sizeof(other), "%.*s", (int) old.name_len, old.name);
                r = snapshot_update_remove_user(u, other);
        }
        if (r < 0 && r != -ENOENT)
                return r;
        r = lookup_user(u, name, &old);
        if (r == 0 && old.uid != uid)
                r = snapshot_update_remove_user(u, name);
        else if (r == 0)
                r = copy_gids(&old, &old_gids, &n_old);
        if (r < 0 && r != -ENOENT)
                return r;

        /* The new supplementary gids, ascending and once each. */
        sorted = malloc((n_gids ? n_gids : 1) * sizeof(uint32_t));
        if (!sorted)
                return -ENOMEM;
        for (size_t i = 0; i < n_gids; i++) {
                size_t j = n;
                if (gids_contain(sorted, n, gids[i]))
                        continue;
                while (j > 0 && sorted[j - 1] > gids[i]) {
                        sorted[j] = sorted[j - 1];
                        j--;
                }
                sorted[j] = gids[i];
                n++;
        }

        /* Memberships: only the difference is written. */
        for (size_t i = 0; i < n_old; i++)
                if (!gids_contain(sorted, n, old_gids[i]) && (r = update_membership(u, old_gids[i], name, false)) < 0)
                        return r;
        for (size_t i = 0; i < n; i++)
                if (!gids_contain(old_gids, n_old, sorted[i]) && (r = update_membership(u, sorted[i], name, true)) < 0)
                        return r;

        /* The record, as the whole writer lays it out (put_user()). */
        size = USER_HEADER_SIZE + n * sizeof(uint32_t) + strings;
        rec = malloc(size);
        if (!rec)
                return -ENOMEM;
        n32 = (uint32_t) n;
        for (size_t i = 0; i < 4; i++)
                lens16[i] = (uint16_t) lens[i];
        memcpy(rec, &uid, 4);
        memcpy(rec + 4, &gid, 4);
        memcpy(rec + 8, &flags, 4);
        memcpy(rec + 12, &n32, 4);
        memcpy(rec + 16, lens16, sizeof(lens16));
        p = rec + USER_HEADER_SIZE;
        memcpy(p, sorted, n * sizeof(uint32_t));
        p += n * sizeof(uint32_t);
        for (size_t i = 0; i < 4; i++) {
                memcpy(p, fields[i], lens[i] + 1);
                p += lens[i] + 1;
        }
        r = errno_from_mdb(put(u->txn, u->user_byid, &uid, sizeof(uid), rec, size, 0));
        if (r >= 0)
                r = errno_from_mdb(put(u->txn, u->user_byname, name, lens[0], rec, size, 0));
        return r;
}

int snapshot_update_set_group(snapshot_update *u, const char *name, uint32_t gid) {
        size_t name_len = name ? strlen(name) : 0, size = GROUP_HEADER_SIZE + name_len + 1;
        _cleanup_free_ char *rec = NULL;
        snapshot_group g;
        uint32_t zero = 0, existing;
        int r;

        if (!u || validate_group_name(name, NULL) < 0 || gid == UINT32_MAX)
                return -EINVAL;
        r = lookup_group_by_name(u, name, &existing);
        if (r == 0)
                /* Kept, with its members; a different gid under the name is
                 * not something an update can untangle. */
                return existing == gid ? 0 : -EEXIST;
        if (r != -ENOENT)
                return r;
        r = lookup_group(u, gid, &g);
        if (r == 0)
                return -EEXIST;
        if (r != -ENOENT)
                return r;

        rec = malloc(size);
        if (!rec)
                return -ENOMEM;
        memcpy(rec, &gid, 4);
        memcpy(rec + 4, &zero, 4);
        memcpy(rec + GROUP_HEADER_SIZE, name, name_len + 1);
        r = errno_from_mdb(put(u->txn, u->group_byid, &gid, sizeof(gid), rec, size, 0));
        if (r >= 0)
                r = errno_from_mdb(put(u->txn, u->group_byname, name, name_len, &gid, sizeof(gid), 0));
        return r;
}

int snapshot_update_remove_group(snapshot_update *u, const char *name) {
        snapshot_group g;
        uint32_t gid;
        int r;

        if (!u || validate_group_name(name, NULL) < 0)
                return -EINVAL;
        r = lookup_group_by_name(u, name, &gid);
        if (r == -ENOENT)
                return 0;
        if (r < 0)
                return r;
        r = lookup_group(u, gid, &g);
        /* Members would keep the gid in their records. */
        if (r == 0 && g.n_members > 0)
                return -ENOTEMPTY;
        if (r < 0 && r != -ENOENT)
                return r;
        r = mark_gone(u, u->group_byid, &gid, sizeof(gid));
        if (r >= 0)
                r = mark_gone(u, u->group_byname, name, strlen(name));
        return r;
}

uint64_t snapshot_update_size(const snapshot_update *u) {
        MDB_envinfo info;
        MDB_stat st;

        if (!u || !u->env || mdb_env_info(u->env, &info) != 0 || mdb_env_stat(u->env, &st) != 0)
                return 0;
        return (uint64_t) (info.me_last_pgno + 1) * st.ms_psize;
}

int snapshot_update_publish(snapshot_update *u, uint64_t *ret_generation) {
        int r;

        if (!u)
                return -EINVAL;
        r = errno_from_mdb(put_meta(u->txn, u->meta, META_GENERATION, &u->generation, sizeof(u->generation)));
        if (r >= 0) {
                r = errno_from_mdb(mdb_txn_commit(u->txn));
                u->txn = NULL;
        }
        if (r >= 0) {
                /* Closing the environment before the fsync: every page LMDB
                 * wrote is in the file by now. */
                mdb_env_close(u->env);
                u->env = NULL;
                r = target_publish(&u->target, SNAPSHOT_DELTA_FILE, u->generation);
        }
        if (r >= 0 && ret_generation)
                *ret_generation = u->generation;
        snapshot_update_free(u);
        return r;
}
