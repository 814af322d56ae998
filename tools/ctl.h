/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* What the parts of nexalixctl share: the parsed command line, the lazily
 * opened bus connection, error reporting and the mapping of errors to exit
 * statuses.
 *
 * Error convention: every function returns 0 or a negative errno, and the
 * message is printed once, where the error is detected. Four values carry a
 * meaning for the exit status (see ctl_exit_status()):
 *   -EINVAL        usage error or rejected local input    exit 2
 *   -EREMOTEIO     the daemon refused                     exit 1
 *   -EHOSTUNREACH  the daemon cannot be reached           exit 3
 *   anything else  local failure                          exit 1
 * Code that produces -EINVAL for any other reason (a malformed reply, say)
 * must translate it, which is why reply parsing returns -EBADMSG. */

#include <dbus/dbus.h>
#include <stdbool.h>
#include <stdint.h>

#include "macro.h"

#define CTL_EXIT_OK 0
#define CTL_EXIT_REFUSED 1
#define CTL_EXIT_USAGE 2
#define CTL_EXIT_UNREACHABLE 3

/* argon2id hashing and large imports take a while; a call that has not been
 * answered in two minutes is stuck. */
#define CTL_CALL_TIMEOUT_MS (120 * 1000)

/* Every option any command accepts. A command lists the ones it takes. */
typedef enum opt_id {
        OPT_JSON,
        OPT_ORG,
        OPT_DEPARTMENT,
        OPT_FIRST,
        OPT_LAST,
        OPT_EMAIL,
        OPT_LANGUAGE,
        OPT_ROLE,
        OPT_INVITE,
        OPT_PASSWORD_STDIN,
        OPT_STATE,
        OPT_SEARCH,
        OPT_LIMIT,
        OPT_OFFSET,
        OPT_USER,
        OPT_BATCH,
        OPT_ENVELOPE,
        OPT_EXPIRES,
        OPT_NAME,
        _OPT_MAX,
} opt_id;

/* The parsed command line of one command. Strings point into argv. */
typedef struct command_args {
        const char *command;            /* "user create", for messages */
        char **pos;                     /* positional arguments */
        size_t n_pos;
        bool set[_OPT_MAX];             /* option given */
        const char *value[_OPT_MAX];    /* its argument; the last one wins */
        const char **roles;             /* every --role, NULL-terminated */
} command_args;

/* The running command's context: the bus connection, opened on first use so
 * that usage errors and local checks (user import) never need a daemon. */
typedef struct ctl_context {
        DBusConnection *bus;
} ctl_context;

typedef int (*command_run_fn)(ctl_context *ctl, const command_args *args);

/* Prints "nexalixctl: MESSAGE" on stderr (errno is set to -r first, so %m
 * works) and returns r. */
int ctl_error(int r, const char *format, ...) _printf_(2, 3);

/* Prints a usage error with a pointer to the command's --help and returns
 * -EINVAL. */
int ctl_usage_error(const command_args *args, const char *format, ...) _printf_(2, 3);

int ctl_exit_status(int r);

/* A one-line progress display on stderr, redrawn in place; only when stderr
 * is a terminal. ctl_error() clears it first, so messages never land in the
 * middle of it. */
void ctl_status_line(const char *format, ...) _printf_(1, 2);
void ctl_status_clear(void);

/* Parses a decimal unsigned 32-bit option argument; a usage error otherwise. */
int ctl_parse_uint32(const command_args *args, opt_id opt, const char *name, uint32_t *ret);

/* ---- Bus (ctl-bus.c) ---- */

/* A new method call to nexalixd on interface iface. */
int ctl_new_call(const char *iface, const char *method, DBusMessage **ret);

/* Sends m and waits for the reply, connecting first if needed. A D-Bus error
 * is printed and mapped (-EREMOTEIO or -EHOSTUNREACH). */
int ctl_call(ctl_context *ctl, DBusMessage *m, DBusMessage **ret_reply);

/* Appends basic arguments in order (type, pointer pairs as for
 * dbus_message_append_args, ending with DBUS_TYPE_INVALID), sends and waits.
 * ret_reply may be NULL when the reply carries nothing. */
int ctl_call_simple(ctl_context *ctl, const char *iface, const char *method,
                    DBusMessage **ret_reply, int first_type, ...);

/* Reads basic reply arguments (as for dbus_message_get_args); -EBADMSG with
 * a message if the reply does not match. */
