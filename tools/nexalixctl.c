/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* nexalixctl: the administrator's command line for nexalixd.
 *
 * This file holds the table of commands, the one argument parser they all
 * share, help output and the mapping of results to exit statuses. Each
 * command lives in a ctl-*.c file and receives its parsed arguments. */

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "build-config.h"
#include "ctl.h"

#define PROGRAM "nexalixctl"

typedef struct option_spec {
        const char *name;
        const char *metavar;    /* NULL: takes no argument */
} option_spec;

static const option_spec option_specs[_OPT_MAX] = {
        [OPT_JSON]           = { "json", NULL },
        [OPT_ORG]            = { "org", "ORG" },
        [OPT_DEPARTMENT]     = { "department", "DEPT" },
        [OPT_FIRST]          = { "first", "FIRST" },
        [OPT_LAST]           = { "last", "LAST" },
        [OPT_EMAIL]          = { "email", "EMAIL" },
        [OPT_LANGUAGE]       = { "language", "LANG" },
        [OPT_ROLE]           = { "role", "ROLE" },
        [OPT_INVITE]         = { "invite", NULL },
        [OPT_PASSWORD_STDIN] = { "password-stdin", NULL },
        [OPT_STATE]          = { "state", "STATE" },
        [OPT_SEARCH]         = { "search", "TEXT" },
        [OPT_LIMIT]          = { "limit", "N" },
        [OPT_OFFSET]         = { "offset", "N" },
        [OPT_USER]           = { "user", "USER" },
        [OPT_BATCH]          = { "batch", "N" },
        [OPT_ENVELOPE]       = { "envelope", NULL },
        [OPT_EXPIRES]        = { "expires", "DAYS" },
        [OPT_NAME]           = { "name", "NAME" },
};

typedef struct command_option {
        opt_id id;
        const char *help;
        bool required;
} command_option;

typedef struct command {
        const char *section;    /* heading in nexalixctl --help */
        const char *name;       /* the words that select it: "user role add" */
        const char *args;       /* positional arguments, for every listing */
        const char *synopsis;   /* options part of the usage line */
        const char *summary;    /* one line */
        const char *details;    /* more, for COMMAND --help; may be NULL */
        size_t min_args, max_args;
        const command_option *options;   /* ends with .help == NULL */
        command_run_fn run;
} command;

#define OPTION(opt, text) { .id = (opt), .help = (text) }
#define REQUIRED_OPTION(opt, text) { .id = (opt), .help = (text), .required = true }
#define JSON_OPTION(what) OPTION(OPT_JSON, "print " what " as JSON")
#define END_OPTIONS { .help = NULL }

static const char SECTION_ORG[] = "Organisations, departments, roles";
static const char SECTION_USER[] = "Users";
static const char SECTION_ACCOUNT[] = "Your own account";
static const char SECTION_ANYONE[] = "Anyone (no account needed)";
static const char SECTION_LINK[] = "Linked operational data";
static const char SECTION_MAIL[] = "Mail";
static const char SECTION_AUDIT[] = "Audit and health";

