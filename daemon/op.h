/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* One operation on the store, on behalf of one caller: the transaction it
 * runs in, who asked, the time, and where a refusal is explained. The logic
 * files (org.c, user.c, link.c, audit.c) take an op; the *-dbus.c files make
 * one per method call. */

#include <stdbool.h>
#include <stdint.h>

#include "error.h"
#include "store.h"
#include "validate.h"

typedef struct manager manager;
typedef struct local_accounts local_accounts;

/* Who is calling: uid 0 is the superadmin; any other uid is the Nexalix user
 * with that uid, with the permissions of its roles within its organisation
 * while it is active, and none otherwise. */
typedef struct caller {
        uint32_t uid;
        bool superadmin;
        bool known;                     /* a Nexalix user has this uid */
        char name[USERNAME_MAX + 1];    /* "root", the username, or "" */
        char org[ORG_NAME_MAX + 1];
        unsigned permissions;
} caller;

typedef struct op {
        store_txn *txn;
        caller caller;
        manager *manager;
        uint64_t now;                   /* seconds since the epoch */
        nx_error *error;
        bool identity_changed;          /* the NSS snapshot must be republished */
} op;

/* Who uid is. A uid that a local account has (checked against a freshly
 * refreshed view of /etc/passwd and /etc/group) is nobody to Nexalix. */
int caller_load(store_txn *t, local_accounts *local, uint32_t uid, caller *ret);

/* Whether the caller holds permission within organisation org. */
bool caller_may(const caller *c, unsigned permission, const char *org);

/* Whether the caller holds permission in some organisation (the coarse check
 * a method makes before it knows which organisation it touches). */
bool caller_may_any(const caller *c, unsigned permission);
