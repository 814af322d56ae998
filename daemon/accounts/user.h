/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* What a user is and what may be done to one (docs/architecture.md, "Users"). */

#include "op.h"

#define USER_ROLES_MAX 8

typedef enum user_state {
        USER_INVITED,           /* no password yet, cannot log in */
        USER_ACTIVE,
        USER_DEACTIVATED,
        _USER_STATE_MAX,
} user_state;

const char *user_state_to_string(user_state s);
int user_state_from_string(const char *s);

/* Strings point either into the store's map (a view from user_foreach, valid
 * until the transaction ends) or into `storage`, a private copy of the record
 * made by user_load*, which survives later writes in the same transaction.
 * Operations replace fields with pointers to new strings and user_save()
 * encodes whatever the fields point at. */
typedef struct user {
        const char *username;
        uint32_t uid;
        user_state state;
        bool email_verified;
        bool totp_enabled;
        uint64_t created_at, updated_at;
        const char *org, *department, *first_name, *last_name, *email, *language;
        const char *roles[USER_ROLES_MAX + 1];  /* NULL-terminated */
        const char *password_hash;              /* argon2id string, "" when unset */
        void *storage;
} user;

void user_done(user *u);

int user_load(store_txn *t, const char *username, user *ret);
int user_load_by_uid(store_txn *t, uint32_t uid, user *ret);
/* Writes u's entry in its organisation's index of users (user_save() does;
 * the store migration too). */
int user_index(op *o, const user *u);

/* All users in username order; fn returns 0 to go on, > 0 to stop, < 0 on error. */
int user_foreach(store_txn *t, int (*fn)(const user *u, void *userdata), void *userdata);

/* Loads a user the caller may act on with `permission`. A user of another
 * organisation is reported exactly like a missing one, so nobody learns which
 * usernames exist elsewhere. */
int user_load_for(op *o, const char *username, unsigned permission, user *ret);

typedef struct user_spec {
        const char *username, *org, *first_name, *last_name, *email, *language, *department;
        char **roles;
} user_spec;

/* Everything user_create checks, without writing: lets the daemon refuse bad
 * input before spending time on hashing the password. */
int user_check_new(op *o, const user_spec *spec);
/* password_hash NULL: an invitation (state invited, no password). */
int user_create(op *o, const user_spec *spec, const char *password_hash, user *ret);

typedef struct user_changes {
        const char *first_name, *last_name, *email, *language, *department; /* NULL: unchanged */
} user_changes;
int user_update(op *o, const char *username, const user_changes *c, user *ret);

int user_role_add(op *o, const char *username, const char *role_name);
int user_role_remove(op *o, const char *username, const char *role_name);
/* Both ask (op_request_termination) that every session of the user end once
 * the operation is committed. */
int user_deactivate(op *o, const char *username);
int user_activate(op *o, const char *username);
int user_delete(op *o, const char *username);

/* Why a user may not log in, if so: an invited account has no password yet,
 * a deactivated one is cut off, and one without a role that grants `login`
 * may not (docs/architecture.md, "Users"). */
typedef enum login_refusal {
        LOGIN_ALLOWED,
        LOGIN_REFUSED_INVITED,
        LOGIN_REFUSED_DEACTIVATED,
        LOGIN_REFUSED_NO_LOGIN_ROLE,
} login_refusal;
login_refusal user_login_refusal(const user *u);

/* Forgets the user's failed logins and ends a back-off (`nexalixctl user
 * unlock`); audited when there was something to forget. *ret_before (may be
 * NULL) is the state it cleared. */
typedef struct backoff backoff;
int user_unlock(op *o, const char *username, backoff *ret_before);

/* What one-time links do (onetime.c checks the link, then calls these):
 * an invitation sets the first password, activates and verifies the email;
 * a reset sets the password, verifies the email and ends every session; a
 * verification confirms the address (switching to it when it is a new one).
 * -EBUSY when the account's state no longer fits. */
int user_accept_invitation(op *o, const char *username, const char *password_hash);
int user_reset_password(op *o, const char *username, const char *password_hash);
int user_confirm_email(op *o, const char *username, const char *email);

/* Moves u to a new address (unique index included; the caller has
 * validated it and saves u). */
int user_switch_email(op *o, user *u, const char *email);

/* Records whether two-factor authentication is on (totp.c keeps the rest). */
int user_set_totp_enabled(op *o, const char *username, bool enabled);

/* Sets a new password hash (argon2id string) for username, audited. The
 * front end has checked who may: the user, or root. */
int user_set_password(op *o, const char *username, const char *password_hash);

typedef struct user_filter {
        const char *org, *department, *search;
        int state;              /* -1: any */
        uint32_t limit, offset; /* limit 0: all */
} user_filter;
/* Calls fn for the page of matching users the caller may see; *ret_total is
 * the number of matches before paging. */
int user_list(op *o, const user_filter *f, int (*fn)(const user *u, void *userdata),
              void *userdata, uint32_t *ret_total);