static const command commands[] = {
        {
                SECTION_ORG, "org create", "ORG", "",
                "Create an organisation (root only)", NULL,
                1, 1, (const command_option[]) { END_OPTIONS }, verb_org_create,
        },
        {
                SECTION_ORG, "org list", "", "[--json]",
                "List organisations", NULL,
                0, 0, (const command_option[]) { JSON_OPTION("the organisations"), END_OPTIONS }, verb_org_list,
        },
        {
                SECTION_ORG, "org show", "ORG", "[--json]",
                "Show an organisation", NULL,
                1, 1, (const command_option[]) { JSON_OPTION("the organisation"), END_OPTIONS }, verb_org_show,
        },
        {
                SECTION_ORG, "org require-2fa", "ORG on|off", "",
                "Require two-factor authentication in ORG, or stop",
                "With 'on', users without TOTP are walked through enrolment at their next\n"
                "password login and get no session until it is complete.",
                2, 2, (const command_option[]) { END_OPTIONS }, verb_org_require_2fa,
        },
        {
                SECTION_ORG, "org 2fa-hint", "ORG on|off", "",
                "Remind members without 2FA at login, or stop",
                "With 'on' (the default for a new organisation), a member who logs in\n"
                "with a password and has no two-factor authentication sees one line\n"
                "suggesting 'nexalixctl 2fa enable'.",
                2, 2, (const command_option[]) { END_OPTIONS }, verb_org_2fa_hint,
        },
        {
                SECTION_ORG, "org ssh-key-types", "ORG [TYPE...]", "",
                "Choose the SSH key types members may add (no TYPE: all)",
                "TYPE is one of ssh-ed25519, ecdsa-sha2-nistp256, ecdsa-sha2-nistp384,\n"
                "ecdsa-sha2-nistp521, sk-ssh-ed25519@openssh.com,\n"
                "sk-ecdsa-sha2-nistp256@openssh.com, ssh-rsa (at least 2048 bits; DSA is never\n"
                "accepted). Adding a key of another type is refused. Keys of a type no longer\n"
                "accepted stay stored but sshd stops accepting them at once; they come back if\n"
                "the type is accepted again. 'org show' lists the accepted types.",
                1, 8, (const command_option[]) { END_OPTIONS }, verb_org_sshkey_types,
        },
        {
                SECTION_ORG, "dept create", "ORG DEPT", "",
                "Create a department in ORG", NULL,
                2, 2, (const command_option[]) { END_OPTIONS }, verb_dept_create,
        },
        {
                SECTION_ORG, "dept list", "ORG", "[--json]",
                "List the departments of ORG", NULL,
                1, 1, (const command_option[]) { JSON_OPTION("the departments"), END_OPTIONS }, verb_dept_list,
        },
        {
                SECTION_ORG, "dept delete", "ORG DEPT", "",
                "Delete a department that has no users", NULL,
                2, 2, (const command_option[]) { END_OPTIONS }, verb_dept_delete,
        },
        {
                SECTION_ORG, "role list", "", "[--json]",
                "List roles and their permissions", NULL,
                0, 0, (const command_option[]) { JSON_OPTION("the roles"), END_OPTIONS }, verb_role_list,
        },
        {
                SECTION_USER, "user create", "USER",
                "--org ORG --first FIRST --last LAST --email EMAIL\n"
                "        [--language en|es|pt] [--department DEPT] --role ROLE [--role ROLE...]\n"
                "        [--invite | --password-stdin] [--json]",
                "Create a user, invited or with a password",
                "With --invite the account starts 'invited', without a password. Otherwise it\n"
                "is active and its password is read from standard input (--password-stdin,\n"
                "one line) or asked twice on the terminal; it is never taken from the command\n"
                "line.",
                1, 1, (const command_option[]) {
                        REQUIRED_OPTION(OPT_ORG, "organisation of the user"),
                        REQUIRED_OPTION(OPT_FIRST, "first name"),
                        REQUIRED_OPTION(OPT_LAST, "last name"),
                        REQUIRED_OPTION(OPT_EMAIL, "email address"),
                        OPTION(OPT_LANGUAGE, "language of mail and messages: en (default), es or pt"),
                        OPTION(OPT_DEPARTMENT, "department within the organisation"),
                        REQUIRED_OPTION(OPT_ROLE, "role to grant; repeat for several"),
                        OPTION(OPT_INVITE, "create the account without a password, state 'invited'"),
                        OPTION(OPT_PASSWORD_STDIN, "read the password from the first line of standard input"),
                        JSON_OPTION("the new user"),
                        END_OPTIONS,
                }, verb_user_create,
        },
        {
                SECTION_USER, "user list", "",
                "[--org ORG] [--department DEPT] [--state STATE] [--search TEXT]\n"
                "        [--limit N] [--offset N] [--json [--envelope]]",
                "List users, sorted by username",
                "Without --limit, nexalixd's default page size (100) applies; --limit 0 lists\n"
                "every match. When the list is cut, a last line says how many matched (on\n"
                "standard error with --json, whose output stays an array of users). With\n"
                "--json --envelope the output is an object instead: {\"users\": [...],\n"
                "\"total\": MATCHES, \"offset\": N, \"truncated\": true|false}.",
                0, 0, (const command_option[]) {
                        OPTION(OPT_ORG, "only users of this organisation"),
                        OPTION(OPT_DEPARTMENT, "only users of this department"),
                        OPTION(OPT_STATE, "only users in this state: invited, active or deactivated"),
                        OPTION(OPT_SEARCH, "only users whose username, names or email contain TEXT (any case)"),
                        OPTION(OPT_LIMIT, "show at most N users (0: all)"),
                        OPTION(OPT_OFFSET, "skip the first N matches"),
                        JSON_OPTION("the users (an array)"),
                        OPTION(OPT_ENVELOPE, "with --json: an object with the users, the number of matches and the offset"),
                        END_OPTIONS,
                }, verb_user_list,
        },
        {
                SECTION_USER, "user show", "USER", "[--json]",
                "Show a user", NULL,
                1, 1, (const command_option[]) { JSON_OPTION("the user"), END_OPTIONS }, verb_user_show,
        },
        {
                SECTION_USER, "user update", "USER",
                "[--first FIRST] [--last LAST] [--email EMAIL] [--language LANG]\n"
                "        [--department DEPT] [--json]",
                "Change a user's names, email, language or department",
                "A new email address starts unverified. --department '' removes the user\n"
                "from their department.",
                1, 1, (const command_option[]) {
                        OPTION(OPT_FIRST, "new first name"),
                        OPTION(OPT_LAST, "new last name"),
                        OPTION(OPT_EMAIL, "new email address"),
                        OPTION(OPT_LANGUAGE, "new language: en, es or pt"),
                        OPTION(OPT_DEPARTMENT, "new department ('' for none)"),
                        JSON_OPTION("the updated user"),
                        END_OPTIONS,
                }, verb_user_update,
        },
        {
                SECTION_USER, "user role add", "USER ROLE", "",
                "Grant a role", NULL,
                2, 2, (const command_option[]) { END_OPTIONS }, verb_user_role_add,
        },
        {
                SECTION_USER, "user role remove", "USER ROLE", "",
                "Take a role away", NULL,
                2, 2, (const command_option[]) { END_OPTIONS }, verb_user_role_remove,
        },
        {
                SECTION_USER, "user deactivate", "USER", "",
                "Deactivate a user: end their sessions, revoke tokens and links",
                "The account stays resolvable (file ownership and history keep its name) but\n"
                "can no longer log in. Every process of the user is terminated.",
                1, 1, (const command_option[]) { END_OPTIONS }, verb_user_deactivate,
        },
        {
                SECTION_USER, "user activate", "USER", "",
                "Reactivate a deactivated user", NULL,
                1, 1, (const command_option[]) { END_OPTIONS }, verb_user_activate,
        },
        {
                SECTION_USER, "user delete", "USER", "",
                "Delete a user that has no linked operational data",
                "Refused while incidents, cost records or status changes are linked to the\n"
                "user (see 'link list'); deactivate the user instead. A deleted user's uid is\n"
                "never handed out again.",
                1, 1, (const command_option[]) { END_OPTIONS }, verb_user_delete,
        },
        {
                SECTION_USER, "user import", "FILE", "--org ORG [--batch N]",
                "Create invited users from a CSV file ('-': standard input)",
                "FILE is CSV (RFC 4180) with a header line naming its columns: username,\n"
                "first_name, last_name and email, optionally language, department and roles\n"
                "(separated by ';'). Every row is checked before anything is sent; any error\n"
                "is reported as FILE:LINE and nothing is imported. Rows are then sent in\n"
                "batches, each created completely or not at all.",
                1, 1, (const command_option[]) {
                        REQUIRED_OPTION(OPT_ORG, "organisation of every imported user"),
                        OPTION(OPT_BATCH, "users per batch (default 5000)"),
                        END_OPTIONS,
                }, verb_user_import,
        },
        {
                SECTION_USER, "user sessions", "USER", "[--json]",
                "List a user's login sessions",
                "Sessions are registered by pam_nexalix.so when a login opens one (sshd,\n"
                "login, su): the process that opened it, the service, the terminal, the\n"
                "remote host and the start time. Sessions of processes that ended are not\n"
                "shown.",
                1, 1, (const command_option[]) { JSON_OPTION("the sessions (an array)"), END_OPTIONS }, verb_user_sessions,
        },
        {
                SECTION_USER, "user unlock", "USER", "",
                "Clear a user's failed-login back-off",
                "After 4 failed logins in a row, each further failure makes the user wait\n"
                "before the next attempt is checked: 15 s, then twice as long each time, up\n"
                "to 15 min. 'user show' tells whether a user is backed off and until when;\n"
                "this forgets the failures at once.",
                1, 1, (const command_option[]) { END_OPTIONS }, verb_user_unlock,
        },
        {
                SECTION_USER, "user reset-2fa", "USER", "",
                "Turn off a user's two-factor authentication (lost device and codes)",
                "The user logs in with the password alone again (or, where the organisation\n"
                "requires 2FA, sets it up anew at the next password login). Audited.",
                1, 1, (const command_option[]) { END_OPTIONS }, verb_user_reset_2fa,
        },
        {
                SECTION_USER, "user ssh-key add", "USER FILE|-", "[--name NAME] [--json]",
                "Add an SSH public key to a user of your organisation",
                "FILE is a public key as ssh-keygen writes it (id_ed25519.pub); '-' reads\n"
                "standard input. sshd accepts the key as soon as the command returns (through\n"
                "nexalix-authorized-keys), for as long as the user is active. Keys are checked:\n"
                "no DSA, no RSA under 2048 bits, only the types the organisation accepts.",
                2, 2, (const command_option[]) {
                        OPTION(OPT_NAME, "name of the key (default: its comment; A-Z a-z 0-9 . _ @ -)"),
                        JSON_OPTION("the added key"),
                        END_OPTIONS,
                }, verb_user_sshkey_add,
        },
        {
                SECTION_USER, "user ssh-key list", "USER", "[--json]",
                "List a user's SSH public keys", NULL,
                1, 1, (const command_option[]) { JSON_OPTION("the keys (an array)"), END_OPTIONS }, verb_user_sshkey_list,
        },
        {
                SECTION_USER, "user ssh-key remove", "USER NAME|FINGERPRINT", "",
                "Remove one of a user's SSH public keys",
                "The key is named, or given by its fingerprint (SHA256:...). sshd refuses it\n"
                "from the next login attempt on.",
                2, 2, (const command_option[]) { END_OPTIONS }, verb_user_sshkey_remove,
        },
        {
                SECTION_USER, "user invite-again", "USER", "",
                "Mail a fresh invitation to an invited user (the old link stops working)", NULL,
                1, 1, (const command_option[]) { END_OPTIONS }, verb_user_invite_again,
        },
        {
                SECTION_USER, "user reset-password", "USER", "",
                "Mail a password-reset link to the user's verified address",
                "The link is valid for 24 hours, once. Redeeming it sets the new password,\n"
                "marks the address verified and ends every session of the user.",
                1, 1, (const command_option[]) { END_OPTIONS }, verb_user_reset_password,
        },
        {
                SECTION_USER, "user token list", "USER", "[--json]",
                "List a user's API tokens (names and times, never the tokens)", NULL,
                1, 1, (const command_option[]) { JSON_OPTION("the tokens (an array)"), END_OPTIONS }, verb_user_token_list,
        },
        {
                SECTION_USER, "user token revoke", "USER NAME", "",
                "Revoke one of a user's API tokens", NULL,
                2, 2, (const command_option[]) { END_OPTIONS }, verb_user_token_revoke,
        },
        {
                SECTION_USER, "user notify", "USER KIND SUBJECT", "",
                "Notify a user by mail (the body is read from standard input)",
                "KIND is incident.alert or incident.assigned. The mail goes in the user's\n"
                "language, only to an active user's verified address; prints which\n"
                "happened: mailed, not-sent:unverified-address, not-sent:invited or\n"
                "not-sent:deactivated. Needs the notifications.send permission\n"
                "(org-admin). A desktop agent may listen for the UserNotified signal.",
                3, 3, (const command_option[]) { END_OPTIONS }, verb_user_notify,
        },
        {
                SECTION_ANYONE, "redeem", "TOKEN", "[--password-stdin]",
                "Set your password with an invitation or password-reset link",
                "TOKEN is the token of the link in the mail (the part after token=). The\n"
                "password is asked twice on the terminal, or read from the first line of\n"
                "standard input with --password-stdin. An invitation activates the account\n"
                "and verifies its address; a reset ends every session of the account.",
                1, 1, (const command_option[]) {
                        OPTION(OPT_PASSWORD_STDIN, "read the new password from standard input"),
                        END_OPTIONS,
                }, verb_redeem,
        },
        {
                SECTION_ANYONE, "verify-email", "TOKEN", "",
                "Confirm an email address with the link mailed to it", NULL,
                1, 1, (const command_option[]) { END_OPTIONS }, verb_verify_email,
        },
        {
                SECTION_ANYONE, "forgot-password", "EMAIL", "",
                "Mail a password-reset link to EMAIL, if it is an account's verified address",
                "The answer is the same whether or not the address belongs to an account.\n"
                "The link is valid for one hour; it does not log anyone in, and two-factor\n"
                "authentication still applies. Requests are rate limited.",
                1, 1, (const command_option[]) { END_OPTIONS }, verb_forgot_password,
        },
        {
                SECTION_ACCOUNT, "account show", "", "[--json]",
                "Show your own account", NULL,
                0, 0, (const command_option[]) { JSON_OPTION("the account"), END_OPTIONS }, verb_account_show,
        },
        {
                SECTION_ACCOUNT, "account password", "", "[--password-stdin]",
                "Change your password",
                "Asks for the current password and the new one twice on the terminal. With\n"
                "--password-stdin, reads the current password from the first line of\n"
                "standard input and the new one from the second. A wrong current password\n"
                "counts as a failed login.",
                0, 0, (const command_option[]) {
                        OPTION(OPT_PASSWORD_STDIN, "read the current and the new password from standard input"),
                        END_OPTIONS,
                }, verb_account_password,
        },
        {
                SECTION_ACCOUNT, "account sessions", "", "[--json]",
                "List your own login sessions", NULL,
                0, 0, (const command_option[]) { JSON_OPTION("the sessions (an array)"), END_OPTIONS }, verb_account_sessions,
        },
        {
                SECTION_ACCOUNT, "account ssh-key add", "FILE|-", "[--name NAME] [--json]",
                "Add one of your SSH public keys",
                "FILE is a public key as ssh-keygen writes it (~/.ssh/id_ed25519.pub); '-'\n"
                "reads standard input. You can log in with the key as soon as the command\n"
                "returns. No DSA, no RSA under 2048 bits, and only the types your organisation\n"
                "accepts. The key's comment names it unless --name does.",
                1, 1, (const command_option[]) {
                        OPTION(OPT_NAME, "name of the key (default: its comment; A-Z a-z 0-9 . _ @ -)"),
                        JSON_OPTION("the added key"),
                        END_OPTIONS,
                }, verb_account_sshkey_add,
        },
        {
                SECTION_ACCOUNT, "account ssh-key list", "", "[--json]",
                "List your SSH public keys", NULL,
                0, 0, (const command_option[]) { JSON_OPTION("the keys (an array)"), END_OPTIONS }, verb_account_sshkey_list,
        },
        {
                SECTION_ACCOUNT, "account ssh-key remove", "NAME|FINGERPRINT", "",
                "Remove one of your SSH public keys", NULL,
                1, 1, (const command_option[]) { END_OPTIONS }, verb_account_sshkey_remove,
        },
        {
                SECTION_ACCOUNT, "account email", "NEW_EMAIL", "",
                "Change your email address (a verification link goes to the new one)",
                "Your current address stays in use until the new one is confirmed with\n"
                "'nexalixctl verify-email TOKEN' (the link is valid for 48 hours).",
                1, 1, (const command_option[]) { END_OPTIONS }, verb_account_email,
        },
        {
                SECTION_ACCOUNT, "account resend-verification", "", "",
                "Mail a fresh verification link (the previous one stops working)", NULL,
                0, 0, (const command_option[]) { END_OPTIONS }, verb_account_resend_verification,
        },
        {
                SECTION_ACCOUNT, "account token create", "NAME", "[--expires DAYS]",
                "Create a personal API token (printed once)",
                "The token is printed on standard output, once; only a hash is kept. A PAM\n"
                "service configured with 'pam_nexalix.so allow_token' (a mail or VPN service)\n"
                "accepts it in place of your password. Deactivation revokes every token.",
                1, 1, (const command_option[]) {
                        OPTION(OPT_EXPIRES, "the token stops working after DAYS days (default: never)"),
                        END_OPTIONS,
                }, verb_account_token_create,
        },
        {
                SECTION_ACCOUNT, "account token list", "", "[--json]",
                "List your API tokens (names and times, never the tokens)", NULL,
                0, 0, (const command_option[]) { JSON_OPTION("the tokens (an array)"), END_OPTIONS }, verb_account_token_list,
        },
        {
                SECTION_ACCOUNT, "account token revoke", "NAME", "",
                "Revoke one of your API tokens", NULL,
                1, 1, (const command_option[]) { END_OPTIONS }, verb_account_token_revoke,
        },
        {
                SECTION_ACCOUNT, "2fa status", "", "[--json]",
                "Show whether your two-factor authentication is on", NULL,
                0, 0, (const command_option[]) { JSON_OPTION("the status"), END_OPTIONS }, verb_2fa_status,
        },
        {
                SECTION_ACCOUNT, "2fa enable", "", "",
                "Turn on two-factor authentication (TOTP)",
                "Prints a new secret as a QR code, as a key (base32) and as an otpauth://\n"
                "URI for an authenticator app, then reads a code from the app on standard\n"
                "input (a terminal gets 3 tries). Only a correct code turns it on; then the\n"
                "recovery codes are printed once, under a line that says \"recovery codes\".\n"
                "Until then nothing changes at login.",
                0, 0, (const command_option[]) { END_OPTIONS }, verb_2fa_enable,
        },
        {
                SECTION_ACCOUNT, "2fa disable", "", "[--password-stdin]",
                "Turn off two-factor authentication (asks for your password)", NULL,
                0, 0, (const command_option[]) {
                        OPTION(OPT_PASSWORD_STDIN, "read the current password from standard input"),
                        END_OPTIONS,
                }, verb_2fa_disable,
        },
        {
                SECTION_ACCOUNT, "2fa recovery-codes", "", "[--password-stdin]",
                "Make a new set of recovery codes (asks for your password)",
                "The old codes stop working at once.",
                0, 0, (const command_option[]) {
                        OPTION(OPT_PASSWORD_STDIN, "read the current password from standard input"),
                        END_OPTIONS,
                }, verb_2fa_recovery_codes,
        },
        {
                SECTION_LINK, "link add", "USER KIND REF", "",
                "Record that operational data REF of KIND refers to USER",
                "KIND is one of incident.registered, incident.assigned, cost.recorded,\n"
                "incident.status_change; REF is the application's identifier. A user with\n"
                "linked data cannot be deleted.",
                3, 3, (const command_option[]) { END_OPTIONS }, verb_link_add,
        },
        {
                SECTION_LINK, "link remove", "USER KIND REF", "",
                "Remove a link", NULL,
                3, 3, (const command_option[]) { END_OPTIONS }, verb_link_remove,
        },
        {
                SECTION_LINK, "link list", "USER", "[--json]",
                "List the operational data linked to USER", NULL,
                1, 1, (const command_option[]) { JSON_OPTION("the links"), END_OPTIONS }, verb_link_list,
        },
        {
                SECTION_MAIL, "mail queue", "", "[--json]",
                "Show the mail waiting for delivery, and why it waits",
                "Mail is written to an outbox in the same transaction as the change that\n"
                "causes it, and leaves it once the mail system has taken it. Shows each\n"
                "waiting mail with its attempts, the next attempt and the last error; an\n"
                "org-admin sees the mail about users of their own organisation.",
                0, 0, (const command_option[]) { JSON_OPTION("the mails (an array)"), END_OPTIONS }, verb_mail_queue,
        },
        {
                SECTION_MAIL, "mail retry", "[ID]", "",
                "Try waiting mail again now, instead of after its back-off",
                "Without ID, every mail you may see; given-up mail is tried again too.\n"
                "(SIGHUP to nexalixd retries every waiting mail as well.)",
                0, 1, (const command_option[]) { END_OPTIONS }, verb_mail_retry,
        },
        {
                SECTION_MAIL, "mail drop", "ID", "",
                "Remove a mail from the outbox without sending it (audited)", NULL,
                1, 1, (const command_option[]) { END_OPTIONS }, verb_mail_drop,
        },
        {
                SECTION_AUDIT, "audit", "", "[--user USER] [--limit N] [--json]",
                "Show the audit log, newest first", NULL,
                0, 0, (const command_option[]) {
                        OPTION(OPT_USER, "only entries about USER"),
                        OPTION(OPT_LIMIT, "show at most N entries (default 50)"),
                        JSON_OPTION("the entries (an array)"),
                        END_OPTIONS,
                }, verb_audit_show,
        },
        {
                SECTION_AUDIT, "status", "", "[--json]",
                "Show whether nexalixd runs, and its store and snapshot", NULL,
                0, 0, (const command_option[]) { JSON_OPTION("the status"), END_OPTIONS }, verb_status_show,
        },
};

