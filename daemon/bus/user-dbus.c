/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Bus glue for users: parse the arguments, call user.c, marshal. Password
 * hashing runs on a worker thread. */

#include "backoff.h"
#include "bus.h"
#include "log.h"
#include "password.h"
#include "role.h"
#include "termination.h"
#include "totp.h"
#include "user.h"
#include "worker.h"

#include <limits.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>

int bus_append_user(DBusMessageIter *it, const config *cfg, const user *u, const backoff *b) {
        char home[PATH_MAX];
        DBusMessageIter d;

        if (config_home_for(cfg, u->username, home, sizeof(home)) < 0 ||
            bus_dict_open(it, &d) < 0 ||
            bus_dict_add_string(&d, "username", u->username) < 0 ||
            bus_dict_add_uint32(&d, "uid", u->uid) < 0 ||
            bus_dict_add_uint32(&d, "gid", u->uid) < 0 ||
            bus_dict_add_string(&d, "org", u->org) < 0 ||
            bus_dict_add_string(&d, "department", u->department) < 0 ||
            bus_dict_add_string(&d, "first_name", u->first_name) < 0 ||
            bus_dict_add_string(&d, "last_name", u->last_name) < 0 ||
            bus_dict_add_string(&d, "email", u->email) < 0 ||
            bus_dict_add_bool(&d, "email_verified", u->email_verified) < 0 ||
            bus_dict_add_string(&d, "language", u->language) < 0 ||
            bus_dict_add_strv(&d, "roles", (char *const *) u->roles) < 0 ||
            bus_dict_add_string(&d, "state", user_state_to_string(u->state)) < 0 ||
            bus_dict_add_bool(&d, "totp_enabled", u->totp_enabled) < 0 ||
            bus_dict_add_uint64(&d, "created_at", u->created_at) < 0 ||
            bus_dict_add_uint64(&d, "updated_at", u->updated_at) < 0 ||
            bus_dict_add_string(&d, "home", home) < 0 ||
            bus_dict_add_string(&d, "shell", cfg->shell) < 0 ||
            (b && (bus_dict_add_uint32(&d, "failed_logins", b->failures) < 0 ||
                   bus_dict_add_uint64(&d, "backed_off_until", b->until) < 0)) ||
            bus_dict_close(it, &d) < 0)
                return -ENOMEM;
        return 0;
}

typedef struct user_reply {
        const config *config;
        const user *user;
        const backoff *backoff;
        DBusMessageIter *array;
} user_reply;

static int fill_user(DBusMessageIter *it, void *userdata) {
        user_reply *u = userdata;
        return bus_append_user(it, u->config, u->user, u->backoff);
}

/* A reply carrying u, built before the commit while u's strings (which may
 * point into the store's map) are valid. */
static int reply_with_user(bus_request *req, int r, const user *u, DBusMessage **ret_reply) {
        if (r < 0)
                return r;
        return bus_reply_build(req, NULL, fill_user,
                               &(user_reply) { req->services->accounts->config, u, NULL, NULL }, ret_reply);
}

/* ---- CreateUser ---- */

/* The user-supplied fields of a new user, read from an a{sv}. Strings point
 * into the message; roles is allocated. */
typedef struct user_input {
        user_spec spec;
        bool invite;
} user_input;

static void user_input_done(user_input *in) {
        strv_free(in->spec.roles);
        in->spec.roles = NULL;
}

static int read_user_input(DBusMessageIter *it, user_input *in, nx_error *e) {
        const char *bad = NULL;
        const bus_dict_field fields[] = {
                { "username", 's', &in->spec.username, NULL, 0 },
                { "org", 's', &in->spec.org, NULL, 0 },
                { "first_name", 's', &in->spec.first_name, NULL, 0 },
                { "last_name", 's', &in->spec.last_name, NULL, 0 },
                { "email", 's', &in->spec.email, NULL, 0 },
                { "language", 's', &in->spec.language, NULL, 0 },
                { "department", 's', &in->spec.department, NULL, 0 },
                /* No more roles than exist: a longer list is refused while
                 * it is read, before it costs anything. */
                { "roles", 'a', &in->spec.roles, NULL, ROLE_COUNT },
                { "invite", 'b', &in->invite, NULL, 0 },
                {}
        };
        int r;

        r = bus_dict_read(it, fields, true, &bad);
        if (r == -E2BIG)
                return nx_error_set(e, -EINVAL, "a user can have at most %d roles", ROLE_COUNT);
        if (r == -EINVAL)
                return nx_error_set(e, -EINVAL, "unknown or mistyped user field '%s'", strempty(bad));
        if (r < 0)
                return r;
        if (!in->spec.language)
                in->spec.language = "en";
        return 0;
}

