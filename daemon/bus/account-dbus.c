/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Bus glue for the self-service account (org.nexalix.Identity1.Account):
 * every method acts on the caller's own account, found by the uid the bus
 * vouches for. What needs the current password (changing it, turning 2FA
 * off, new recovery codes) checks it like a login does — on a worker,
 * counted against the back-off. */

#include "backoff.h"
#include "bus.h"
#include "org.h"
#include "password.h"
#include "totp.h"
#include "user.h"
#include "worker.h"

#include <sodium.h>
#include <string.h>

/* The caller's own account; a refusal for callers who have none. */
static int load_own(bus_request *req, user *ret) {
        const caller *c = &req->op.caller;
        int r;

        if (!c->known)
                return nx_error_set(&req->error, -ENOENT, "uid %u has no Nexalix account", c->uid);
        r = user_load_by_uid(req->op.txn, c->uid, ret);
        if (r == -ENOENT)
                return nx_error_set(&req->error, -ENOENT, "uid %u has no Nexalix account", c->uid);
        return r;
}

typedef struct account_reply {
        const config *config;
        const user *user;
        const backoff *backoff;
} account_reply;

static int fill_account(DBusMessageIter *it, void *userdata) {
        account_reply *a = userdata;
        return bus_append_user(it, a->config, a->user, a->backoff);
}

static int method_get_account(bus_request *req, DBusMessage **ret_reply) {
        _cleanup_(user_done) user u = {};
        backoff b;
        int r;

        r = load_own(req, &u);
        if (r >= 0)
                r = backoff_get(req->op.txn, req->op.now, u.username, &b);
        if (r < 0)
                return r;
        return bus_reply_build(req, NULL, fill_account, &(account_reply) { req->services->accounts->config, &u, &b },
                               ret_reply);
}

/* ---- methods that take the current password ---- */

/* ChangePassword, Disable2FA and New2FARecoveryCodes check the current
 * password on a worker — and ChangePassword hashes the new one there too —
 * then resume with `then` in a fresh operation. */
typedef struct password_job {
        bus_request *request;
        bus_method_fn then;
        char *current, *new;            /* point into the request message; new may be NULL */
        char current_hash[PASSWORD_HASH_MAX];
        char new_hash[PASSWORD_HASH_MAX];
        int verified, hashed;
} password_job;

static void password_job_work(void *userdata) {
        password_job *j = userdata;

        /* The new password is hashed only for a caller who knew the current
         * one. */
        j->verified = password_verify(j->current_hash, j->current);
        j->hashed = j->new && j->verified >= 0 ? password_hash(j->new, j->new_hash) : 0;
        /* The message is ours alone and never read again. */
        sodium_memzero(j->current, strlen(j->current));
        if (j->new)
                sodium_memzero(j->new, strlen(j->new));
}

static int too_many_failures(bus_request *req, const backoff *b) {
        return nx_error_set(&req->error, -EACCES, "too many failed attempts: try again in %llu s",
                            (unsigned long long) (b->until - req->op.now));
}

/* Back on the loop: settled as at a login — nothing while backed off (a
 * concurrent attempt may have started one), a wrong password counted, a
 * right one clears the count — then the method's own work. */
static int with_verified_password(bus_request *req, DBusMessage **ret_reply) {
        password_job *j = req->job;
        _cleanup_(user_done) user u = {};
        backoff b;
        int r;

        r = load_own(req, &u);
        if (r >= 0)
                r = backoff_get(req->op.txn, req->op.now, u.username, &b);
        if (r < 0)
                return r;
        if (b.until > req->op.now)
                return too_many_failures(req, &b);
        if (j->verified < 0) {
                r = backoff_record_failure(&req->op, u.username, &b);
                /* The count must stay although the request fails: commit
                 * it here; the dispatcher then has nothing left to abort. */
                if (r >= 0)
                        r = op_commit(&req->op);
                if (r < 0)
                        return r;
                return nx_error_set(&req->error, -EACCES, "the current password is wrong; nothing was changed");
        }
        if (j->hashed < 0)
                return j->hashed;
        r = backoff_clear(&req->op, u.username);
        if (r < 0)
                return r;
        return j->then(req, ret_reply);
}

static void password_job_done(void *userdata) {
        password_job *j = userdata;

        j->request->job = j;
        bus_request_resume(j->request, true, with_verified_password);
        sodium_memzero(j, sizeof(*j));
        free(j);
}

