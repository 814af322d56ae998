/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* The SSH keys snapshot: the public keys sshd may accept for each Nexalix
 * user, as an immutable LMDB file beside the NSS snapshot,
 * RUNTIME/keys.mdb, with its own generation counter, RUNTIME/keys.gen (the
 * 16-byte format of nss.gen, so snapshot_generation_map_*() read it).
 * nexalixd writes it whole under a temporary name, fsyncs it, renames it
 * into place and bumps the counter; nexalix-authorized-keys, run by sshd
 * as its AuthorizedKeysCommand, reads one user's lines from it with no IPC
 * (docs/login.md, "SSH public keys").
 *
 * Only users who may log in get an entry: active, holding a role that
 * grants login, and only keys of a type their organisation accepts. The
 * file is mode 0640, owned by root and the group of the
 * AuthorizedKeysCommandUser: who has keys is nobody else's business.
 *
 * Format (version 1), one LMDB environment in a single file (MDB_NOSUBDIR):
 *
 *   meta   "format" -> u32 KEYS_SNAPSHOT_FORMAT_VERSION
 *          "generation" -> u64, "users" -> u64
 *   keys   username -> the user's keys, one "TYPE BASE64 NAME\n" line each,
 *          exactly what sshd reads from an authorized_keys file
 *   account  username -> "" for each user of `keys` who may pass sshd's PAM
 *          account stage while nexalixd cannot be asked (pam_exec of
 *          nexalix-authorized-keys --pam-account): not one who must still
 *          set up two-factor authentication
 *
 * Integers are native-endian. Every function returns 0 or a negative errno;
 * nothing here prints, aborts or reads the environment. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define KEYS_SNAPSHOT_FILE "keys.mdb"
#define KEYS_SNAPSHOT_GENERATION_FILE "keys.gen"
#define KEYS_SNAPSHOT_FORMAT_VERSION 1

/* Databases and meta keys of the format above. */
#define KEYS_DB_META "meta"
#define KEYS_DB_KEYS "keys"
#define KEYS_DB_ACCOUNT "account"
#define KEYS_META_FORMAT "format"
#define KEYS_META_GENERATION "generation"
#define KEYS_META_USERS "users"
/* Temporary files of a publication in progress. */
#define KEYS_TMP_PREFIX ".keys.mdb."

/* ---- Reading (nexalix-authorized-keys, tests, benchmarks) ---- */

typedef struct keys_snapshot keys_snapshot;

/* Opens a published keys snapshot read-only (MDB_RDONLY|MDB_NOLOCK|
 * MDB_NOSUBDIR, descriptor close-on-exec) and checks its format: -ENOENT
 * when there is none, -EACCES when it may not be read, -EPROTONOSUPPORT for
 * another format version, -EBADMSG for a file that is not a complete
 * snapshot (checked before anything is mapped past its end). */
int keys_snapshot_open(const char *path, keys_snapshot **ret);
keys_snapshot *keys_snapshot_close(keys_snapshot *s);

uint64_t keys_snapshot_get_generation(const keys_snapshot *s);
uint64_t keys_snapshot_get_users(const keys_snapshot *s);

/* The user's lines, copied into a new NUL-terminated buffer (*ret_size
 * bytes without the NUL): -ENOENT when the snapshot holds no key for user
 * (or user is not a valid username), -EBADMSG for a damaged entry. */
int keys_snapshot_get(keys_snapshot *s, const char *user, char **ret, size_t *ret_size);

/* 0 when user may pass the account stage without nexalixd (the `account`
 * database), -ENOENT otherwise. */
int keys_snapshot_account_ok(keys_snapshot *s, const char *user);

/* ---- Writing (nexalixd, tests, benchmarks) ---- */

typedef struct keys_writer keys_writer;

/* Starts a new keys snapshot in runtime_dir (which must exist): a temporary
 * file owned by root and group gid, mode 0640, or mode 0600 when gid is
 * (gid_t) -1 (nobody but root reads it). */
int keys_writer_new(const char *runtime_dir, gid_t gid, keys_writer **ret);

/* Adds user's lines (each "TYPE BASE64 NAME\n"), and with account_ok the
 * user to the `account` database. Users must come in ascending byte order of
 * their names (the order the store keeps them in), each once: -EINVAL
 * otherwise. The writer commits every few MiB, so that its memory stays
 * small however many users there are. */
int keys_writer_add(keys_writer *w, const char *user, const char *lines, size_t size, bool account_ok);

/* Commits, fsyncs, renames over RUNTIME/keys.mdb, fsyncs the directory and
 * bumps RUNTIME/keys.gen. Consumes w in every case; on failure the
 * published files are left as they were. */
int keys_writer_publish(keys_writer *w, uint64_t *ret_generation);
keys_writer *keys_writer_free(keys_writer *w);

/* Removes temporary files that publications interrupted by a crash left in
 * runtime_dir; for the daemon's start. Returns how many. */
int keys_writer_remove_stale(const char *runtime_dir);
