/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "pam-client.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <security/pam_ext.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "build-config.h"
#include "keys-snapshot.h"
#include "macro.h"
#include "validate.h"

void nexalix_parse_options(pam_handle_t *pamh, int argc, const char **argv, pam_options *ret) {
        pam_options o = { .timeout_ms = NEXALIX_PAM_TIMEOUT_MS_DEFAULT };
        const char *runtime = NEXALIX_RUNTIME_DIR;

        for (int i = 0; i < argc; i++) {
                const char *a = argv[i];

                if (strcmp(a, "debug") == 0)
                        o.debug = true;
                else if (strcmp(a, "use_first_pass") == 0)
                        o.use_first_pass = true;
                else if (strcmp(a, "try_first_pass") == 0)
                        o.try_first_pass = true;
                else if (strcmp(a, "allow_token") == 0)
                        o.allow_token = true;
                else if (strncmp(a, "timeout=", 8) == 0) {
                        char *end;
                        long s = strtol(a + 8, &end, 10);
                        if (*end || s < 1 || s > 600)
                                pam_syslog(pamh, LOG_ERR, "ignoring bad option %s (1 to 600 seconds)", a);
                        else
                                o.timeout_ms = (int) s * 1000;
                } else if (strncmp(a, "runtime=", 8) == 0 && a[8] == '/')
                        runtime = a + 8;
                else
                        pam_syslog(pamh, LOG_ERR, "ignoring unknown option %s", a);
        }
        /* The module's arguments come from the PAM configuration, which only
         * root writes; the environment is never read (setuid hosts). */
        if (snprintf(o.socket_path, sizeof(o.socket_path), "%s/%s", runtime, LOGIN_SOCKET_FILE) >=
            (int) sizeof(o.socket_path)) {
                pam_syslog(pamh, LOG_ERR, "runtime directory too long: %s", runtime);
                snprintf(o.socket_path, sizeof(o.socket_path), "%s/%s", NEXALIX_RUNTIME_DIR, LOGIN_SOCKET_FILE);
        }
        *ret = o;
}

/* Whether /etc/passwd has name. Read directly, not through NSS: the answer
 * must not depend on any service, Nexalix's included. The daemon checks
 * again with its own view of the local accounts. */
static bool is_local_account(const char *name) {
        _cleanup_fclose_ FILE *f = fopen("/etc/passwd", "re");
        size_t n = strlen(name);
        char line[1024];

        if (!f)
                return false;
        while (fgets(line, sizeof(line), f)) {
                size_t len = strlen(line);
                bool whole = len > 0 && line[len - 1] == '\n';

                if (strncmp(line, name, n) == 0 && line[n] == ':')
                        return true;
                /* The rest of an overlong line is not the start of one. */
                while (!whole && fgets(line, sizeof(line), f)) {
                        len = strlen(line);
                        whole = len > 0 && line[len - 1] == '\n';
                }
        }
        return false;
}

static long long now_ms(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (long long) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Waits for events on fd until the deadline; 0 when ready, -ETIMEDOUT, or
 * -errno. EINTR (a signal to the host) does not extend the deadline. */
static int wait_for(int fd, short events, long long deadline) {
        for (;;) {
                struct pollfd p = { .fd = fd, .events = events };
                long long left = deadline - now_ms();
                int r;

                if (left <= 0)
                        return -ETIMEDOUT;
                r = poll(&p, 1, (int) (left > INT_MAX ? INT_MAX : left));
                if (r > 0)
                        return (p.revents & (events | POLLHUP | POLLERR)) ? 0 : -EIO;
                if (r == 0)
                        return -ETIMEDOUT;
                if (errno != EINTR)
                        return -errno;
        }
}

static int connect_daemon(const pam_options *o, int *ret_fd) {
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        _cleanup_close_ int fd = -1;
        socklen_t len;
        int err = 0;

        fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        if (fd < 0)
                return -errno;
        memcpy(sa.sun_path, o->socket_path, strlen(o->socket_path));
        if (connect(fd, (struct sockaddr *) &sa, sizeof(sa)) < 0) {
                if (errno != EAGAIN && errno != EINPROGRESS)
                        return -errno;
                /* A full backlog: wait for room, within the timeout. */
                if (wait_for(fd, POLLOUT, now_ms() + o->timeout_ms) < 0)
                        return -ETIMEDOUT;
                len = sizeof(err);
                if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0 || err)
                        return err ? -err : -errno;
        }
        *ret_fd = TAKE_FD(fd);
        return 0;
}

