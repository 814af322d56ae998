/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* The daemon as a whole: it owns the parts (the store, the local-account
 * view, the worker threads, the NSS publisher, the event loop and the front
 * ends that serve it), starts them in order and wires them together. No
 * part knows the manager; each is handed what it needs. */

#include <stdint.h>

#include "config.h"

typedef struct manager manager;

/* Takes over c. */
int manager_new(config *c, manager **ret);
manager *manager_free(manager *m);

/* Takes the locks, opens (and migrates) the store, publishes the NSS
 * snapshot, then connects to the bus and takes the name. */
int manager_start(manager *m);
/* Runs until SIGTERM or SIGINT; finishes what was accepted. */
int manager_run(manager *m);

/* For the readiness report. */
uint64_t manager_snapshot_generation(const manager *m);
const config *manager_config(const manager *m);