/* Whether a progress line is on the terminal. Global like the terminal it
 * describes: every message must clear it, wherever it is printed from. */
static bool status_line_shown;

void ctl_status_line(const char *format, ...) {
        va_list ap;

        if (!isatty(STDERR_FILENO))
                return;
        fputs("\r", stderr);
        va_start(ap, format);
        vfprintf(stderr, format, ap);
        va_end(ap);
        fputs("\033[K", stderr);
        fflush(stderr);
        status_line_shown = true;
}

void ctl_status_clear(void) {
        if (!status_line_shown)
                return;
        fputs("\r\033[K", stderr);
        fflush(stderr);
        status_line_shown = false;
}

int ctl_error(int r, const char *format, ...) {
        va_list ap;

        /* Whatever was printed so far comes first. */
        ctl_status_clear();
        fflush(stdout);
        errno = -r;
        fputs(PROGRAM ": ", stderr);
        va_start(ap, format);
        vfprintf(stderr, format, ap);
        va_end(ap);
        fputc('\n', stderr);
        return r;
}

int ctl_usage_error(const command_args *args, const char *format, ...) {
        va_list ap;

        ctl_status_clear();
        fflush(stdout);
        fputs(PROGRAM ": ", stderr);
        va_start(ap, format);
        vfprintf(stderr, format, ap);
        va_end(ap);
        fprintf(stderr, "\nTry '" PROGRAM "%s%s --help' for more information.\n",
                args && args->command ? " " : "", args && args->command ? args->command : "");
        return -EINVAL;
}