static int send_all(int fd, const uint8_t *p, size_t n, int timeout_ms) {
        long long deadline = now_ms() + timeout_ms;

        while (n > 0) {
                ssize_t k = send(fd, p, n, MSG_NOSIGNAL);
                if (k > 0) {
                        p += k;
                        n -= (size_t) k;
                        continue;
                }
                if (k < 0 && errno == EINTR)
                        continue;
                if (k < 0 && errno != EAGAIN)
                        return -errno;
                if (wait_for(fd, POLLOUT, deadline) < 0)
                        return -ETIMEDOUT;
        }
        return 0;
}

/* Reads one whole frame into buf; returns its size. */
static int receive_frame(int fd, login_buffer buf, int timeout_ms) {
        long long deadline = now_ms() + timeout_ms;
        size_t got = 0;
        int want = 0;

        for (;;) {
                ssize_t k;

                if (want > 0 && got == (size_t) want)
                        return want;
                k = recv(fd, buf + got, (want > 0 ? (size_t) want : 4) - got, 0);
                if (k > 0) {
                        got += (size_t) k;
                        if (want == 0 && got >= 4) {
                                want = login_frame_size(buf, got);
                                if (want < 0)
                                        return -EBADMSG;
                        }
                        continue;
                }
                if (k == 0)
                        return -ECONNRESET;     /* the daemon went away */
                if (errno == EINTR)
                        continue;
                if (errno != EAGAIN)
                        return -errno;
                if (wait_for(fd, POLLIN, deadline) < 0)
                        return -ETIMEDOUT;
        }
}

/* One message through the application's conversation function. */
static int pam_say(pam_handle_t *pamh, int style, const char *text, char **ret_answer) {
        const struct pam_conv *conv = NULL;
        const struct pam_message msg = { .msg_style = style, .msg = text };
        const struct pam_message *msgs[] = { &msg };
        struct pam_response *resp = NULL;
        int r;

        r = pam_get_item(pamh, PAM_CONV, (const void **) &conv);
        if (r != PAM_SUCCESS || !conv || !conv->conv)
                return PAM_CONV_ERR;
        r = conv->conv(1, msgs, &resp, conv->appdata_ptr);
        if (r != PAM_SUCCESS) {
                if (resp) {
                        if (resp->resp) {
                                explicit_bzero(resp->resp, strlen(resp->resp));
                                free(resp->resp);
                        }
                        free(resp);
                }
                return r;
        }
        if (ret_answer) {
                if (!resp || !resp->resp) {
                        free(resp);
                        return PAM_CONV_ERR;
                }
                *ret_answer = resp->resp;
        } else if (resp) {
                if (resp->resp) {
                        explicit_bzero(resp->resp, strlen(resp->resp));
                        free(resp->resp);
                }
        }
        free(resp);
        return PAM_SUCCESS;
}

static void free_secret(char **s) {
        if (*s) {
                explicit_bzero(*s, strlen(*s));
                free(*s);
                *s = NULL;
        }
}

/* What a conversation remembers between prompts for a password change. */
typedef struct new_password_state {
        bool from_stack;                /* the new password came from an earlier module (PAM_AUTHTOK) */
        unsigned asked;                 /* NEW prompts so far */
        char *typed;                    /* what the user typed for NEW, until the daemon accepts it */
} new_password_state;

static void new_password_state_done(new_password_state *n) {
        free_secret(&n->typed);
}

/* The stored item to answer a prompt with, where the options say so: the
 * current password from PAM_AUTHTOK (auth) or PAM_OLDAUTHTOK, and a new
 * password from PAM_AUTHTOK only at the first NEW prompt (an earlier module
 * asked for it; a second NEW prompt means the daemon refused it, and the
 * user must type another). NULL: ask the user. */
