/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Reading a published snapshot: what libnss_nexalix.so.2 links.
 *
 * A snapshot is a base file and, beside it, an optional delta: the entries
 * that changed since the base was written (snapshot-format.h). Every lookup
 * asks the delta first, where an empty value means "gone", then the base;
 * enumerations merge the two in id order. */
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

/* How often an open retries when it finds a delta written for a newer base
 * than the one it opened (a whole publication was being renamed into place
 * between its two opens). */
#define OPEN_ATTEMPTS 8

enum {
        T_USER_BYID,
        T_USER_BYNAME,
        T_GROUP_BYID,
        T_GROUP_BYNAME,
        T_INITGROUPS,
        _T_MAX,
};

static const struct {
        const char *name;
        unsigned flags;
} tables[_T_MAX] = {
        [T_USER_BYID] = { DB_USER_BYID, MDB_INTEGERKEY },
        [T_USER_BYNAME] = { DB_USER_BYNAME, 0 },
        [T_GROUP_BYID] = { DB_GROUP_BYID, MDB_INTEGERKEY },
        [T_GROUP_BYNAME] = { DB_GROUP_BYNAME, 0 },
        [T_INITGROUPS] = { DB_INITGROUPS, 0 },
};

typedef struct snapshot_file {
        MDB_env *env;
        MDB_dbi dbi[_T_MAX];
        uint64_t generation;
        uint64_t base;                  /* a delta's: the generation of its base */
        dev_t dev;
        ino_t ino;
} snapshot_file;

struct snapshot {
        snapshot_file base, delta;      /* delta.env NULL: none in use */
        uint64_t generation;
};

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