/* A password to hash off the main loop (argon2id costs ~100 ms and 64 MiB by
 * design), and the request to resume with the hash. */
typedef struct create_job {
        bus_request *request;
        user_input input;
        char *password;                 /* points into the request message */
        char hash[PASSWORD_HASH_MAX];
        int hash_result;
} create_job;

static void create_job_hash(void *userdata) {
        create_job *j = userdata;

        j->hash_result = password_hash(j->password, j->hash);
        /* The message is ours alone now and never read again: wipe the
         * cleartext in place rather than wait for it to be freed. */
        sodium_memzero(j->password, strlen(j->password));
}

static int create_with_hash(bus_request *req, DBusMessage **ret_reply) {
        create_job *j = req->job;
        user u = {};

        return reply_with_user(req, user_create(&req->op, &j->input.spec, j->hash, &u), &u, ret_reply);
}

static void create_job_done(void *userdata) {
        create_job *j = userdata;

        if (j->hash_result < 0)
                bus_request_fail(j->request, j->hash_result);
        else {
                j->request->job = j;
                bus_request_resume(j->request, true, create_with_hash);
        }
        sodium_memzero(j->hash, sizeof(j->hash));
        user_input_done(&j->input);
        free(j);
}

static int method_create_user(bus_request *req, DBusMessage **ret_reply) {
        _cleanup_(user_input_done) user_input in = {};
        DBusMessageIter it;
        const char *reason;
        char *password;
        create_job *j;
        user u = {};
        int r;

        /* The password first, so that it is wiped on every refusal below.
         * The signature (a{sv}s) was checked by the dispatcher. */
        dbus_message_iter_init(req->message, &it);
        dbus_message_iter_next(&it);
        dbus_message_iter_get_basic(&it, &password);

        dbus_message_iter_init(req->message, &it);
        r = read_user_input(&it, &in, &req->error);
        if (r < 0)
                goto refuse;
        if (in.invite) {
                if (!isempty(password)) {
                        r = nx_error_set(&req->error, -EINVAL, "an invitation takes no password");
                        goto refuse;
                }
                return reply_with_user(req, user_create(&req->op, &in.spec, NULL, &u), &u, ret_reply);
        }

        /* Refuse bad input before spending 100 ms and 64 MiB on a hash. */
        r = user_check_new(&req->op, &in.spec);
        if (r >= 0 && validate_password(password, &reason) < 0)
                r = nx_error_set(&req->error, -EINVAL, "%s", reason);
        if (r < 0)
                goto refuse;

        j = calloc(1, sizeof(*j));
        if (!j) {
                r = -ENOMEM;
                goto refuse;
        }
        j->request = req;
        j->input = in;
        in = (user_input) {};           /* the job owns the roles now */
        j->password = password;
        r = worker_pool_submit(req->services->workers, create_job_hash, create_job_done, j);
        if (r < 0) {
                user_input_done(&j->input);
                free(j);
                goto refuse;
        }
        return BUS_ASYNC;

refuse:
        sodium_memzero(password, strlen(password));
        return r;
}

/* ---- ImportUsers ---- */

static int method_import_users(bus_request *req, DBusMessage **ret_reply) {
        DBusMessageIter it, array;
        const char *org;
        dbus_uint32_t created = 0;
        op *o = &req->op;
        int r;

        dbus_message_iter_init(req->message, &it);
        dbus_message_iter_get_basic(&it, &org);
        dbus_message_iter_next(&it);
        dbus_message_iter_recurse(&it, &array);

        /* One transaction for the whole batch: all users or none. */
        for (; dbus_message_iter_get_arg_type(&array) == DBUS_TYPE_ARRAY; dbus_message_iter_next(&array)) {
                _cleanup_(user_input_done) user_input in = {};
                nx_error row = {};

                r = read_user_input(&array, &in, &row);
                if (r >= 0 && in.invite)
                        r = nx_error_set(&row, -EINVAL, "imported users are always invited");
                if (r >= 0) {
                        if (!in.spec.org)
                                in.spec.org = org;
                        o->error = &row;
                        r = user_create(o, &in.spec, NULL, NULL);
                        o->error = &req->error;
                }
                if (r < 0) {
                        if (row.error)
                                return nx_error_set(&req->error, row.error, "user %u (%s): %s — nothing was imported",
                                                    created + 1, strempty(in.spec.username), row.message);
                        return r;
                }
                created++;
        }

        *ret_reply = dbus_message_new_method_return(req->message);
        if (!*ret_reply || bus_reply_append(*ret_reply, DBUS_TYPE_UINT32, &created, DBUS_TYPE_INVALID) < 0)
                return -ENOMEM;
        return 0;
}

