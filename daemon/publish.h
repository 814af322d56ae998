/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include "manager.h"

/* Writes the public identity data (users, their private groups, department
 * and role groups) as a new NSS snapshot and publishes it. Entries whose
 * name or id a local account or group has are left out, so Nexalix never
 * shadows a local account. */
int publish_snapshot(manager *m);

/* The same, in a child process (nexalixd --publish-snapshot, below), which
 * the daemon waits for: the publication walks every user and builds the
 * whole file in memory, tens of MiB at 100,000 users, and all of that — and
 * any crash of the writer — stays in the child instead of the long-lived
 * daemon. Sets m->snapshot_generation. */
int publish_snapshot_isolated(manager *m);

/* The child's side: argv after "--publish-snapshot" is STORE RUNTIME HOME
 * SHELL [--debug] [--syslog]. Prints the published generation on stdout.
 * Returns the exit status. */
int publish_snapshot_main(int argc, char *argv[]);
