/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "store.h"
#include "lmdb-util.h"
#include "log.h"
#include "macro.h"

#include <fcntl.h>
#include <lmdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* Virtual size of the map: LMDB only reserves address space, the file grows
 * with the data. 16 GiB holds millions of users. */
#define STORE_MAP_SIZE (16ULL << 30)

static const char *const table_names[_TABLE_MAX] = {
        [TABLE_META] = "meta",
        [TABLE_ORGS] = "orgs",
        [TABLE_DEPTS] = "departments",
        [TABLE_GROUPS] = "groups",
        [TABLE_USERS] = "users",
        [TABLE_UIDS] = "uids",
        [TABLE_EMAILS] = "emails",
        [TABLE_LINKED_RECORDS] = "links",      /* named so since format 1 */
        [TABLE_TOKENS] = "tokens",
        [TABLE_ONETIME_LINKS] = "onetime",
        [TABLE_AUDIT] = "audit",
        [TABLE_USER_INDEX] = "user-index",
        [TABLE_COUNTS] = "counts",
        [TABLE_LOGIN_FAILURES] = "login-failures",
        [TABLE_SESSIONS] = "sessions",
        [TABLE_TOTP] = "totp",
        [TABLE_RECOVERY_CODES] = "recovery-codes",
        [TABLE_SSH_KEYS] = "ssh-keys",
        [TABLE_LINK_OWNERS] = "link-owners",
        [TABLE_RATE_LIMITS] = "rate-limits",
        [TABLE_FORGOT_QUEUE] = "forgot-queue",
        [TABLE_OUTBOX] = "outbox",
        [TABLE_OUTBOX_USERS] = "outbox-users",
};

struct store {
        MDB_env *env;
        MDB_dbi dbi[_TABLE_MAX];
        char *path;
};

struct store_txn {
        store *store;
        MDB_txn *txn;
};

int store_get_format(store_txn *t, unsigned *ret) {
        const void *v;
        size_t n;
        int r = store_get(t, TABLE_META, "format", 6, &v, &n);
        if (r < 0)
                return r;
        if (n != 1)
                return -EBADMSG;
        *ret = *(const uint8_t *) v;
        return 0;
}

int store_set_format(store_txn *t, unsigned version) {
        uint8_t v = (uint8_t) version;
        return store_put(t, TABLE_META, "format", 6, &v, 1, false);
}

/* A new store gets the current format; an existing one must not be newer
 * than this daemon (older ones are migrated by the caller, see migrate.h). */
static int store_check_format(store *s) {
        _cleanup_txn_ store_txn *t = NULL;
        unsigned version;
        int r;

        r = store_begin(s, true, &t);
        if (r < 0)
                return r;
        r = store_get_format(t, &version);
        if (r == -ENOENT) {
                r = store_set_format(t, STORE_FORMAT_VERSION);
                if (r < 0)
                        return r;
                return store_commit(TAKE_PTR(t));
        }
        if (r < 0)
                return r;
        if (version > STORE_FORMAT_VERSION)
                return log_error_errno(-EPROTO, "Store %s has format %u, this nexalixd understands up to %u",
                                       s->path, version, STORE_FORMAT_VERSION);
        return 0;
}

static int store_open_internal(const char *dir, bool readonly, store **ret) {
        store *s;
        MDB_txn *txn = NULL;
        int rc, r;

        if (!readonly && mkdir(dir, 0700) < 0 && errno != EEXIST)
                return log_error_errno(-errno, "Failed to create store directory %s: %m", dir);

        s = calloc(1, sizeof(*s));
        if (!s)
                return -ENOMEM;
        s->path = strdup(dir);
        if (!s->path) {
                free(s);
                return -ENOMEM;
        }

        rc = mdb_env_create(&s->env);
        if (rc == 0)
                rc = mdb_env_set_maxdbs(s->env, _TABLE_MAX);
        if (rc == 0)
                rc = mdb_env_set_mapsize(s->env, STORE_MAP_SIZE);
        if (rc == 0)
                /* Transactions run on one thread per process, so no TLS slot
                 * per thread is needed. Default durability: a commit is on
                 * disk before we answer the caller. */
                rc = mdb_env_open(s->env, dir, MDB_NOTLS | (readonly ? MDB_RDONLY : 0), 0600);
        if (rc != 0) {
                r = errno_from_mdb(rc);
                log_error("Failed to open store %s: %s", dir, mdb_strerror(rc));
                goto fail;
        }

        /* LMDB does not open its files with O_CLOEXEC; sendmail and other
         * children must not inherit them. */
        {
                int fd;
                if (mdb_env_get_fd(s->env, &fd) == 0)
                        (void) fcntl(fd, F_SETFD, FD_CLOEXEC);
        }

        rc = mdb_txn_begin(s->env, NULL, readonly ? MDB_RDONLY : 0, &txn);
        for (size_t i = 0; rc == 0 && i < _TABLE_MAX; i++)
                rc = mdb_dbi_open(txn, table_names[i], readonly ? 0 : MDB_CREATE, &s->dbi[i]);
        if (rc == 0)
                rc = mdb_txn_commit(txn);
        else
                mdb_txn_abort(txn);
        if (rc != 0) {
                r = errno_from_mdb(rc);
                log_error("Failed to open tables in store %s: %s", dir, mdb_strerror(rc));
                goto fail;
        }

        if (!readonly) {
                r = store_check_format(s);
                if (r < 0)
                        goto fail;
        }

        *ret = s;
        return 0;
fail:
        store_close(s);
        return r;
}