/* ---- reading ---- */

static int append_listed_user(const user *u, void *userdata) {
        user_reply *l = userdata;
        return bus_append_user(l->array, l->config, u, NULL);
}

typedef struct list_reply {
        bus_request *req;
        user_filter filter;
        uint32_t total;
} list_reply;

static int fill_user_list(DBusMessageIter *array, void *userdata) {
        list_reply *l = userdata;
        user_reply walk = { l->req->services->accounts->config, NULL, NULL, array };
        return user_list(&l->req->op, &l->filter, append_listed_user, &walk, &l->total);
}

static int method_list_users(bus_request *req, DBusMessage **ret_reply) {
        const char *org = NULL, *department = NULL, *state = NULL, *search = NULL, *bad = NULL;
        list_reply l = { .req = req, .filter = { .limit = 100, .state = -1 } };
        const bus_dict_field fields[] = {
                { "org", 's', &org, NULL, 0 },
                { "department", 's', &department, NULL, 0 },
                { "state", 's', &state, NULL, 0 },
                { "search", 's', &search, NULL, 0 },
                { "limit", 'u', &l.filter.limit, NULL, 0 },
                { "offset", 'u', &l.filter.offset, NULL, 0 },
                {}
        };
        DBusMessageIter it;
        dbus_uint32_t total;
        int r;

        dbus_message_iter_init(req->message, &it);
        if (bus_dict_read(&it, fields, true, &bad) < 0)
                return nx_error_set(&req->error, -EINVAL, "unknown or mistyped filter '%s'", strempty(bad));
        if (!isempty(state)) {
                l.filter.state = user_state_from_string(state);
                if (l.filter.state < 0)
                        return nx_error_set(&req->error, -EINVAL, "state must be one of invited, active, deactivated");
        }
        l.filter.org = isempty(org) ? NULL : org;
        l.filter.department = isempty(department) ? NULL : department;
        l.filter.search = search;

        r = bus_reply_build(req, "a{sv}", fill_user_list, &l, ret_reply);
        if (r < 0)
                return r;
        total = l.total;
        return bus_reply_append(*ret_reply, DBUS_TYPE_UINT32, &total, DBUS_TYPE_INVALID);
}

/* One user, with the failed-login counter and back-off an administrator
 * needs to see (the list leaves them out: they cost a lookup each). */
static int method_get_user(bus_request *req, DBusMessage **ret_reply) {
        _cleanup_(user_done) user u = {};
        const char *username;
        backoff b;
        int r;

        if (!dbus_message_get_args(req->message, NULL, DBUS_TYPE_STRING, &username, DBUS_TYPE_INVALID))
                return -EINVAL;
        r = user_load_for(&req->op, username, PERM_MANAGE_USERS, &u);
        if (r >= 0)
                r = backoff_get(req->op.txn, req->op.now, u.username, &b);
        if (r < 0)
                return r;
        return bus_reply_build(req, NULL, fill_user, &(user_reply) { req->services->accounts->config, &u, &b, NULL },
                               ret_reply);
}

/* ---- changing ---- */

static int method_update_user(bus_request *req, DBusMessage **ret_reply) {
        _cleanup_(user_done) user u = {};
        user_changes c = {};
        const char *username, *bad = NULL;
        const bus_dict_field fields[] = {
                { "first_name", 's', &c.first_name, NULL, 0 },
                { "last_name", 's', &c.last_name, NULL, 0 },
                { "email", 's', &c.email, NULL, 0 },
                { "language", 's', &c.language, NULL, 0 },
                { "department", 's', &c.department, NULL, 0 },
                {}
        };
        DBusMessageIter it;

        dbus_message_iter_init(req->message, &it);
        dbus_message_iter_get_basic(&it, &username);
        dbus_message_iter_next(&it);
        if (bus_dict_read(&it, fields, true, &bad) < 0)
                return nx_error_set(&req->error, -EINVAL, "unknown or mistyped user field '%s'", strempty(bad));
        return reply_with_user(req, user_update(&req->op, username, &c, &u), &u, ret_reply);
}

static int method_role_change(bus_request *req, bool add) {
        const char *username, *role_name;

        if (!dbus_message_get_args(req->message, NULL, DBUS_TYPE_STRING, &username, DBUS_TYPE_STRING, &role_name,
                                   DBUS_TYPE_INVALID))
                return -EINVAL;
        return add ? user_role_add(&req->op, username, role_name) : user_role_remove(&req->op, username, role_name);
}