/* Starts the check of the current password (and the hash of new, if not
 * NULL) for req; returns BUS_ASYNC or a refusal. The passwords are wiped in
 * every case. */
static int verify_password_then(bus_request *req, char *current, char *new, bus_method_fn then) {
        _cleanup_(user_done) user u = {};
        password_job *j;
        backoff b;
        int r;

        r = load_own(req, &u);
        if (r < 0)
                goto refuse;
        if (u.state != USER_ACTIVE || isempty(u.password_hash)) {
                r = nx_error_set(&req->error, -EBUSY, "only an active account with a password can do this (state: %s)",
                                 user_state_to_string(u.state));
                goto refuse;
        }
        r = backoff_get(req->op.txn, req->op.now, u.username, &b);
        if (r < 0)
                goto refuse;
        if (b.until > req->op.now) {
                r = too_many_failures(req, &b);
                goto refuse;
        }
        j = calloc(1, sizeof(*j));
        if (!j) {
                r = -ENOMEM;
                goto refuse;
        }
        *j = (password_job) { .request = req, .then = then, .current = current, .new = new };
        snprintf(j->current_hash, sizeof(j->current_hash), "%s", u.password_hash);
        r = worker_pool_submit(req->services->workers, password_job_work, password_job_done, j);
        if (r < 0) {
                free(j);
                goto refuse;
        }
        return BUS_ASYNC;

refuse:
        sodium_memzero(current, strlen(current));
        if (new)
                sodium_memzero(new, strlen(new));
        return r;
}

/* ---- ChangePassword ---- */

static int set_new_password(bus_request *req, DBusMessage **ret_reply) {
        password_job *j = req->job;
        return user_set_password(&req->op, req->op.caller.name, j->new_hash);
}

static int method_change_password(bus_request *req, DBusMessage **ret_reply) {
        char *current, *new;
        const char *reason;

        /* The signature (ss) was checked by the dispatcher. */
        if (!dbus_message_get_args(req->message, NULL, DBUS_TYPE_STRING, &current, DBUS_TYPE_STRING, &new,
                                   DBUS_TYPE_INVALID))
                return -EINVAL;
        /* Refuse a bad new password before spending two hashes on it. */
        if (validate_password(new, &reason) < 0) {
                sodium_memzero(current, strlen(current));
                sodium_memzero(new, strlen(new));
                return nx_error_set(&req->error, -EINVAL, "%s", reason);
        }
        return verify_password_then(req, current, new, set_new_password);
}

/* ---- two-factor authentication ---- */

static int method_get_2fa_status(bus_request *req, DBusMessage **ret_reply) {
        _cleanup_(user_done) user u = {};
        DBusMessageIter it, d;
        organisation org;
        totp_status st;
        int r;

        r = load_own(req, &u);
        if (r >= 0)
                r = totp_status_get(req->op.txn, req->op.now, u.username, &st);
        if (r >= 0)
                r = org_load(req->op.txn, u.org, &org);
        if (r < 0)
                return r;
        *ret_reply = dbus_message_new_method_return(req->message);
        if (!*ret_reply)
                return -ENOMEM;
        dbus_message_iter_init_append(*ret_reply, &it);
        if (bus_dict_open(&it, &d) < 0 ||
            bus_dict_add_bool(&d, "enabled", st.enabled) < 0 ||
            bus_dict_add_uint64(&d, "enabled_at", st.enabled_at) < 0 ||
            bus_dict_add_uint32(&d, "recovery_codes_left", st.recovery_codes_left) < 0 ||
            bus_dict_add_bool(&d, "required", org.require_2fa) < 0 ||
            bus_dict_add_bool(&d, "enrolment_pending", st.pending) < 0 ||
            bus_dict_close(&it, &d) < 0)
                return -ENOMEM;
        return 0;
}

static int method_begin_2fa_enrolment(bus_request *req, DBusMessage **ret_reply) {
        char key[TOTP_KEY_MAX], uri[TOTP_URI_MAX];
        const char *k = key, *u = uri;
        _cleanup_(user_done) user own = {};
        int r;

        r = load_own(req, &own);
        if (r < 0)
                return r;
        if (own.state != USER_ACTIVE)
                return nx_error_set(&req->error, -EBUSY, "only an active account can set up two-factor authentication");
        r = totp_begin(&req->op, own.username, key, uri);
        if (r >= 0) {
                *ret_reply = dbus_message_new_method_return(req->message);
                if (!*ret_reply || bus_reply_append(*ret_reply, DBUS_TYPE_STRING, &k, DBUS_TYPE_STRING, &u,
                                                    DBUS_TYPE_INVALID) < 0)
                        r = -ENOMEM;
        }
        sodium_memzero(key, sizeof(key));
        sodium_memzero(uri, sizeof(uri));
        return r;
}

