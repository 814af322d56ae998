/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "snapshot.h"

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

#include "macro.h"
#include "validate.h"

/* The on-disk format (docs/nss.md has the same in prose). One LMDB
 * environment in a single file, with these named databases:
 *
 *   meta           "format" -> u32 SNAPSHOT_FORMAT_VERSION
 *                  "generation" -> u64, "users" -> u64, "groups" -> u64
 *   passwd.byuid   u32 uid (MDB_INTEGERKEY) -> user record
 *   passwd.byname  name -> u32 uid
 *   group.bygid    u32 gid (MDB_INTEGERKEY) -> group record
 *   group.byname   name -> u32 gid
 *   initgroups     username -> u32 gids, ascending
 *
 * user record:  u32 uid, u32 gid, "name\0gecos\0home\0shell\0"
 * group record: u32 gid, u32 member count, "name\0", "member\0" * count
 *
 * Integers are native-endian: the file lives in /run and is read only on the
 * machine that wrote it. LMDB aligns values to 2 bytes only, so integers are
 * read with memcpy. */

#define DB_META "meta"
#define DB_USER_BYID "passwd.byuid"
#define DB_USER_BYNAME "passwd.byname"
#define DB_GROUP_BYID "group.bygid"
#define DB_GROUP_BYNAME "group.byname"
#define DB_INITGROUPS "initgroups"
#define SNAPSHOT_MAX_DBS 8

#define META_FORMAT "format"
#define META_GENERATION "generation"
#define META_USERS "users"
#define META_GROUPS "groups"

#define RECORD_HEADER_SIZE 8
/* LMDB's default maximum key size. */
#define KEY_MAX 511

#define GEN_MAGIC "NXSNGEN1"
#define GEN_MAGIC_SIZE 8
#define GEN_FILE_SIZE 16

#define TMP_PREFIX ".nss.mdb."

static int errno_from_mdb(int rc) {
        switch (rc) {
        case MDB_SUCCESS:
                return 0;
        case MDB_NOTFOUND:
                return -ENOENT;
        case MDB_KEYEXIST:
                return -EEXIST;
        case MDB_MAP_FULL:
        case MDB_TXN_FULL:
        case MDB_PAGE_FULL:
        case MDB_CURSOR_FULL:
                return -ENOSPC;
        case MDB_DBS_FULL:
        case MDB_READERS_FULL:
        case MDB_TLS_FULL:
                return -EMFILE;
        case MDB_VERSION_MISMATCH:
                return -EPROTONOSUPPORT;
        case MDB_BAD_VALSIZE:
                return -EINVAL;
        default:
                /* LMDB passes system errors through as positive errno values;
                 * its own codes are negative and mean a damaged file. */
                return rc > 0 ? -rc : -EBADMSG;
        }
}

static uint32_t read_u32(const void *p) {
        uint32_t v;
        memcpy(&v, p, sizeof(v));
        return v;
}

/* ======================================================================
 * Records
 * ====================================================================== */

static int parse_user(const MDB_val *v, snapshot_user *ret) {
        const char *p = v->mv_data, *end = p + v->mv_size;
        const char **fields[4];
        size_t *lens[4];
        snapshot_user u;

        if (v->mv_size < RECORD_HEADER_SIZE + 4)
                return -EBADMSG;
        u.uid = read_u32(p);
        u.gid = read_u32(p + 4);
        p += RECORD_HEADER_SIZE;

        fields[0] = &u.name, lens[0] = &u.name_len;
        fields[1] = &u.gecos, lens[1] = &u.gecos_len;
        fields[2] = &u.home, lens[2] = &u.home_len;
        fields[3] = &u.shell, lens[3] = &u.shell_len;
        for (size_t i = 0; i < ELEMENTSOF(fields); i++) {
                const char *nul = memchr(p, 0, (size_t) (end - p));
                if (!nul)
                        return -EBADMSG;
                *fields[i] = p;
                *lens[i] = (size_t) (nul - p);
                p = nul + 1;
        }
        if (p != end || u.name_len == 0)
                return -EBADMSG;
        *ret = u;
        return 0;
}

