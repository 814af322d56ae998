/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Reading the SSH keys snapshot: what nexalix-authorized-keys links. */
#include "keys-snapshot.h"

#include <errno.h>
#include <fcntl.h>
#include <lmdb.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "lmdb-util.h"
#include "validate.h"

struct keys_snapshot {
        MDB_env *env;
        MDB_dbi keys, account;
        uint64_t generation, users;
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

static int open_dbis(keys_snapshot *s) {
        MDB_txn *txn = NULL;
        MDB_dbi meta;
        uint32_t format;
        int rc, r;

        rc = mdb_txn_begin(s->env, NULL, MDB_RDONLY, &txn);
        if (rc != MDB_SUCCESS)
                return errno_from_mdb(rc);
        rc = mdb_dbi_open(txn, KEYS_DB_META, 0, &meta);
        if (rc != MDB_SUCCESS) {
                r = rc == MDB_NOTFOUND ? -EBADMSG : errno_from_mdb(rc);
                goto fail;
        }
        /* The version first, so that another format is reported as such. */
        r = read_meta(txn, meta, KEYS_META_FORMAT, sizeof(format), &format);
        if (r < 0)
                goto fail;
        if (format != KEYS_SNAPSHOT_FORMAT_VERSION) {
                r = -EPROTONOSUPPORT;
                goto fail;
        }
        r = read_meta(txn, meta, KEYS_META_GENERATION, sizeof(s->generation), &s->generation);
        if (r >= 0)
                r = read_meta(txn, meta, KEYS_META_USERS, sizeof(s->users), &s->users);
        if (r < 0)
                goto fail;
        rc = mdb_dbi_open(txn, KEYS_DB_KEYS, 0, &s->keys);
        if (rc == MDB_SUCCESS)
                rc = mdb_dbi_open(txn, KEYS_DB_ACCOUNT, 0, &s->account);
        if (rc != MDB_SUCCESS) {
                r = rc == MDB_NOTFOUND ? -EBADMSG : errno_from_mdb(rc);
                goto fail;
        }
        /* Committing a read transaction keeps its database handles open. */
        return errno_from_mdb(mdb_txn_commit(txn));
fail:
        mdb_txn_abort(txn);
        return r;
}

int keys_snapshot_open(const char *path, keys_snapshot **ret) {
        keys_snapshot *s;
        struct stat st;
        int r;

        if (!path || !ret)
                return -EINVAL;
        /* LMDB takes a file too short for its two meta pages for a new,
         * empty environment; it is no snapshot. */
        if (stat(path, &st) < 0)
                return -errno;
        if (!S_ISREG(st.st_mode) || st.st_size < 2 * 4096)
                return -EBADMSG;
        s = calloc(1, sizeof(*s));
        if (!s)
                return -ENOMEM;
        r = lmdb_open_snapshot(path, 4, &s->env, NULL);
        if (r < 0) {
                free(s);
                return r;
        }
        r = open_dbis(s);
        if (r < 0)
                goto fail;
        *ret = s;
        return 0;
fail:
        keys_snapshot_close(s);
        return r;
}

keys_snapshot *keys_snapshot_close(keys_snapshot *s) {
        if (!s)
                return NULL;
        if (s->env)
                mdb_env_close(s->env);
        free(s);
        return NULL;
}

uint64_t keys_snapshot_get_generation(const keys_snapshot *s) {
        return s->generation;
}

uint64_t keys_snapshot_get_users(const keys_snapshot *s) {
        return s->users;
}

int keys_snapshot_get(keys_snapshot *s, const char *user, char **ret, size_t *ret_size) {
        MDB_txn *txn = NULL;
        MDB_val k, v;
        char *copy;
        int rc;

        if (!s || !ret || validate_username(user, NULL) < 0)
                return -ENOENT;
        rc = mdb_txn_begin(s->env, NULL, MDB_RDONLY, &txn);
        if (rc != MDB_SUCCESS)
                return errno_from_mdb(rc);
        k = (MDB_val) { .mv_size = strlen(user), .mv_data = (void *) user };
        rc = mdb_get(txn, s->keys, &k, &v);
        if (rc != MDB_SUCCESS) {
                mdb_txn_abort(txn);
                return errno_from_mdb(rc);
        }
        /* What sshd gets must be lines of text: no NUL inside, a newline at
         * the end. Anything else is a damaged file. */
        if (v.mv_size == 0 || memchr(v.mv_data, 0, v.mv_size) ||
            ((const char *) v.mv_data)[v.mv_size - 1] != '\n') {
                mdb_txn_abort(txn);
                return -EBADMSG;
        }
        copy = malloc(v.mv_size + 1);
        if (!copy) {
                mdb_txn_abort(txn);
                return -ENOMEM;
        }
        memcpy(copy, v.mv_data, v.mv_size);
        copy[v.mv_size] = 0;
        if (ret_size)
                *ret_size = v.mv_size;
        mdb_txn_abort(txn);
        *ret = copy;
        return 0;
}

int keys_snapshot_account_ok(keys_snapshot *s, const char *user) {
        MDB_txn *txn = NULL;
        MDB_val k, v;
        int rc;

        if (!s || validate_username(user, NULL) < 0)
                return -ENOENT;
        rc = mdb_txn_begin(s->env, NULL, MDB_RDONLY, &txn);
        if (rc != MDB_SUCCESS)
                return errno_from_mdb(rc);
        k = (MDB_val) { .mv_size = strlen(user), .mv_data = (void *) user };
        rc = mdb_get(txn, s->account, &k, &v);
        mdb_txn_abort(txn);
        return errno_from_mdb(rc);
}