static const char *stored_answer(pam_handle_t *pamh, const pam_options *o, const login_prompt *p,
                                 const new_password_state *n) {
        const void *item = NULL;

        if (!o->use_first_pass && !o->try_first_pass)
                return NULL;
        switch (p->kind) {
        case LOGIN_ASK_PASSWORD:
                (void) pam_get_item(pamh, PAM_AUTHTOK, &item);
                return item;
        case LOGIN_ASK_OLD_PASSWORD:
                (void) pam_get_item(pamh, PAM_OLDAUTHTOK, &item);
                return item;
        case LOGIN_ASK_NEW_PASSWORD:
                if (n->asked == 0)
                        (void) pam_get_item(pamh, PAM_AUTHTOK, &item);
                return item;
        default:
                return NULL;
        }
}

/* The answer to a prompt: a stored item where the options say so, else the
 * user's. A password typed for auth or as the current one is stored for
 * the modules after us (pam_unix with try_first_pass); a new one only once
 * the daemon has accepted it (converse()). */
static int answer_prompt(pam_handle_t *pamh, const pam_options *o, const login_prompt *p, new_password_state *n,
                         char **ret) {
        const char *stored = stored_answer(pamh, o, p, n);
        char *answer = NULL;
        int r;

        if (p->kind == LOGIN_ASK_NEW_PASSWORD) {
                n->asked++;
                n->from_stack = stored != NULL;
                free_secret(&n->typed);
        }
        /* A new password from the stack is confirmed by the stack. */
        if (p->kind == LOGIN_ASK_NEW_PASSWORD_AGAIN && n->from_stack)
                (void) pam_get_item(pamh, PAM_AUTHTOK, (const void **) &stored);
        if (stored) {
                *ret = strdup(stored);
                return *ret ? PAM_SUCCESS : PAM_BUF_ERR;
        }
        /* use_first_pass: never ask for what should have come from the stack
         * (a refused new password from it ends the change). */
        if (o->use_first_pass && p->kind != LOGIN_ASK_NEW_PASSWORD_AGAIN && p->kind != LOGIN_ASK_CODE &&
            p->kind != LOGIN_ASK_OTHER)
                return PAM_AUTH_ERR;

        r = pam_say(pamh, p->style == LOGIN_PROMPT_ECHO_ON ? PAM_PROMPT_ECHO_ON : PAM_PROMPT_ECHO_OFF, p->text, &answer);
        if (r != PAM_SUCCESS)
                return r;
        if (p->kind == LOGIN_ASK_PASSWORD || p->kind == LOGIN_ASK_OLD_PASSWORD) {
                r = pam_set_item(pamh, p->kind == LOGIN_ASK_PASSWORD ? PAM_AUTHTOK : PAM_OLDAUTHTOK, answer);
                if (r != PAM_SUCCESS) {
                        free_secret(&answer);
                        return r;
                }
        } else if (p->kind == LOGIN_ASK_NEW_PASSWORD) {
                n->typed = strdup(answer);
                if (!n->typed) {
                        free_secret(&answer);
                        return PAM_BUF_ERR;
                }
        }
        *ret = answer;
        return PAM_SUCCESS;
}

static int pam_code(login_result r, login_stage stage) {
        switch (r) {
        case LOGIN_SUCCESS: return PAM_SUCCESS;
        case LOGIN_USER_UNKNOWN: return PAM_USER_UNKNOWN;
        case LOGIN_AUTH_ERR: return stage == LOGIN_STAGE_PASSWORD || stage == LOGIN_STAGE_PASSWORD_CHECK
                                    ? PAM_AUTHTOK_RECOVERY_ERR : PAM_AUTH_ERR;
        case LOGIN_PERM_DENIED: return PAM_PERM_DENIED;
        case LOGIN_ACCT_EXPIRED: return PAM_ACCT_EXPIRED;
        case LOGIN_MAXTRIES: return PAM_MAXTRIES;
        case LOGIN_AUTHTOK_ERR: return PAM_AUTHTOK_ERR;
        case LOGIN_SESSION_ERR: return PAM_SESSION_ERR;
        case LOGIN_ABORT: return PAM_CONV_ERR;
        default: return PAM_SYSTEM_ERR;
        }
}

