/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "local-accounts.h"
#include "log.h"
#include "op.h"
#include "role.h"
#include "user.h"

#include <stdio.h>
#include <string.h>

int caller_load(store_txn *t, local_accounts *local, uint32_t uid, caller *ret) {
        _cleanup_(user_done) user u = {};
        caller c = { .uid = uid };
        int r;

        if (uid == 0) {
                c.superadmin = true;
                snprintf(c.name, sizeof(c.name), "root");
                *ret = c;
                return 0;
        }

        /* A uid that a local account has is that account's, whatever
         * Nexalix once handed out: it gets no Nexalix identity at all. The
         * view is refreshed first so that an account added a moment ago
         * counts; when the files cannot be read, fail closed. */
        r = local_accounts_refresh(local);
        if (r < 0 || local_accounts_has_id(local, uid)) {
                if (r < 0)
                        log_warning_errno(r, "Cannot read the local accounts; uid %u acts without Nexalix permissions: %m", uid);
                *ret = c;
                return 0;
        }

        r = user_load_by_uid(t, uid, &u);
        if (r == -ENOENT) {
                *ret = c;
                return 0;
        }
        if (r < 0)
                return r;

        c.known = true;
        snprintf(c.name, sizeof(c.name), "%s", u.username);
        snprintf(c.org, sizeof(c.org), "%s", u.org);
        /* Only an active account acts: an invited one has no password yet,
         * a deactivated one has lost its rights with its sessions. */
        if (u.state == USER_ACTIVE)
                c.permissions = role_permissions((char *const *) u.roles);
        *ret = c;
        return 0;
}

bool caller_may(const caller *c, unsigned permission, const char *org) {
        if (c->superadmin)
                return true;
        return (c->permissions & permission) == permission && org && strcmp(org, c->org) == 0;
}

bool caller_may_any(const caller *c, unsigned permission) {
        return c->superadmin || (c->permissions & permission) == permission;
}