int store_open(const char *dir, store **ret) {
        return store_open_internal(dir, false, ret);
}

int store_open_readonly(const char *dir, store **ret) {
        return store_open_internal(dir, true, ret);
}

store *store_close(store *s) {
        if (!s)
                return NULL;
        if (s->env)
                mdb_env_close(s->env);
        free(s->path);
        free(s);
        return NULL;
}

int store_begin(store *s, bool write, store_txn **ret) {
        store_txn *t;
        int rc;

        t = calloc(1, sizeof(*t));
        if (!t)
                return -ENOMEM;
        t->store = s;
        rc = mdb_txn_begin(s->env, NULL, write ? 0 : MDB_RDONLY, &t->txn);
        if (rc != 0) {
                free(t);
                log_error("Failed to begin transaction: %s", mdb_strerror(rc));
                return errno_from_mdb(rc);
        }
        *ret = t;
        return 0;
}

int store_commit(store_txn *t) {
        int rc = mdb_txn_commit(t->txn);
        free(t);
        if (rc != 0) {
                log_error("Failed to commit transaction: %s", mdb_strerror(rc));
                return errno_from_mdb(rc);
        }
        return 0;
}

int store_sync(store *s) {
        int rc = mdb_env_sync(s->env, 1);
        return rc == 0 ? 0 : errno_from_mdb(rc);
}

int store_commit_unsynced(store_txn *t) {
        MDB_env *env = t->store->env;
        int r;

        /* LMDB keeps no per-transaction sync flag: the environment's is
         * lifted around this one commit (the daemon is the only writer, on
         * one thread). The pages reach the file at once; the next synced
         * commit flushes them to the disk with its own. */
        (void) mdb_env_set_flags(env, MDB_NOSYNC, 1);
        r = store_commit(t);
        (void) mdb_env_set_flags(env, MDB_NOSYNC, 0);
        return r;
}

store_txn *store_abort(store_txn *t) {
        if (t) {
                mdb_txn_abort(t->txn);
                free(t);
        }
        return NULL;
}

int store_get(store_txn *t, store_table table, const void *key, size_t key_size,
              const void **ret_value, size_t *ret_size) {
        MDB_val k = { key_size, (void *) key }, v;
        int rc = mdb_get(t->txn, t->store->dbi[table], &k, &v);
        if (rc != 0)
                return errno_from_mdb(rc);
        if (ret_value)
                *ret_value = v.mv_data;
        if (ret_size)
                *ret_size = v.mv_size;
        return 0;
}

int store_put(store_txn *t, store_table table, const void *key, size_t key_size,
              const void *value, size_t value_size, bool no_overwrite) {
        MDB_val k = { key_size, (void *) key }, v = { value_size, (void *) value };
        return errno_from_mdb(mdb_put(t->txn, t->store->dbi[table], &k, &v,
                                      no_overwrite ? MDB_NOOVERWRITE : 0));
}

int store_del(store_txn *t, store_table table, const void *key, size_t key_size) {
        MDB_val k = { key_size, (void *) key };
        return errno_from_mdb(mdb_del(t->txn, t->store->dbi[table], &k, NULL));
}

static void cursor_closep(MDB_cursor **c) {
        if (*c)
                mdb_cursor_close(*c);
}

int store_foreach(store_txn *t, store_table table, const void *prefix, size_t prefix_size,
                  bool reverse, store_visit_fn fn, void *userdata) {
        __attribute__((cleanup(cursor_closep))) MDB_cursor *c = NULL;
        MDB_val k = { prefix_size, (void *) prefix }, v;
        MDB_cursor_op op;
        int rc;

        rc = mdb_cursor_open(t->txn, t->store->dbi[table], &c);
        if (rc != 0)
                return errno_from_mdb(rc);

        if (!reverse) {
                rc = mdb_cursor_get(c, &k, &v, prefix_size > 0 ? MDB_SET_RANGE : MDB_FIRST);
                op = MDB_NEXT;
        } else if (prefix_size == 0) {
                rc = mdb_cursor_get(c, &k, &v, MDB_LAST);
                op = MDB_PREV;
        } else
                /* Reverse iteration under a prefix is not needed by anyone. */
                return -EOPNOTSUPP;

        for (; rc == 0; rc = mdb_cursor_get(c, &k, &v, op)) {
                int r;

                if (prefix_size > 0 &&
                    (k.mv_size < prefix_size || memcmp(k.mv_data, prefix, prefix_size) != 0))
                        break;
                r = fn(k.mv_data, k.mv_size, v.mv_data, v.mv_size, userdata);
                if (r != 0)
                        return r;
        }
        if (rc != 0 && rc != MDB_NOTFOUND)
                return errno_from_mdb(rc);
        return 0;
}

