/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Bus glue for one-time links (org.nexalix.Identity1.Public for anyone, and
 * the administrators' and users' methods that issue links) and for personal
 * API tokens. Public methods are rate limited per caller; their counters
 * are committed even when the request is refused. */

#include "apitoken.h"
#include "bus.h"
#include "onetime.h"
#include "password.h"
#include "ratelimit.h"
#include "role.h"
#include "termination.h"
#include "user.h"
#include "worker.h"

#include <sodium.h>
#include <stdio.h>
#include <string.h>

/* Uses of CheckLink, RedeemLink and VerifyEmail per caller uid and hour:
 * tokens cannot be guessed, but nobody needs to try this often. */
#define LINK_CALLS_PER_CALLER 60

/* Secrets that arrive in a message are wiped in place once used: the
 * message is ours alone and never read again. */
static void wipe(const char *s) {
        if (s)
                sodium_memzero((char *) s, strlen(s));
}

/* A refusal that must leave its trace (a rate-limit counter, an expired
 * link's removal): commit, then refuse; the dispatcher has nothing left to
 * abort. */
static int commit_and_refuse(bus_request *req, int r) {
        int k = op_commit(&req->op);
        return k < 0 ? k : r;
}

static int limit_caller(bus_request *req) {
        char key[32];
        int r;

        snprintf(key, sizeof(key), "links-uid:%u", req->uid);
        r = ratelimit_hit(&req->op, key, LINK_CALLS_PER_CALLER, 3600);
        if (r == -EAGAIN)
                return commit_and_refuse(req, nx_error_set(&req->error, -EAGAIN, "too many requests: try again later"));
        return r;
}

/* ---- Public ---- */

static int method_forgot_password(bus_request *req, DBusMessage **ret_reply) {
        const char *email;
        int r;

        if (!dbus_message_get_args(req->message, NULL, DBUS_TYPE_STRING, &email, DBUS_TYPE_INVALID))
                return -EINVAL;
        r = onetime_forgot_password(&req->op, email);
        if (r == -EAGAIN)
                return commit_and_refuse(req, r);
        /* Nothing in the reply says whether the address belongs to anyone. */
        return r;
}

static int method_check_link(bus_request *req, DBusMessage **ret_reply) {
        const char *token, *purpose, *username;
        DBusMessageIter it, d;
        link_info info;
        int r;

        if (!dbus_message_get_args(req->message, NULL, DBUS_TYPE_STRING, &token, DBUS_TYPE_INVALID))
                return -EINVAL;
        r = limit_caller(req);
        if (r >= 0)
                r = onetime_check(&req->op, token, &info);
        wipe(token);
        if (r == -EAGAIN)
                return r;
        if (r < 0)
                return commit_and_refuse(req, r);
        purpose = link_purpose_to_string(info.purpose);
        username = info.username;
        *ret_reply = dbus_message_new_method_return(req->message);
        if (!*ret_reply)
                return -ENOMEM;
        dbus_message_iter_init_append(*ret_reply, &it);
        if (bus_dict_open(&it, &d) < 0 ||
            bus_dict_add_string(&d, "purpose", purpose) < 0 ||
            bus_dict_add_string(&d, "username", username) < 0 ||
            bus_dict_add_uint64(&d, "expires_at", info.expires_at) < 0 ||
            bus_dict_close(&it, &d) < 0)
                return -ENOMEM;
        return 0;
}

static int method_verify_email(bus_request *req, DBusMessage **ret_reply) {
        const char *token;
        link_info info;
        int r;

        if (!dbus_message_get_args(req->message, NULL, DBUS_TYPE_STRING, &token, DBUS_TYPE_INVALID))
                return -EINVAL;
        r = limit_caller(req);
        if (r >= 0)
                r = onetime_redeem(&req->op, token, NULL, &info);
        wipe(token);
        if (r == -ETIME || r == -ENOENT)
                return commit_and_refuse(req, r);
        return r;
}

/* RedeemLink: the new password is hashed on a worker first. The token is
 * copied: the request message is freed when the request is answered, which
 * happens inside the resume. */
typedef struct redeem_job {
        bus_request *request;
        const char *password;           /* points into the request message, wiped by the work */
        char token[LINK_TOKEN_CHARS + 1];
        char hash[PASSWORD_HASH_MAX];
        int hashed;
} redeem_job;

static void redeem_job_work(void *userdata) {
        redeem_job *j = userdata;

        j->hashed = password_hash(j->password, j->hash);
        wipe(j->password);
}

