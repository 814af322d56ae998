/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stddef.h>

/* What the login conversation says, in the user's language (en, es, pt).
 * The first password prompt is the same for everybody, known or not: a
 * prompt in the user's language would tell a stranger that the account
 * exists. Everything after the password is in the user's language. */

typedef enum login_text {
        TEXT_PASSWORD,
        TEXT_CURRENT_PASSWORD,
        TEXT_NEW_PASSWORD,
        TEXT_RETYPE_PASSWORD,
        TEXT_PASSWORDS_DIFFER,
        TEXT_PASSWORD_TOO_SHORT,
        TEXT_PASSWORD_TOO_LONG,
        TEXT_PASSWORD_NOT_UTF8,
        TEXT_PASSWORD_CHANGED,
        TEXT_PASSWORD_UNCHANGED,
        TEXT_NOT_ACTIVATED,
        TEXT_DEACTIVATED,
        TEXT_NO_LOGIN,
        TEXT_BACKED_OFF,                /* a format: login_text_backed_off() */
        TEXT_CODE,
        TEXT_CODE_WRONG,
        TEXT_RECOVERY_CODE_USED,
        TEXT_ENROL_INTRO,
        TEXT_ENROL_KEY,
        TEXT_ENROL_CODE,
        TEXT_ENROL_DONE,
        TEXT_RECOVERY_INTRO,
        TEXT_CONTINUE,
        TEXT_MUST_ENROL,
        TEXT_HINT,
        _TEXT_MAX,
} login_text;

/* The text in language ("en" when NULL or unknown); a printf format for the
 * texts that take a value. */
const char *login_text_get(const char *language, login_text t);

/* TEXT_BACKED_OFF with the seconds left filled in. */
void login_text_backed_off(const char *language, unsigned seconds, char *buf, size_t size);
