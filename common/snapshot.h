/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* The NSS snapshot: the public identity data (what /etc/passwd and /etc/group
 * would show) as immutable LMDB files in the runtime directory: a base,
 * RUNTIME/nss.mdb, written whole now and then, and beside it a small delta,
 * RUNTIME/nss.delta, holding what changed since (rewritten at every change,
 * so that one change costs the same at 100 users as at 100,000). nexalixd
 * writes each under a temporary name, fsyncs it and renames it into place,
 * then bumps the generation counter in RUNTIME/nss.gen, a small file that is
 * never replaced and that readers keep mapped, so that they notice a new
 * publication without a system call per lookup. libnss_nexalix.so.2 reads
 * them; see docs/nss.md for the on-disk format.
 *
 * Every function returns 0 or a negative errno; nothing here prints, aborts
 * or reads the environment, so the NSS module can use it. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define SNAPSHOT_FILE "nss.mdb"
#define SNAPSHOT_DELTA_FILE "nss.delta"
#define SNAPSHOT_GENERATION_FILE "nss.gen"
/* 2: base and delta. */
#define SNAPSHOT_FORMAT_VERSION 2

/* ---- Reading (libnss_nexalix.so.2, tests, benchmarks) ----
 *
 * A reader opens one published file and keeps it open: the file is never
 * modified after its rename, so no lock is needed and every view handed out
 * below points straight into the read-only map. Views stay valid until the
 * transaction they came from ends. The freshness policy (when to reopen)
 * belongs to the caller; snapshot_generation_map_*() give it the counter. */

typedef struct snapshot snapshot;
typedef struct snapshot_cursor snapshot_cursor;

/* A read transaction on a snapshot, kept by the caller (on its stack: no
 * allocation per lookup). Its fields are the reader's own. */
typedef struct snapshot_txn {
        snapshot *snapshot;
        void *base, *delta;
} snapshot_txn;

typedef struct snapshot_user {
        uint32_t uid;
        uint32_t gid;
        /* NUL-terminated, and back to back in this order from name on, so
         * that strings_size bytes from name copy all four at once. */
        const char *name, *gecos, *home, *shell;
        size_t name_len, gecos_len, home_len, shell_len;
        size_t strings_size;
        /* The supplementary gids (see snapshot_get_user_groups()), and
         * whether the user's private group (name = username, gid = uid) is
         * published. */
        const void *gids;
        size_t n_gids;
        bool private_group;
} snapshot_user;

typedef struct snapshot_group {
        uint32_t gid;
        const char *name;
        size_t name_len;
        size_t n_members;
        /* n_members NUL-terminated usernames back to back, members_size bytes
         * in all (NULs included); NULL and 0 when the group has no members. */
        const char *members;
        size_t members_size;
} snapshot_group;

typedef enum snapshot_table {
        SNAPSHOT_USERS,
        SNAPSHOT_GROUPS,
} snapshot_table;

typedef enum snapshot_move {
        SNAPSHOT_FIRST,
        SNAPSHOT_NEXT,
        SNAPSHOT_CURRENT,
} snapshot_move;

/* Opens the base at `path` and, when delta_path is not NULL and names a delta
 * of that base, the delta too, read-only (MDB_RDONLY|MDB_NOLOCK|
 * MDB_NOSUBDIR, descriptors marked close-on-exec), and checks their format.
 * A delta of an older base is ignored (the base is newer); one of a newer
 * base means a whole publication was being put in place: both are opened
 * again. -ENOENT when there is no base, -EPROTONOSUPPORT for another format
 * version, -EBADMSG for a file that is not a complete snapshot. */
int snapshot_open(const char *path, const char *delta_path, snapshot **ret);
snapshot *snapshot_close(snapshot *s);

/* The generation the pair was published as (the delta's, or the base's). */
uint64_t snapshot_get_generation(const snapshot *s);
/* Device and inode of the files actually opened (not of whatever the paths
 * name now); false when no delta is in use. */
void snapshot_get_file_id(const snapshot *s, dev_t *ret_dev, ino_t *ret_ino);
bool snapshot_get_delta_file_id(const snapshot *s, dev_t *ret_dev, ino_t *ret_ino);

/* A read transaction; any number may be open at once, in any threads, as
 * long as each is used by one thread at a time. */
int snapshot_txn_begin(snapshot *s, snapshot_txn *t);
void snapshot_txn_end(snapshot_txn *t);

/* Point lookups: 0 and a view, -ENOENT when absent, -EBADMSG when the
 * record is damaged. */
int snapshot_get_user_by_name(snapshot_txn *t, const char *name, snapshot_user *ret);
int snapshot_get_user_by_uid(snapshot_txn *t, uint32_t uid, snapshot_user *ret);
int snapshot_get_group_by_name(snapshot_txn *t, const char *name, snapshot_group *ret);
int snapshot_get_group_by_gid(snapshot_txn *t, uint32_t gid, snapshot_group *ret);

/* The gids of the groups whose member lists name `user`, ascending, as
 * *ret_n unaligned native-endian 32-bit values; read them with
 * snapshot_gid_at(). -ENOENT when the user is in no member list. */
int snapshot_get_user_groups(snapshot_txn *t, const char *user,
                             const void **ret_gids, size_t *ret_n);

static inline uint32_t snapshot_gid_at(const void *gids, size_t i) {
        uint32_t v;
        __builtin_memcpy(&v, (const char *) gids + i * sizeof(v), sizeof(v));
        return v;
}

/* Enumeration in id order. SNAPSHOT_CURRENT returns the entry the last call
 * returned again (for a caller that had to retry with a larger buffer).
 * -ENOENT past the end. */
int snapshot_cursor_open(snapshot_txn *t, snapshot_table table, snapshot_cursor **ret);
snapshot_cursor *snapshot_cursor_close(snapshot_cursor *c);
int snapshot_cursor_get_user(snapshot_cursor *c, snapshot_move move, snapshot_user *ret);
int snapshot_cursor_get_group(snapshot_cursor *c, snapshot_move move, snapshot_group *ret);

/* ---- The generation counter (RUNTIME/nss.gen) ----
 *
 * 16 bytes: the magic "NXSNGEN1" and a native-endian 64-bit counter that the
 * writer stores atomically through a shared mapping after each rename. The
 * file is created once and never truncated or replaced, so a reader may keep
 * it mapped for the life of the process. */

typedef struct snapshot_generation_map snapshot_generation_map;

/* Maps `path` read-only. -ENOENT when missing, -EBADMSG when it is not a
 * generation file. */
int snapshot_generation_map_open(const char *path, snapshot_generation_map **ret);
snapshot_generation_map *snapshot_generation_map_close(snapshot_generation_map *m);
/* No system call: one atomic load from the shared mapping. */
uint64_t snapshot_generation_map_read(const snapshot_generation_map *m);
void snapshot_generation_map_get_file_id(const snapshot_generation_map *m,
                                         dev_t *ret_dev, ino_t *ret_ino);
