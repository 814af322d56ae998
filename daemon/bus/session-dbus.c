/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Bus glue for login sessions: an administrator lists a user's, a user their
 * own (Account.ListSessions). Only sessions whose process still runs are
 * shown; the login socket reaps the others. */

#include "bus.h"
#include "processes.h"
#include "role.h"
#include "session.h"
#include "user.h"

static int append_session(const login_session *s, void *userdata) {
        DBusMessageIter *array = userdata, d;

        if (!process_alive(s->pid, s->pid_start))
                return 0;
        if (bus_dict_open(array, &d) < 0 ||
            bus_dict_add_string(&d, "id", s->id) < 0 ||
            bus_dict_add_string(&d, "username", s->username) < 0 ||
            bus_dict_add_uint32(&d, "pid", s->pid) < 0 ||
            bus_dict_add_string(&d, "service", s->service) < 0 ||
            bus_dict_add_string(&d, "tty", s->tty) < 0 ||
            bus_dict_add_string(&d, "rhost", s->rhost) < 0 ||
            bus_dict_add_uint64(&d, "started_at", s->started_at) < 0 ||
            bus_dict_close(array, &d) < 0)
                return -ENOMEM;
        return 0;
}

typedef struct sessions_reply {
        bus_request *req;
        const char *username;
} sessions_reply;

static int fill(DBusMessageIter *array, void *userdata) {
        sessions_reply *s = userdata;
        return session_foreach(s->req->op.txn, s->username, append_session, array);
}

static int reply_sessions(bus_request *req, const char *username, DBusMessage **ret_reply) {
        return bus_reply_build(req, "a{sv}", fill, &(sessions_reply) { req, username }, ret_reply);
}

/* Admin: the sessions of a user of the caller's organisation. */
static int method_list_user_sessions(bus_request *req, DBusMessage **ret_reply) {
        _cleanup_(user_done) user u = {};
        const char *username;
        int r;

        if (!dbus_message_get_args(req->message, NULL, DBUS_TYPE_STRING, &username, DBUS_TYPE_INVALID))
                return -EINVAL;
        r = user_load_for(&req->op, username, PERM_MANAGE_USERS, &u);
        if (r < 0)
                return r;
        return reply_sessions(req, u.username, ret_reply);
}

/* Self-service: the caller's own. */
static int method_list_sessions(bus_request *req, DBusMessage **ret_reply) {
        const caller *c = &req->op.caller;

        if (!c->known)
                return nx_error_set(&req->error, -ENOENT, "uid %u has no Nexalix account", c->uid);
        return reply_sessions(req, c->name, ret_reply);
}

const bus_method session_methods[] = {
        { BUS_IFACE_ADMIN, "ListUserSessions", "s", PERM_MANAGE_USERS, 0, method_list_user_sessions, NULL },
        { BUS_IFACE_ACCOUNT, "ListSessions", "", 0, 0, method_list_sessions, NULL },
        {}
};
