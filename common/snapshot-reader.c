/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Reading a published snapshot: what libnss_nexalix.so.2 links. */
#include "snapshot-format.h"

#include <errno.h>
#include <fcntl.h>
#include <lmdb.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lmdb-util.h"
#include "macro.h"

static int snapshot_parse_user_val(const MDB_val *v, snapshot_user *ret) {
        return snapshot_parse_user(v->mv_data, v->mv_size, ret);
}

static int snapshot_parse_group_val(const MDB_val *v, snapshot_group *ret) {
        return snapshot_parse_group(v->mv_data, v->mv_size, ret);
}

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
        *ret = snapshot_read_u32(v.mv_data);
        return 0;
}

int snapshot_get_user_by_uid(snapshot_txn *t, uint32_t uid, snapshot_user *ret) {
        snapshot_user u;
        MDB_val v;
        int r;

        r = get_by_id(t, txn_snapshot(t)->dbi_user_byid, uid, &v);
        if (r < 0)
                return r;
        r = snapshot_parse_user_val(&v, &u);
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
        r = snapshot_parse_user_val(&v, &u);
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
                snapshot_private_group_of(&u, ret);
                return 0;
        }
        if (r < 0 && r != -ENOENT)
                return r;

        r = get_by_id(t, txn_snapshot(t)->dbi_group_byid, gid, &v);
        if (r < 0)
                return r;
        r = snapshot_parse_group_val(&v, &g);
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
                snapshot_private_group_of(&u, ret);
                return 0;
        }
        if (r < 0)
                return r;
        r = get_by_id(t, txn_snapshot(t)->dbi_group_byid, gid, &v);
        if (r < 0)
                return r == -ENOENT ? -EBADMSG : r;
        r = snapshot_parse_group_val(&v, &g);
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
            snapshot_read_u32(k.mv_data) != snapshot_read_u32(ret_val->mv_data))
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
        return snapshot_parse_user_val(&v, ret);
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
                r = snapshot_parse_user_val(&c->user_val, &u);
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
                        c->last = snapshot_read_u32(c->user_val.mv_data) < snapshot_read_u32(c->group_val.mv_data)
                                ? SOURCE_USERS : SOURCE_GROUPS;
        }

        if (c->last == SOURCE_GROUPS)
                return snapshot_parse_group_val(&c->group_val, ret);
        r = snapshot_parse_user_val(&c->user_val, &u);
        if (r < 0)
                return r;
        snapshot_private_group_of(&u, ret);
        return 0;
}