/* The frame buffers: 128 KiB, on the heap, since the host's thread (a
 * screen locker's, say) may have a small stack. */
typedef struct frames {
        login_buffer buf;
        char scratch[LOGIN_FRAME_MAX + 4];
} frames;

static void frames_free(frames **f) {
        if (*f) {
                explicit_bzero(*f, sizeof(**f));
                free(*f);
        }
}

static int converse(pam_handle_t *pamh, const pam_options *o, int fd, frames *f, login_stage stage, int flags,
                    const char *user, char **ret_data) {
        __attribute__((cleanup(new_password_state_done))) new_password_state np = {};
        int r, n;

        for (;;) {
                login_prompt prompt;
                login_message message;
                login_result_frame result;
                char *answer = NULL;

                n = receive_frame(fd, f->buf, o->timeout_ms);
                if (n < 0) {
                        if (o->debug)
                                pam_syslog(pamh, LOG_DEBUG, "no answer from nexalixd: %s", strerror(-n));
                        return PAM_AUTHINFO_UNAVAIL;
                }
                switch (login_frame_type_of(f->buf, (size_t) n)) {
                case LOGIN_PROMPT:
                        if (login_parse_prompt(f->buf, (size_t) n, f->scratch, &prompt) < 0)
                                return PAM_AUTHINFO_UNAVAIL;
                        r = answer_prompt(pamh, o, &prompt, &np, &answer);
                        n = login_build_answer(f->buf, &(login_answer) { .cancelled = r != PAM_SUCCESS,
                                                                         .text = answer });
                        free_secret(&answer);
                        if (n < 0)
                                n = login_build_answer(f->buf, &(login_answer) { .cancelled = true });
                        r = send_all(fd, f->buf, (size_t) n, o->timeout_ms);
                        explicit_bzero(f->buf, (size_t) n);
                        if (r < 0)
                                return PAM_AUTHINFO_UNAVAIL;
                        break;
                case LOGIN_MESSAGE:
                        if (login_parse_message(f->buf, (size_t) n, f->scratch, &message) < 0)
                                return PAM_AUTHINFO_UNAVAIL;
                        if (!(flags & PAM_SILENT))
                                (void) pam_say(pamh, message.style == LOGIN_MESSAGE_ERROR ? PAM_ERROR_MSG : PAM_TEXT_INFO,
                                               message.text, NULL);
                        break;
                case LOGIN_RESULT:
                        if (login_parse_result(f->buf, (size_t) n, f->scratch, &result) < 0)
                                return PAM_AUTHINFO_UNAVAIL;
                        if (ret_data && !isempty(result.data)) {
                                *ret_data = strdup(result.data);
                                if (!*ret_data)
                                        return PAM_BUF_ERR;
                        }
                        if (o->debug)
                                pam_syslog(pamh, LOG_DEBUG, "nexalixd: %s for %s",
                                           login_result_to_string(result.result), user);
                        /* The new password the user typed, now that it is set,
                         * for the modules after us (use_authtok). */
                        if (result.result == LOGIN_SUCCESS && np.typed &&
                            pam_set_item(pamh, PAM_AUTHTOK, np.typed) != PAM_SUCCESS)
                                return PAM_BUF_ERR;
                        return pam_code(result.result, stage);
                default:
                        return PAM_AUTHINFO_UNAVAIL;
                }
        }
}

static int converse_with_daemon(pam_handle_t *pamh, const pam_options *o, login_stage stage, int flags,
                                const char *session_id, char **ret_data);

/* The account stage while nexalixd cannot be asked: the SSH keys snapshot
 * the daemon last published lists the users who may pass it (active, a
 * login role, no second factor left to set up). A user listed there passes
 * — so SSH keys keep working while the daemon restarts — and anyone else is
 * left to the next module, as without the snapshot. */
