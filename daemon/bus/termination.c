/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "audit.h"
#include "local-accounts.h"
#include "log.h"
#include "processes.h"
#include "session.h"
#include "termination.h"

static void logind_terminate_user(DBusConnection *bus, uint32_t uid) {
        DBusMessage *m, *reply;
        DBusError err;
        dbus_uint32_t u = uid;

        if (!bus || !dbus_bus_name_has_owner(bus, "org.freedesktop.login1", NULL))
                return;
        m = dbus_message_new_method_call("org.freedesktop.login1", "/org/freedesktop/login1",
                                         "org.freedesktop.login1.Manager", "TerminateUser");
        if (!m || !dbus_message_append_args(m, DBUS_TYPE_UINT32, &u, DBUS_TYPE_INVALID)) {
                if (m)
                        dbus_message_unref(m);
                return;
        }
        dbus_error_init(&err);
        reply = dbus_connection_send_with_reply_and_block(bus, m, 5000, &err);
        dbus_message_unref(m);
        if (reply)
                dbus_message_unref(reply);
        else if (!dbus_error_has_name(&err, "org.freedesktop.login1.NoSuchUser"))
                log_warning("logind could not terminate uid %u: %s", uid, err.message);
        dbus_error_free(&err);
}

typedef struct session_kill {
        unsigned ended;
        int error;
} session_kill;

static int kill_session(const login_session *s, void *userdata) {
        session_kill *k = userdata;
        int r = process_kill(s->pid, s->pid_start);

        if (r > 0)
                k->ended++;
        else if (r < 0 && k->error == 0)
                k->error = r;
        return 0;
}

/* The processes that opened the user's sessions (sshd's monitor, login,
 * su): ending them drops the connection or the terminal at once, whatever
 * uid they run as. */
static unsigned kill_registered_sessions(const accounts *a, const char *username) {
        session_kill k = {};
        op o;

        if (op_begin(a, 0, false, NULL, &o) < 0)
                return 0;
        (void) session_foreach(o.txn, username, kill_session, &k);
        op_abort(&o);
        if (k.error < 0)
                log_warning_errno(k.error, "Failed to end a session process of %s: %m", username);
        return k.ended;
}

unsigned bus_terminate(bus_request *req) {
        const termination *t = &req->op.terminate;
        const accounts *a = req->services->accounts;
        unsigned ended = 0, sessions;
        op o;
        int r;

        if (t->uid == 0)
                return 0;
        /* The local accounts may have changed since the caller was checked. */
        r = local_accounts_refresh(a->local);
        if (r < 0 || local_accounts_has_id(a->local, t->uid)) {
                /* A local account took this uid after Nexalix handed it out
                 * (or we cannot tell): its processes are not ours to end. */
                log_warning("Not ending processes of uid %u: %s", t->uid,
                            r < 0 ? "the local accounts cannot be read" : "a local account has it");
                r = -EPERM;
        } else {
                sessions = kill_registered_sessions(a, t->username);
                logind_terminate_user(bus_server_connection(req->server), t->uid);
                r = processes_terminate_uid(t->uid, &ended);
                ended += sessions;
                if (r < 0)
                        log_warning_errno(r, "Failed to end every process of uid %u: %m", t->uid);
        }
        log_info("%s (uid %u): %u process%s ended", t->username, t->uid, ended, ended == 1 ? "" : "es");

        /* The change is committed and answered for already; the count is a
         * record of its effect, in a transaction of its own (none when the
         * user had no process and nothing went wrong). */
        /* The sessions are over (or, where a local account took the uid,
         * never were Nexalix's): their records go in the same transaction. */
        if (op_begin(a, req->uid, true, NULL, &o) >= 0) {
                if (session_remove_all(&o, t->username) >= 0 &&
                    ((ended == 0 && r >= 0) ||
                     audit_append(&o, "user.terminate", t->org, t->username, "%u process%s ended%s", ended,
                                  ended == 1 ? "" : "es",
                                  r == -ETIMEDOUT ? ", some did not end" :
                                  r < 0 ? ", processes were left alone" : "") >= 0) &&
                    op_commit(&o) >= 0)
                        op_done(&o);
                else
                        op_abort(&o);
        }
        return ended;
}