static int parse_group(const MDB_val *v, snapshot_group *ret) {
        const char *p = v->mv_data, *end = p + v->mv_size, *nul;
        snapshot_group g;
        size_t count = 0;

        if (v->mv_size < RECORD_HEADER_SIZE + 2)
                return -EBADMSG;
        g.gid = read_u32(p);
        g.n_members = read_u32(p + 4);
        p += RECORD_HEADER_SIZE;

        nul = memchr(p, 0, (size_t) (end - p));
        if (!nul || nul == p)
                return -EBADMSG;
        g.name = p;
        g.name_len = (size_t) (nul - p);
        p = nul + 1;

        g.members = p < end ? p : NULL;
        g.members_size = (size_t) (end - p);
        /* Count the members now so that the caller can trust n_members when
         * it sizes its pointer array and walks the block. */
        while (p < end) {
                nul = memchr(p, 0, (size_t) (end - p));
                if (!nul || nul == p)
                        return -EBADMSG;
                count++;
                p = nul + 1;
        }
        if (count != g.n_members)
                return -EBADMSG;
        *ret = g;
        return 0;
}

/* ======================================================================
 * Reading
 * ====================================================================== */

struct snapshot {
        MDB_env *env;
        MDB_dbi dbi_user_byid, dbi_user_byname;
        MDB_dbi dbi_group_byid, dbi_group_byname;
        MDB_dbi dbi_initgroups;
        uint64_t generation;
        dev_t dev;
        ino_t ino;
};

struct snapshot_cursor {
        MDB_cursor *cursor;
        snapshot_table table;
};

/* A snapshot_txn is an MDB_txn; the snapshot hangs off the environment's user
 * context, which saves an allocation per lookup. */
static MDB_txn *txn_mdb(snapshot_txn *t) {
        return (MDB_txn *) t;
}

static snapshot *txn_snapshot(snapshot_txn *t) {
        return mdb_env_get_userctx(mdb_txn_env(txn_mdb(t)));
}

static int read_meta(MDB_txn *txn, MDB_dbi dbi, const char *key, size_t size, void *ret) {
        MDB_val k = { .mv_size = strlen(key), .mv_data = (void *) key }, v;
        int rc = mdb_get(txn, dbi, &k, &v);
        if (rc != MDB_SUCCESS)
                return rc == MDB_NOTFOUND ? -EBADMSG : errno_from_mdb(rc);
        if (v.mv_size != size)
                return -EBADMSG;
        memcpy(ret, v.mv_data, size);
        return 0;
}

static int snapshot_open_dbis(snapshot *s) {
        MDB_txn *txn = NULL;
        MDB_dbi meta;
        uint32_t format;
        int rc, r;

        rc = mdb_txn_begin(s->env, NULL, MDB_RDONLY, &txn);
        if (rc != MDB_SUCCESS)
                return errno_from_mdb(rc);

        /* The format version first, so that a file of another version is
         * reported as such even if its databases are laid out differently. */
        rc = mdb_dbi_open(txn, DB_META, 0, &meta);
        if (rc != MDB_SUCCESS) {
                r = rc == MDB_NOTFOUND ? -EBADMSG : errno_from_mdb(rc);
                goto fail;
        }
        r = read_meta(txn, meta, META_FORMAT, sizeof(format), &format);
        if (r < 0)
                goto fail;
        if (format != SNAPSHOT_FORMAT_VERSION) {
                r = -EPROTONOSUPPORT;
                goto fail;
        }
        r = read_meta(txn, meta, META_GENERATION, sizeof(s->generation), &s->generation);
        if (r < 0)
                goto fail;

        struct {
                const char *name;
                unsigned flags;
                MDB_dbi *dbi;
        } dbs[] = {
                { DB_USER_BYID, MDB_INTEGERKEY, &s->dbi_user_byid },
                { DB_USER_BYNAME, 0, &s->dbi_user_byname },
                { DB_GROUP_BYID, MDB_INTEGERKEY, &s->dbi_group_byid },
                { DB_GROUP_BYNAME, 0, &s->dbi_group_byname },
                { DB_INITGROUPS, 0, &s->dbi_initgroups },
        };
        for (size_t i = 0; i < ELEMENTSOF(dbs); i++) {
                rc = mdb_dbi_open(txn, dbs[i].name, dbs[i].flags, dbs[i].dbi);
                if (rc != MDB_SUCCESS) {
                        r = rc == MDB_NOTFOUND ? -EBADMSG : errno_from_mdb(rc);
                        goto fail;
                }
        }

        /* Committing (not aborting) a read transaction is what keeps the
         * database handles open for later transactions. */
        rc = mdb_txn_commit(txn);
        return errno_from_mdb(rc);

fail:
        mdb_txn_abort(txn);
        return r;
}

