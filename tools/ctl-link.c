/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* One-time links (redeem, verify-email, forgot-password; the
 * administrators' invite-again and reset-password; account email and
 * resend-verification) and personal API tokens. */
#include <inttypes.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "array.h"
#include "bus-util.h"
#include "ctl.h"
#include "password.h"
#include "reply.h"

/* ---- anyone ---- */

int verb_redeem(ctl_context *ctl, const command_args *args) {
        _cleanup_password_ char password[PASSWORD_BUF_SIZE];
        _cleanup_message_ DBusMessage *info = NULL;
        const char *token = args->pos[0], *purpose, *username, *p = password, *reason;
        DBusMessageIter it;
        _cleanup_record_ reply_record rec = {};
        int r;

        /* What the link is for, before anyone types a password. */
        r = ctl_call_simple(ctl, BUS_IFACE_PUBLIC, "CheckLink", &info, DBUS_TYPE_STRING, &token, DBUS_TYPE_INVALID);
        if (r < 0)
                return r;
        dbus_message_iter_init(info, &it);
        r = record_read(&it, &SCHEMA_LINK_INFO, &rec);
        if (r < 0)
                return r;
        purpose = record_get(&rec, "purpose")->s;
        username = record_get(&rec, "username")->s;
        if (!args->set[OPT_PASSWORD_STDIN])
                fprintf(stderr, "%s link for %s: choose a password (at least 8 characters).\n",
                        strcmp(purpose, "invitation") == 0 ? "Invitation" : "Password-reset", username);
        r = args->set[OPT_PASSWORD_STDIN] ? password_read_stdin(password) : password_prompt_new(password);
        if (r < 0)
                return r;
        if (validate_password(password, &reason) < 0)
                return ctl_error(-EINVAL, "%s", reason);
        r = ctl_call_simple(ctl, BUS_IFACE_PUBLIC, "RedeemLink", NULL, DBUS_TYPE_STRING, &token,
                            DBUS_TYPE_STRING, &p, DBUS_TYPE_INVALID);
        if (r < 0)
                return r;
        printf("password set for %s%s\n", username,
               strcmp(purpose, "invitation") == 0 ? "; the account is active" : "; every session was ended");
        return 0;
}

int verb_verify_email(ctl_context *ctl, const command_args *args) {
        const char *token = args->pos[0];
        int r;

        r = ctl_call_simple(ctl, BUS_IFACE_PUBLIC, "VerifyEmail", NULL, DBUS_TYPE_STRING, &token, DBUS_TYPE_INVALID);
        if (r < 0)
                return r;
        printf("email address verified\n");
        return 0;
}

int verb_forgot_password(ctl_context *ctl, const command_args *args) {
        const char *email = args->pos[0];
        int r;

        r = ctl_call_simple(ctl, BUS_IFACE_PUBLIC, "ForgotPassword", NULL, DBUS_TYPE_STRING, &email,
                            DBUS_TYPE_INVALID);
        if (r < 0)
                return r;
        /* The same words whether or not the address is anyone's. */
        printf("If an account uses this address and it is verified, a link to set a new password "
               "has been sent to it. The link is valid for one hour.\n");
        return 0;
}

/* ---- administrators ---- */

static int user_link(ctl_context *ctl, const command_args *args, const char *method, const char *done) {
        const char *username = args->pos[0];
        int r;

        r = ctl_call_simple(ctl, BUS_IFACE_ADMIN, method, NULL, DBUS_TYPE_STRING, &username, DBUS_TYPE_INVALID);
        if (r < 0)
                return r;
        printf("%s: %s\n", username, done);
        return 0;
}

int verb_user_invite_again(ctl_context *ctl, const command_args *args) {
        return user_link(ctl, args, "InviteAgain", "a new invitation was mailed (valid 48 h); the old link no longer works");
}

int verb_user_reset_password(ctl_context *ctl, const command_args *args) {
        return user_link(ctl, args, "ResetPassword",
                         "a password-reset link was mailed (valid 24 h, once); redeeming it ends every session");
}

/* ---- the caller's own ---- */

int verb_account_email(ctl_context *ctl, const command_args *args) {
        const char *email = args->pos[0];
        int r;

        r = ctl_call_simple(ctl, BUS_IFACE_ACCOUNT, "ChangeEmail", NULL, DBUS_TYPE_STRING, &email, DBUS_TYPE_INVALID);
        if (r < 0)
                return r;
        printf("a verification link was mailed to %s (valid 48 h); your current address stays in use until then\n",
               email);
        return 0;
}

int verb_account_resend_verification(ctl_context *ctl, const command_args *args) {
        int r = ctl_call_simple(ctl, BUS_IFACE_ACCOUNT, "ResendVerification", NULL, DBUS_TYPE_INVALID);
        if (r < 0)
                return r;
        printf("a new verification link was mailed (valid 48 h); the previous one no longer works\n");
        return 0;
}

/* ---- API tokens ---- */

