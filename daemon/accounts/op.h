/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* One operation on the store, on behalf of one caller: the transaction it
 * runs in, who asked, the time, where a refusal is explained, and what its
 * commit must lead to (a new NSS publication, ending a user's sessions).
 * The account logic (org.c, user.c, linked-record.c, audit.c) takes an op
 * and needs nothing else: no bus, no socket. Any front end (the D-Bus glue,
 * the login socket) begins one for the uid it vouches for, calls the logic,
 * commits or aborts, and carries out what the op asks for after commit. */

#include <stdbool.h>
#include <stdint.h>

#include "config.h"
#include "error.h"
#include "store.h"
#include "validate.h"

typedef struct local_accounts local_accounts;
typedef struct mail_templates mail_templates;

/* What the account logic works with: the store, the configuration, and the
 * machine's own accounts (which Nexalix never shadows). */
typedef struct accounts {
        store *store;
        const config *config;
        local_accounts *local;
        /* Mail (mail/outbox.h): the templates messages are rendered from
         * (NULL: no mail is queued, as in unit tests of the account logic),
         * and the sender's wake-up, called inside the operation with the
         * outbox id of a mail that became due (queued or retried); the
         * sender looks after the commit (an aborted operation costs it one
         * wasted look). */
        const mail_templates *mail_templates;
        void (*mail_queued)(void *userdata, uint64_t id);
        void *mail_userdata;
} accounts;

/* Who is calling: uid 0 is the superadmin; any other uid is the Nexalix user
 * with that uid, with the permissions of its roles within its organisation
 * while it is active, and none otherwise. A uid that a local account has is
 * nobody to Nexalix. */
typedef struct caller {
        uint32_t uid;
        bool superadmin;
        bool known;                     /* a Nexalix user has this uid */
        char name[USERNAME_MAX + 1];    /* "root", the username, or "" */
        char org[ORG_NAME_MAX + 1];
        unsigned permissions;
} caller;

/* Published identities an operation changed: the NSS snapshot must show the
 * users and groups named here as the store has them after the commit. Past
 * IDENTITY_CHANGES_MAX users, the list gives way to `everything`. */
#define IDENTITY_CHANGES_MAX 1000
typedef struct identity_changes {
        char **users;
        size_t n_users, allocated_users;
        char **groups;                  /* department and role groups */
        size_t n_groups, allocated_groups;
        bool everything;
} identity_changes;

void identity_changes_done(identity_changes *c);
bool identity_changes_empty(const identity_changes *c);
/* Moves everything of from into into (from is left empty). */
int identity_changes_merge(identity_changes *into, identity_changes *from);

/* A user whose every session and process must end once the operation is
 * committed (deactivation, deletion, a password reset). */
typedef struct termination {
        uint32_t uid;                   /* 0: none */
        char username[USERNAME_MAX + 1];
        char org[ORG_NAME_MAX + 1];
} termination;

typedef struct op {
        const accounts *accounts;
        store_txn *txn;
        caller caller;
        uint64_t now;                   /* seconds since the epoch */
        nx_error *error;
        identity_changes changes;
        termination terminate;
} op;

/* Opens a transaction (read-only or write) on behalf of uid and loads the
 * caller. */
int op_begin(const accounts *a, uint32_t uid, bool write, nx_error *e, op *ret);
/* Commits; o->changes and o->terminate stay for the front end. */
int op_commit(op *o);
/* As op_commit(), without waiting for the disk (store_commit_unsynced()). */
int op_commit_unsynced(op *o);
/* Aborts, and forgets what the operation would have led to. */
void op_abort(op *o);
/* Frees what op_commit() left (the changes). */
void op_done(op *o);

/* Records that a published user or group changed. */
int op_user_changed(op *o, const char *username);
int op_group_changed(op *o, const char *group);
void op_request_termination(op *o, uint32_t uid, const char *username, const char *org);

/* Who uid is, against a freshly refreshed view of the local accounts. */
int caller_load(store_txn *t, local_accounts *local, uint32_t uid, caller *ret);

/* Whether the caller holds permission within organisation org. */
bool caller_may(const caller *c, unsigned permission, const char *org);

/* Whether the caller holds permission in some organisation (the coarse check
 * a front end makes before it reads a request's arguments). */
bool caller_may_any(const caller *c, unsigned permission);
