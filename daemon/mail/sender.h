/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* The sender: delivers what the outbox holds, after the commit that put it
 * there, from the event loop (docs/mail.md, "Delivery").
 *
 * It takes due mail from the outbox in id order and hands one message at a
 * time to a worker thread (mail/deliver.c: spool, SMTP or sendmail, each
 * within a deadline), so that the main loop never waits for the mail
 * system. Only when the mail system has the message does a write
 * transaction delete it from the outbox; a failure records the attempt, the
 * error and the next attempt (back-off, see outbox.h) instead. The next
 * delivery is handed to the worker before that commit, so that the fsyncs
 * of both overlap. A crash between the mail system's acceptance and that
 * deletion is the one moment a message can go out twice (at most the two in
 * flight): it is delivered again at the next start with the same
 * Message-ID (and to the same spool file name).
 *
 * What wakes it: a mail queued or retried (mail_sender_kick(), the
 * accounts' mail_queued hook), the next attempt's time, the start (every
 * waiting mail is tried at once), and SIGHUP (mail_sender_retry_now()). */

#include <stdint.h>

#include "op.h"

typedef struct event_loop event_loop;
typedef struct worker_pool worker_pool;
typedef struct mail_sender mail_sender;

/* Checks the [mail] configuration (from, smtp) and starts sending; the
 * first look at the outbox happens on the loop's first turn. */
int mail_sender_new(const accounts *a, event_loop *loop, worker_pool *workers, mail_sender **ret);
/* Call after the worker pool is freed (its jobs refer to the sender). */
mail_sender *mail_sender_free(mail_sender *s);

/* The accounts' mail_queued hook: mail id became due. */
void mail_sender_kick(void *userdata, uint64_t id);
/* Makes every waiting mail (not the given-up ones) due now. */
int mail_sender_retry_now(mail_sender *s);
/* The daemon stops: a delivery under way gets a second to finish, none
 * starts any more. */
void mail_sender_stop(mail_sender *s);
