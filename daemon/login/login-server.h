/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* The login socket (RUNTIME/pam.sock): pam_nexalix.so connects once per PAM
 * call and the daemon drives the conversation (docs/login.md). This file
 * owns the socket and the connections — accepting, framing, buffering,
 * timeouts, who the peer is; login-steps.c decides what to ask and what to
 * answer. */

#include "op.h"

typedef struct event_loop event_loop;
typedef struct worker_pool worker_pool;
typedef struct login_server login_server;

typedef struct login_services {
        const accounts *accounts;
        worker_pool *workers;           /* password checks and hashes run there */
        const char *runtime_dir;
} login_services;

/* Creates RUNTIME/pam.sock (mode 0666: screen lockers run as the user) and
 * serves it from loop. */
int login_server_new(event_loop *loop, const login_services *services, login_server **ret);
/* Closes the socket and every conversation; conversations whose job still
 * runs on a worker are freed when it finishes. Call after the worker pool is
 * gone, or keep the pool dispatching. NULL is fine. */
login_server *login_server_free(login_server *s);
