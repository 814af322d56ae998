/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Bus glue for notifications (org.nexalix.Identity1.Notifications): an
 * integrated application notifies a user by mail, and a desktop agent of the
 * user can listen for the UserNotified signal. */

#include "bus.h"
#include "log.h"
#include "notification.h"
#include "role.h"

static int method_notify_user(bus_request *req, DBusMessage **ret_reply) {
        const char *username, *kind, *subject, *body, *outcome;
        notify_outcome o;
        mail_kind k;
        uint32_t uid;
        int r;

        if (!dbus_message_get_args(req->message, NULL, DBUS_TYPE_STRING, &username, DBUS_TYPE_STRING, &kind,
                                   DBUS_TYPE_STRING, &subject, DBUS_TYPE_STRING, &body, DBUS_TYPE_INVALID))
                return -EINVAL;
        if (notify_kind_from_string(kind, &k) < 0)
                return nx_error_set(&req->error, -EINVAL, "kind must be incident.alert or incident.assigned");
        r = notify_user(&req->op, username, k, subject, body, &o, &uid);
        if (r < 0)
                return r;
        outcome = notify_outcome_to_string(o);
        *ret_reply = dbus_message_new_method_return(req->message);
        if (!*ret_reply || bus_reply_append(*ret_reply, DBUS_TYPE_STRING, &outcome, DBUS_TYPE_INVALID) < 0)
                return -ENOMEM;
        /* The signal goes out after the commit, for an active user only. */
        if (o == NOTIFY_MAILED || o == NOTIFY_NOT_VERIFIED)
                req->notified_uid = uid;
        return 0;
}

/* UserNotified(u uid, s kind, s subject): broadcast on the system bus, so
 * the subject must not be secret (docs/dbus-api.md); the body goes by mail
 * only. */
static int notified_after_commit(bus_request *req, DBusMessage *reply) {
        const char *username, *kind, *subject, *body;
        dbus_uint32_t uid = req->notified_uid;
        DBusMessage *signal;

        if (uid == 0)
                return 0;
        if (!dbus_message_get_args(req->message, NULL, DBUS_TYPE_STRING, &username, DBUS_TYPE_STRING, &kind,
                                   DBUS_TYPE_STRING, &subject, DBUS_TYPE_STRING, &body, DBUS_TYPE_INVALID))
                return 0;
        signal = dbus_message_new_signal(BUS_PATH, BUS_IFACE_NOTIFICATIONS, "UserNotified");
        if (!signal)
                return 0;
        if (dbus_message_append_args(signal, DBUS_TYPE_UINT32, &uid, DBUS_TYPE_STRING, &kind, DBUS_TYPE_STRING,
                                     &subject, DBUS_TYPE_INVALID))
                (void) dbus_connection_send(bus_server_connection(req->server), signal, NULL);
        dbus_message_unref(signal);
        return 0;
}

const bus_method notify_methods[] = {
        { BUS_IFACE_NOTIFICATIONS, "NotifyUser", "ssss", PERM_NOTIFY, BUS_METHOD_WRITE, method_notify_user,
          notified_after_commit },
        {}
};
