/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Mail, as the account logic sees it: a message is rendered from a template
 * in the recipient's language and written to the outbox in the store, in
 * the same transaction as the change that causes it; the sender
 * (mail/sender.c) delivers it after the commit and deletes it from the
 * outbox once the mail system has it (docs/mail.md). An aborted operation
 * therefore sends nothing, and a committed one loses nothing across a
 * crash. */

#include "op.h"

typedef enum mail_kind {
        MAIL_INVITE,                    /* invitation: set a password, 48 h */
        MAIL_RESET_ADMIN,               /* password reset started by an administrator, 24 h */
        MAIL_RESET_SELF,                /* "forgot password", 1 h */
        MAIL_VERIFY_EMAIL,              /* confirm an address, 48 h */
        MAIL_INCIDENT_ALERT,            /* a notification from an integrated application */
        MAIL_INCIDENT_ASSIGNED,
        _MAIL_KIND_MAX,
} mail_kind;

/* What a template may use, as {name}; a NULL value renders as "". */
typedef struct mail_vars {
        const char *username, *first_name, *last_name, *org;
        const char *link;               /* [links] url with {token} filled in */
        const char *expires;            /* "2026-12-03 14:05 UTC" */
        const char *subject, *body;     /* notifications */
} mail_vars;

/* Queues a mail of kind to address `to`, in language (en, es, pt; others
 * fall back to en), in o's transaction. -ENOENT when no template exists for
 * kind (a broken installation), -EINVAL for an address that cannot be put
 * in a header. */
int outbox_queue(op *o, const char *to, const char *language, mail_kind kind, const mail_vars *vars);

const char *mail_kind_to_string(mail_kind k);

/* ---- The outbox itself, for the sender and the queue listing ----
 *
 * TABLE_OUTBOX maps a big-endian sequence number (the id shown by
 * `nexalixctl mail queue`) to a record: the recipient, the kind, who and
 * which organisation it is about, the whole rendered message, and how its
 * delivery goes (attempts, next attempt, last error, given up). */

#include <stddef.h>

/* Retries: 10 s after the first failure, doubling up to an hour; three
 * days after a mail was queued (or last retried by hand), a failure gives
 * it up (it stays in the queue, marked, until dropped or retried). */
#define OUTBOX_RETRY_FIRST_SEC 10u
#define OUTBOX_RETRY_MAX_SEC 3600u
#define OUTBOX_GIVE_UP_SEC (3u * 24 * 3600)

typedef struct outbox_entry {
        uint64_t id;
        uint64_t queued_at;
        uint64_t next_attempt;          /* seconds since the epoch; 0: at once */
        uint64_t last_attempt;          /* 0: never tried */
        uint64_t give_up_at;            /* a failure after this gives the mail up */
        uint32_t attempts;
        mail_kind kind;
        bool given_up;
        /* Point into the record (valid until the transaction ends). */
        const char *to, *username, *org, *message_id, *last_error;
        const char *message;
        size_t message_size;
} outbox_entry;

/* Decodes one record; -EBADMSG for one this daemon cannot read. */
int outbox_entry_decode(const void *key, size_t key_size, const void *value, size_t value_size,
                        outbox_entry *ret);

/* Every mail with an id >= from_id, oldest first. fn returns 0 to go on,
 * > 0 to stop (returned), < 0 on error (returned). Undecodable records
 * are logged and skipped. */
int outbox_foreach(store_txn *t, uint64_t from_id, int (*fn)(const outbox_entry *e, void *userdata),
                   void *userdata);
int outbox_get(store_txn *t, uint64_t id, outbox_entry *ret);

/* The mail system took mail id: it leaves the outbox. */
int outbox_delivered(store_txn *t, uint64_t id);
/* A delivery failed at now with error: one more attempt, the next one
 * after the back-off, or given up when permanent (the mail system refused
 * it for good) or past its give-up time. *ret_next (may be NULL) is the
 * next attempt, 0 when given up. */
int outbox_deferred(store_txn *t, uint64_t id, uint64_t now, const char *error, bool permanent,
                    uint64_t *ret_next);
/* The delay before attempt n + 1 after n failures. */
uint64_t outbox_retry_delay(uint32_t failures);

/* Makes mail due now: id, or every mail when id is 0; with given_up, a
 * given-up mail too (it gets a fresh give-up time). Only mail about org
 * when org is not NULL. *ret_count (may be NULL) says how many. */
int outbox_retry(store_txn *t, uint64_t id, const char *org, bool given_up, uint64_t now, unsigned *ret_count);

/* As an operation of a caller: an org-admin reaches the mail of their own
 * organisation only; another organisation's is reported as missing.
 * outbox_retry_for() wakes the sender. */
int outbox_retry_for(op *o, uint64_t id, unsigned *ret_count);
int outbox_drop_for(op *o, uint64_t id);
/* Drops every waiting mail about username (a deactivated or deleted user:
 * "mail to the user stops"); *ret_count (may be NULL) says how many. */
int outbox_cancel_user(op *o, const char *username, unsigned *ret_count);
