/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* An Internet message (RFC 5322, MIME) from a rendered subject and body:
 * header values that are not plain ASCII become RFC 2047 encoded words
 * (UTF-8, "B" encoding) folded to lines of at most 78 characters; the body
 * is UTF-8 text/plain in quoted-printable, so that the message is 7-bit
 * clean and every line is at most 76 characters: it passes unchanged
 * through any mail system, including one without 8BITMIME, and through
 * sendmail(8), an SMTP session or a spool file alike. Lines end in CRLF.
 * No I/O except the random bytes of a Message-ID. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "validate.h"

/* An address as [mail] from gives it: "addr" or "Display Name <addr>". */
typedef struct mail_address {
        char display[256];      /* UTF-8, may be "" */
        char addr[EMAIL_MAX + 1];
} mail_address;

/* -EINVAL for something that cannot go into a From: header and an SMTP
 * MAIL FROM: an address needs a local part, '@' and a domain of printable
 * ASCII without spaces, quotes, brackets, commas or semicolons. */
int mail_address_parse(const char *s, mail_address *ret);

/* "<32 hex digits@domain>": 128 random bits, so that two messages never
 * share one; domain is the From address's domain (or the host's name). */
#define MAIL_MESSAGE_ID_MAX (EMAIL_MAX + 40)
int mail_message_id_new(const mail_address *from, char ret[static MAIL_MESSAGE_ID_MAX]);

typedef struct mail_message {
        const mail_address *from;
        const char *to;                 /* an address (validate_email) */
        const char *to_name;            /* the recipient's name, UTF-8; NULL or "": none */
        const char *subject;            /* UTF-8, one line (control characters become spaces) */
        const char *body;               /* UTF-8 text, LF or CRLF line ends */
        uint64_t date;                  /* seconds since the epoch */
        const char *message_id;         /* from mail_message_id_new() */
        const char *kind;               /* for an X-Nexalix-Kind header; NULL: none */
} mail_message;

/* The whole message, NUL-terminated (the NUL not counted in *ret_size). */
int mail_message_render(const mail_message *m, char **ret, size_t *ret_size);

/* The pieces, for the tests. */

/* "Name: value" with the value encoded and folded as above (a phrase, like
 * a display name, is quoted when plain ASCII with specials), without the
 * final CRLF. */
int mail_header_format(const char *name, const char *value, bool phrase, char **ret);
/* text as quoted-printable with CRLF line ends. */
int mail_quoted_printable(const char *text, char **ret);
/* "Tue, 01 Dec 2026 16:08:28 +0000" (English names whatever the locale). */
void mail_date_format(uint64_t t, char ret[static 40]);
