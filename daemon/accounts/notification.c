/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "audit.h"
#include "notification.h"
#include "role.h"
#include "user.h"

#include <string.h>

static const char *const outcomes[] = {
        [NOTIFY_MAILED] = "mailed",
        [NOTIFY_NOT_VERIFIED] = "not-sent:unverified-address",
        [NOTIFY_INVITED] = "not-sent:invited",
        [NOTIFY_DEACTIVATED] = "not-sent:deactivated",
};

const char *notify_outcome_to_string(notify_outcome o) {
        return o <= NOTIFY_DEACTIVATED ? outcomes[o] : "unknown";
}

int notify_kind_from_string(const char *s, mail_kind *ret) {
        if (strcmp(s, "incident.alert") == 0)
                *ret = MAIL_INCIDENT_ALERT;
        else if (strcmp(s, "incident.assigned") == 0)
                *ret = MAIL_INCIDENT_ASSIGNED;
        else
                return -EINVAL;
        return 0;
}

/* One line of text a person may read: UTF-8, no control characters. */
static bool valid_text(const char *s, size_t max, bool multiline) {
        size_t n = strlen(s);

        if (n == 0 || n > max || validate_utf8(s) < 0)
                return false;
        for (const unsigned char *p = (const unsigned char *) s; *p; p++)
                if ((*p < 0x20 && !(multiline && (*p == '\n' || *p == '\t'))) || *p == 0x7f)
                        return false;
        return true;
}

int notify_user(op *o, const char *username, mail_kind kind, const char *subject, const char *body,
                notify_outcome *ret, uint32_t *ret_uid) {
        _cleanup_(user_done) user u = {};
        notify_outcome outcome;
        int r;

        if (!valid_text(subject, NOTIFY_SUBJECT_MAX, false))
                return nx_error_set(o->error, -EINVAL, "the subject must be one line of 1 to %d bytes of text",
                                    NOTIFY_SUBJECT_MAX);
        if (!valid_text(body, NOTIFY_BODY_MAX, true))
                return nx_error_set(o->error, -EINVAL, "the body must be 1 to %d bytes of text", NOTIFY_BODY_MAX);
        r = user_load_for(o, username, PERM_NOTIFY, &u);
        if (r < 0)
                return r;

        if (u.state == USER_INVITED)
                outcome = NOTIFY_INVITED;
        else if (u.state == USER_DEACTIVATED)
                outcome = NOTIFY_DEACTIVATED;
        else if (!u.email_verified)
                outcome = NOTIFY_NOT_VERIFIED;
        else {
                r = outbox_queue(o, u.email, u.language, kind, &(mail_vars) {
                        .username = u.username, .first_name = u.first_name, .last_name = u.last_name,
                        .org = u.org, .subject = subject, .body = body,
                });
                if (r < 0)
                        return r;
                outcome = NOTIFY_MAILED;
        }
        r = audit_append(o, "user.notify", u.org, u.username, "%s: %s", mail_kind_to_string(kind),
                         notify_outcome_to_string(outcome));
        if (r < 0)
                return r;
        *ret = outcome;
        if (ret_uid)
                *ret_uid = u.uid;
        return 0;
}
