/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Publication of the SSH keys snapshot (keys-snapshot.h, docs/login.md "SSH
 * public keys"): for each user who may log in, the keys of the types their
 * organisation accepts, as sshd's AuthorizedKeysCommand
 * (nexalix-authorized-keys) reads them. It runs in the same round as the NSS
 * publication (publish.c), so a deactivation drops the user's keys in the
 * publication its D-Bus reply waits for.
 *
 * Always written whole, streamed from the store into the file (users in
 * name order, appended, committed every few MiB): one pass over the keys
 * table and one user record per user with keys, with memory that does not
 * grow with the number of users — at 100,000 users with keys about 0.1 s
 * (bench/README.md), so the daemon does it itself rather than in a child
 * (which exists for the NSS writer's memory, not for its time). Only when
 * something the snapshot shows may have changed: a key, an organisation's
 * accepted types or Require 2FA, a user who has keys (state, roles, 2FA,
 * deletion), the local accounts, or everything (start, SIGHUP). */

#include <stdbool.h>
#include <stdint.h>

#include "op.h"

typedef struct keys_publisher keys_publisher;

int keys_publisher_new(const accounts *a, const char *runtime_dir, keys_publisher **ret);
keys_publisher *keys_publisher_free(keys_publisher *k);

/* Something the keys snapshot shows changed (a key, an organisation's
 * accepted types): the next run publishes. */
void keys_publisher_queue(keys_publisher *k);

/* Publishes a new keys snapshot if it was queued, if everything is asked
 * for, or if one of the users of c has keys in the store or in the published
 * snapshot. Returns 0 or a negative errno (logged; the queue stays, so the
 * next run tries again). */
int keys_publisher_run(keys_publisher *k, const identity_changes *c, bool everything);

uint64_t keys_publisher_generation(const keys_publisher *k);

/* Writes and publishes a whole keys snapshot of the store in runtime_dir,
 * readable by group gid ((gid_t) -1: root only). For the publisher, the
 * tests and the benchmark. *ret_users (may be NULL): users published. */
int keys_publish_whole(const accounts *a, const char *runtime_dir, gid_t gid, uint64_t *ret_generation,
                       uint64_t *ret_users);

/* The group [ssh] keys_group names: a group of /etc/group (read directly,
 * never through NSS: a Nexalix user's private group must never be it), a
 * number, or (gid_t) -1 for "" (root only). -ENOENT when there is no such
 * local group. */
int keys_group_resolve(const char *name, gid_t *ret);
