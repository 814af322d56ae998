/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "ctl.h"

#include <errno.h>
#include <stdarg.h>
#include <string.h>

#include "bus-util.h"

/* Errors that mean nobody is there to answer, rather than that the daemon
 * answered no: the bus itself is missing, the name has no owner and cannot be
 * activated, or the owner went away or hung without replying. */
static bool error_is_unreachable(const char *name) {
        static const char *const names[] = {
                DBUS_ERROR_SERVICE_UNKNOWN,
                DBUS_ERROR_NAME_HAS_NO_OWNER,
                DBUS_ERROR_NO_SERVER,
                DBUS_ERROR_FILE_NOT_FOUND,
                DBUS_ERROR_NO_REPLY,
                DBUS_ERROR_TIMEOUT,
                DBUS_ERROR_TIMED_OUT,
                DBUS_ERROR_DISCONNECTED,
                DBUS_ERROR_NO_NETWORK,
                DBUS_ERROR_BAD_ADDRESS,
        };

        if (!name)
                return false;
        /* org.freedesktop.DBus.Error.Spawn.*: activation failed. */
        if (strncmp(name, "org.freedesktop.DBus.Error.Spawn.", 33) == 0)
                return true;
        for (size_t i = 0; i < ELEMENTSOF(names); i++)
                if (strcmp(name, names[i]) == 0)
                        return true;
        return false;
}

static int ctl_connect(ctl_context *ctl) {
        DBusError error;

        if (ctl->bus)
                return 0;

        dbus_error_init(&error);
        ctl->bus = dbus_bus_get(DBUS_BUS_SYSTEM, &error);
        if (!ctl->bus) {
                int r = ctl_error(-EHOSTUNREACH, "cannot reach nexalixd: %s",
                                  error.message ? error.message : "no system bus");
                dbus_error_free(&error);
                return r;
        }
        /* The connection is shared, and by default libdbus calls _exit() when
         * it drops; a lost daemon must end in our own message and exit 3. */
        dbus_connection_set_exit_on_disconnect(ctl->bus, FALSE);
        return 0;
}

void ctl_done(ctl_context *ctl) {
        /* Shared connections belong to libdbus: drop our reference only. */
        if (ctl->bus) {
                dbus_connection_unref(ctl->bus);
                ctl->bus = NULL;
        }
}

int ctl_new_call(const char *iface, const char *method, DBusMessage **ret) {
        DBusMessage *m = dbus_message_new_method_call(BUS_NAME, BUS_PATH, iface, method);
        if (!m)
                return ctl_error(-ENOMEM, "out of memory");
        *ret = m;
        return 0;
}

static int map_error(const DBusError *error, DBusMessage *m) {
        const char *text = !isempty(error->message) ? error->message : error->name;

        /* The call went out but no answer came: the daemon may well have
         * carried it out before it stopped. Say so rather than "unreachable". */
        if (streq_ptr(error->name, DBUS_ERROR_NO_REPLY) || streq_ptr(error->name, DBUS_ERROR_TIMEOUT) ||
            streq_ptr(error->name, DBUS_ERROR_TIMED_OUT) || streq_ptr(error->name, DBUS_ERROR_DISCONNECTED))
                return ctl_error(-EHOSTUNREACH,
                                 "no answer from nexalixd (%s) — the change may have been made; check before retrying",
                                 text);
        if (error_is_unreachable(error->name))
                return ctl_error(-EHOSTUNREACH, "cannot reach nexalixd: %s", text);
        if (streq_ptr(error->name, DBUS_ERROR_UNKNOWN_METHOD) ||
            streq_ptr(error->name, DBUS_ERROR_UNKNOWN_INTERFACE) ||
            streq_ptr(error->name, DBUS_ERROR_UNKNOWN_OBJECT))
                return ctl_error(-EREMOTEIO, "this version of nexalixd does not offer %s.%s",
                                 strempty(dbus_message_get_interface(m)),
                                 strempty(dbus_message_get_member(m)));
        /* The daemon's messages are written for the user who typed the
         * command; print them as they are. */
        return ctl_error(-EREMOTEIO, "%s", text);
}

int ctl_call(ctl_context *ctl, DBusMessage *m, DBusMessage **ret_reply) {
        DBusMessage *reply;
        DBusError error;
        int r;

        r = ctl_connect(ctl);
        if (r < 0)
                return r;

        dbus_error_init(&error);
        reply = dbus_connection_send_with_reply_and_block(ctl->bus, m, CTL_CALL_TIMEOUT_MS, &error);
        if (!reply) {
                r = map_error(&error, m);
                dbus_error_free(&error);
                return r;
        }
        if (ret_reply)
                *ret_reply = reply;
        else
                dbus_message_unref(reply);
        return 0;
}

int ctl_call_simple(ctl_context *ctl, const char *iface, const char *method,
                    DBusMessage **ret_reply, int first_type, ...) {
        _cleanup_message_ DBusMessage *m = NULL;
        dbus_bool_t ok;
        va_list ap;
        int r;

        r = ctl_new_call(iface, method, &m);
        if (r < 0)
                return r;
        va_start(ap, first_type);
        ok = dbus_message_append_args_valist(m, first_type, ap);
        va_end(ap);
        if (!ok)
                return ctl_error(-ENOMEM, "out of memory");
        return ctl_call(ctl, m, ret_reply);
}

int ctl_reply_get(DBusMessage *reply, int first_type, ...) {
        DBusError error;
        dbus_bool_t ok;
        va_list ap;

        dbus_error_init(&error);
        va_start(ap, first_type);
        ok = dbus_message_get_args_valist(reply, &error, first_type, ap);
        va_end(ap);
        if (!ok) {
                int r = ctl_error(-EBADMSG, "unexpected reply from nexalixd: %s",
                                  strempty(error.message));
                dbus_error_free(&error);
                return r;
        }
        return 0;
}