int snapshot_open(const char *path, snapshot **ret) {
        snapshot *s;
        struct stat st;
        MDB_envinfo info;
        MDB_stat mst;
        int fd, flags, rc, r;

        if (!path || !ret)
                return -EINVAL;

        s = calloc(1, sizeof(*s));
        if (!s)
                return -ENOMEM;

        rc = mdb_env_create(&s->env);
        if (rc != MDB_SUCCESS) {
                free(s);
                return errno_from_mdb(rc);
        }
        mdb_env_set_userctx(s->env, s);
        rc = mdb_env_set_maxdbs(s->env, SNAPSHOT_MAX_DBS);
        if (rc != MDB_SUCCESS) {
                r = errno_from_mdb(rc);
                goto fail;
        }
        rc = mdb_env_open(s->env, path, MDB_RDONLY | MDB_NOLOCK | MDB_NOSUBDIR, 0);
        if (rc != MDB_SUCCESS) {
                /* An empty or short file (a write in progress that is not ours,
                 * a truncated copy) is not a snapshot. */
                r = rc == EINVAL ? -EBADMSG : errno_from_mdb(rc);
                goto fail;
        }

        /* LMDB 0.9.24 opens the file without O_CLOEXEC; without this every
         * exec() of the host would leak the descriptor into the child. */
        rc = mdb_env_get_fd(s->env, &fd);
        if (rc != MDB_SUCCESS) {
                r = errno_from_mdb(rc);
                goto fail;
        }
        flags = fcntl(fd, F_GETFD);
        if (flags < 0 || fcntl(fd, F_SETFD, flags | FD_CLOEXEC) < 0) {
                r = -errno;
                goto fail;
        }

        /* Every page LMDB may touch must lie inside the file: touching a
         * mapped page past the end raises SIGBUS in the host program. */
        if (fstat(fd, &st) < 0) {
                r = -errno;
                goto fail;
        }
        rc = mdb_env_info(s->env, &info);
        if (rc == MDB_SUCCESS)
                rc = mdb_env_stat(s->env, &mst);
        if (rc != MDB_SUCCESS) {
                r = errno_from_mdb(rc);
                goto fail;
        }
        if (!S_ISREG(st.st_mode) ||
            ((uint64_t) info.me_last_pgno + 1) * mst.ms_psize > (uint64_t) st.st_size) {
                r = -EBADMSG;
                goto fail;
        }
        s->dev = st.st_dev;
        s->ino = st.st_ino;

        r = snapshot_open_dbis(s);
        if (r < 0)
                goto fail;

        *ret = s;
        return 0;

fail:
        mdb_env_close(s->env);
        free(s);
        return r;
}

snapshot *snapshot_close(snapshot *s) {
        if (!s)
                return NULL;
        mdb_env_close(s->env);
        free(s);
        return NULL;
}

