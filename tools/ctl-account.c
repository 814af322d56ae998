/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* account commands: a user's own account, found by the caller's uid. */
#include <stdio.h>

#include "bus-util.h"
#include "ctl.h"
#include "password.h"
#include "reply.h"

int verb_account_show(ctl_context *ctl, const command_args *args) {
        _cleanup_message_ DBusMessage *reply = NULL;
        int r;

        r = ctl_call_simple(ctl, BUS_IFACE_ACCOUNT, "GetAccount", &reply, DBUS_TYPE_INVALID);
        if (r < 0)
                return r;
        return print_reply_record(reply, &SCHEMA_USER_DETAIL, args->set[OPT_JSON]);
}

/* The current and the new password: two lines of standard input with
 * --password-stdin, else asked on the terminal (the new one twice). */
static int read_passwords(const command_args *args, char current[static PASSWORD_BUF_SIZE],
                          char new[static PASSWORD_BUF_SIZE]) {
        const char *reason;
        int r;

        if (args->set[OPT_PASSWORD_STDIN]) {
                r = password_read_stdin(current);
                if (r >= 0)
                        r = password_read_stdin(new);
        } else {
                r = password_prompt_current(current);
                if (r >= 0)
                        r = password_prompt_new(new);
        }
        if (r < 0)
                return r;
        /* Checked here too, so that a bad new password costs no round trip
         * (and a non-UTF-8 one never reaches libdbus, which would abort). */
        if (validate_password(new, &reason) < 0)
                return ctl_error(-EINVAL, "%s", reason);
        if (password_check(current) == PASSWORD_NOT_UTF8)
                return ctl_error(-EINVAL, "the current password is not valid UTF-8");
        return 0;
}

int verb_account_password(ctl_context *ctl, const command_args *args) {
        _cleanup_password_ char current[PASSWORD_BUF_SIZE];
        _cleanup_password_ char new[PASSWORD_BUF_SIZE];
        const char *c = current, *n = new;
        int r;

        r = read_passwords(args, current, new);
        if (r < 0)
                return r;
        r = ctl_call_simple(ctl, BUS_IFACE_ACCOUNT, "ChangePassword", NULL,
                            DBUS_TYPE_STRING, &c, DBUS_TYPE_STRING, &n, DBUS_TYPE_INVALID);
        if (r < 0)
                return r;
        printf("password changed\n");
        return 0;
}
