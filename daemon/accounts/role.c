/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "role.h"

#include <errno.h>
#include <string.h>

const role ROLES[ROLE_COUNT] = {
        { "org-admin", "Everything within the organisation: users, departments, settings, audit",
          PERM_LOGIN | PERM_MANAGE_USERS | PERM_MANAGE_ORG | PERM_READ_AUDIT | PERM_MANAGE_LINKS | PERM_NOTIFY },
        { "member", "May log in", PERM_LOGIN },
};

static const struct {
        unsigned bit;
        const char *name, *purpose;
} permission_names[] = {
        { PERM_LOGIN, "login", "log in" },
        { PERM_MANAGE_USERS, "users.manage", "manage users" },
        { PERM_MANAGE_ORG, "organisation.manage", "manage organisations" },
        { PERM_READ_AUDIT, "audit.read", "read the audit log" },
        { PERM_MANAGE_LINKS, "links.manage", "manage linked records" },
        { PERM_NOTIFY, "notifications.send", "notify users" },
};

const char *permission_purpose(unsigned permission) {
        for (size_t i = 0; i < sizeof(permission_names) / sizeof(permission_names[0]); i++)
                if (permission_names[i].bit == permission)
                        return permission_names[i].purpose;
        return "do this";
}

int role_index(const char *name) {
        for (int i = 0; i < ROLE_COUNT; i++)
                if (strcmp(ROLES[i].name, name) == 0)
                        return i;
        return -ENOENT;
}

unsigned role_permissions(char *const *names) {
        unsigned p = 0;

        for (char *const *n = names; n && *n; n++) {
                int i = role_index(*n);
                if (i >= 0)
                        p |= ROLES[i].permissions;
        }
        return p;
}

size_t role_permission_names(unsigned permissions, const char *ret[], size_t max) {
        size_t n = 0;

        for (size_t i = 0; i < sizeof(permission_names) / sizeof(permission_names[0]) && n < max; i++)
                if (permissions & permission_names[i].bit)
                        ret[n++] = permission_names[i].name;
        return n;
}