static int redeem_with_hash(bus_request *req, DBusMessage **ret_reply) {
        redeem_job *j = req->job;
        link_info info;
        int r;

        if (j->hashed < 0)
                return j->hashed;
        r = onetime_redeem(&req->op, j->token, j->hash, &info);
        if (r == -ETIME)
                return commit_and_refuse(req, r);
        return r;
}

static void redeem_job_done(void *userdata) {
        redeem_job *j = userdata;

        j->request->job = j;
        bus_request_resume(j->request, true, redeem_with_hash);
        sodium_memzero(j, sizeof(*j));
        free(j);
}

static int method_redeem_link(bus_request *req, DBusMessage **ret_reply) {
        const char *token, *password, *reason;
        redeem_job *j;
        link_info info;
        int r;

        if (!dbus_message_get_args(req->message, NULL, DBUS_TYPE_STRING, &token, DBUS_TYPE_STRING, &password,
                                   DBUS_TYPE_INVALID))
                return -EINVAL;
        /* Refuse a bad password or an unusable link before spending a hash. */
        r = limit_caller(req);
        if (r >= 0 && validate_password(password, &reason) < 0)
                r = nx_error_set(&req->error, -EINVAL, "%s", reason);
        if (r >= 0) {
                r = onetime_check(&req->op, token, &info);
                if (r == -ENOENT || r == -ETIME)
                        r = commit_and_refuse(req, r);
                else if (r >= 0 && info.purpose == LINK_VERIFY_EMAIL)
                        r = nx_error_set(&req->error, -EINVAL,
                                         "this link verifies an email address: use 'nexalixctl verify-email'");
        }
        if (r < 0) {
                wipe(token);
                wipe(password);
                return r;
        }
        j = calloc(1, sizeof(*j));
        if (!j) {
                wipe(token);
                wipe(password);
                return -ENOMEM;
        }
        *j = (redeem_job) { .request = req, .password = password };
        /* onetime_check() accepted it: LINK_TOKEN_CHARS long. */
        snprintf(j->token, sizeof(j->token), "%s", token);
        wipe(token);
        r = worker_pool_submit(req->services->workers, redeem_job_work, redeem_job_done, j);
        if (r < 0) {
                wipe(password);
                sodium_memzero(j, sizeof(*j));
                free(j);
                return r;
        }
        return BUS_ASYNC;
}

/* A reset ends every session of the user once committed. */
static int redeemed(bus_request *req, DBusMessage *reply) {
        if (req->op.terminate.uid != 0)
                (void) bus_terminate(req);
        return 0;
}

/* ---- Admin ---- */

static int with_username(bus_request *req, int (*action)(op *o, const char *username)) {
        const char *username;

        if (!dbus_message_get_args(req->message, NULL, DBUS_TYPE_STRING, &username, DBUS_TYPE_INVALID))
                return -EINVAL;
        return action(&req->op, username);
}

static int method_invite_again(bus_request *req, DBusMessage **ret_reply) {
        return with_username(req, onetime_invite_again);
}

static int method_reset_password(bus_request *req, DBusMessage **ret_reply) {
        return with_username(req, onetime_start_reset);
}

/* ---- Account ---- */

static int method_change_email(bus_request *req, DBusMessage **ret_reply) {
        const char *email;
        int r;

        if (!dbus_message_get_args(req->message, NULL, DBUS_TYPE_STRING, &email, DBUS_TYPE_INVALID))
                return -EINVAL;
        r = onetime_change_email(&req->op, email);
        return r == -EAGAIN ? commit_and_refuse(req, r) : r;
}

static int method_resend_verification(bus_request *req, DBusMessage **ret_reply) {
        int r = onetime_resend_verification(&req->op);
        return r == -EAGAIN ? commit_and_refuse(req, r) : r;
}

/* ---- API tokens ---- */

static int own_name(bus_request *req, const char **ret) {
        if (!req->op.caller.known)
                return nx_error_set(&req->error, -ENOENT, "uid %u has no Nexalix account", req->uid);
        *ret = req->op.caller.name;
        return 0;
}

static int method_create_token(bus_request *req, DBusMessage **ret_reply) {
        char token[API_TOKEN_CHARS + 1];
        const char *name, *username = NULL, *t = token;
        dbus_uint64_t expires_at;
        int r;

        if (!dbus_message_get_args(req->message, NULL, DBUS_TYPE_STRING, &name, DBUS_TYPE_UINT64, &expires_at,
                                   DBUS_TYPE_INVALID))
                return -EINVAL;
        r = own_name(req, &username);
        if (r >= 0)
                r = api_token_create(&req->op, username, name, expires_at, token);
        if (r < 0)
                return r;
        *ret_reply = dbus_message_new_method_return(req->message);
        if (!*ret_reply || bus_reply_append(*ret_reply, DBUS_TYPE_STRING, &t, DBUS_TYPE_INVALID) < 0)
                r = -ENOMEM;
        sodium_memzero(token, sizeof(token));
        return r;
}