uint64_t snapshot_get_generation(const snapshot *s) {
        return s->generation;
}

void snapshot_get_file_id(const snapshot *s, dev_t *ret_dev, ino_t *ret_ino) {
        if (ret_dev)
                *ret_dev = s->dev;
        if (ret_ino)
                *ret_ino = s->ino;
}

int snapshot_txn_begin(snapshot *s, snapshot_txn **ret) {
        MDB_txn *txn;
        int rc;

        rc = mdb_txn_begin(s->env, NULL, MDB_RDONLY, &txn);
        if (rc != MDB_SUCCESS)
                return errno_from_mdb(rc);
        *ret = (snapshot_txn *) txn;
        return 0;
}

snapshot_txn *snapshot_txn_end(snapshot_txn *t) {
        if (t)
                mdb_txn_abort(txn_mdb(t));
        return NULL;
}

static int get_by_id(snapshot_txn *t, MDB_dbi dbi, uint32_t id, MDB_val *ret) {
        MDB_val k = { .mv_size = sizeof(id), .mv_data = &id };
        return errno_from_mdb(mdb_get(txn_mdb(t), dbi, &k, ret));
}

/* Resolves a name through a byname index to its id. */
static int get_id_by_name(snapshot_txn *t, MDB_dbi dbi, const char *name, uint32_t *ret) {
        size_t len = name ? strlen(name) : 0;
        MDB_val k = { .mv_size = len, .mv_data = (void *) name }, v;
        int r;

        if (len == 0 || len > KEY_MAX)
                return -ENOENT;
        r = errno_from_mdb(mdb_get(txn_mdb(t), dbi, &k, &v));
        if (r < 0)
                return r;
        if (v.mv_size != sizeof(uint32_t))
                return -EBADMSG;
        *ret = read_u32(v.mv_data);
        return 0;
}

int snapshot_get_user_by_uid(snapshot_txn *t, uint32_t uid, snapshot_user *ret) {
        snapshot_user u;
        MDB_val v;
        int r;

        r = get_by_id(t, txn_snapshot(t)->dbi_user_byid, uid, &v);
        if (r < 0)
                return r;
        r = parse_user(&v, &u);
        if (r < 0)
                return r;
        if (u.uid != uid)
                return -EBADMSG;
        *ret = u;
        return 0;
}

int snapshot_get_user_by_name(snapshot_txn *t, const char *name, snapshot_user *ret) {
        snapshot_user u;
        uint32_t uid;
        int r;

        r = get_id_by_name(t, txn_snapshot(t)->dbi_user_byname, name, &uid);
        if (r < 0)
                return r;
        r = snapshot_get_user_by_uid(t, uid, &u);
        if (r < 0)
                return r == -ENOENT ? -EBADMSG : r;
        if (strcmp(u.name, name) != 0)
                return -EBADMSG;
        *ret = u;
        return 0;
}

int snapshot_get_group_by_gid(snapshot_txn *t, uint32_t gid, snapshot_group *ret) {
        snapshot_group g;
        MDB_val v;
        int r;

        r = get_by_id(t, txn_snapshot(t)->dbi_group_byid, gid, &v);
        if (r < 0)
                return r;
        r = parse_group(&v, &g);
        if (r < 0)
                return r;
        if (g.gid != gid)
                return -EBADMSG;
        *ret = g;
        return 0;
}

int snapshot_get_group_by_name(snapshot_txn *t, const char *name, snapshot_group *ret) {
        snapshot_group g;
        uint32_t gid;
        int r;

        r = get_id_by_name(t, txn_snapshot(t)->dbi_group_byname, name, &gid);
        if (r < 0)
                return r;
        r = snapshot_get_group_by_gid(t, gid, &g);
        if (r < 0)
                return r == -ENOENT ? -EBADMSG : r;
        if (strcmp(g.name, name) != 0)
                return -EBADMSG;
        *ret = g;
        return 0;
}