int ctl_exit_status(int r) {
        switch (r) {
        case 0:
                return CTL_EXIT_OK;
        case -EINVAL:
                return CTL_EXIT_USAGE;
        case -EHOSTUNREACH:
                return CTL_EXIT_UNREACHABLE;
        default:
                return CTL_EXIT_REFUSED;
        }
}

int ctl_parse_uint32(const command_args *args, opt_id opt, const char *name, uint32_t *ret) {
        const char *s = args->value[opt];
        uintmax_t v;
        char *end;

        /* strtoumax accepts leading spaces and a sign; a count does not. */
        if (!s || *s < '0' || *s > '9')
                return ctl_usage_error(args, "%s must be a number, not '%s'", name, strempty(s));
        errno = 0;
        v = strtoumax(s, &end, 10);
        if (errno != 0 || *end != '\0' || v > UINT32_MAX)
                return ctl_usage_error(args, "%s must be a number up to %" PRIu32 ", not '%s'",
                                       name, UINT32_MAX, s);
        *ret = (uint32_t) v;
        return 0;
}

/* ---- Help ---- */

static void print_command_line(FILE *f, const command *c) {
        char left[64];

        snprintf(left, sizeof left, "%s%s%s", c->name, *c->args ? " " : "", c->args);
        fprintf(f, "  %-30s %s\n", left, c->summary);
}