static int method_add_user_role(bus_request *req, DBusMessage **ret_reply) {
        return method_role_change(req, true);
}

static int method_remove_user_role(bus_request *req, DBusMessage **ret_reply) {
        return method_role_change(req, false);
}

/* The methods that take a username and return nothing of their own. */
static int with_username(bus_request *req, int (*action)(op *o, const char *username)) {
        const char *username;

        if (!dbus_message_get_args(req->message, NULL, DBUS_TYPE_STRING, &username, DBUS_TYPE_INVALID))
                return -EINVAL;
        return action(&req->op, username);
}

static int method_deactivate_user(bus_request *req, DBusMessage **ret_reply) {
        return with_username(req, user_deactivate);
}

static int method_activate_user(bus_request *req, DBusMessage **ret_reply) {
        return with_username(req, user_activate);
}

static int method_delete_user(bus_request *req, DBusMessage **ret_reply) {
        return with_username(req, user_delete);
}

/* Forgets the failed logins; replies how many there were. */
static int method_unlock_user(bus_request *req, DBusMessage **ret_reply) {
        const char *username;
        dbus_uint32_t failures;
        backoff before;
        int r;

        if (!dbus_message_get_args(req->message, NULL, DBUS_TYPE_STRING, &username, DBUS_TYPE_INVALID))
                return -EINVAL;
        r = user_unlock(&req->op, username, &before);
        if (r < 0)
                return r;
        failures = before.failures;
        *ret_reply = dbus_message_new_method_return(req->message);
        if (!*ret_reply || bus_reply_append(*ret_reply, DBUS_TYPE_UINT32, &failures, DBUS_TYPE_INVALID) < 0)
                return -ENOMEM;
        return 0;
}

/* Clears a user's 2FA (a lost device and lost recovery codes), audited. */
static int method_reset_2fa(bus_request *req, DBusMessage **ret_reply) {
        _cleanup_(user_done) user u = {};
        const char *username;
        int r;

        if (!dbus_message_get_args(req->message, NULL, DBUS_TYPE_STRING, &username, DBUS_TYPE_INVALID))
                return -EINVAL;
        r = user_load_for(&req->op, username, PERM_MANAGE_USERS, &u);
        if (r < 0)
                return r;
        return totp_disable(&req->op, u.username, "user.2fa.reset");
}

/* Deactivation and deletion commit first, so that a session starting now is
 * already refused, then end every running one; deactivation says how many
 * processes ended. */
static int deactivated(bus_request *req, DBusMessage *reply) {
        dbus_uint32_t ended = bus_terminate(req);
        return bus_reply_append(reply, DBUS_TYPE_UINT32, &ended, DBUS_TYPE_INVALID);
}

static int deleted(bus_request *req, DBusMessage *reply) {
        (void) bus_terminate(req);
        return 0;
}

#define W BUS_METHOD_WRITE
const bus_method user_methods[] = {
        { BUS_IFACE_ADMIN, "CreateUser", "a{sv}s", PERM_MANAGE_USERS, W, method_create_user, NULL },
        { BUS_IFACE_ADMIN, "ImportUsers", "saa{sv}", PERM_MANAGE_USERS, W, method_import_users, NULL },
        { BUS_IFACE_ADMIN, "ListUsers", "a{sv}", PERM_MANAGE_USERS, 0, method_list_users, NULL },
        { BUS_IFACE_ADMIN, "GetUser", "s", PERM_MANAGE_USERS, 0, method_get_user, NULL },
        { BUS_IFACE_ADMIN, "UpdateUser", "sa{sv}", PERM_MANAGE_USERS, W, method_update_user, NULL },
        { BUS_IFACE_ADMIN, "AddUserRole", "ss", PERM_MANAGE_USERS, W, method_add_user_role, NULL },
        { BUS_IFACE_ADMIN, "RemoveUserRole", "ss", PERM_MANAGE_USERS, W, method_remove_user_role, NULL },
        { BUS_IFACE_ADMIN, "DeactivateUser", "s", PERM_MANAGE_USERS, W, method_deactivate_user, deactivated },
        { BUS_IFACE_ADMIN, "ActivateUser", "s", PERM_MANAGE_USERS, W, method_activate_user, NULL },
        { BUS_IFACE_ADMIN, "DeleteUser", "s", PERM_MANAGE_USERS, W, method_delete_user, deleted },
        { BUS_IFACE_ADMIN, "UnlockUser", "s", PERM_MANAGE_USERS, W, method_unlock_user, NULL },
        { BUS_IFACE_ADMIN, "Reset2FA", "s", PERM_MANAGE_USERS, W, method_reset_2fa, NULL },
        {}
};