int snapshot_get_user_groups(snapshot_txn *t, const char *user,
                             const void **ret_gids, size_t *ret_n) {
        size_t len = user ? strlen(user) : 0;
        MDB_val k = { .mv_size = len, .mv_data = (void *) user }, v;
        int r;

        if (len == 0 || len > KEY_MAX)
                return -ENOENT;
        r = errno_from_mdb(mdb_get(txn_mdb(t), txn_snapshot(t)->dbi_initgroups, &k, &v));
        if (r < 0)
                return r;
        if (v.mv_size % sizeof(uint32_t) != 0)
                return -EBADMSG;
        *ret_gids = v.mv_data;
        *ret_n = v.mv_size / sizeof(uint32_t);
        return 0;
}

int snapshot_cursor_open(snapshot_txn *t, snapshot_table table, snapshot_cursor **ret) {
        snapshot *s = txn_snapshot(t);
        snapshot_cursor *c;
        int rc;

        if (table != SNAPSHOT_USERS && table != SNAPSHOT_GROUPS)
                return -EINVAL;
        c = calloc(1, sizeof(*c));
        if (!c)
                return -ENOMEM;
        c->table = table;
        rc = mdb_cursor_open(txn_mdb(t),
                             table == SNAPSHOT_USERS ? s->dbi_user_byid : s->dbi_group_byid,
                             &c->cursor);
        if (rc != MDB_SUCCESS) {
                free(c);
                return errno_from_mdb(rc);
        }
        *ret = c;
        return 0;
}

snapshot_cursor *snapshot_cursor_close(snapshot_cursor *c) {
        if (!c)
                return NULL;
        mdb_cursor_close(c->cursor);
        free(c);
        return NULL;
}

static int cursor_move(snapshot_cursor *c, snapshot_table table, snapshot_move move,
                       MDB_val *ret_key, MDB_val *ret_val) {
        MDB_cursor_op op;
        int rc;

        if (c->table != table)
                return -EINVAL;
        switch (move) {
        case SNAPSHOT_FIRST:
                op = MDB_FIRST;
                break;
        case SNAPSHOT_NEXT:
                op = MDB_NEXT;
                break;
        case SNAPSHOT_CURRENT:
                op = MDB_GET_CURRENT;
                break;
        default:
                return -EINVAL;
        }
        rc = mdb_cursor_get(c->cursor, ret_key, ret_val, op);
        if (rc != MDB_SUCCESS)
                return errno_from_mdb(rc);
        if (ret_key->mv_size != sizeof(uint32_t))
                return -EBADMSG;
        return 0;
}

int snapshot_cursor_get_user(snapshot_cursor *c, snapshot_move move, snapshot_user *ret) {
        snapshot_user u;
        MDB_val k, v;
        int r;

        r = cursor_move(c, SNAPSHOT_USERS, move, &k, &v);
        if (r < 0)
                return r;
        r = parse_user(&v, &u);
        if (r < 0)
                return r;
        if (u.uid != read_u32(k.mv_data))
                return -EBADMSG;
        *ret = u;
        return 0;
}

int snapshot_cursor_get_group(snapshot_cursor *c, snapshot_move move, snapshot_group *ret) {
        snapshot_group g;
        MDB_val k, v;
        int r;

        r = cursor_move(c, SNAPSHOT_GROUPS, move, &k, &v);
        if (r < 0)
                return r;
        r = parse_group(&v, &g);
        if (r < 0)
                return r;
        if (g.gid != read_u32(k.mv_data))
                return -EBADMSG;
        *ret = g;
        return 0;
}

/* ======================================================================
 * The generation counter
 * ====================================================================== */

struct snapshot_generation_map {
        void *map;
        dev_t dev;
        ino_t ino;
};

static bool gen_file_valid(const void *map) {
        return memcmp(map, GEN_MAGIC, GEN_MAGIC_SIZE) == 0;
}

static uint64_t *gen_counter(void *map) {
        return (uint64_t *) ((char *) map + GEN_MAGIC_SIZE);
}

