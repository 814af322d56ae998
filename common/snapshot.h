/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* The NSS snapshot: the public identity data (what /etc/passwd and /etc/group
 * would show) as an immutable LMDB file. nexalixd writes it under a temporary
 * name, fsyncs it and renames it over RUNTIME/nss.mdb, then bumps the
 * generation counter in RUNTIME/nss.gen, a small file that is never replaced
 * and that readers keep mapped, so that they notice a new snapshot without a
 * system call per lookup. libnss_nexalix.so.2 reads it; see docs/nss.md for
 * the on-disk format.
 *
 * Every function returns 0 or a negative errno; nothing here prints, aborts
 * or reads the environment, so the NSS module can use it. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define SNAPSHOT_FILE "nss.mdb"
#define SNAPSHOT_GENERATION_FILE "nss.gen"
#define SNAPSHOT_FORMAT_VERSION 1

/* ---- Writing (nexalixd) ---- */

typedef struct snapshot_writer snapshot_writer;

/* Starts a new snapshot in directory `runtime_dir` (created 0755 if missing).
 * `expected_users` and `expected_groups` size the map; they are hints. */
int snapshot_writer_new(const char *runtime_dir, size_t expected_users,
                        size_t expected_groups, snapshot_writer **ret);

/* gecos, home and shell must not contain ':' or '\n' (the daemon validates). */
int snapshot_writer_add_user(snapshot_writer *w, const char *name, uint32_t uid, uint32_t gid,
                             const char *gecos, const char *home, const char *shell);

/* members: NULL-terminated usernames. The writer also derives the
 * initgroups index (user -> supplementary gids) from these member lists. */
int snapshot_writer_add_group(snapshot_writer *w, const char *name, uint32_t gid,
                              char *const *members);

/* Writes, fsyncs, renames over RUNTIME/nss.mdb, fsyncs the directory and
 * bumps the generation counter. On success *ret_generation (if not NULL) is
 * the published generation. Consumes w in every case. */
int snapshot_writer_publish(snapshot_writer *w, uint64_t *ret_generation);

/* Drops an unpublished snapshot and removes its temporary file. NULL is fine. */
snapshot_writer *snapshot_writer_free(snapshot_writer *w);
