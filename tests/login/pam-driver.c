/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* A PAM application for the tests: runs the PAM calls named on its command
 * line against a service, answers prompts from a list, and prints every
 * prompt, message and PAM return code by name, so that a test can assert on
 * exactly what a program like sshd or passwd would see (pamtester prints
 * only pam_strerror() text and stops at the first failure).
 *
 *   pam-driver [--answer TEXT]... [--interactive] [--tty TTY] [--rhost HOST]
 *              [--silent] SERVICE USER OP...
 *
 * OP: auth, account, chauthtok, open, close, setcred, or wait (read one
 * line from standard input: lets a test look at an open session). With
 * --interactive, a prompt left without an --answer is answered with the
 * next line of standard input (a test that must see a prompt's messages
 * before it can answer: a key to compute a code from). Every OP
 * runs, whatever the previous one returned. Output, one line each:
 *   PROMPT <text>          (answered with the next --answer, or refused)
 *   INFO <text> / ERROR <text>
 *   RESULT <op> <PAM_CODE>
 * With NX_DRIVER_TIMING set, each RESULT line is followed by
 *   TIMING <ms from the last answer to the result>
 * (for the benchmarks: the daemon's work after the last prompt).
 * Exit status: 0 when every OP returned PAM_SUCCESS, 1 otherwise, 2 on a
 * usage error. */

#include <security/pam_appl.h>
#include <stdio.h>
#include <time.h>
#include <stdlib.h>
#include <string.h>

typedef struct answers {
        char **v;
        int n, next;
        int interactive;
        struct timespec last_answer;    /* when the last prompt was answered */
} answers;

static int conversation(int n, const struct pam_message **msg, struct pam_response **resp, void *userdata) {
        answers *a = userdata;
        struct pam_response *r = calloc((size_t) n, sizeof(*r));

        if (!r)
                return PAM_BUF_ERR;
        for (int i = 0; i < n; i++) {
                switch (msg[i]->msg_style) {
                case PAM_PROMPT_ECHO_OFF:
                case PAM_PROMPT_ECHO_ON:
                        printf("PROMPT %s\n", msg[i]->msg);
                        if (a->next >= a->n && a->interactive) {
                                char line[4096];
                                fflush(stdout);
                                if (fgets(line, sizeof(line), stdin)) {
                                        line[strcspn(line, "\n")] = 0;
                                        r[i].resp = strdup(line);
                                        break;
                                }
                        }
                        if (a->next >= a->n) {
                                printf("(no answer left)\n");
                                for (int j = 0; j < i; j++)
                                        free(r[j].resp);
                                free(r);
                                fflush(stdout);
                                return PAM_CONV_ERR;
                        }
                        r[i].resp = strdup(a->v[a->next++]);
                        break;
                case PAM_TEXT_INFO:
                        printf("INFO %s\n", msg[i]->msg);
                        break;
                case PAM_ERROR_MSG:
                        printf("ERROR %s\n", msg[i]->msg);
                        break;
                default:
                        break;
                }
        }
        fflush(stdout);
        *resp = r;
        clock_gettime(CLOCK_MONOTONIC, &a->last_answer);
        return PAM_SUCCESS;
}

static const char *code_name(int r) {
        static const struct {
                int code;
                const char *name;
        } names[] = {
#define N(x) { x, #x }
                N(PAM_SUCCESS), N(PAM_OPEN_ERR), N(PAM_SYMBOL_ERR), N(PAM_SERVICE_ERR), N(PAM_SYSTEM_ERR),
                N(PAM_BUF_ERR), N(PAM_PERM_DENIED), N(PAM_AUTH_ERR), N(PAM_CRED_INSUFFICIENT),
                N(PAM_AUTHINFO_UNAVAIL), N(PAM_USER_UNKNOWN), N(PAM_MAXTRIES), N(PAM_NEW_AUTHTOK_REQD),
                N(PAM_ACCT_EXPIRED), N(PAM_SESSION_ERR), N(PAM_CRED_UNAVAIL), N(PAM_CRED_EXPIRED),
                N(PAM_CRED_ERR), N(PAM_NO_MODULE_DATA), N(PAM_CONV_ERR), N(PAM_AUTHTOK_ERR),
                N(PAM_AUTHTOK_RECOVERY_ERR), N(PAM_AUTHTOK_LOCK_BUSY), N(PAM_AUTHTOK_DISABLE_AGING),
                N(PAM_TRY_AGAIN), N(PAM_IGNORE), N(PAM_ABORT), N(PAM_AUTHTOK_EXPIRED), N(PAM_MODULE_UNKNOWN),
#undef N
        };
        for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
                if (names[i].code == r)
                        return names[i].name;
        return "PAM_(unknown)";
}

int main(int argc, char *argv[]) {
        answers a = { .v = calloc((size_t) argc, sizeof(char *)) };
        const char *tty = NULL, *rhost = NULL;
        struct pam_conv conv = { conversation, &a };
        pam_handle_t *pamh = NULL;
        int flags = 0, i, r, failed = 0;

        for (i = 1; i < argc; i++) {
                if (strcmp(argv[i], "--answer") == 0 && i + 1 < argc)
                        a.v[a.n++] = argv[++i];
                else if (strcmp(argv[i], "--tty") == 0 && i + 1 < argc)
                        tty = argv[++i];
                else if (strcmp(argv[i], "--rhost") == 0 && i + 1 < argc)
                        rhost = argv[++i];
                else if (strcmp(argv[i], "--silent") == 0)
                        flags |= PAM_SILENT;
                else if (strcmp(argv[i], "--interactive") == 0)
                        a.interactive = 1;
                else
                        break;
        }
        if (argc - i < 3) {
                fprintf(stderr, "usage: pam-driver [--answer TEXT]... [--tty TTY] [--rhost HOST] [--silent] "
                                "SERVICE USER OP...\n");
                return 2;
        }
        r = pam_start(argv[i], argv[i + 1], &conv, &pamh);
        if (r != PAM_SUCCESS) {
                printf("RESULT start %s\n", code_name(r));
                return 1;
        }
        if (tty)
                pam_set_item(pamh, PAM_TTY, tty);
        if (rhost)
                pam_set_item(pamh, PAM_RHOST, rhost);

        for (i += 2; i < argc; i++) {
                const char *op = argv[i];

                if (strcmp(op, "wait") == 0) {
                        char line[64];
                        printf("WAITING\n");
                        fflush(stdout);
                        if (!fgets(line, sizeof(line), stdin))
                                break;
                        continue;
                }
                if (strcmp(op, "auth") == 0)
                        r = pam_authenticate(pamh, flags);
                else if (strcmp(op, "account") == 0)
                        r = pam_acct_mgmt(pamh, flags);
                else if (strcmp(op, "chauthtok") == 0)
                        r = pam_chauthtok(pamh, flags);
                else if (strcmp(op, "open") == 0)
                        r = pam_open_session(pamh, flags);
                else if (strcmp(op, "close") == 0)
                        r = pam_close_session(pamh, flags);
                else if (strcmp(op, "setcred") == 0)
                        r = pam_setcred(pamh, flags | PAM_ESTABLISH_CRED);
                else {
                        fprintf(stderr, "pam-driver: unknown operation %s\n", op);
                        pam_end(pamh, PAM_SUCCESS);
                        return 2;
                }
                printf("RESULT %s %s\n", op, code_name(r));
                if (getenv("NX_DRIVER_TIMING") && a.last_answer.tv_sec) {
                        struct timespec now;
                        clock_gettime(CLOCK_MONOTONIC, &now);
                        printf("TIMING %.3f\n", (double) (now.tv_sec - a.last_answer.tv_sec) * 1e3 +
                                                 (double) (now.tv_nsec - a.last_answer.tv_nsec) / 1e6);
                }
                fflush(stdout);
                failed |= r != PAM_SUCCESS;
        }
        pam_end(pamh, failed ? PAM_AUTH_ERR : PAM_SUCCESS);
        free(a.v);
        return failed ? 1 : 0;
}
