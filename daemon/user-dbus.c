/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Bus glue for users: parse the arguments, check the coarse permission, call
 * user.c, marshal. Password hashing runs on a worker thread. */

#include "bus-util.h"
#include "config.h"
#include "local-accounts.h"
#include "log.h"
#include "manager.h"
#include "role.h"
#include "audit.h"
#include "processes.h"
#include "user.h"
#include "worker.h"

#include <limits.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>

static int user_append_dict(DBusMessageIter *it, const config *cfg, const user *u) {
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
            bus_dict_close(it, &d) < 0)
                return -ENOMEM;
        return 0;
}

typedef struct user_reply {
        manager *manager;
        const user *user;
        DBusMessageIter *array;
} user_reply;

static int fill_user(DBusMessageIter *it, void *userdata) {
        user_reply *u = userdata;
        return user_append_dict(it, &u->manager->config, u->user);
}

/* Ends a write whose answer is the changed user: the reply is built before
 * the commit, while the user's strings (which may point into the store's
 * map) are valid; r < 0 aborts instead. */
static int finish_with_user(request *req, op *o, int r, const user *u, DBusMessage **ret_reply) {
        DBusMessage *reply = NULL;

        if (r >= 0)
                r = request_build_reply(req, NULL, fill_user, &(user_reply) { req->manager, u, NULL }, &reply);
        if (r < 0) {
                request_op_abort(o);
                return r;
        }
        r = request_op_commit(req, o);
        if (r < 0) {
                dbus_message_unref(reply);
                return r;
        }
        *ret_reply = reply;
        return 0;
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
        const BusDictField fields[] = {
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

typedef struct create_job {
        request *request;
        user_input input;
        char *password;                 /* points into the request message */
        char hash[crypto_pwhash_STRBYTES];
        int hash_result;
} create_job;

static void create_job_hash(void *userdata) {
        create_job *j = userdata;

        j->hash_result = crypto_pwhash_str(j->hash, j->password, strlen(j->password),
                                           crypto_pwhash_OPSLIMIT_INTERACTIVE,
                                           crypto_pwhash_MEMLIMIT_INTERACTIVE) == 0 ? 0 : -ENOMEM;
        /* The message is ours alone now and never read again: wipe the
         * cleartext in place rather than wait for it to be freed. */
        sodium_memzero(j->password, strlen(j->password));
}

static void create_job_done(void *userdata) {
        create_job *j = userdata;
        DBusMessage *reply = NULL;
        nx_error e = {};
        user u = {};
        op o;
        int r = j->hash_result;

        if (r >= 0)
                r = request_op_begin(j->request, true, &o, &e);
        if (r >= 0)
                r = finish_with_user(j->request, &o, user_create(&o, &j->input.spec, j->hash, &u), &u, &reply);
        if (r < 0 && !e.error && r != -ENOMEM)
                log_error_errno(r, "CreateUser failed: %m");
        sodium_memzero(j->hash, sizeof(j->hash));
        user_input_done(&j->input);
        request_finish(j->request, reply, &e, r);
        free(j);
}

static int create_user_start(request *req, user_input *in, char *password, DBusMessage **ret_reply,
                             nx_error *e);

static int method_create_user(request *req, DBusMessage **ret_reply, nx_error *e) {
        _cleanup_(user_input_done) user_input in = {};
        DBusMessageIter it;
        const char *password;
        int r;

        /* The password first, so that it is wiped on every refusal below.
         * The signature (a{sv}s) was checked by the dispatcher. */
        dbus_message_iter_init(req->message, &it);
        dbus_message_iter_next(&it);
        dbus_message_iter_get_basic(&it, &password);

        /* Who asks comes before what they ask: a caller who may not manage
         * users makes the daemon read nothing of the request. */
        r = request_check_permission(req, PERM_MANAGE_USERS, e);
        if (r >= 0) {
                dbus_message_iter_init(req->message, &it);
                r = read_user_input(&it, &in, e);
        }
        if (r >= 0)
                r = create_user_start(req, &in, (char *) password, ret_reply, e);
        if (r != REQUEST_ASYNC)
                /* Refused before the hashing job took the password over. */
                sodium_memzero((char *) password, strlen(password));
        return r;
}

static int create_user_start(request *req, user_input *in, char *password, DBusMessage **ret_reply,
                             nx_error *e) {
        create_job *j;
        user u = {};
        op o;
        int r;

        r = request_op_begin(req, !!in->invite, &o, e);
        if (r < 0)
                return r;
        if (!caller_may_any(&o.caller, PERM_MANAGE_USERS)) {
                request_op_abort(&o);
                return nx_error_set(e, -EACCES, "permission denied: you may not manage users");
        }

        if (in->invite) {
                if (!isempty(password)) {
                        request_op_abort(&o);
                        return nx_error_set(e, -EINVAL, "an invitation takes no password");
                }
                return finish_with_user(req, &o, user_create(&o, &in->spec, NULL, &u), &u, ret_reply);
        }

        /* Refuse bad input before spending 100 ms and 64 MiB on a hash. */
        r = user_check_new(&o, &in->spec);
        if (r >= 0) {
                const char *reason;
                if (validate_password(password, &reason) < 0)
                        r = nx_error_set(e, -EINVAL, "%s", reason);
        }
        request_op_abort(&o);
        if (r < 0)
                return r;

        j = calloc(1, sizeof(*j));
        if (!j)
                return -ENOMEM;
        j->request = request_ref(req);
        if (!j->request) {
                free(j);
                return -ENOMEM;
        }
        j->input = *in;
        *in = (user_input) {};          /* the job owns the roles now */
        j->password = password;
        r = worker_pool_submit(req->manager->workers, create_job_hash, create_job_done, j);
        if (r < 0) {
                sodium_memzero(password, strlen(password));
                request_finish(j->request, NULL, NULL, r);
                user_input_done(&j->input);
                free(j);
        }
        return REQUEST_ASYNC;
}

/* ---- ImportUsers ---- */

static int method_import_users(request *req, DBusMessage **ret_reply, nx_error *e) {
        DBusMessageIter it, array;
        const char *org;
        dbus_uint32_t created = 0;
        op o;
        int r;

        dbus_message_iter_init(req->message, &it);
        dbus_message_iter_get_basic(&it, &org);
        dbus_message_iter_next(&it);
        dbus_message_iter_recurse(&it, &array);

        r = request_op_begin(req, true, &o, e);
        if (r < 0)
                return r;
        if (!caller_may_any(&o.caller, PERM_MANAGE_USERS)) {
                request_op_abort(&o);
                return nx_error_set(e, -EACCES, "permission denied: you may not manage users");
        }

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
                        o.error = &row;
                        r = user_create(&o, &in.spec, NULL, NULL);
                        o.error = e;
                }
                if (r < 0) {
                        request_op_abort(&o);
                        if (row.error)
                                return nx_error_set(e, row.error, "user %u (%s): %s — nothing was imported",
                                                    created + 1, strempty(in.spec.username), row.message);
                        return r;
                }
                created++;
        }

        r = request_op_commit(req, &o);
        if (r < 0)
                return r;
        *ret_reply = request_new_reply(req);
        if (!*ret_reply)
                return -ENOMEM;
        if (!dbus_message_append_args(*ret_reply, DBUS_TYPE_UINT32, &created, DBUS_TYPE_INVALID)) {
                dbus_message_unref(*ret_reply);
                *ret_reply = NULL;
                return -ENOMEM;
        }
        return 0;
}

