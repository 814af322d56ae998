/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "lmdb-util.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>

#include <errno.h>
#include <fcntl.h>
#include <lmdb.h>
#include <stddef.h>
#include <stdint.h>

int errno_from_mdb(int rc) {
        switch (rc) {
        case MDB_SUCCESS:
                return 0;
        case MDB_NOTFOUND:
                return -ENOENT;
        case MDB_KEYEXIST:
                return -EEXIST;
        case MDB_MAP_FULL:
                return -ENOSPC;
        case MDB_TXN_FULL:
        case MDB_PAGE_FULL:
        case MDB_CURSOR_FULL:
                return -E2BIG;
        case MDB_DBS_FULL:
        case MDB_READERS_FULL:
        case MDB_TLS_FULL:
                return -EMFILE;
        case MDB_VERSION_MISMATCH:
                return -EPROTONOSUPPORT;
        case MDB_BAD_VALSIZE:
                return -EINVAL;
        default:
                return rc > 0 ? -rc : -EBADMSG;
        }
}

int lmdb_open_snapshot(const char *path, unsigned max_dbs, MDB_env **ret_env, struct stat *ret_st) {
        MDB_env *env = NULL;
        struct stat st;
        MDB_envinfo info;
        MDB_stat mst;
        int fd, flags, rc, r;

        rc = mdb_env_create(&env);
        if (rc != MDB_SUCCESS)
                return errno_from_mdb(rc);
        rc = mdb_env_set_maxdbs(env, max_dbs);
        if (rc == MDB_SUCCESS)
                rc = mdb_env_open(env, path, MDB_RDONLY | MDB_NOLOCK | MDB_NOSUBDIR, 0);
        if (rc != MDB_SUCCESS) {
                /* An empty or short file (a write in progress that is not
                 * ours, a truncated copy) is not a snapshot. */
                r = rc == EINVAL ? -EBADMSG : errno_from_mdb(rc);
                goto fail;
        }
        rc = mdb_env_get_fd(env, &fd);
        if (rc != MDB_SUCCESS) {
                r = errno_from_mdb(rc);
                goto fail;
        }
        flags = fcntl(fd, F_GETFD);
        if (flags < 0 || fcntl(fd, F_SETFD, flags | FD_CLOEXEC) < 0) {
                r = -errno;
                goto fail;
        }
        if (fstat(fd, &st) < 0) {
                r = -errno;
                goto fail;
        }
        rc = mdb_env_info(env, &info);
        if (rc == MDB_SUCCESS)
                rc = mdb_env_stat(env, &mst);
        if (rc != MDB_SUCCESS) {
                r = errno_from_mdb(rc);
                goto fail;
        }
        if (!S_ISREG(st.st_mode) ||
            ((uint64_t) info.me_last_pgno + 1) * mst.ms_psize > (uint64_t) st.st_size) {
                r = -EBADMSG;
                goto fail;
        }
        if (ret_st)
                *ret_st = st;
        *ret_env = env;
        return 0;
fail:
        mdb_env_close(env);
        return r;
}
