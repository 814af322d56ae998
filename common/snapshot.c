/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "snapshot.h"

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

#include "macro.h"
#include "validate.h"

/* The on-disk format (docs/nss.md has the same in prose). One LMDB
 * environment in a single file, with these named databases:
 *
 *   meta           "format" -> u32 SNAPSHOT_FORMAT_VERSION
 *                  "generation" -> u64, "users" -> u64, "groups" -> u64
 *   passwd.byuid   u32 uid (MDB_INTEGERKEY) -> user record
 *   passwd.byname  name -> user record (the same bytes)
 *   group.bygid    u32 gid (MDB_INTEGERKEY) -> group record
 *   group.byname   name -> u32 gid
 *   initgroups     name -> u32 gids, ascending (member names that are not
 *                  users of this snapshot only)
 *
 * user record:  u32 uid, u32 gid, u32 flags, u32 n, u16 length of each of
 *               name, gecos, home, shell, n u32 supplementary gids
 *               (ascending), "name\0gecos\0home\0shell\0"
 * group record: u32 gid, u32 member count, "name\0", "member\0" * count
 *
 * Lookups by uid and by name each take one B-tree descent: the user record
 * is stored under both keys. Two more things live in it, to halve the
 * number of entries, which is what publication time is made of: the user's
 * supplementary groups (the initgroups answer), and the user's private
 * group. A group with the user's name, gid = uid = the user's primary gid and
 * no members is not written to group.*; the user record carries
 * USER_PRIVATE_GROUP instead and readers answer for the group from it.
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

#define USER_HEADER_SIZE 24
/* Each string of a user record is shorter than this (the u16 lengths). */
#define USER_FIELD_MAX 65535
#define GROUP_HEADER_SIZE 8
#define USER_PRIVATE_GROUP 0x1u
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
        const char *p = v->mv_data;
        snapshot_user u;
        uint32_t flags, n_gids;
        uint16_t lens[4];
        size_t strings;

        if (v->mv_size < USER_HEADER_SIZE + 4)
                return -EBADMSG;
        u.uid = read_u32(p);
        u.gid = read_u32(p + 4);
        flags = read_u32(p + 8);
        n_gids = read_u32(p + 12);
        memcpy(lens, p + 16, sizeof(lens));
        strings = (size_t) lens[0] + lens[1] + lens[2] + lens[3] + 4;
        if (n_gids > (v->mv_size - USER_HEADER_SIZE) / sizeof(uint32_t) ||
            USER_HEADER_SIZE + (size_t) n_gids * sizeof(uint32_t) + strings != v->mv_size ||
            lens[0] == 0)
                return -EBADMSG;
        p += USER_HEADER_SIZE;
        u.private_group = flags & USER_PRIVATE_GROUP;
        u.n_gids = n_gids;
        u.gids = n_gids > 0 ? p : NULL;
        p += (size_t) n_gids * sizeof(uint32_t);

        /* The lengths make this O(1); the terminators are checked, so every
         * string is what its length says and a damaged record is refused. */
        u.name = p, u.name_len = lens[0], p += lens[0] + 1;
        u.gecos = p, u.gecos_len = lens[1], p += lens[1] + 1;
        u.home = p, u.home_len = lens[2], p += lens[2] + 1;
        u.shell = p, u.shell_len = lens[3];
        u.strings_size = strings;
        if (u.name[u.name_len] != 0 || u.gecos[u.gecos_len] != 0 ||
            u.home[u.home_len] != 0 || u.shell[u.shell_len] != 0 ||
            memchr(u.name, 0, u.name_len))
                return -EBADMSG;
        *ret = u;
        return 0;
}

/* The private group a user record stands for. */
static void private_group_of(const snapshot_user *u, snapshot_group *ret) {
        *ret = (snapshot_group) {
                .gid = u->uid,
                .name = u->name,
                .name_len = u->name_len,
        };
}