int snapshot_generation_map_open(const char *path, snapshot_generation_map **ret) {
        snapshot_generation_map *m;
        struct stat st;
        void *map;
        int fd, r;

        fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        if (fd < 0)
                return -errno;
        if (fstat(fd, &st) < 0) {
                r = -errno;
                close(fd);
                return r;
        }
        if (!S_ISREG(st.st_mode) || st.st_size < GEN_FILE_SIZE) {
                close(fd);
                return -EBADMSG;
        }
        map = mmap(NULL, GEN_FILE_SIZE, PROT_READ, MAP_SHARED, fd, 0);
        r = -errno;
        /* The mapping keeps the file; the descriptor is not needed. */
        close(fd);
        if (map == MAP_FAILED)
                return r;
        if (!gen_file_valid(map)) {
                munmap(map, GEN_FILE_SIZE);
                return -EBADMSG;
        }
        m = calloc(1, sizeof(*m));
        if (!m) {
                munmap(map, GEN_FILE_SIZE);
                return -ENOMEM;
        }
        m->map = map;
        m->dev = st.st_dev;
        m->ino = st.st_ino;
        *ret = m;
        return 0;
}

snapshot_generation_map *snapshot_generation_map_close(snapshot_generation_map *m) {
        if (!m)
                return NULL;
        munmap(m->map, GEN_FILE_SIZE);
        free(m);
        return NULL;
}

uint64_t snapshot_generation_map_read(const snapshot_generation_map *m) {
        return __atomic_load_n(gen_counter(m->map), __ATOMIC_ACQUIRE);
}

void snapshot_generation_map_get_file_id(const snapshot_generation_map *m,
                                         dev_t *ret_dev, ino_t *ret_ino) {
        if (ret_dev)
                *ret_dev = m->dev;
        if (ret_ino)
                *ret_ino = m->ino;
}

/* ======================================================================
 * Writing
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
        uint32_t size;       /* of rec */
        const char *name;    /* inside rec */
        const char *rec;
} writer_entry;

typedef struct writer_member {
        const char *user;    /* inside a group record */
        uint32_t gid;
} writer_member;

typedef struct entry_array {
        writer_entry *v;
        size_t n, cap;
} entry_array;

struct snapshot_writer {
        char *dir;
        int dir_fd;
        char *tmp_name;      /* relative to dir; NULL once renamed */
        char *tmp_path;
        int tmp_fd;

        arena_chunk *arena;
        entry_array users, groups;
        writer_member *members;
        size_t n_members, cap_members;
        size_t data_size;    /* records plus keys, for the map size */
        size_t n_large;      /* records that need overflow pages */
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

/* Makes room for `need` elements in *v (with *cap allocated), at least
 * doubling, so that appending stays amortised O(1). */
static int reserve(void **v, size_t *cap, size_t need, size_t elem, size_t hint) {
        size_t ncap;
        void *p;

        if (need <= *cap)
                return 0;
        ncap = *cap * 2;
        if (ncap < need)
                ncap = need;
        if (ncap < hint)
                ncap = hint;
        if (ncap < 16)
                ncap = 16;
        if (ncap > SIZE_MAX / elem)
                return -ENOMEM;
        p = realloc(*v, ncap * elem);
        if (!p)
                return -ENOMEM;
        *v = p;
        *cap = ncap;
        return 0;
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

        r = reserve((void **) &w->users.v, &w->users.cap, 1, sizeof(writer_entry),
                    expected_users);
        if (r >= 0)
                r = reserve((void **) &w->groups.v, &w->groups.cap, 1, sizeof(writer_entry),
                            expected_groups);
        if (r < 0)
                goto fail;

        *ret = w;
        return 0;

fail:
        snapshot_writer_free(w);
        return r;
}

static int add_entry(snapshot_writer *w, entry_array *a, uint32_t id, char *rec, size_t size) {
        int r;

        if (size > UINT32_MAX)
                return -E2BIG;
        r = reserve((void **) &a->v, &a->cap, a->n + 1, sizeof(writer_entry), 0);
        if (r < 0)
                return r;
        a->v[a->n++] = (writer_entry) {
                .id = id,
                .size = (uint32_t) size,
                .name = rec + RECORD_HEADER_SIZE,
                .rec = rec,
        };
        /* Both indexes, with room for LMDB's node headers. */
        w->data_size += size + 2 * strlen(rec + RECORD_HEADER_SIZE) + 2 * sizeof(uint32_t) + 32;
        if (size > 1024)
                w->n_large++;
        return 0;
}

int snapshot_writer_add_user(snapshot_writer *w, const char *name, uint32_t uid, uint32_t gid,
                             const char *gecos, const char *home, const char *shell) {
        const char *fields[4];
        size_t lens[4], size = RECORD_HEADER_SIZE;
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
                size += lens[i] + 1;
        }