static void print_main_help(void) {
        const char *section = NULL;

        printf("Usage: " PROGRAM " COMMAND [ARGUMENTS] [OPTIONS]\n"
               "Manage Nexalix identities: organisations, users, linked data and audit,\n"
               "through nexalixd on the system bus.\n");
        for (size_t i = 0; i < ELEMENTSOF(commands); i++) {
                if (commands[i].section != section) {
                        section = commands[i].section;
                        printf("\n%s:\n", section);
                }
                print_command_line(stdout, &commands[i]);
        }
        printf("\nOptions:\n"
               "  -h, --help       show this help; '" PROGRAM " COMMAND --help' for a command\n"
               "      --version    show the version\n"
               "\nExit status: 0 success, 1 refused by nexalixd (its reason on standard error),\n"
               "2 usage error, 3 nexalixd cannot be reached.\n"
               "See nexalixctl(1).\n");
}

static void print_command_help(const command *c) {
        printf("Usage: " PROGRAM " %s%s%s%s%s\n\n%s.\n", c->name,
               *c->args ? " " : "", c->args, *c->synopsis ? " " : "", c->synopsis, c->summary);
        if (c->details)
                printf("\n%s\n", c->details);
        printf("\nOptions:\n");
        for (const command_option *o = c->options; o->help; o++) {
                const option_spec *spec = &option_specs[o->id];
                char left[64];

                snprintf(left, sizeof left, "--%s%s%s", spec->name,
                         spec->metavar ? " " : "", strempty(spec->metavar));
                printf("      %-22s %s%s\n", left, o->help, o->required ? " (required)" : "");
        }
        printf("  -h, --help                 show this help\n");
}

