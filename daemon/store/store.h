/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* The user store: one LMDB environment in the store directory, written only
 * by nexalixd. This is the only file that knows about LMDB; LMDB's error
 * codes become negative errno here (MDB_NOTFOUND -> -ENOENT,
 * MDB_KEYEXIST -> -EEXIST, MDB_MAP_FULL -> -ENOSPC). Every check-and-update
 * happens inside one write transaction, which is durable once committed. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum store_table {
        TABLE_META,     /* "format", "next_id", "audit_seq", "outbox_seq" */
        TABLE_ORGS,     /* org name -> org record */
        TABLE_DEPTS,    /* "org/dept" -> department record */
        TABLE_GROUPS,   /* published group name -> gid (names of departments and role groups) */
        TABLE_USERS,    /* username -> user record */
        TABLE_UIDS,     /* uid (big endian) -> username */
        TABLE_EMAILS,   /* lower-cased email -> username */
        TABLE_LINKED_RECORDS,    /* "user\0kind\0ref" -> linked record */
        TABLE_TOKENS,   /* "user\0hash" -> API token record */
        TABLE_ONETIME_LINKS,  /* BLAKE2b of a link's token -> the link (purpose, user, expiry) */
        TABLE_AUDIT,    /* sequence (big endian) -> audit record */
        TABLE_USER_INDEX,       /* "org\0user" and "\0user" -> u8 state, department, org: listing */
        TABLE_COUNTS,   /* "o:org", "d:org/dept" -> u32 users */
        TABLE_LOGIN_FAILURES,   /* username -> failed-login counter and back-off */
        TABLE_SESSIONS, /* "user\0id" -> login session record */
        TABLE_TOTP,     /* username -> TOTP secret, last accepted step, pending enrolment */
        TABLE_RECOVERY_CODES,   /* "user\0" + BLAKE2b-256 of a recovery code -> u64 created */
        TABLE_SSH_KEYS, /* "user\0SHA256:fingerprint" -> SSH public key record (sshkey.h) */
        TABLE_LINK_OWNERS,      /* "user\0" + purpose digit -> the hash of the user's pending link of that purpose */
        TABLE_RATE_LIMITS,      /* "forgot:<address hash>", "uid:<uid>" ... -> window start, count */
        TABLE_FORGOT_QUEUE,     /* sequence (big endian) -> an address "forgot password" was asked for */
        TABLE_OUTBOX,   /* sequence (big endian) -> mail waiting for delivery (mail/outbox.c) */
        TABLE_OUTBOX_USERS,     /* "user\0" + sequence -> "": each user's waiting mail */
        _TABLE_MAX,
} store_table;

typedef struct store store;
typedef struct store_txn store_txn;

/* 2: group names "ORG.NAME" (1 had "ORG-NAME"); 3: the org-users index and
 * the user counts (see migrate.c). */
#define STORE_FORMAT_VERSION 3

/* Opens (creating if needed) the store in dir. */
int store_open(const char *dir, store **ret);
/* Opens an existing store for reading only, beside the daemon that writes it
 * (the snapshot publisher process). */
int store_open_readonly(const char *dir, store **ret);
store *store_close(store *s);

int store_begin(store *s, bool write, store_txn **ret);
/* Commits and frees t; on failure the transaction is aborted and freed. */
int store_commit(store_txn *t);
/* Aborts and frees; accepts NULL. */
/* Commits without waiting for the disk: the change survives the daemon's
 * crash (it is in the file) but not the machine's before the next synced
 * commit. Only for what may be lost with a power failure at no cost to
 * anyone: the time step a TOTP code was accepted at (its replay needs the
 * code within the same minute, after a reboot). */
int store_commit_unsynced(store_txn *t);
/* Waits for the disk as a commit does (for a path that must take as long
 * as one that commits). */
int store_sync(store *s);
store_txn *store_abort(store_txn *t);
static inline void store_abortp(store_txn **t) {
        store_abort(*t);
}
#define _cleanup_txn_ __attribute__((cleanup(store_abortp)))

/* *ret_value points into the map and stays valid until the transaction ends. */
int store_get(store_txn *t, store_table table, const void *key, size_t key_size,
              const void **ret_value, size_t *ret_size);
/* With no_overwrite an existing key gives -EEXIST. */
int store_put(store_txn *t, store_table table, const void *key, size_t key_size,
              const void *value, size_t value_size, bool no_overwrite);
int store_del(store_txn *t, store_table table, const void *key, size_t key_size);

/* Visits every entry whose key starts with prefix (all when prefix_size is 0)
 * in key order, or reverse order. fn returns 0 to go on, > 0 to stop (the
 * value is returned), < 0 on error (returned). */
typedef int (*store_visit_fn)(const void *key, size_t key_size, const void *value,
                              size_t value_size, void *userdata);
int store_foreach(store_txn *t, store_table table, const void *prefix, size_t prefix_size,
                  bool reverse, store_visit_fn fn, void *userdata);

/* Deletes every entry whose key starts with prefix (not empty); *ret_count
 * (may be NULL) says how many. */
int store_del_prefix(store_txn *t, store_table table, const void *prefix, size_t prefix_size,
                     unsigned *ret_count);

/* As store_foreach() forwards, after stepping over the first `skip` entries
 * of the prefix without calling fn for them (a page at an offset). */
int store_foreach_from(store_txn *t, store_table table, const void *prefix, size_t prefix_size,
                       uint64_t skip, store_visit_fn fn, void *userdata);

/* Visits every entry whose key sorts at or after `from`, in key order (a
 * range scan: the outbox from a sequence number on). */
int store_foreach_from_key(store_txn *t, store_table table, const void *from, size_t from_size,
                           store_visit_fn fn, void *userdata);

/* Number of entries in a table. */
int store_count(store_txn *t, store_table table, uint64_t *ret);
/* The last key of a table (for sequences); -ENOENT when empty. */
int store_last_key(store_txn *t, store_table table, const void **ret_key, size_t *ret_size);

/* The format version the store's data is in (meta "format"); a new store
 * is created in STORE_FORMAT_VERSION. */
int store_get_format(store_txn *t, unsigned *ret);
int store_set_format(store_txn *t, unsigned version);

/* Bytes the data file occupies on disk. */
int store_disk_bytes(store *s, uint64_t *ret);

/* Big-endian keys sort numerically. */
static inline void be32_put(uint8_t out[4], uint32_t v) {
        out[0] = (uint8_t) (v >> 24); out[1] = (uint8_t) (v >> 16);
        out[2] = (uint8_t) (v >> 8);  out[3] = (uint8_t) v;
}
static inline uint32_t be32_get(const uint8_t in[4]) {
        return (uint32_t) in[0] << 24 | (uint32_t) in[1] << 16 | (uint32_t) in[2] << 8 | in[3];
}
static inline void be64_put(uint8_t out[8], uint64_t v) {
        be32_put(out, (uint32_t) (v >> 32));
        be32_put(out + 4, (uint32_t) v);
}
static inline uint64_t be64_get(const uint8_t in[8]) {
        return (uint64_t) be32_get(in) << 32 | be32_get(in + 4);
}