/* ---- reading ---- */

static int append_listed_user(const user *u, void *userdata) {
        user_reply *l = userdata;
        return user_append_dict(l->array, &l->manager->config, u);
}

typedef struct list_reply {
        op *op;
        user_filter filter;
        uint32_t total;
} list_reply;

static int fill_user_list(DBusMessageIter *array, void *userdata) {
        list_reply *l = userdata;
        user_reply walk = { l->op->manager, NULL, array };
        return user_list(l->op, &l->filter, append_listed_user, &walk, &l->total);
}

static int method_list_users(request *req, DBusMessage **ret_reply, nx_error *e) {
        const char *org = NULL, *department = NULL, *state = NULL, *search = NULL, *bad = NULL;
        list_reply l = { .filter = { .limit = 100, .state = -1 } };
        const BusDictField fields[] = {
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
        op o;
        int r;

        dbus_message_iter_init(req->message, &it);
        if (bus_dict_read(&it, fields, true, &bad) < 0)
                return nx_error_set(e, -EINVAL, "unknown or mistyped filter '%s'", strempty(bad));
        if (!isempty(state)) {
                l.filter.state = user_state_from_string(state);
                if (l.filter.state < 0)
                        return nx_error_set(e, -EINVAL, "state must be one of invited, active, deactivated");
        }
        l.filter.org = isempty(org) ? NULL : org;
        l.filter.department = isempty(department) ? NULL : department;
        l.filter.search = search;

        r = request_op_begin(req, false, &o, e);
        if (r < 0)
                return r;
        l.op = &o;
        if (!caller_may_any(&o.caller, PERM_MANAGE_USERS))
                r = nx_error_set(e, -EACCES, "permission denied: you may not manage users");
        else
                r = request_build_reply(req, "a{sv}", fill_user_list, &l, ret_reply);
        request_op_abort(&o);
        if (r < 0)
                return r;
        total = l.total;
        if (!dbus_message_append_args(*ret_reply, DBUS_TYPE_UINT32, &total, DBUS_TYPE_INVALID)) {
                dbus_message_unref(*ret_reply);
                *ret_reply = NULL;
                return -ENOMEM;
        }
        return 0;
}

static int method_get_user(request *req, DBusMessage **ret_reply, nx_error *e) {
        _cleanup_(user_done) user u = {};
        const char *username;
        op o;
        int r;

        if (!dbus_message_get_args(req->message, NULL, DBUS_TYPE_STRING, &username, DBUS_TYPE_INVALID))
                return -EINVAL;
        r = request_op_begin(req, false, &o, e);
        if (r < 0)
                return r;
        r = user_load_for(&o, username, PERM_MANAGE_USERS, &u);
        if (r >= 0)
                r = request_build_reply(req, NULL, fill_user, &(user_reply) { req->manager, &u, NULL }, ret_reply);
        request_op_abort(&o);
        return r;
}

/* ---- changing ---- */

static int method_update_user(request *req, DBusMessage **ret_reply, nx_error *e) {
        _cleanup_(user_done) user u = {};
        user_changes c = {};
        const char *username, *bad = NULL;
        const BusDictField fields[] = {
                { "first_name", 's', &c.first_name, NULL, 0 },
                { "last_name", 's', &c.last_name, NULL, 0 },
                { "email", 's', &c.email, NULL, 0 },
                { "language", 's', &c.language, NULL, 0 },
                { "department", 's', &c.department, NULL, 0 },
                {}
        };
        DBusMessageIter it;
        op o;
        int r;

        dbus_message_iter_init(req->message, &it);
        dbus_message_iter_get_basic(&it, &username);
        dbus_message_iter_next(&it);
        if (bus_dict_read(&it, fields, true, &bad) < 0)
                return nx_error_set(e, -EINVAL, "unknown or mistyped user field '%s'", strempty(bad));

        r = request_op_begin(req, true, &o, e);
        if (r < 0)
                return r;
        return finish_with_user(req, &o, user_update(&o, username, &c, &u), &u, ret_reply);
}

static int method_role_change(request *req, DBusMessage **ret_reply, nx_error *e, bool add) {
        const char *username, *role_name;
        op o;
        int r;

        if (!dbus_message_get_args(req->message, NULL, DBUS_TYPE_STRING, &username, DBUS_TYPE_STRING, &role_name,
                                   DBUS_TYPE_INVALID))
                return -EINVAL;
        r = request_op_begin(req, true, &o, e);
        if (r < 0)
                return r;
        r = add ? user_role_add(&o, username, role_name) : user_role_remove(&o, username, role_name);
        return request_finish_write(req, &o, r, ret_reply);
}

static int method_add_user_role(request *req, DBusMessage **ret_reply, nx_error *e) {
        return method_role_change(req, ret_reply, e, true);
}

static int method_remove_user_role(request *req, DBusMessage **ret_reply, nx_error *e) {
        return method_role_change(req, ret_reply, e, false);
}

/* After a committed deactivation or deletion: ends every process of the user
 * and records how many ended, in the audit log and (with count_in_reply) in
 * the reply. */
static int end_processes(request *req, const char *username, const char *org, uint32_t uid,
                         DBusMessage **reply) {
        unsigned ended = 0;
        dbus_uint32_t n;
        op o;
        int r;

        /* The local accounts may have changed since the caller was checked. */
        r = local_accounts_refresh(req->manager->local);
        if (r < 0 || local_accounts_has_id(req->manager->local, uid)) {
                /* A local account took this uid after Nexalix handed it out
                 * (or we cannot tell): its processes are not ours to end. */
                log_warning("Not ending processes of uid %u: %s", uid,
                            r < 0 ? "the local accounts cannot be read" : "a local account has it");
                r = -EPERM;
        } else {
                r = processes_terminate_uid(req->manager->bus, uid, &ended);
                if (r < 0)
                        log_warning_errno(r, "Failed to end every process of uid %u: %m", uid);
        }
        log_info("%s (uid %u): %u process%s ended", username, uid, ended, ended == 1 ? "" : "es");

        /* The change is committed and answered for already; the count is a
         * record of its effect, in a transaction of its own (none when the
         * user had no process and nothing went wrong). */
        if ((ended > 0 || r < 0) && request_op_begin(req, true, &o, NULL) >= 0) {
                if (audit_append(&o, "user.terminate", org, username, "%u process%s ended%s", ended,
                                 ended == 1 ? "" : "es",
                                 r == -ETIMEDOUT ? ", some did not end" :
                                 r < 0 ? ", processes were left alone" : "") >= 0)
                        (void) request_op_commit(req, &o);
                else
                        request_op_abort(&o);
        }

        if (!reply)
                return 0;
        n = ended;
        if (!dbus_message_append_args(*reply, DBUS_TYPE_UINT32, &n, DBUS_TYPE_INVALID)) {
                dbus_message_unref(*reply);
                *reply = NULL;
                return -ENOMEM;
        }
        return 0;
}

/* Deactivation and deletion: commit first, so that a session starting now
 * is already refused, then end every running one. */
static int method_end_user(request *req, DBusMessage **ret_reply, nx_error *e,
                           int (*action)(op *o, const char *username, uint32_t *ret_uid, char ret_org[static ORG_NAME_MAX + 1]),
                           bool count_in_reply) {
        char org[ORG_NAME_MAX + 1] = "";
        const char *username;
        uint32_t uid = 0;
        op o;
        int r;

        if (!dbus_message_get_args(req->message, NULL, DBUS_TYPE_STRING, &username, DBUS_TYPE_INVALID))
                return -EINVAL;
        r = request_op_begin(req, true, &o, e);
        if (r < 0)
                return r;
        r = request_finish_write(req, &o, action(&o, username, &uid, org), ret_reply);
        if (r < 0)
                return r;
        return end_processes(req, username, org, uid, count_in_reply ? ret_reply : NULL);
}

static int method_deactivate_user(request *req, DBusMessage **ret_reply, nx_error *e) {
        return method_end_user(req, ret_reply, e, user_deactivate, true);
}

static int method_delete_user(request *req, DBusMessage **ret_reply, nx_error *e) {
        return method_end_user(req, ret_reply, e, user_delete, false);
}

static int method_activate_user(request *req, DBusMessage **ret_reply, nx_error *e) {
        const char *username;
        op o;
        int r;

        if (!dbus_message_get_args(req->message, NULL, DBUS_TYPE_STRING, &username, DBUS_TYPE_INVALID))
                return -EINVAL;
        r = request_op_begin(req, true, &o, e);
        if (r < 0)
                return r;
        return request_finish_write(req, &o, user_activate(&o, username), ret_reply);
}

const bus_method user_methods[] = {
        { BUS_IFACE_ADMIN, "CreateUser", "a{sv}s", method_create_user },
        { BUS_IFACE_ADMIN, "ImportUsers", "saa{sv}", method_import_users },
        { BUS_IFACE_ADMIN, "ListUsers", "a{sv}", method_list_users },
        { BUS_IFACE_ADMIN, "GetUser", "s", method_get_user },
        { BUS_IFACE_ADMIN, "UpdateUser", "sa{sv}", method_update_user },
        { BUS_IFACE_ADMIN, "AddUserRole", "ss", method_add_user_role },
        { BUS_IFACE_ADMIN, "RemoveUserRole", "ss", method_remove_user_role },
        { BUS_IFACE_ADMIN, "DeactivateUser", "s", method_deactivate_user },
        { BUS_IFACE_ADMIN, "ActivateUser", "s", method_activate_user },
        { BUS_IFACE_ADMIN, "DeleteUser", "s", method_delete_user },
        {}
};