/* Lists the commands whose name starts with the words in prefix. */
static void print_group_help(FILE *f, const char *prefix) {
        size_t n = strlen(prefix);

        fprintf(f, "Commands of '" PROGRAM " %s':\n", prefix);
        for (size_t i = 0; i < ELEMENTSOF(commands); i++)
                if (strncmp(commands[i].name, prefix, n) == 0 && commands[i].name[n] == ' ')
                        print_command_line(f, &commands[i]);
        fprintf(f, "Run '" PROGRAM " COMMAND --help' for a command's options.\n");
}

/* ---- Finding the command ---- */

/* How many leading words of argv (from index 0) equal the first words of
 * name; *ret_complete tells whether that was all of name. */
static size_t words_matched(const char *name, int argc, char **argv, bool *ret_complete) {
        size_t n = 0;
        const char *p = name;

        while ((int) n < argc) {
                size_t len = strcspn(p, " ");
                if (strlen(argv[n]) != len || strncmp(argv[n], p, len) != 0)
                        break;
                n++;
                p += len;
                if (*p == '\0') {
                        *ret_complete = true;
                        return n;
                }
                p++;
        }
        *ret_complete = false;
        return n;
}

/* The command named by the leading words of argv, or NULL; *ret_prefix is
 * the number of words that matched some command partially (for messages). */
