/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "lmdb-util.h"

#include <errno.h>
#include <lmdb.h>

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