int ctl_reply_get(DBusMessage *reply, int first_type, ...);

void ctl_done(ctl_context *ctl);

static inline void dbus_message_unrefp(DBusMessage **m) {
        if (*m)
                dbus_message_unref(*m);
}
#define _cleanup_message_ _cleanup_(dbus_message_unrefp)

/* ---- Commands ---- */

int verb_org_create(ctl_context *ctl, const command_args *args);
int verb_org_list(ctl_context *ctl, const command_args *args);
int verb_org_show(ctl_context *ctl, const command_args *args);
int verb_org_require_2fa(ctl_context *ctl, const command_args *args);
int verb_org_2fa_hint(ctl_context *ctl, const command_args *args);
int verb_dept_create(ctl_context *ctl, const command_args *args);
int verb_dept_list(ctl_context *ctl, const command_args *args);
int verb_dept_delete(ctl_context *ctl, const command_args *args);
int verb_role_list(ctl_context *ctl, const command_args *args);

int verb_user_create(ctl_context *ctl, const command_args *args);
int verb_user_list(ctl_context *ctl, const command_args *args);
int verb_user_show(ctl_context *ctl, const command_args *args);
int verb_user_update(ctl_context *ctl, const command_args *args);
int verb_user_role_add(ctl_context *ctl, const command_args *args);
int verb_user_role_remove(ctl_context *ctl, const command_args *args);
int verb_user_deactivate(ctl_context *ctl, const command_args *args);
int verb_user_activate(ctl_context *ctl, const command_args *args);
int verb_user_delete(ctl_context *ctl, const command_args *args);
int verb_user_import(ctl_context *ctl, const command_args *args);
int verb_user_sessions(ctl_context *ctl, const command_args *args);
int verb_user_unlock(ctl_context *ctl, const command_args *args);

int verb_account_show(ctl_context *ctl, const command_args *args);
int verb_account_password(ctl_context *ctl, const command_args *args);
int verb_account_sessions(ctl_context *ctl, const command_args *args);

int verb_2fa_status(ctl_context *ctl, const command_args *args);
int verb_2fa_enable(ctl_context *ctl, const command_args *args);
int verb_2fa_disable(ctl_context *ctl, const command_args *args);
int verb_2fa_recovery_codes(ctl_context *ctl, const command_args *args);
int verb_user_reset_2fa(ctl_context *ctl, const command_args *args);

int verb_redeem(ctl_context *ctl, const command_args *args);
int verb_verify_email(ctl_context *ctl, const command_args *args);
int verb_forgot_password(ctl_context *ctl, const command_args *args);
int verb_user_invite_again(ctl_context *ctl, const command_args *args);
int verb_user_reset_password(ctl_context *ctl, const command_args *args);
int verb_account_email(ctl_context *ctl, const command_args *args);
int verb_account_resend_verification(ctl_context *ctl, const command_args *args);
int verb_account_token_create(ctl_context *ctl, const command_args *args);
int verb_account_token_list(ctl_context *ctl, const command_args *args);
int verb_account_token_revoke(ctl_context *ctl, const command_args *args);
int verb_user_token_list(ctl_context *ctl, const command_args *args);
int verb_user_token_revoke(ctl_context *ctl, const command_args *args);
int verb_user_notify(ctl_context *ctl, const command_args *args);

int verb_account_sshkey_add(ctl_context *ctl, const command_args *args);
int verb_account_sshkey_list(ctl_context *ctl, const command_args *args);
int verb_account_sshkey_remove(ctl_context *ctl, const command_args *args);
int verb_user_sshkey_add(ctl_context *ctl, const command_args *args);
int verb_user_sshkey_list(ctl_context *ctl, const command_args *args);
int verb_user_sshkey_remove(ctl_context *ctl, const command_args *args);
int verb_org_sshkey_types(ctl_context *ctl, const command_args *args);

int verb_link_add(ctl_context *ctl, const command_args *args);
int verb_link_remove(ctl_context *ctl, const command_args *args);
int verb_link_list(ctl_context *ctl, const command_args *args);

int verb_mail_queue(ctl_context *ctl, const command_args *args);
int verb_mail_retry(ctl_context *ctl, const command_args *args);
int verb_mail_drop(ctl_context *ctl, const command_args *args);

int verb_audit_show(ctl_context *ctl, const command_args *args);
int verb_status_show(ctl_context *ctl, const command_args *args);