static const command *command_find(int argc, char **argv, size_t *ret_words, size_t *ret_prefix) {
        const command *best = NULL;
        size_t best_words = 0, prefix = 0;

        for (size_t i = 0; i < ELEMENTSOF(commands); i++) {
                bool complete;
                size_t n = words_matched(commands[i].name, argc, argv, &complete);

                if (complete && n > best_words) {
                        best = &commands[i];
                        best_words = n;
                }
                if (n > prefix)
                        prefix = n;
        }
        *ret_words = best_words;
        *ret_prefix = prefix;
        return best;
}

/* ---- Parsing a command's arguments ---- */

#define OPT_HELP_VAL 'h'
#define OPT_BASE_VAL 0x100

/* Parses argv (argv[0] is the command's last word) into args. Returns 1 if
 * help was printed, 0 to run, -EINVAL on a usage error. */
static int command_parse(const command *c, int argc, char **argv, command_args *args) {
        struct option longopts[_OPT_MAX + 2] = {};
        size_t n = 0;
        int opt;

        for (const command_option *o = c->options; o->help; o++)
                longopts[n++] = (struct option) {
                        option_specs[o->id].name,
                        option_specs[o->id].metavar ? required_argument : no_argument,
                        NULL, OPT_BASE_VAL + (int) o->id,
                };
        longopts[n++] = (struct option) { "help", no_argument, NULL, OPT_HELP_VAL };

        args->roles = calloc((size_t) argc + 1, sizeof(char *));
        if (!args->roles)
                return ctl_error(-ENOMEM, "out of memory");

        /* A fresh scan for every parse (glibc: optind 0 reinitialises).
         * GNU permutation lets options come before or after arguments; the
         * leading ':' makes getopt report problems to us instead of printing
         * its own messages. */
        optind = 0;
        opterr = 0;
        while ((opt = getopt_long(argc, argv, ":h", longopts, NULL)) >= 0) {
                if (opt == OPT_HELP_VAL) {
                        print_command_help(c);
                        return 1;
                }
                if (opt == ':')
                        return ctl_usage_error(args, "option '%s' needs an argument", argv[optind - 1]);
                if (opt == '?') {
                        if (optopt && optopt < OPT_BASE_VAL)
                                return ctl_usage_error(args, "unknown option '-%c'", optopt);
                        return ctl_usage_error(args, "unknown option '%s'", argv[optind - 1]);
                }

                opt_id id = (opt_id) (opt - OPT_BASE_VAL);
                args->set[id] = true;
                args->value[id] = optarg;
                if (id == OPT_ROLE) {
                        size_t k = 0;
                        while (args->roles[k])
                                k++;
                        args->roles[k] = optarg;
                }
        }

        args->pos = argv + optind;
        args->n_pos = (size_t) (argc - optind);
        if (args->n_pos < c->min_args)
                return ctl_usage_error(args, "missing argument: %s %s", c->name, c->args);
        if (args->n_pos > c->max_args)
                return ctl_usage_error(args, "unexpected argument '%s'", args->pos[c->max_args]);

        for (const command_option *o = c->options; o->help; o++)
                if (o->required && !args->set[o->id])
                        return ctl_usage_error(args, "option --%s is required", option_specs[o->id].name);
        /* libdbus aborts the process on a string that is not UTF-8: refuse it
         * here with a message instead. */
        for (int i = 1; i < argc; i++)
                if (!dbus_validate_utf8(argv[i], NULL))
                        return ctl_usage_error(args, "argument %d is not valid UTF-8", i);
        return 0;
}

