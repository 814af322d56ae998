/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Publication of the NSS snapshot (docs/architecture.md, "The NSS
 * snapshot"): the public identity data — users, their private groups, the
 * department and role groups — as libnss_nexalix.so.2 reads it. Entries
 * whose name or id a local account or group has are left out, so Nexalix
 * never shadows a local account.
 *
 * Operations queue what they changed (identity_changes); one publication
 * serves everything queued since the previous one. A publication is a new
 * delta beside the published base (the entries changed since the base, so
 * that it costs the same at 100 users as at 100,000) or, at start, on
 * SIGHUP, when too much changed at once, when the local accounts changed or
 * when the delta has grown, a whole new base, built in a child process so
 * that its memory — tens of MiB at 100,000 users — never stays with the
 * long-lived daemon. */

#include <stdbool.h>
#include <stdint.h>

#include "op.h"

typedef struct publisher publisher;

/* Called once the publication that includes everything queued before the
 * call is in place (result 0) or failed (< 0; it will be retried). */
typedef void (*publisher_done_fn)(int result, void *userdata);

int publisher_new(const accounts *a, const char *runtime_dir, publisher **ret);
publisher *publisher_free(publisher *p);

/* Queues what a committed operation changed; c is left empty. */
int publisher_queue(publisher *p, identity_changes *c);
/* Queues a publication of the SSH keys snapshot (a key added or removed, an
 * organisation's accepted key types changed; publish-keys.h). */
void publisher_queue_keys(publisher *p);
/* Queues a whole publication (start, SIGHUP, a failed update). */
void publisher_queue_everything(publisher *p);
bool publisher_pending(const publisher *p);
int publisher_wait(publisher *p, publisher_done_fn done, void *userdata);

/* Publishes what is queued, then calls the waiters. */
int publisher_run(publisher *p);

/* From now on, publishes whenever the loop is about to wait and something is
 * queued (so one publication serves every change dispatched before it), and
 * retries a failed publication every few seconds. */
typedef struct event_loop event_loop;
int publisher_attach(publisher *p, event_loop *loop);

uint64_t publisher_generation(const publisher *p);

/* The child's side of a whole publication: argv after "--publish-snapshot"
 * is STORE RUNTIME HOME SHELL [--debug] [--syslog]. Prints the published
 * generation on stdout; returns the exit status. */
int publisher_child_main(int argc, char *argv[]);