int verb_account_token_create(ctl_context *ctl, const command_args *args) {
        _cleanup_message_ DBusMessage *reply = NULL;
        const char *name = args->pos[0], *token;
        dbus_uint64_t expires_at = 0;
        uint32_t days = 0;
        int r;

        if (args->set[OPT_EXPIRES]) {
                r = ctl_parse_uint32(args, OPT_EXPIRES, "--expires", &days);
                if (r < 0)
                        return r;
                if (days == 0 || days > 3650)
                        return ctl_usage_error(args, "--expires takes 1 to 3650 days");
                expires_at = (uint64_t) time(NULL) + (uint64_t) days * 86400;
        }
        r = ctl_call_simple(ctl, BUS_IFACE_ACCOUNT, "CreateToken", &reply, DBUS_TYPE_STRING, &name,
                            DBUS_TYPE_UINT64, &expires_at, DBUS_TYPE_INVALID);
        if (r < 0)
                return r;
        r = ctl_reply_get(reply, DBUS_TYPE_STRING, &token, DBUS_TYPE_INVALID);
        if (r < 0)
                return r;
        /* The token alone on stdout, for scripts; the advice on stderr. */
        fprintf(stderr, "API token '%s' created. It is shown only now: store it safely.\n", name);
        printf("%s\n", token);
        fflush(stdout);
        sodium_memzero((char *) token, strlen(token));
        return 0;
}

static const table_column token_columns[] = {
        { "NAME", "name" },
        { "CREATED", "created_at" },
        { "LAST USED", "last_used_at" },
        { "EXPIRES", "expires_at" },
};

int verb_account_token_list(ctl_context *ctl, const command_args *args) {
        _cleanup_message_ DBusMessage *reply = NULL;
        int r = ctl_call_simple(ctl, BUS_IFACE_ACCOUNT, "ListTokens", &reply, DBUS_TYPE_INVALID);
        return r < 0 ? r : print_reply_list(reply, &SCHEMA_TOKEN, args->set[OPT_JSON], token_columns,
                                            ELEMENTSOF(token_columns));
}

int verb_account_token_revoke(ctl_context *ctl, const command_args *args) {
        const char *name = args->pos[0];
        int r = ctl_call_simple(ctl, BUS_IFACE_ACCOUNT, "RevokeToken", NULL, DBUS_TYPE_STRING, &name, DBUS_TYPE_INVALID);
        if (r < 0)
                return r;
        printf("API token '%s' revoked\n", name);
        return 0;
}

int verb_user_token_list(ctl_context *ctl, const command_args *args) {
        _cleanup_message_ DBusMessage *reply = NULL;
        const char *username = args->pos[0];
        int r = ctl_call_simple(ctl, BUS_IFACE_ADMIN, "ListUserTokens", &reply, DBUS_TYPE_STRING, &username,
                                DBUS_TYPE_INVALID);
        return r < 0 ? r : print_reply_list(reply, &SCHEMA_TOKEN, args->set[OPT_JSON], token_columns,
                                            ELEMENTSOF(token_columns));
}

int verb_user_token_revoke(ctl_context *ctl, const command_args *args) {
        const char *username = args->pos[0], *name = args->pos[1];
        int r = ctl_call_simple(ctl, BUS_IFACE_ADMIN, "RevokeUserToken", NULL, DBUS_TYPE_STRING, &username,
                                DBUS_TYPE_STRING, &name, DBUS_TYPE_INVALID);
        if (r < 0)
                return r;
        printf("%s: API token '%s' revoked\n", username, name);
        return 0;
}

/* ---- notifications ---- */

/* The body: standard input, up to 32 KiB. */
static int read_body(char **ret) {
        size_t size = 0, allocated = 0;
        char *buf = NULL;

        for (;;) {
                size_t k;

                if (ARRAY_RESERVE(buf, allocated, size + 4096 + 1) < 0) {
                        free(buf);
                        return ctl_error(-ENOMEM, "out of memory");
                }
                k = fread(buf + size, 1, 4096, stdin);
                size += k;
                if (k < 4096)
                        break;
                if (size > 32 * 1024) {
                        free(buf);
                        return ctl_error(-EINVAL, "the body is longer than 32 KiB");
                }
        }
        while (size > 0 && (buf[size - 1] == '\n' || buf[size - 1] == '\r'))
                size--;
        buf[size] = 0;
        *ret = buf;
        return 0;
}

int verb_user_notify(ctl_context *ctl, const command_args *args) {
        _cleanup_message_ DBusMessage *reply = NULL;
        const char *username = args->pos[0], *kind = args->pos[1], *subject = args->pos[2], *outcome;
        _cleanup_free_ char *body = NULL;
        const char *b;
        int r;

        r = read_body(&body);
        if (r < 0)
                return r;
        b = body;
        r = ctl_call_simple(ctl, BUS_IFACE_NOTIFICATIONS, "NotifyUser", &reply, DBUS_TYPE_STRING, &username,
                            DBUS_TYPE_STRING, &kind, DBUS_TYPE_STRING, &subject, DBUS_TYPE_STRING, &b,
                            DBUS_TYPE_INVALID);
        if (r < 0)
                return r;
        r = ctl_reply_get(reply, DBUS_TYPE_STRING, &outcome, DBUS_TYPE_INVALID);
        if (r < 0)
                return r;
        printf("%s: %s\n", username, outcome);
        return 0;
}
