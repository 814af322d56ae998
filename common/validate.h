/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* The rules of docs/architecture.md "Users", in one place. Each check returns 0 when the
 * value is acceptable and -EINVAL otherwise; when ret_reason is not NULL it
 * receives a static, user-facing explanation ("username must start with a
 * lower-case letter or underscore"). No allocation, no I/O: the daemon, the
 * CLI (to reject an import file before sending it) and the modules share it. */

#include <stdbool.h>
#include <stddef.h>

#define USERNAME_MAX 32
#define GROUP_NAME_MAX 32
#define PERSON_NAME_MAX 64
#define EMAIL_MAX 254
#define ORG_NAME_MAX 15
#define DEPT_NAME_MAX 16
#define PASSWORD_MIN 8
#define PASSWORD_MAX 1024

int validate_username(const char *s, const char **ret_reason);
/* A published group name: a username (the private groups), or
 * "ORG.DEPT" / "ORG.ROLE", which use the '.' no username, organisation,
 * department or role name may contain, so that no name can be made to
 * collide with another's (docs/admin-guide.md "Group names"). */
int validate_group_name(const char *s, const char **ret_reason);
int validate_person_name(const char *s, const char **ret_reason);
int validate_email(const char *s, const char **ret_reason);
int validate_language(const char *s, const char **ret_reason);
int validate_org_name(const char *s, const char **ret_reason);
int validate_dept_name(const char *s, const char **ret_reason);
int validate_password(const char *s, const char **ret_reason);
/* 0 when s is well-formed UTF-8 (no overlong forms, no surrogates). */
int validate_utf8(const char *s);

/* What validate_password() decides, for callers that word it themselves
 * (the login conversation, in the user's language). Length counts
 * characters, not bytes. */
typedef enum password_quality {
        PASSWORD_OK,
        PASSWORD_TOO_SHORT,
        PASSWORD_TOO_LONG,
        PASSWORD_NOT_UTF8,
} password_quality;
password_quality password_check(const char *s);

/* Lower-cases an e-mail address in place (ASCII only: the unique index is
 * case-insensitive the way mail systems treat addresses in practice). */
void email_normalize(char *s);

/* Languages every message exists in. */
extern const char *const LANGUAGES[];
