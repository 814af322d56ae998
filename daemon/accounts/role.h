/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Roles are named sets of permissions. The built-in ones are fixed; each
 * organisation publishes one POSIX group per role ("ORG-ROLE"). */

#include <stddef.h>

enum {
        PERM_LOGIN = 1 << 0,           /* may log in (PAM) */
        PERM_MANAGE_USERS = 1 << 1,    /* users of the own organisation */
        PERM_MANAGE_ORG = 1 << 2,      /* departments, Require 2FA */
        PERM_READ_AUDIT = 1 << 3,
        PERM_MANAGE_LINKS = 1 << 4,    /* linked operational records */
        PERM_NOTIFY = 1 << 5,          /* notify users (incident alerts, assignments) */
};

typedef struct role {
        const char *name;
        const char *description;
        unsigned permissions;
} role;

#define ROLE_COUNT 2
extern const role ROLES[ROLE_COUNT];

/* Index into ROLES, or -ENOENT. */
int role_index(const char *name);
/* Union of the permissions of the named roles (unknown names count nothing). */
unsigned role_permissions(char *const *names);
/* What a permission lets one do, for refusals: "manage users". */
const char *permission_purpose(unsigned permission);
/* Names of the permissions in a mask, for ListRoles; returns how many were written. */
size_t role_permission_names(unsigned permissions, const char *ret[], size_t max);
