/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Failed logins and the back-off they earn, per user, in the store: every
 * check of a password or a code records its outcome in the same transaction
 * as the check (docs/login.md, "Back-off").
 *
 * The numbers: the first BACKOFF_FREE_FAILURES failures in a row cost
 * nothing; each one after that backs the user off for twice as long as the
 * previous one, from BACKOFF_FIRST_SECONDS up to BACKOFF_MAX_SECONDS. While
 * backed off, attempts are refused without being checked. A success or
 * `nexalixctl user unlock` starts over, and so does a pause of
 * BACKOFF_FORGET_SECONDS without failures. Other users are never affected. */

#include <stdint.h>

#include "op.h"

#define BACKOFF_FREE_FAILURES 4
#define BACKOFF_FIRST_SECONDS 15
#define BACKOFF_MAX_SECONDS (15 * 60)
#define BACKOFF_FORGET_SECONDS (60 * 60)

typedef struct backoff {
        uint32_t failures;              /* in a row */
        uint64_t last_failure;
        uint64_t until;                 /* backed off until then (0: not) */
} backoff;

/* The user's record as of o->now (forgotten failures read as none). */
int backoff_get(store_txn *t, uint64_t now, const char *username, backoff *ret);
/* One more failure; *ret (may be NULL) is the record after it. */
int backoff_record_failure(op *o, const char *username, backoff *ret);
/* A success: forget the failures. */
int backoff_clear(op *o, const char *username);