        rec = arena_alloc(w, size);
        if (!rec)
                return -ENOMEM;
        memcpy(rec, &uid, sizeof(uid));
        memcpy(rec + 4, &gid, sizeof(gid));
        p = rec + RECORD_HEADER_SIZE;
        for (size_t i = 0; i < ELEMENTSOF(fields); i++) {
                memcpy(p, fields[i], lens[i] + 1);
                p += lens[i] + 1;
        }
        return add_entry(w, &w->users, uid, rec, size);
}

int snapshot_writer_add_group(snapshot_writer *w, const char *name, uint32_t gid,
                              char *const *members) {
        size_t n = strv_length(members), name_len, size;
        uint32_t count;
        char *rec, *p;
        int r;

        if (!w || validate_username(name, NULL) < 0 || gid == UINT32_MAX || n > UINT32_MAX)
                return -EINVAL;
        name_len = strlen(name);
        size = RECORD_HEADER_SIZE + name_len + 1;
        for (size_t i = 0; i < n; i++) {
                if (validate_username(members[i], NULL) < 0)
                        return -EINVAL;
                size += strlen(members[i]) + 1;
        }
        r = reserve((void **) &w->members, &w->cap_members, w->n_members + n,
                    sizeof(writer_member), 0);
        if (r < 0)
                return r;

        rec = arena_alloc(w, size);
        if (!rec)
                return -ENOMEM;
        count = (uint32_t) n;
        memcpy(rec, &gid, sizeof(gid));
        memcpy(rec + 4, &count, sizeof(count));
        p = rec + RECORD_HEADER_SIZE;
        memcpy(p, name, name_len + 1);
        p += name_len + 1;
        for (size_t i = 0; i < n; i++) {
                size_t len = strlen(members[i]);
                memcpy(p, members[i], len + 1);
                w->members[w->n_members + i] = (writer_member) { .user = p, .gid = gid };
                p += len + 1;
        }

        r = add_entry(w, &w->groups, gid, rec, size);
        if (r < 0)
                return r;
        w->n_members += n;
        /* initgroups: one key per user and a gid each. */
        w->data_size += n * (sizeof(uint32_t) + 8);
        return 0;
}

static int cmp_entry_id(const void *a, const void *b) {
        const writer_entry *x = a, *y = b;
        return x->id < y->id ? -1 : x->id > y->id;
}

static int cmp_entry_name(const void *a, const void *b) {
        const writer_entry *const *x = a, *const *y = b;
        return strcmp((*x)->name, (*y)->name);
}

static int cmp_member(const void *a, const void *b) {
        const writer_member *x = a, *y = b;
        int c = strcmp(x->user, y->user);
        if (c != 0)
                return c;
        return x->gid < y->gid ? -1 : x->gid > y->gid;
}

/* Daemons usually hand records over in some order already; checking first
 * saves the sort in that case. */
