/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* The one mapping from LMDB's return codes to negative errno, for every part
 * that uses LMDB (the daemon's store, the NSS snapshot reader and writer). */

/* MDB_NOTFOUND -ENOENT, MDB_KEYEXIST -EEXIST, MDB_MAP_FULL -ENOSPC,
 * MDB_TXN_FULL/MDB_PAGE_FULL/MDB_CURSOR_FULL -E2BIG, MDB_READERS_FULL/
 * MDB_DBS_FULL/MDB_TLS_FULL -EMFILE, MDB_BAD_VALSIZE -EINVAL,
 * MDB_VERSION_MISMATCH -EPROTONOSUPPORT, a damaged file (MDB_CORRUPTED,
 * MDB_PAGE_NOTFOUND, MDB_INVALID and LMDB's other codes) -EBADMSG; system
 * errors, which LMDB passes through as positive errno values, as themselves. */
int errno_from_mdb(int rc);

#include <lmdb.h>
#include <sys/stat.h>

/* Opens a published single-file LMDB environment (a snapshot) for reading
 * with no lock file (MDB_RDONLY|MDB_NOLOCK|MDB_NOSUBDIR), as the NSS module
 * and nexalix-authorized-keys do: makes its descriptor close-on-exec (LMDB
 * 0.9.24 opens it without O_CLOEXEC, and every exec() of the host would
 * leak it), and checks that every page LMDB may touch lies inside the file
 * (a mapped page past the end raises SIGBUS in the host). -EBADMSG for a
 * file that is not a whole environment. *ret_st (may be NULL): the file. */
int lmdb_open_snapshot(const char *path, unsigned max_dbs, MDB_env **ret_env, struct stat *ret_st);
