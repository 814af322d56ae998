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
        char *dir;
        int dir_fd;
        char *tmp_name;         /* relative to dir; NULL once renamed */
        char *tmp_path;
        int tmp_fd;

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

        if (isempty(runtime_dir) || !ret)
                return -EINVAL;

        w = calloc(1, sizeof(*w));
        if (!w)
                return -ENOMEM;
        w->dir_fd = -1;
        w->tmp_fd = -1;

        w->dir = strdup(runtime_dir);
        if (!w->dir) {
                r = -ENOMEM;
                goto fail;
        }
        if (mkdir(runtime_dir, 0755) == 0) {
                /* mkdir() honours the umask; readers of every uid need to get in. */
                if (chmod(runtime_dir, 0755) < 0) {
                        r = -errno;
                        goto fail;
                }
        } else if (errno != EEXIST) {
                r = -errno;
                goto fail;
        }
        w->dir_fd = open(runtime_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (w->dir_fd < 0) {
                r = -errno;
                goto fail;
        }

        if (asprintf(&w->tmp_path, "%s/" TMP_PREFIX "XXXXXX", runtime_dir) < 0) {
                w->tmp_path = NULL;
                r = -ENOMEM;
                goto fail;
        }
        w->tmp_fd = mkostemp(w->tmp_path, O_CLOEXEC);
        if (w->tmp_fd < 0) {
                r = -errno;
                free(w->tmp_path);
                w->tmp_path = NULL;
                goto fail;
        }
        w->tmp_name = strrchr(w->tmp_path, '/') + 1;
        if (fchmod(w->tmp_fd, 0644) < 0) {
                r = -errno;
                goto fail;
        }

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
        if (ftruncate(w->tmp_fd, 0) < 0)
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
        rc = mdb_env_open(env, w->tmp_path,
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
        rc = posix_fallocate(w->tmp_fd, 0, (off_t) map_size);
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
         * file, and one fsync() writes them all. */
        if (ftruncate(w->tmp_fd, (off_t) ((info.me_last_pgno + 1) * st.ms_psize)) < 0)
                return -errno;
        if (fsync(w->tmp_fd) < 0)
                return -errno;
        return 0;
}

static int snapshot_open_at(snapshot_writer *w, snapshot **ret) {
        _cleanup_free_ char *path = NULL;

        if (asprintf(&path, "%s/%s", w->dir, SNAPSHOT_FILE) < 0)
                return -ENOMEM;
        return snapshot_open(path, ret);
}

/* Opens (creating it on first use) the generation file, locks it against a
 * concurrent publisher and maps it writable. The counter carries on from its
 * current value; a new file starts from the generation of the snapshot in
 * place, so that readers holding that snapshot see the next one as new. */
static int gen_file_open(snapshot_writer *w, int *ret_fd, void **ret_map) {
        _cleanup_close_ int fd = -1;
        struct stat st;
        void *map;

        fd = openat(w->dir_fd, SNAPSHOT_GENERATION_FILE,
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

                if (snapshot_open_at(w, &s) >= 0) {
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
        *ret_fd = TAKE_FD(fd);
        *ret_map = map;
        return 0;
}

static int writer_publish(snapshot_writer *w, uint64_t *ret_generation) {
        _cleanup_close_ int gen_fd = -1;
        writer_order o = {};
        void *gen_map = NULL;
        uint64_t generation;
        size_t map_size, page = (size_t) sysconf(_SC_PAGESIZE);
        int r, r2;

        r = writer_prepare(w, &o);
        if (r < 0)
                goto finish;

        r = gen_file_open(w, &gen_fd, &gen_map);
        if (r < 0)
                goto finish;
        generation = __atomic_load_n(snapshot_gen_counter(gen_map), __ATOMIC_ACQUIRE) + 1;

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

        if (renameat(w->dir_fd, w->tmp_name, w->dir_fd, SNAPSHOT_FILE) < 0) {
                r = -errno;
                goto finish;
        }
        free(w->tmp_path);
        w->tmp_path = NULL;
        w->tmp_name = NULL;

        /* The new file is in place whatever happens next, so readers must be
         * told about it even if the directory sync fails. */
        r2 = fsync(w->dir_fd) < 0 ? -errno : 0;
        __atomic_store_n(snapshot_gen_counter(gen_map), generation, __ATOMIC_RELEASE);
        if (r2 < 0) {
                r = r2;
                goto finish;
        }
        if (ret_generation)
                *ret_generation = generation;
        r = 0;

finish:
        if (gen_map)
                munmap(gen_map, GEN_FILE_SIZE);
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
        if (w->tmp_path)
                unlink(w->tmp_path);
        free(w->tmp_path);
        if (w->tmp_fd >= 0)
                close(w->tmp_fd);
        if (w->dir_fd >= 0)
                close(w->dir_fd);
        free(w->dir);
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