static int offline_account(pam_handle_t *pamh, const pam_options *o, const char *user) {
        char path[sizeof(o->socket_path) + sizeof(KEYS_SNAPSHOT_FILE)];
        keys_snapshot *k = NULL;
        int r;

        snprintf(path, sizeof(path), "%.*s%s", (int) (strrchr(o->socket_path, '/') + 1 - o->socket_path),
                 o->socket_path, KEYS_SNAPSHOT_FILE);
        if (keys_snapshot_open(path, &k) < 0)
                return PAM_AUTHINFO_UNAVAIL;
        r = keys_snapshot_account_ok(k, user);
        keys_snapshot_close(k);
        if (r < 0)
                return PAM_AUTHINFO_UNAVAIL;
        pam_syslog(pamh, LOG_NOTICE, "nexalixd unreachable: %s passes the account stage as of its last published "
                   "snapshot", user);
        return PAM_SUCCESS;
}

int nexalix_converse(pam_handle_t *pamh, const pam_options *o, login_stage stage, int flags,
                     const char *session_id, char **ret_data) {
        int r = converse_with_daemon(pamh, o, stage, flags, session_id, ret_data);

        if (r == PAM_AUTHINFO_UNAVAIL && stage == LOGIN_STAGE_ACCOUNT) {
                const char *user = NULL;

                if (pam_get_item(pamh, PAM_USER, (const void **) &user) == PAM_SUCCESS && user)
                        return offline_account(pamh, o, user);
        }
        return r;
}

static int converse_with_daemon(pam_handle_t *pamh, const pam_options *o, login_stage stage, int flags,
                                const char *session_id, char **ret_data) {
        __attribute__((cleanup(frames_free))) frames *f = NULL;
        const char *user = NULL, *tty = NULL, *rhost = NULL, *ruser = NULL, *service = NULL;
        _cleanup_close_ int fd = -1;
        int r, n;

        r = stage == LOGIN_STAGE_AUTH ? pam_get_user(pamh, &user, NULL)
                                      : pam_get_item(pamh, PAM_USER, (const void **) &user);
        if (r != PAM_SUCCESS || !user)
                return PAM_USER_UNKNOWN;
        /* Not a name Nexalix could have, or a local account's: not ours,
         * and no need to ask. Local accounts and root so never wait on the
         * daemon, even one that hangs. */
        if (validate_username(user, NULL) < 0 || is_local_account(user))
                return PAM_USER_UNKNOWN;
        (void) pam_get_item(pamh, PAM_SERVICE, (const void **) &service);
        (void) pam_get_item(pamh, PAM_TTY, (const void **) &tty);
        (void) pam_get_item(pamh, PAM_RHOST, (const void **) &rhost);
        (void) pam_get_item(pamh, PAM_RUSER, (const void **) &ruser);

        f = malloc(sizeof(*f));
        if (!f)
                return PAM_BUF_ERR;
        r = connect_daemon(o, &fd);
        if (r < 0) {
                if (o->debug)
                        pam_syslog(pamh, LOG_DEBUG, "nexalixd unreachable at %s: %s", o->socket_path, strerror(-r));
                return PAM_AUTHINFO_UNAVAIL;
        }
        n = login_build_start(f->buf, &(login_start) {
                .version = LOGIN_PROTOCOL_VERSION,
                .stage = stage,
                .flags = ((flags & PAM_SILENT) ? LOGIN_FLAG_SILENT : 0) | (o->allow_token ? LOGIN_FLAG_ALLOW_TOKEN : 0),
                .requester_uid = (uint32_t) getuid(),
                .user = user, .service = service, .tty = tty, .rhost = rhost, .ruser = ruser,
                .session_id = session_id,
        });
        if (n < 0 || send_all(fd, f->buf, (size_t) n, o->timeout_ms) < 0)
                return PAM_AUTHINFO_UNAVAIL;
        return converse(pamh, o, fd, f, stage, flags, user, ret_data);
}
