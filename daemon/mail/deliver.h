/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Handing one message to the mail system, in one of three ways, on a
 * worker thread (it blocks, always within a deadline, and touches neither
 * the store nor the loop):
 *
 *   spool     writes DIR/<Message-ID>.eml through a temporary file, fsync
 *             and rename: writing the same message twice leaves one file;
 *   smtp      a minimal SMTP client (EHLO or HELO, MAIL FROM, RCPT TO,
 *             DATA with dot-stuffing, QUIT) to HOST:PORT, normally the
 *             local mail system on 127.0.0.1:25 — the way that works under
 *             the hardened systemd unit (docs/mail.md);
 *   sendmail  runs the configured command with the message on standard
 *             input; exit status 0 means the mail system has it.
 *
 * The first one configured is used: spool, then smtp, then sendmail. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct mail_transport {
        const char *spool_dir;          /* [mail] spool, or NULL */
        const char *smtp;               /* [mail] smtp "HOST[:PORT]", or NULL */
        const char *sendmail;           /* [mail] sendmail, a command line split at spaces */
        const char *envelope_from;      /* MAIL FROM (the bare address of [mail] from) */
        const char *helo;               /* the name given in EHLO; NULL: this host's name */
        unsigned timeout_ms;            /* the whole delivery; 0: the default (60 s) */
        unsigned step_timeout_ms;       /* each SMTP reply; 0: the default (30 s) */
        int cancel_fd;                  /* readable: give up within a second or so; -1: none */
} mail_transport;

typedef struct mail_delivery_result {
        bool permanent;                 /* refused for good (an SMTP 5xx): retrying will not help */
        char error[300];                /* what went wrong, for the queue listing and the log */
} mail_delivery_result;

/* The message as stored (CRLF line ends). Returns 0 once the mail system
 * has it, or a negative errno with ret->error filled in. */
int mail_deliver(const mail_transport *t, const char *to, const char *message_id, const char *message,
                 size_t size, mail_delivery_result *ret);

int mail_deliver_spool(const mail_transport *t, const char *message_id, const char *message, size_t size,
                       mail_delivery_result *ret);
int mail_deliver_smtp(const mail_transport *t, const char *to, const char *message, size_t size,
                      mail_delivery_result *ret);
int mail_deliver_sendmail(const mail_transport *t, const char *to, const char *message, size_t size,
                          mail_delivery_result *ret);

/* "HOST[:PORT]" or "[V6ADDR][:PORT]"; port 25 when not given. -EINVAL for
 * anything else. */
int mail_smtp_parse(const char *s, char *host, size_t host_size, uint16_t *ret_port);

/* The name of a message's spool file: the Message-ID without its angle
 * brackets, with anything that does not belong in a file name replaced,
 * and ".eml". -EINVAL when nothing usable is left. */
int mail_spool_name(const char *message_id, char *buf, size_t size);
