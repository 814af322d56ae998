/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Notifications from integrated applications (an incident platform): an
 * alert or an assignment notice, mailed in the user's language — only to an
 * active user's verified address. The caller learns which happened. */

#include <stdint.h>

#include "op.h"
#include "outbox.h"

typedef enum notify_outcome {
        NOTIFY_MAILED,
        NOTIFY_NOT_VERIFIED,            /* the address is not verified: nothing sent */
        NOTIFY_INVITED,                 /* the account is not active yet: nothing sent */
        NOTIFY_DEACTIVATED,             /* nothing sent */
} notify_outcome;

const char *notify_outcome_to_string(notify_outcome o);
/* "incident.alert" or "incident.assigned", or -EINVAL. */
int notify_kind_from_string(const char *s, mail_kind *ret);

#define NOTIFY_SUBJECT_MAX 200
#define NOTIFY_BODY_MAX (32 * 1024)

/* Notifies username (a user the caller may notify: PERM_NOTIFY in its
 * organisation; others read as missing), audited. *ret_uid is the user's
 * uid (for the desktop signal). */
int notify_user(op *o, const char *username, mail_kind kind, const char *subject, const char *body,
                notify_outcome *ret, uint32_t *ret_uid);
