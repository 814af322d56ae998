/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Login sessions: `user sessions USER` (administrators) and `account
 * sessions` (a user's own) print the same list. */
#include <stdio.h>

#include "bus-util.h"
#include "ctl.h"
#include "reply.h"

static const table_column session_columns[] = {
        { "ID", "id" },
        { "USER", "username" },
        { "PID", "pid" },
        { "SERVICE", "service" },
        { "TTY", "tty" },
        { "FROM", "rhost" },
        { "STARTED", "started_at" },
};

static int print_sessions(DBusMessage *reply, const command_args *args) {
        return print_reply_list(reply, &SCHEMA_SESSION, args->set[OPT_JSON], session_columns,
                                ELEMENTSOF(session_columns));
}

int verb_user_sessions(ctl_context *ctl, const command_args *args) {
        _cleanup_message_ DBusMessage *reply = NULL;
        const char *username = args->pos[0];
        int r;

        r = ctl_call_simple(ctl, BUS_IFACE_ADMIN, "ListUserSessions", &reply,
                            DBUS_TYPE_STRING, &username, DBUS_TYPE_INVALID);
        if (r < 0)
                return r;
        return print_sessions(reply, args);
}

int verb_account_sessions(ctl_context *ctl, const command_args *args) {
        _cleanup_message_ DBusMessage *reply = NULL;
        int r;

        r = ctl_call_simple(ctl, BUS_IFACE_ACCOUNT, "ListSessions", &reply, DBUS_TYPE_INVALID);
        if (r < 0)
                return r;
        return print_sessions(reply, args);
}
