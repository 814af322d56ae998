/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Login sessions: what pam_nexalix.so registers when a session opens
 * (process, service, terminal, remote host, start time) and removes when it
 * closes, so that administrators see who is logged in and ending a user's
 * sessions knows which processes hold them. Entries of processes that died
 * without closing are reaped. */

#include <stdbool.h>
#include <stdint.h>

#include "op.h"

#define SESSION_ID_LENGTH 16
/* Open sessions of one user whose processes still run: more is refused
 * (-EMFILE). */
#define SESSIONS_PER_USER_MAX 256

typedef struct login_session {
        char id[SESSION_ID_LENGTH + 1];
        char username[USERNAME_MAX + 1];
        uint32_t pid;                   /* the process that opened it */
        uint64_t pid_start;             /* its start time (clock ticks since boot): a reused pid is not it */
        uint64_t started_at;            /* seconds since the epoch */
        const char *service, *tty, *rhost;      /* point into the store's map */
} login_session;

/* Is this process (pid and start time) still running? */
typedef bool (*session_alive_fn)(uint32_t pid, uint64_t pid_start);

int session_open(op *o, const char *username, uint32_t pid, uint64_t pid_start, const char *service,
                 const char *tty, const char *rhost, char ret_id[static SESSION_ID_LENGTH + 1]);
/* -ENOENT when the user has no session with this id. */
int session_close(op *o, const char *username, const char *id);

/* The sessions of username (every user's when NULL), in id order. */
typedef int (*session_visit_fn)(const login_session *s, void *userdata);
int session_foreach(store_txn *t, const char *username, session_visit_fn fn, void *userdata);

/* Removes the sessions of username whose process is gone; *ret_reaped (may
 * be NULL) says how many. */
int session_reap(op *o, const char *username, session_alive_fn alive, unsigned *ret_reaped);
/* Removes every session of username (its processes are being ended). */
int session_remove_all(op *o, const char *username);