static int append_token(const api_token *tok, void *userdata) {
        DBusMessageIter *array = userdata, d;

        if (bus_dict_open(array, &d) < 0 ||
            bus_dict_add_string(&d, "name", tok->name) < 0 ||
            bus_dict_add_uint64(&d, "created_at", tok->created_at) < 0 ||
            bus_dict_add_uint64(&d, "last_used_at", tok->last_used_at) < 0 ||
            bus_dict_add_uint64(&d, "expires_at", tok->expires_at) < 0 ||
            bus_dict_close(array, &d) < 0)
                return -ENOMEM;
        return 0;
}

typedef struct token_list {
        bus_request *req;
        const char *username;
} token_list;

static int fill_tokens(DBusMessageIter *array, void *userdata) {
        token_list *l = userdata;
        return api_token_foreach(l->req->op.txn, l->username, append_token, array);
}

static int method_list_tokens(bus_request *req, DBusMessage **ret_reply) {
        const char *username = NULL;
        int r = own_name(req, &username);
        return r < 0 ? r : bus_reply_build(req, "a{sv}", fill_tokens, &(token_list) { req, username }, ret_reply);
}

static int method_revoke_token(bus_request *req, DBusMessage **ret_reply) {
        const char *name, *username = NULL;
        int r;

        if (!dbus_message_get_args(req->message, NULL, DBUS_TYPE_STRING, &name, DBUS_TYPE_INVALID))
                return -EINVAL;
        r = own_name(req, &username);
        return r < 0 ? r : api_token_revoke(&req->op, username, name);
}

static int method_list_user_tokens(bus_request *req, DBusMessage **ret_reply) {
        _cleanup_(user_done) user u = {};
        const char *username;
        int r;

        if (!dbus_message_get_args(req->message, NULL, DBUS_TYPE_STRING, &username, DBUS_TYPE_INVALID))
                return -EINVAL;
        r = user_load_for(&req->op, username, PERM_MANAGE_USERS, &u);
        if (r < 0)
                return r;
        return bus_reply_build(req, "a{sv}", fill_tokens, &(token_list) { req, u.username }, ret_reply);
}

static int method_revoke_user_token(bus_request *req, DBusMessage **ret_reply) {
        _cleanup_(user_done) user u = {};
        const char *username, *name;
        int r;

        if (!dbus_message_get_args(req->message, NULL, DBUS_TYPE_STRING, &username, DBUS_TYPE_STRING, &name,
                                   DBUS_TYPE_INVALID))
                return -EINVAL;
        r = user_load_for(&req->op, username, PERM_MANAGE_USERS, &u);
        return r < 0 ? r : api_token_revoke(&req->op, u.username, name);
}

#define W BUS_METHOD_WRITE
const bus_method onetime_methods[] = {
        { BUS_IFACE_PUBLIC, "ForgotPassword", "s", 0, W, method_forgot_password, NULL },
        { BUS_IFACE_PUBLIC, "CheckLink", "s", 0, W, method_check_link, NULL },
        { BUS_IFACE_PUBLIC, "RedeemLink", "ss", 0, W, method_redeem_link, redeemed },
        { BUS_IFACE_PUBLIC, "VerifyEmail", "s", 0, W, method_verify_email, NULL },
        { BUS_IFACE_ADMIN, "InviteAgain", "s", PERM_MANAGE_USERS, W, method_invite_again, NULL },
        { BUS_IFACE_ADMIN, "ResetPassword", "s", PERM_MANAGE_USERS, W, method_reset_password, NULL },
        { BUS_IFACE_ADMIN, "ListUserTokens", "s", PERM_MANAGE_USERS, 0, method_list_user_tokens, NULL },
        { BUS_IFACE_ADMIN, "RevokeUserToken", "ss", PERM_MANAGE_USERS, W, method_revoke_user_token, NULL },
        { BUS_IFACE_ACCOUNT, "ChangeEmail", "s", 0, W, method_change_email, NULL },
        { BUS_IFACE_ACCOUNT, "ResendVerification", "", 0, W, method_resend_verification, NULL },
        { BUS_IFACE_ACCOUNT, "CreateToken", "st", 0, W, method_create_token, NULL },
        { BUS_IFACE_ACCOUNT, "ListTokens", "", 0, 0, method_list_tokens, NULL },
        { BUS_IFACE_ACCOUNT, "RevokeToken", "s", 0, W, method_revoke_token, NULL },
        {}
};