static bool sorted(const void *base, size_t n, size_t size, int (*cmp)(const void *, const void *)) {
        for (size_t i = 1; i < n; i++)
                if (cmp((const char *) base + (i - 1) * size, (const char *) base + i * size) > 0)
                        return false;
        return true;
}

static void sort(void *base, size_t n, size_t size, int (*cmp)(const void *, const void *)) {
        if (!sorted(base, n, size, cmp))
                qsort(base, n, size, cmp);
}

typedef struct writer_order {
        writer_entry **users_by_name;
        writer_entry **groups_by_name;
} writer_order;

static int order_by_name(const entry_array *a, writer_entry ***ret) {
        writer_entry **v;

        v = malloc((a->n ? a->n : 1) * sizeof(*v));
        if (!v)
                return -ENOMEM;
        for (size_t i = 0; i < a->n; i++)
                v[i] = &a->v[i];
        sort(v, a->n, sizeof(*v), cmp_entry_name);
        for (size_t i = 1; i < a->n; i++)
                if (strcmp(v[i - 1]->name, v[i]->name) == 0) {
                        free(v);
                        return -EEXIST;
                }
        *ret = v;
        return 0;
}

static int sort_ids(entry_array *a) {
        sort(a->v, a->n, sizeof(*a->v), cmp_entry_id);
        for (size_t i = 1; i < a->n; i++)
                if (a->v[i - 1].id == a->v[i].id)
                        return -EEXIST;
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
                rc = put(txn, user_byid, &e->id, sizeof(e->id), e->rec, e->size, MDB_APPEND);
                if (rc)
                        return rc;
        }
        for (size_t i = 0; i < w->users.n; i++) {
                const writer_entry *e = o->users_by_name[i];
                rc = put(txn, user_byname, e->name, strlen(e->name), &e->id, sizeof(e->id),
                         MDB_APPEND);
                if (rc)
                        return rc;
        }
        for (size_t i = 0; i < w->groups.n; i++) {
                const writer_entry *e = &w->groups.v[i];
                rc = put(txn, group_byid, &e->id, sizeof(e->id), e->rec, e->size, MDB_APPEND);
                if (rc)
                        return rc;
        }
        for (size_t i = 0; i < w->groups.n; i++) {
                const writer_entry *e = o->groups_by_name[i];
                rc = put(txn, group_byname, e->name, strlen(e->name), &e->id, sizeof(e->id),
                         MDB_APPEND);
                if (rc)
                        return rc;
        }

        /* Members are sorted by (user, gid) with duplicates removed: one run
         * per user becomes one initgroups value. */
        for (size_t i = 0; i < w->n_members;) {
                const char *user = w->members[i].user;
                size_t n = 0;

                for (; i < w->n_members && strcmp(w->members[i].user, user) == 0; i++) {
                        if (reserve((void **) &gids, &cap_gids, n + 1, sizeof(*gids), 0) < 0)
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
        int rc;

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
        if (!gen_file_valid(map)) {
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

        r = sort_ids(&w->users);
        if (r >= 0)
                r = sort_ids(&w->groups);
        if (r >= 0)
                r = order_by_name(&w->users, &o.users_by_name);
        if (r >= 0)
                r = order_by_name(&w->groups, &o.groups_by_name);
        if (r < 0)
                goto finish;

        sort(w->members, w->n_members, sizeof(*w->members), cmp_member);
        /* A user listed twice in one group counts once. */
        size_t k = 0;
        for (size_t i = 0; i < w->n_members; i++)
                if (k == 0 || cmp_member(&w->members[k - 1], &w->members[i]) != 0)
                        w->members[k++] = w->members[i];
        w->n_members = k;

        r = gen_file_open(w, &gen_fd, &gen_map);
        if (r < 0)
                goto finish;
        generation = __atomic_load_n(gen_counter(gen_map), __ATOMIC_ACQUIRE) + 1;

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
        __atomic_store_n(gen_counter(gen_map), generation, __ATOMIC_RELEASE);
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