static int run_command(const command *c, int argc, char **argv) {
        _cleanup_free_ const char **roles = NULL;
        command_args args = { .command = c->name };
        ctl_context ctl = {};
        int r;

        r = command_parse(c, argc, argv, &args);
        roles = args.roles;
        if (r != 0)
                return r < 0 ? r : 0;

        r = c->run(&ctl, &args);
        ctl_done(&ctl);
        return r;
}

/* "nexalixctl help [WORDS...]" is "nexalixctl WORDS... --help". */
static int help_command(int argc, char **argv) {
        size_t words, prefix;
        const command *c;

        if (argc == 0) {
                print_main_help();
                return 0;
        }
        c = command_find(argc, argv, &words, &prefix);
        if (c && (int) words == argc) {
                print_command_help(c);
                return 0;
        }
        if ((int) prefix == argc) {
                _cleanup_free_ char *joined = NULL;
                size_t len = 0;
                for (int i = 0; i < argc; i++)
                        len += strlen(argv[i]) + 1;
                joined = calloc(len, 1);
                if (!joined)
                        return ctl_error(-ENOMEM, "out of memory");
                for (int i = 0; i < argc; i++) {
                        if (i > 0)
                                strcat(joined, " ");
                        strcat(joined, argv[i]);
                }
                print_group_help(stdout, joined);
                return 0;
        }
        return ctl_usage_error(NULL, "unknown command '%s'", argv[0]);
}

static int dispatch(int argc, char **argv) {
        size_t words, prefix;
        const command *c;

        if (argc < 2) {
                fputs("Usage: " PROGRAM " COMMAND [ARGUMENTS] [OPTIONS]\n", stderr);
                return ctl_usage_error(NULL, "missing command");
        }
        if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
                print_main_help();
                return 0;
        }
        if (strcmp(argv[1], "--version") == 0) {
                printf(PROGRAM " " NEXALIX_VERSION "\n");
                return 0;
        }
        if (strcmp(argv[1], "help") == 0)
                return help_command(argc - 2, argv + 2);
        if (argv[1][0] == '-')
                return ctl_usage_error(NULL, "unknown option '%s'", argv[1]);

        c = command_find(argc - 1, argv + 1, &words, &prefix);
        if (c)
                return run_command(c, argc - (int) words, argv + words);

        /* Only part of a command was given ("user"), or a wrong word. */
        if (prefix > 0) {
                char group[64] = "";
                for (size_t i = 1; i <= prefix; i++)
                        snprintf(group + strlen(group), sizeof group - strlen(group), "%s%s",
                                 i > 1 ? " " : "", argv[i]);
                if ((int) prefix + 1 < argc &&
                    (strcmp(argv[prefix + 1], "--help") == 0 || strcmp(argv[prefix + 1], "-h") == 0)) {
                        print_group_help(stdout, group);
                        return 0;
                }
                if ((int) prefix + 1 >= argc || argv[prefix + 1][0] == '-') {
                        fflush(stdout);
                        fprintf(stderr, PROGRAM ": '%s' needs a command\n", group);
                        print_group_help(stderr, group);
                        return -EINVAL;
                }
                return ctl_usage_error(&(command_args) { .command = group }, "unknown command '%s %s'",
                                       group, argv[prefix + 1]);
        }
        return ctl_usage_error(NULL, "unknown command '%s'", argv[1]);
}

int main(int argc, char *argv[]) {
        int r = dispatch(argc, argv);

        /* Output that could not be written is a failure, not a success. */
        if (fflush(stdout) != 0 || ferror(stdout)) {
                int k = ctl_error(errno > 0 && errno != EINVAL ? -errno : -EIO,
                                  "cannot write output: %m");
                if (r == 0)
                        r = k;
        }
        return ctl_exit_status(r);
}