static int file_open_dbis(snapshot_file *f, bool delta) {
        MDB_txn *txn = NULL;
        MDB_dbi meta;
        uint32_t format;
        int rc, r;

        rc = mdb_txn_begin(f->env, NULL, MDB_RDONLY, &txn);
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
        r = read_meta(txn, meta, META_GENERATION, sizeof(f->generation), &f->generation);
        if (r >= 0 && delta)
                r = read_meta(txn, meta, META_BASE, sizeof(f->base), &f->base);
        if (r < 0)
                goto fail;

        for (size_t i = 0; i < _T_MAX; i++) {
                rc = mdb_dbi_open(txn, tables[i].name, tables[i].flags, &f->dbi[i]);
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

static void file_close(snapshot_file *f) {
        if (f->env)
                mdb_env_close(f->env);
        *f = (snapshot_file) {};
}

static int file_open(const char *path, bool delta, snapshot_file *f) {
        struct stat st;
        int r;

        r = lmdb_open_snapshot(path, SNAPSHOT_MAX_DBS, &f->env, &st);
        if (r < 0) {
                f->env = NULL;
                return r;
        }
        f->dev = st.st_dev;
        f->ino = st.st_ino;

        r = file_open_dbis(f, delta);
        if (r < 0)
                goto fail;
        return 0;

fail:
        file_close(f);
        return r;
}

int snapshot_open(const char *path, const char *delta_path, snapshot **ret) {
        snapshot *s;
        int r;

        if (!path || !ret)
                return -EINVAL;
        s = calloc(1, sizeof(*s));
        if (!s)
                return -ENOMEM;

        for (int attempt = 0;; attempt++) {
                r = file_open(path, false, &s->base);
                if (r < 0) {
                        free(s);
                        return r;
                }
                if (!delta_path)
                        break;
                r = file_open(delta_path, true, &s->delta);
                if (r == -ENOENT)
                        break;
                if (r < 0) {
                        /* A damaged delta would hide what changed: no answer
                         * is better than a stale one given as current. */
                        file_close(&s->base);
                        free(s);
                        return r;
                }
                if (s->delta.base == s->base.generation)
                        break;
                /* A delta older than its base was superseded by it: the base
                 * alone is the newer state. */
                if (s->delta.generation < s->base.generation) {
                        file_close(&s->delta);
                        break;
                }
                /* A delta of a newer base than the one opened: a whole
                 * publication renamed its base in between. Open both again;
                 * after the last attempt, answer from the base alone, which
                 * is consistent, if older. */
                file_close(&s->delta);
                if (attempt + 1 >= OPEN_ATTEMPTS)
                        break;
                file_close(&s->base);
        }
        s->generation = s->delta.env ? s->delta.generation : s->base.generation;
        *ret = s;
        return 0;
}

snapshot *snapshot_close(snapshot *s) {
        if (!s)
                return NULL;
        file_close(&s->delta);
        file_close(&s->base);
        free(s);
        return NULL;
}

uint64_t snapshot_get_generation(const snapshot *s) {
        return s->generation;
}

void snapshot_get_file_id(const snapshot *s, dev_t *ret_dev, ino_t *ret_ino) {
        if (ret_dev)
                *ret_dev = s->base.dev;
        if (ret_ino)
                *ret_ino = s->base.ino;
}

bool snapshot_get_delta_file_id(const snapshot *s, dev_t *ret_dev, ino_t *ret_ino) {
        if (!s->delta.env)
                return false;
        if (ret_dev)
                *ret_dev = s->delta.dev;
        if (ret_ino)
                *ret_ino = s->delta.ino;
        return true;
}

int snapshot_txn_begin(snapshot *s, snapshot_txn *t) {
        MDB_txn *base = NULL, *delta = NULL;
        int rc;

        rc = mdb_txn_begin(s->base.env, NULL, MDB_RDONLY, &base);
        if (rc == MDB_SUCCESS && s->delta.env) {
                rc = mdb_txn_begin(s->delta.env, NULL, MDB_RDONLY, &delta);
                if (rc != MDB_SUCCESS)
                        mdb_txn_abort(base);
        }
        if (rc != MDB_SUCCESS)
                return errno_from_mdb(rc);
        *t = (snapshot_txn) { .snapshot = s, .base = base, .delta = delta };
        return 0;
}

void snapshot_txn_end(snapshot_txn *t) {
        if (t->delta)
                mdb_txn_abort(t->delta);
        if (t->base)
                mdb_txn_abort(t->base);
        *t = (snapshot_txn) {};
}

/* The value under key: the delta's (an empty one means the entry is gone),
 * or the base's. */
static int get(snapshot_txn *t, int table, const void *key, size_t key_size, MDB_val *ret) {
        MDB_val k = { .mv_size = key_size, .mv_data = (void *) key };
        int rc;

        if (t->delta) {
                rc = mdb_get(t->delta, t->snapshot->delta.dbi[table], &k, ret);
                if (rc == MDB_SUCCESS)
                        return ret->mv_size > 0 ? 0 : -ENOENT;
                if (rc != MDB_NOTFOUND)
                        return errno_from_mdb(rc);
        }
        return errno_from_mdb(mdb_get(t->base, t->snapshot->base.dbi[table], &k, ret));
}

static int get_by_name(snapshot_txn *t, int table, const char *name, MDB_val *ret) {
        size_t len = name ? strlen(name) : 0;

        if (len == 0 || len > KEY_MAX)
                return -ENOENT;
        return get(t, table, name, len, ret);
}

int snapshot_get_user_by_uid(snapshot_txn *t, uint32_t uid, snapshot_user *ret) {
        snapshot_user u;
        MDB_val v;
        int r;

        r = get(t, T_USER_BYID, &uid, sizeof(uid), &v);
        if (r < 0)
                return r;
        r = snapshot_parse_user(v.mv_data, v.mv_size, &u);
        if (r < 0)
                return r;
        if (u.uid != uid)
                return -EBADMSG;
        *ret = u;
        return 0;
}

int snapshot_get_user_by_name(snapshot_txn *t, const char *name, snapshot_user *ret) {
        snapshot_user u;
        MDB_val v;
        int r;

        r = get_by_name(t, T_USER_BYNAME, name, &v);
        if (r < 0)
                return r;
        r = snapshot_parse_user(v.mv_data, v.mv_size, &u);
        if (r < 0)
                return r;
        if (u.name_len != strlen(name) || memcmp(u.name, name, u.name_len) != 0)
                return -EBADMSG;
        *ret = u;
        return 0;
}

static int get_group(snapshot_txn *t, uint32_t gid, snapshot_group *ret) {
        snapshot_group g;
        MDB_val v;
        int r;

        r = get(t, T_GROUP_BYID, &gid, sizeof(gid), &v);
        if (r < 0)
                return r;
        r = snapshot_parse_group(v.mv_data, v.mv_size, &g);
        if (r < 0)
                return r;
        if (g.gid != gid)
                return -EBADMSG;
        *ret = g;
        return 0;
}

int snapshot_get_group_by_gid(snapshot_txn *t, uint32_t gid, snapshot_group *ret) {
        snapshot_user u;
        int r;

        /* Private groups first: they are what `ls -l` asks for most. */
        r = snapshot_get_user_by_uid(t, gid, &u);
        if (r >= 0 && u.private_group) {
                snapshot_private_group_of(&u, ret);
                return 0;
        }
        if (r < 0 && r != -ENOENT)
                return r;
        return get_group(t, gid, ret);
}

int snapshot_get_group_by_name(snapshot_txn *t, const char *name, snapshot_group *ret) {
        snapshot_group g;
        snapshot_user u;
        MDB_val v;
        int r;

        r = get_by_name(t, T_GROUP_BYNAME, name, &v);
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
        if (v.mv_size != sizeof(uint32_t))
                return -EBADMSG;
        r = get_group(t, snapshot_read_u32(v.mv_data), &g);
        if (r < 0)
                return r == -ENOENT ? -EBADMSG : r;
        if (strcmp(g.name, name) != 0)
                return -EBADMSG;
        *ret = g;
        return 0;
}

int snapshot_get_user_groups(snapshot_txn *t, const char *user,
                             const void **ret_gids, size_t *ret_n) {
        snapshot_user u;
        MDB_val v;
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
        r = get_by_name(t, T_INITGROUPS, user, &v);
        if (r < 0)
                return r;
        if (v.mv_size % sizeof(uint32_t) != 0)
                return -EBADMSG;
        *ret_gids = v.mv_data;
        *ret_n = v.mv_size / sizeof(uint32_t);
        return 0;
}

/* ---- enumeration ---- */

/* One table of the base and the delta read as one stream in key (id) order:
 * where both have a key, the delta's entry is the one, and an empty one
 * (gone) is skipped. */
typedef struct stream {
        MDB_cursor *c[2];               /* base, delta (NULL: none) */
        MDB_val k[2], v[2];
        bool end[2];
        bool started, at_end;
        uint32_t key;                   /* of the current entry */
        MDB_val val;
} stream;

static int stream_open(snapshot_txn *t, int table, stream *st) {
        int rc;

        *st = (stream) {};
        rc = mdb_cursor_open(t->base, t->snapshot->base.dbi[table], &st->c[0]);
        if (rc == MDB_SUCCESS && t->delta)
                rc = mdb_cursor_open(t->delta, t->snapshot->delta.dbi[table], &st->c[1]);
        return errno_from_mdb(rc);
}

static void stream_close(stream *st) {
        for (size_t i = 0; i < 2; i++)
                if (st->c[i])
                        mdb_cursor_close(st->c[i]);
}

/* Moves side i of the stream with op; a key must be an id, and a value a
 * record that starts with that id (or empty, in the delta). */
static int side_move(stream *st, size_t i, MDB_cursor_op op) {
        int r;

        r = errno_from_mdb(mdb_cursor_get(st->c[i], &st->k[i], &st->v[i], op));
        if (r == -ENOENT) {
                st->end[i] = true;
                return 0;
        }
        if (r < 0)
                return r;
        if (st->k[i].mv_size != sizeof(uint32_t) ||
            (st->v[i].mv_size > 0 && (st->v[i].mv_size < sizeof(uint32_t) ||
                                      snapshot_read_u32(st->k[i].mv_data) != snapshot_read_u32(st->v[i].mv_data))))
                return -EBADMSG;
        return 0;
}

/* To the next entry (the first, when first is set); -ENOENT past the end. */
static int stream_next(stream *st, bool first) {
        int r;

        if (first) {
                st->started = true;
                st->at_end = false;
                for (size_t i = 0; i < 2; i++) {
                        st->end[i] = !st->c[i];
                        if (st->c[i] && (r = side_move(st, i, MDB_FIRST)) < 0)
                                return r;
                }
        } else {
                if (st->at_end)
                        return -ENOENT;
                /* Past the current key on both sides: where the delta had it,
                 * the base's entry of that key is overridden. */
                for (size_t i = 0; i < 2; i++)
                        if (!st->end[i] && snapshot_read_u32(st->k[i].mv_data) == st->key &&
                            (r = side_move(st, i, MDB_NEXT)) < 0)
                                return r;
        }

        for (;;) {
                size_t pick;

                if (st->end[0] && st->end[1]) {
                        st->at_end = true;
                        return -ENOENT;
                }
                if (st->end[0])
                        pick = 1;
                else if (st->end[1])
                        pick = 0;
                else
                        pick = snapshot_read_u32(st->k[1].mv_data) <= snapshot_read_u32(st->k[0].mv_data) ? 1 : 0;
                st->key = snapshot_read_u32(st->k[pick].mv_data);
                st->val = st->v[pick];
                if (st->val.mv_size > 0)
                        return 0;
                /* Gone: skip that key on both sides. */
                for (size_t i = 0; i < 2; i++)
                        if (!st->end[i] && snapshot_read_u32(st->k[i].mv_data) == st->key &&
                            (r = side_move(st, i, MDB_NEXT)) < 0)
                                return r;
        }
}

/* Users enumerate from passwd.byuid. Groups are two sorted streams merged by
 * id: group.bygid, and the private groups carried by passwd.byuid. */
typedef enum cursor_source {
        SOURCE_NONE,
        SOURCE_USERS,
        SOURCE_GROUPS,
} cursor_source;

struct snapshot_cursor {
        snapshot_table table;
        stream users, groups;
        bool started;
        cursor_source last;             /* groups: which stream the last entry came from */
};

int snapshot_cursor_open(snapshot_txn *t, snapshot_table table, snapshot_cursor **ret) {
        snapshot_cursor *c;
        int r;

        if (table != SNAPSHOT_USERS && table != SNAPSHOT_GROUPS)
                return -EINVAL;
        c = calloc(1, sizeof(*c));
        if (!c)
                return -ENOMEM;
        c->table = table;
        r = stream_open(t, T_USER_BYID, &c->users);
        if (r >= 0 && table == SNAPSHOT_GROUPS)
                r = stream_open(t, T_GROUP_BYID, &c->groups);
        if (r < 0) {
                snapshot_cursor_close(c);
                return r;
        }
        *ret = c;
        return 0;
}

snapshot_cursor *snapshot_cursor_close(snapshot_cursor *c) {
        if (!c)
                return NULL;
        stream_close(&c->users);
        stream_close(&c->groups);
        free(c);
        return NULL;
}

int snapshot_cursor_get_user(snapshot_cursor *c, snapshot_move move, snapshot_user *ret) {
        int r;

        if (c->table != SNAPSHOT_USERS)
                return -EINVAL;
        switch (move) {
        case SNAPSHOT_FIRST:
        case SNAPSHOT_NEXT:
                r = stream_next(&c->users, move == SNAPSHOT_FIRST || !c->users.started);
                break;
        case SNAPSHOT_CURRENT:
                if (!c->users.started)
                        return -EINVAL;
                r = c->users.at_end ? -ENOENT : 0;
                break;
        default:
                return -EINVAL;
        }
        if (r < 0)
                return r;
        return snapshot_parse_user(c->users.val.mv_data, c->users.val.mv_size, ret);
}

/* Moves the user stream to the next user that carries a private group. */
static int advance_users(snapshot_cursor *c, bool first) {
        snapshot_user u;
        int r;

        for (;;) {
                r = stream_next(&c->users, first);
                if (r == -ENOENT)
                        return 0;
                if (r < 0)
                        return r;
                r = snapshot_parse_user(c->users.val.mv_data, c->users.val.mv_size, &u);
                if (r < 0)
                        return r;
                if (u.private_group)
                        return 0;
                first = false;
        }
}

static int advance_groups(snapshot_cursor *c, bool first) {
        int r = stream_next(&c->groups, first);
        return r == -ENOENT ? 0 : r;
}

int snapshot_cursor_get_group(snapshot_cursor *c, snapshot_move move, snapshot_group *ret) {
        snapshot_user u;
        int r;

        if (c->table != SNAPSHOT_GROUPS)
                return -EINVAL;
        switch (move) {
        case SNAPSHOT_FIRST:
                c->started = true;
                r = advance_users(c, true);
                if (r >= 0)
                        r = advance_groups(c, true);
                break;
        case SNAPSHOT_NEXT:
                if (!c->started)
                        return snapshot_cursor_get_group(c, SNAPSHOT_FIRST, ret);
                if (c->last == SOURCE_USERS)
                        r = advance_users(c, false);
                else if (c->last == SOURCE_GROUPS)
                        r = advance_groups(c, false);
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
                bool users_end = c->users.at_end, groups_end = c->groups.at_end;

                if (users_end && groups_end) {
                        c->last = SOURCE_NONE;
                        return -ENOENT;
                }
                if (users_end)
                        c->last = SOURCE_GROUPS;
                else if (groups_end)
                        c->last = SOURCE_USERS;
                else
                        c->last = c->users.key < c->groups.key ? SOURCE_USERS : SOURCE_GROUPS;
        }

        if (c->last == SOURCE_GROUPS)
                return snapshot_parse_group(c->groups.val.mv_data, c->groups.val.mv_size, ret);
        r = snapshot_parse_user(c->users.val.mv_data, c->users.val.mv_size, &u);
        if (r < 0)
                return r;
        snapshot_private_group_of(&u, ret);
        return 0;
}