int store_del_prefix(store_txn *t, store_table table, const void *prefix, size_t prefix_size,
                     unsigned *ret_count) {
        __attribute__((cleanup(cursor_closep))) MDB_cursor *c = NULL;
        unsigned n = 0;
        int rc;

        if (prefix_size == 0)
                return -EINVAL;
        rc = mdb_cursor_open(t->txn, t->store->dbi[table], &c);
        if (rc != 0)
                return errno_from_mdb(rc);
        /* Seek again after each deletion: the cursor is never used across
         * one. */
        for (;;) {
                MDB_val k = { prefix_size, (void *) prefix }, v;

                rc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE);
                if (rc == MDB_NOTFOUND || (rc == 0 && (k.mv_size < prefix_size ||
                                                       memcmp(k.mv_data, prefix, prefix_size) != 0)))
                        break;
                if (rc == 0)
                        rc = mdb_cursor_del(c, 0);
                if (rc != 0)
                        return errno_from_mdb(rc);
                n++;
        }
        if (ret_count)
                *ret_count = n;
        return 0;
}

int store_foreach_from(store_txn *t, store_table table, const void *prefix, size_t prefix_size,
                       uint64_t skip, store_visit_fn fn, void *userdata) {
        __attribute__((cleanup(cursor_closep))) MDB_cursor *c = NULL;
        MDB_val k = { prefix_size, (void *) prefix }, v;
        int rc;

        rc = mdb_cursor_open(t->txn, t->store->dbi[table], &c);
        if (rc != 0)
                return errno_from_mdb(rc);
        for (rc = mdb_cursor_get(c, &k, &v, prefix_size > 0 ? MDB_SET_RANGE : MDB_FIRST); rc == 0;
             rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
                int r;

                if (prefix_size > 0 &&
                    (k.mv_size < prefix_size || memcmp(k.mv_data, prefix, prefix_size) != 0))
                        break;
                if (skip > 0) {
                        skip--;
                        continue;
                }
                r = fn(k.mv_data, k.mv_size, v.mv_data, v.mv_size, userdata);
                if (r != 0)
                        return r;
        }
        if (rc != 0 && rc != MDB_NOTFOUND)
                return errno_from_mdb(rc);
        return 0;
}

int store_foreach_from_key(store_txn *t, store_table table, const void *from, size_t from_size,
                           store_visit_fn fn, void *userdata) {
        __attribute__((cleanup(cursor_closep))) MDB_cursor *c = NULL;
        MDB_val k = { from_size, (void *) from }, v;
        int rc;

        rc = mdb_cursor_open(t->txn, t->store->dbi[table], &c);
        if (rc != 0)
                return errno_from_mdb(rc);
        for (rc = mdb_cursor_get(c, &k, &v, from_size > 0 ? MDB_SET_RANGE : MDB_FIRST); rc == 0;
             rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
                int r = fn(k.mv_data, k.mv_size, v.mv_data, v.mv_size, userdata);
                if (r != 0)
                        return r;
        }
        if (rc != 0 && rc != MDB_NOTFOUND)
                return errno_from_mdb(rc);
        return 0;
}

int store_count(store_txn *t, store_table table, uint64_t *ret) {
        MDB_stat st;
        int rc = mdb_stat(t->txn, t->store->dbi[table], &st);
        if (rc != 0)
                return errno_from_mdb(rc);
        *ret = st.ms_entries;
        return 0;
}

int store_last_key(store_txn *t, store_table table, const void **ret_key, size_t *ret_size) {
        __attribute__((cleanup(cursor_closep))) MDB_cursor *c = NULL;
        MDB_val k, v;
        int rc;

        rc = mdb_cursor_open(t->txn, t->store->dbi[table], &c);
        if (rc == 0)
                rc = mdb_cursor_get(c, &k, &v, MDB_LAST);
        if (rc != 0)
                return errno_from_mdb(rc);
        *ret_key = k.mv_data;
        *ret_size = k.mv_size;
        return 0;
}

int store_disk_bytes(store *s, uint64_t *ret) {
        _cleanup_free_ char *p = NULL;
        struct stat st;

        if (asprintf(&p, "%s/data.mdb", s->path) < 0)
                return -ENOMEM;
        if (stat(p, &st) < 0)
                return -errno;
        *ret = (uint64_t) st.st_blocks * 512;
        return 0;
}