/* A reply carrying recovery codes (as), wiped from our memory after. */
static int reply_with_codes(bus_request *req, recovery_code codes[static RECOVERY_CODE_COUNT],
                            DBusMessage **ret_reply) {
        const char *v[RECOVERY_CODE_COUNT];
        const char **p = v;
        int r = 0;

        for (size_t i = 0; i < RECOVERY_CODE_COUNT; i++)
                v[i] = codes[i];
        *ret_reply = dbus_message_new_method_return(req->message);
        if (!*ret_reply || !dbus_message_append_args(*ret_reply, DBUS_TYPE_ARRAY, DBUS_TYPE_STRING, &p,
                                                     RECOVERY_CODE_COUNT, DBUS_TYPE_INVALID))
                r = -ENOMEM;
        sodium_memzero(codes, sizeof(recovery_code) * RECOVERY_CODE_COUNT);
        return r;
}

static int method_confirm_2fa_enrolment(bus_request *req, DBusMessage **ret_reply) {
        recovery_code codes[RECOVERY_CODE_COUNT];
        _cleanup_(user_done) user own = {};
        const char *code;
        int r;

        if (!dbus_message_get_args(req->message, NULL, DBUS_TYPE_STRING, &code, DBUS_TYPE_INVALID))
                return -EINVAL;
        r = load_own(req, &own);
        if (r >= 0)
                r = totp_confirm(&req->op, own.username, code, codes);
        if (r < 0)
                return r;
        return reply_with_codes(req, codes, ret_reply);
}

static int disable_2fa(bus_request *req, DBusMessage **ret_reply) {
        return totp_disable(&req->op, req->op.caller.name, "user.2fa.disable");
}

static int new_recovery_codes(bus_request *req, DBusMessage **ret_reply) {
        recovery_code codes[RECOVERY_CODE_COUNT];
        int r = totp_new_recovery_codes(&req->op, req->op.caller.name, codes);
        return r < 0 ? r : reply_with_codes(req, codes, ret_reply);
}

/* Disable2FA and New2FARecoveryCodes: the current password, then the work;
 * refused at once when 2FA is off (no password check for nothing). */
static int with_password_and_2fa(bus_request *req, bus_method_fn then) {
        _cleanup_(user_done) user own = {};
        char *password;
        int r;

        if (!dbus_message_get_args(req->message, NULL, DBUS_TYPE_STRING, &password, DBUS_TYPE_INVALID))
                return -EINVAL;
        r = load_own(req, &own);
        if (r >= 0 && !own.totp_enabled)
                r = nx_error_set(&req->error, -ENOENT, "two-factor authentication is not on");
        if (r < 0) {
                sodium_memzero(password, strlen(password));
                return r;
        }
        return verify_password_then(req, password, NULL, then);
}

static int method_disable_2fa(bus_request *req, DBusMessage **ret_reply) {
        return with_password_and_2fa(req, disable_2fa);
}

static int method_new_2fa_recovery_codes(bus_request *req, DBusMessage **ret_reply) {
        return with_password_and_2fa(req, new_recovery_codes);
}

#define W BUS_METHOD_WRITE
const bus_method account_methods[] = {
        { BUS_IFACE_ACCOUNT, "GetAccount", "", 0, 0, method_get_account, NULL },
        { BUS_IFACE_ACCOUNT, "ChangePassword", "ss", 0, W, method_change_password, NULL },
        { BUS_IFACE_ACCOUNT, "Get2FAStatus", "", 0, 0, method_get_2fa_status, NULL },
        { BUS_IFACE_ACCOUNT, "Begin2FAEnrolment", "", 0, W, method_begin_2fa_enrolment, NULL },
        { BUS_IFACE_ACCOUNT, "Confirm2FAEnrolment", "s", 0, W, method_confirm_2fa_enrolment, NULL },
        { BUS_IFACE_ACCOUNT, "Disable2FA", "s", 0, W, method_disable_2fa, NULL },
        { BUS_IFACE_ACCOUNT, "New2FARecoveryCodes", "s", 0, W, method_new_2fa_recovery_codes, NULL },
        {}
};
