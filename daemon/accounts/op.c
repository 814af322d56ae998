/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "array.h"
#include "local-accounts.h"
#include "log.h"
#include "op.h"
#include "role.h"
#include "user.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

/* ---- identity changes ---- */

static void strv_free_n(char **v, size_t n) {
        for (size_t i = 0; i < n; i++)
                free(v[i]);
        free(v);
}

void identity_changes_done(identity_changes *c) {
        strv_free_n(c->users, c->n_users);
        strv_free_n(c->groups, c->n_groups);
        *c = (identity_changes) {};
}

bool identity_changes_empty(const identity_changes *c) {
        return !c->everything && c->n_users == 0 && c->n_groups == 0;
}

static int add_name(char ***v, size_t *n, size_t *allocated, const char *name) {
        for (size_t i = 0; i < *n; i++)
                if (strcmp((*v)[i], name) == 0)
                        return 0;
        if (array_reserve((void **) v, allocated, *n + 1, sizeof(char *)) < 0)
                return -ENOMEM;
        (*v)[*n] = strdup(name);
        if (!(*v)[*n])
                return -ENOMEM;
        (*n)++;
        return 0;
}

/* Many changed users (an import): publishing everything is cheaper than
 * tracking each, and a lookup per name would make the list quadratic. */
static void give_way_to_everything(identity_changes *c) {
        strv_free_n(c->users, c->n_users);
        c->users = NULL;
        c->n_users = c->allocated_users = 0;
        c->everything = true;
}

static int identity_changes_add_user(identity_changes *c, const char *username) {
        if (c->everything)
                return 0;
        if (c->n_users >= IDENTITY_CHANGES_MAX) {
                give_way_to_everything(c);
                return 0;
        }
        return add_name(&c->users, &c->n_users, &c->allocated_users, username);
}

int identity_changes_merge(identity_changes *into, identity_changes *from) {
        int r = 0;

        if (from->everything)
                give_way_to_everything(into);
        for (size_t i = 0; r >= 0 && i < from->n_users; i++)
                r = identity_changes_add_user(into, from->users[i]);
        for (size_t i = 0; r >= 0 && i < from->n_groups; i++)
                r = add_name(&into->groups, &into->n_groups, &into->allocated_groups, from->groups[i]);
        identity_changes_done(from);
        return r;
}

int op_user_changed(op *o, const char *username) {
        return identity_changes_add_user(&o->changes, username);
}

int op_group_changed(op *o, const char *group) {
        return add_name(&o->changes.groups, &o->changes.n_groups, &o->changes.allocated_groups, group);
}

void op_request_termination(op *o, uint32_t uid, const char *username, const char *org) {
        o->terminate.uid = uid;
        snprintf(o->terminate.username, sizeof(o->terminate.username), "%s", username);
        snprintf(o->terminate.org, sizeof(o->terminate.org), "%s", org);
}

/* ---- the operation ---- */

int op_begin(const accounts *a, uint32_t uid, bool write, nx_error *e, op *ret) {
        op o = { .accounts = a, .now = (uint64_t) time(NULL), .error = e };
        int r;

        r = store_begin(a->store, write, &o.txn);
        if (r < 0)
                return r;
        r = caller_load(o.txn, a->local, uid, &o.caller);
        if (r < 0) {
                o.txn = store_abort(o.txn);
                return log_error_errno(r, "Failed to look up caller uid %u: %m", uid);
        }
        *ret = o;
        return 0;
}

int op_commit_unsynced(op *o) {
        int r = store_commit_unsynced(o->txn);
        o->txn = NULL;
        if (r < 0) {
                op_done(o);
                o->terminate = (termination) {};
        }
        return r;
}

int op_commit(op *o) {
        int r = store_commit(o->txn);
        o->txn = NULL;
        if (r < 0) {
                op_done(o);
                o->terminate = (termination) {};
        }
        return r;
}

void op_abort(op *o) {
        o->txn = store_abort(o->txn);
        op_done(o);
        o->terminate = (termination) {};
}

void op_done(op *o) {
        identity_changes_done(&o->changes);
}

/* ---- the caller ---- */

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
