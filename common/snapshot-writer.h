/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Writing and publishing NSS snapshots (nexalixd, the tests and benchmarks;
 * never the NSS module). See snapshot.h for the file and its readers. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "snapshot.h"

typedef struct snapshot_writer snapshot_writer;

/* Starts a new snapshot in directory `runtime_dir` (created 0755 if missing).
 * `expected_users` and `expected_groups` are hints that size the writer's
 * arrays; the map is sized from the data at publication. */
int snapshot_writer_new(const char *runtime_dir, size_t expected_users,
                        size_t expected_groups, snapshot_writer **ret);

/* name must be a valid username (validate_username()); gecos, home and shell
 * must not contain ':' or '\n' (the daemon validates; the writer refuses
 * such records with -EINVAL). A uid or name given twice makes publishing
 * fail with -EEXIST. */
int snapshot_writer_add_user(snapshot_writer *w, const char *name, uint32_t uid, uint32_t gid,
                             const char *gecos, const char *home, const char *shell);

/* name must be a valid group name (validate_group_name()), every member a valid
 * username; a gid or name given twice
 * makes publishing fail with -EEXIST.
 * members: NULL-terminated usernames. The writer also derives the
 * initgroups index (user -> supplementary gids) from these member lists. */
int snapshot_writer_add_group(snapshot_writer *w, const char *name, uint32_t gid,
                              char *const *members);

/* Writes, fsyncs, renames over RUNTIME/nss.mdb, fsyncs the directory and
 * bumps the generation counter. On success *ret_generation (if not NULL) is
 * the published generation. Consumes w in every case. */
int snapshot_writer_publish(snapshot_writer *w, uint64_t *ret_generation);

/* Drops an unpublished snapshot and removes its temporary file. NULL is fine. */
snapshot_writer *snapshot_writer_free(snapshot_writer *w);

/* Removes the temporary files that publications interrupted by a crash left
 * in `runtime_dir`. For the daemon's start, before its first publication:
 * it must not run while another writer may be publishing there. Returns the
 * number of files removed; a missing directory is not an error. */
int snapshot_writer_remove_stale(const char *runtime_dir);

/* ---- An update: the next delta ----
 *
 * A publication of a few changes writes a new delta (snapshot.h): the
 * published delta, copied, with the changed entries added whole. Its cost
 * depends on the changes and the delta's size, not on the number of users;
 * the daemon publishes a whole base again when the delta grows. Neither
 * published file is ever modified: readers that hold them keep reading
 * them unchanged. */

typedef struct snapshot_update snapshot_update;

/* Starts the next delta of RUNTIME's published base. -ENOENT when no base is
 * published (publish a whole one instead). Holds the lock on the generation
 * counter until published or freed. */
int snapshot_update_begin(const char *runtime_dir, snapshot_update **ret);

/* The user's published entry as given, replacing the one with this name or
 * this uid: its private group (gid = uid, named after it) goes with it, and
 * it becomes a member of exactly the groups of gids (each must exist in the
 * snapshot: -EINVAL otherwise). */
int snapshot_update_set_user(snapshot_update *u, const char *name, uint32_t uid, uint32_t gid,
                             const char *gecos, const char *home, const char *shell,
                             const uint32_t *gids, size_t n_gids);
/* Removes the user, its private group and its memberships; absent is fine. */
int snapshot_update_remove_user(snapshot_update *u, const char *name);

/* Adds a group without members; an existing one of the same name and gid is
 * kept as it is (-EEXIST when the name or the gid belongs to another). */
int snapshot_update_set_group(snapshot_update *u, const char *name, uint32_t gid);
/* Removes a group that has no members (-ENOTEMPTY otherwise); absent is fine. */
int snapshot_update_remove_group(snapshot_update *u, const char *name);

/* Bytes of the new delta so far (the daemon publishes a whole base instead
 * once deltas grow large). */
uint64_t snapshot_update_size(const snapshot_update *u);

/* Commits, fsyncs, renames over RUNTIME/nss.delta and bumps the counter.
 * Consumes u in every case. */
int snapshot_update_publish(snapshot_update *u, uint64_t *ret_generation);
snapshot_update *snapshot_update_free(snapshot_update *u);