static int parse_group(const MDB_val *v, snapshot_group *ret) {
        const char *p = v->mv_data, *end = p + v->mv_size, *nul;
        snapshot_group g;
        size_t count = 0;

        if (v->mv_size < GROUP_HEADER_SIZE + 2)
                return -EBADMSG;
        g.gid = read_u32(p);
        g.n_members = read_u32(p + 4);
        p += GROUP_HEADER_SIZE;

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

/* Users enumerate from passwd.byuid. Groups are two sorted streams merged by
 * id: group.bygid, and the private groups carried by passwd.byuid. */
typedef enum cursor_source {
        SOURCE_NONE,
        SOURCE_USERS,
        SOURCE_GROUPS,
} cursor_source;

struct snapshot_cursor {
        snapshot_table table;
        MDB_cursor *users, *groups;
        /* Groups only: the entry each stream is positioned on (valid when not
         * at its end), and which stream the entry handed out last came from. */
        bool started, users_end, groups_end;
        MDB_val user_val, group_val;
        cursor_source last;
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
        size_t len = name ? strlen(name) : 0;
        MDB_val k = { .mv_size = len, .mv_data = (void *) name }, v;
        snapshot_user u;
        int r;

        if (len == 0 || len > KEY_MAX)
                return -ENOENT;
        r = errno_from_mdb(mdb_get(txn_mdb(t), txn_snapshot(t)->dbi_user_byname, &k, &v));
        if (r < 0)
                return r;
        r = parse_user(&v, &u);
        if (r < 0)
                return r;
        if (u.name_len != len || memcmp(u.name, name, len) != 0)
                return -EBADMSG;
        *ret = u;
        return 0;
}

int snapshot_get_group_by_gid(snapshot_txn *t, uint32_t gid, snapshot_group *ret) {
        snapshot_group g;
        snapshot_user u;
        MDB_val v;
        int r;

        /* Private groups first: they are what `ls -l` asks for most. */
        r = snapshot_get_user_by_uid(t, gid, &u);
        if (r >= 0 && u.private_group) {
                private_group_of(&u, ret);
                return 0;
        }
        if (r < 0 && r != -ENOENT)
                return r;

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
        snapshot_user u;
        uint32_t gid;
        MDB_val v;
        int r;

        r = get_id_by_name(t, txn_snapshot(t)->dbi_group_byname, name, &gid);
        if (r == -ENOENT) {
                r = snapshot_get_user_by_name(t, name, &u);
                if (r < 0)
                        return r;
                if (!u.private_group)
                        return -ENOENT;
                private_group_of(&u, ret);
                return 0;
        }
        if (r < 0)
                return r;
        r = get_by_id(t, txn_snapshot(t)->dbi_group_byid, gid, &v);
        if (r < 0)
                return r == -ENOENT ? -EBADMSG : r;
        r = parse_group(&v, &g);
        if (r < 0)
                return r;
        if (g.gid != gid || strcmp(g.name, name) != 0)
                return -EBADMSG;
        *ret = g;
        return 0;
}

int snapshot_get_user_groups(snapshot_txn *t, const char *user,
                             const void **ret_gids, size_t *ret_n) {
        size_t len = user ? strlen(user) : 0;
        MDB_val k = { .mv_size = len, .mv_data = (void *) user }, v;
        snapshot_user u;
        int r;

        r = snapshot_get_user_by_name(t, user, &u);
        if (r >= 0) {
                if (u.n_gids == 0)
                        return -ENOENT;
                *ret_gids = u.gids;
                *ret_n = u.n_gids;
                return 0;
        }
        if (r != -ENOENT)
                return r;

        /* A member name that is not one of our users. */
        if (len == 0 || len > KEY_MAX)
                return -ENOENT;
        r = errno_from_mdb(mdb_get(txn_mdb(t), txn_snapshot(t)->dbi_initgroups, &k, &v));
        if (r < 0)
                return r;
        if (v.mv_size == 0 || v.mv_size % sizeof(uint32_t) != 0)
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
        rc = mdb_cursor_open(txn_mdb(t), s->dbi_user_byid, &c->users);
        if (rc == MDB_SUCCESS && table == SNAPSHOT_GROUPS)
                rc = mdb_cursor_open(txn_mdb(t), s->dbi_group_byid, &c->groups);
        if (rc != MDB_SUCCESS) {
                snapshot_cursor_close(c);
                return errno_from_mdb(rc);
        }
        *ret = c;
        return 0;
}

snapshot_cursor *snapshot_cursor_close(snapshot_cursor *c) {
        if (!c)
                return NULL;
        if (c->users)
                mdb_cursor_close(c->users);
        if (c->groups)
                mdb_cursor_close(c->groups);
        free(c);
        return NULL;
}

static int cursor_get(MDB_cursor *cursor, MDB_cursor_op op, MDB_val *ret_val) {
        MDB_val k;
        int r;

        r = errno_from_mdb(mdb_cursor_get(cursor, &k, ret_val, op));
        if (r < 0)
                return r;
        if (k.mv_size != sizeof(uint32_t) || ret_val->mv_size < sizeof(uint32_t) ||
            read_u32(k.mv_data) != read_u32(ret_val->mv_data))
                return -EBADMSG;
        return 0;
}

static MDB_cursor_op op_for(snapshot_move move) {
        switch (move) {
        case SNAPSHOT_FIRST:
                return MDB_FIRST;
        case SNAPSHOT_NEXT:
                return MDB_NEXT;
        default:
                return MDB_GET_CURRENT;
        }
}

int snapshot_cursor_get_user(snapshot_cursor *c, snapshot_move move, snapshot_user *ret) {
        MDB_val v;
        int r;

        if (c->table != SNAPSHOT_USERS ||
            (move != SNAPSHOT_FIRST && move != SNAPSHOT_NEXT && move != SNAPSHOT_CURRENT))
                return -EINVAL;
        r = cursor_get(c->users, op_for(move), &v);
        if (r < 0)
                return r;
        return parse_user(&v, ret);
}

/* Moves the user stream to the next user that carries a private group. */
static int advance_users(snapshot_cursor *c, MDB_cursor_op op) {
        snapshot_user u;
        int r;

        for (;;) {
                r = cursor_get(c->users, op, &c->user_val);
                if (r == -ENOENT) {
                        c->users_end = true;
                        return 0;
                }
                if (r < 0)
                        return r;
                r = parse_user(&c->user_val, &u);
                if (r < 0)
                        return r;
                if (u.private_group)
                        return 0;
                op = MDB_NEXT;
        }
}

static int advance_groups(snapshot_cursor *c, MDB_cursor_op op) {
        int r = cursor_get(c->groups, op, &c->group_val);
        if (r == -ENOENT) {
                c->groups_end = true;
                return 0;
        }
        return r;
}

int snapshot_cursor_get_group(snapshot_cursor *c, snapshot_move move, snapshot_group *ret) {
        snapshot_user u;
        int r;

        if (c->table != SNAPSHOT_GROUPS)
                return -EINVAL;
        switch (move) {
        case SNAPSHOT_FIRST:
                c->started = true;
                c->users_end = c->groups_end = false;
                r = advance_users(c, MDB_FIRST);
                if (r >= 0)
                        r = advance_groups(c, MDB_FIRST);
                break;
        case SNAPSHOT_NEXT:
                if (!c->started)
                        return snapshot_cursor_get_group(c, SNAPSHOT_FIRST, ret);
                if (c->last == SOURCE_USERS)
                        r = advance_users(c, MDB_NEXT);
                else if (c->last == SOURCE_GROUPS)
                        r = advance_groups(c, MDB_NEXT);
                else
                        r = 0;          /* already past the end */
                break;
        case SNAPSHOT_CURRENT:
                if (c->last == SOURCE_NONE)
                        return -EINVAL;
                r = 0;
                break;
        default:
                return -EINVAL;
        }
        if (r < 0)
                return r;

        if (move != SNAPSHOT_CURRENT) {
                /* Hand out the smaller id of the two streams. */
                if (c->users_end && c->groups_end) {
                        c->last = SOURCE_NONE;
                        return -ENOENT;
                }
                if (c->users_end)
                        c->last = SOURCE_GROUPS;
                else if (c->groups_end)
                        c->last = SOURCE_USERS;
                else
                        c->last = read_u32(c->user_val.mv_data) < read_u32(c->group_val.mv_data)
                                ? SOURCE_USERS : SOURCE_GROUPS;
        }

        if (c->last == SOURCE_GROUPS)
                return parse_group(&c->group_val, ret);
        r = parse_user(&c->user_val, &u);
        if (r < 0)
                return r;
        private_group_of(&u, ret);
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

static writer_entry *add_entry(snapshot_writer *w, entry_array *a, size_t size) {
        if (size > UINT32_MAX)
                return NULL;
        if (reserve((void **) &a->v, &a->cap, a->n + 1, sizeof(writer_entry), 0) < 0)
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

        r = writer_prepare(w, &o);
        if (r < 0)
                goto finish;

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
