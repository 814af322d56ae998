/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* 2fa commands (the caller's own two-factor authentication) and
 * `user reset-2fa` (an administrator's). */
#include <stdio.h>
#include <sodium.h>
#include <unistd.h>

#include "bus-util.h"
#include "ctl.h"
#include "password.h"
#include "qr-text.h"
#include "reply.h"

/* Tries for the first code on a terminal before `2fa enable` gives up. */
#define CODE_TRIES 3

int verb_2fa_status(ctl_context *ctl, const command_args *args) {
        _cleanup_message_ DBusMessage *reply = NULL;
        int r;

        r = ctl_call_simple(ctl, BUS_IFACE_ACCOUNT, "Get2FAStatus", &reply, DBUS_TYPE_INVALID);
        if (r < 0)
                return r;
        return print_reply_record(reply, &SCHEMA_2FA_STATUS, args->set[OPT_JSON]);
}

static void print_recovery_codes(DBusMessage *reply) {
        DBusMessageIter it, array;

        printf("\nYour recovery codes: each works once, in place of a code, if you lose the app.\n"
               "Write them down now and keep them safe; they are not shown again.\n"
               "recovery codes:\n");
        dbus_message_iter_init(reply, &it);
        if (dbus_message_iter_get_arg_type(&it) != DBUS_TYPE_ARRAY)
                return;
        for (dbus_message_iter_recurse(&it, &array); dbus_message_iter_get_arg_type(&array) == DBUS_TYPE_STRING;
             dbus_message_iter_next(&array)) {
                const char *code;
                dbus_message_iter_get_basic(&array, &code);
                printf("    %s\n", code);
        }
        fflush(stdout);
}

/* One line of standard input, the code; 0, or -ENODATA at its end. */
static int read_code(bool interactive, char buf[static 64]) {
        size_t n;

        if (interactive) {
                fputs("Code from the app: ", stderr);
                fflush(stderr);
        }
        if (!fgets(buf, 64, stdin))
                return -ENODATA;
        n = strcspn(buf, "\r\n");
        buf[n] = 0;
        return 0;
}

int verb_2fa_enable(ctl_context *ctl, const command_args *args) {
        _cleanup_message_ DBusMessage *begun = NULL;
        _cleanup_free_ char *qr = NULL;
        bool interactive = isatty(STDIN_FILENO);
        const char *key, *uri;
        int r;

        r = ctl_call_simple(ctl, BUS_IFACE_ACCOUNT, "Begin2FAEnrolment", &begun, DBUS_TYPE_INVALID);
        if (r < 0)
                return r;
        r = ctl_reply_get(begun, DBUS_TYPE_STRING, &key, DBUS_TYPE_STRING, &uri, DBUS_TYPE_INVALID);
        if (r < 0)
                return r;
        /* Colours (black on white) only for a terminal; the drawing reads
         * the same on a dark and a light one then. */
        r = qr_text(uri, isatty(STDOUT_FILENO) ? QR_ANSI : QR_DARK_ON_LIGHT, &qr);
        if (r < 0)
                return ctl_error(r, "cannot draw the QR code: %m");
        printf("Add this account to an authenticator app: scan the QR code, or enter the key.\n\n%s\n"
               "key: %s\nuri: %s\n\n", qr, key, uri);
        fflush(stdout);
        sodium_memzero(qr, strlen(qr));

        for (int attempt = 1;; attempt++) {
                _cleanup_message_ DBusMessage *reply = NULL, *m = NULL;
                char code[64];
                const char *c = code;

                r = read_code(interactive, code);
                if (r < 0)
                        return ctl_error(-ECANCELED, "no code given: two-factor authentication stays off "
                                         "(run 'nexalixctl 2fa enable' again)");
                r = ctl_new_call(BUS_IFACE_ACCOUNT, "Confirm2FAEnrolment", &m);
                if (r < 0)
                        return r;
                if (!dbus_message_append_args(m, DBUS_TYPE_STRING, &c, DBUS_TYPE_INVALID))
                        return ctl_error(-ENOMEM, "out of memory");
                r = ctl_call(ctl, m, &reply);
                if (r >= 0) {
                        printf("Two-factor authentication is on: logins now ask for a code from the app after the password.\n");
                        print_recovery_codes(reply);
                        return 0;
                }
                /* The daemon said why (printed by ctl_call); on a terminal,
                 * the person may try again. */
                if (!interactive || attempt >= CODE_TRIES)
                        return r;
        }
}

/* The current password: from standard input with --password-stdin, else
 * asked on the terminal. */
static int read_current_password(const command_args *args, char buf[static PASSWORD_BUF_SIZE]) {
        return args->set[OPT_PASSWORD_STDIN] ? password_read_stdin(buf) : password_prompt_current(buf);
}

int verb_2fa_disable(ctl_context *ctl, const command_args *args) {
        _cleanup_password_ char password[PASSWORD_BUF_SIZE];
        const char *p = password;
        int r;

        r = read_current_password(args, password);
        if (r < 0)
                return r;
        r = ctl_call_simple(ctl, BUS_IFACE_ACCOUNT, "Disable2FA", NULL, DBUS_TYPE_STRING, &p, DBUS_TYPE_INVALID);
        if (r < 0)
                return r;
        printf("two-factor authentication is off; the recovery codes no longer work\n");
        return 0;
}

int verb_2fa_recovery_codes(ctl_context *ctl, const command_args *args) {
        _cleanup_password_ char password[PASSWORD_BUF_SIZE];
        _cleanup_message_ DBusMessage *reply = NULL;
        const char *p = password;
        int r;

        r = read_current_password(args, password);
        if (r < 0)
                return r;
        r = ctl_call_simple(ctl, BUS_IFACE_ACCOUNT, "New2FARecoveryCodes", &reply, DBUS_TYPE_STRING, &p,
                            DBUS_TYPE_INVALID);
        if (r < 0)
                return r;
        printf("New recovery codes made; the old ones no longer work.\n");
        print_recovery_codes(reply);
        return 0;
}

int verb_user_reset_2fa(ctl_context *ctl, const command_args *args) {
        const char *username = args->pos[0];
        int r;

        r = ctl_call_simple(ctl, BUS_IFACE_ADMIN, "Reset2FA", NULL, DBUS_TYPE_STRING, &username, DBUS_TYPE_INVALID);
        if (r < 0)
                return r;
        printf("%s: two-factor authentication reset (off, recovery codes void)\n", username);
        return 0;
}
