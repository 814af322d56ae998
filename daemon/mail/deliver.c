/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "deliver.h"
#include "macro.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define DELIVERY_TIMEOUT_MS_DEFAULT (60u * 1000)
#define STEP_TIMEOUT_MS_DEFAULT (30u * 1000)
/* After a cancellation (the daemon stops), what is under way gets this
 * long to finish: an SMTP transaction that is about to be accepted should
 * rather end than be cut off and sent again at the next start. */
#define CANCEL_GRACE_MS 1000u
/* RFC 5321: a reply line is at most 512 characters; take some slack. */
#define SMTP_LINE_MAX 1024

extern char **environ;

static uint64_t now_ms(void) {
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec * 1000 + (uint64_t) ts.tv_nsec / 1000000;
}

static int set_error(mail_delivery_result *ret, int r, bool permanent, const char *fmt, ...) _printf_(4, 5);
static int set_error(mail_delivery_result *ret, int r, bool permanent, const char *fmt, ...) {
        va_list ap;

        va_start(ap, fmt);
        vsnprintf(ret->error, sizeof(ret->error), fmt, ap);
        va_end(ap);
        /* The text goes into a D-Bus string and a log line. */
        for (char *p = ret->error; *p; p++)
                if ((unsigned char) *p < 0x20 || (unsigned char) *p >= 0x7f)
                        *p = ' ';
        ret->permanent = permanent;
        return r;
}

/* ---- deadlines ---- */

typedef struct deadline {
        const mail_transport *t;
        uint64_t end;                   /* the whole delivery, CLOCK_MONOTONIC ms */
        bool cancelled;
} deadline;

static deadline deadline_start(const mail_transport *t) {
        return (deadline) { t, now_ms() + (t->timeout_ms ?: DELIVERY_TIMEOUT_MS_DEFAULT), false };
}

/* Waits until fd is ready for events, step_end or the deadline passes
 * (-ETIMEDOUT), or a cancellation's grace runs out (-ECANCELED). */
static int wait_fd(deadline *d, int fd, short events, uint64_t step_end) {
        for (;;) {
                struct pollfd p[2] = { { .fd = fd, .events = events } };
                uint64_t now = now_ms(), end = step_end < d->end ? step_end : d->end;
                nfds_t n = 1;
                int k;

                if (now >= end)
                        return d->cancelled && now >= d->end ? -ECANCELED : -ETIMEDOUT;
                if (d->t->cancel_fd >= 0 && !d->cancelled) {
                        p[1] = (struct pollfd) { .fd = d->t->cancel_fd, .events = POLLIN };
                        n = 2;
                }
                k = poll(p, n, (int) (end - now));
                if (k < 0 && errno != EINTR)
                        return -errno;
                if (k <= 0)
                        continue;
                if (n == 2 && p[1].revents) {
                        d->cancelled = true;
                        if (now + CANCEL_GRACE_MS < d->end)
                                d->end = now + CANCEL_GRACE_MS;
                }
                if (p[0].revents)
                        return 0;
        }
}

static int write_all(int fd, const char *p, size_t n) {
        while (n > 0) {
                ssize_t k = write(fd, p, n);
                if (k < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                p += k;
                n -= (size_t) k;
        }
        return 0;
}

/* ---- spool ---- */

int mail_spool_name(const char *message_id, char *buf, size_t size) {
        size_t n = 0;
        const char *p = message_id;

        if (*p == '<')
                p++;
        for (; *p && *p != '>'; p++) {
                char c = *p;
                if (n + 5 >= size)
                        return -EINVAL;
                buf[n++] = isalnum((unsigned char) c) || strchr("@.-_+=", c) ? c : '_';
        }
        if (n == 0 || buf[0] == '.')
                return -EINVAL;
        memcpy(buf + n, ".eml", 5);
        return 0;
}

int mail_deliver_spool(const mail_transport *t, const char *message_id, const char *message, size_t size,
                       mail_delivery_result *ret) {
        _cleanup_free_ char *path = NULL, *tmp = NULL;
        _cleanup_close_ int fd = -1, dir = -1;
        char name[512];
        int r;

        if (mail_spool_name(message_id, name, sizeof(name)) < 0)
                return set_error(ret, -EINVAL, true, "the Message-ID %s cannot name a file", message_id);
        if (asprintf(&path, "%s/%s", t->spool_dir, name) < 0 || asprintf(&tmp, "%s/.%s.tmp", t->spool_dir, name) < 0)
                return set_error(ret, -ENOMEM, false, "out of memory");

        /* The same name for the same message: a second delivery after a
         * crash (written, but not yet deleted from the outbox) replaces the
         * file with an identical one instead of adding another. */
        fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0640);
        if (fd < 0)
                return set_error(ret, -errno, false, "cannot create %s: %s", tmp, strerror(errno));
        r = write_all(fd, message, size);
        if (r >= 0 && fsync(fd) < 0)
                r = -errno;
        if (r >= 0 && close(TAKE_FD(fd)) < 0)
                r = -errno;
        if (r >= 0 && rename(tmp, path) < 0)
                r = -errno;
        if (r < 0) {
                (void) unlink(tmp);
                return set_error(ret, r, false, "cannot write %s: %s", path, strerror(-r));
        }
        /* The rename itself must survive a crash before the outbox forgets
         * the message. */
        dir = open(t->spool_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dir < 0 || fsync(dir) < 0)
                return set_error(ret, -errno, false, "cannot sync %s: %s", t->spool_dir, strerror(errno));
        return 0;
}

/* ---- SMTP ---- */

int mail_smtp_parse(const char *s, char *host, size_t host_size, uint16_t *ret_port) {
        const char *h = s, *colon = NULL, *end;
        unsigned long port = 25;
        size_t n;

        if (isempty(s))
                return -EINVAL;
        if (*s == '[') {
                end = strchr(s, ']');
                if (!end)
                        return -EINVAL;
                h = s + 1;
                n = (size_t) (end - h);
                if (end[1] == ':')
                        colon = end + 1;
                else if (end[1])
                        return -EINVAL;
        } else {
                colon = strchr(s, ':');
                if (colon && strchr(colon + 1, ':'))
                        return -EINVAL;         /* a bare IPv6 address: write [::1]:25 */
                n = colon ? (size_t) (colon - s) : strlen(s);
        }
        if (colon) {
                char *e;
                errno = 0;
                if (!isdigit((unsigned char) colon[1]))
                        return -EINVAL;
                port = strtoul(colon + 1, &e, 10);
                if (errno || *e || port == 0 || port > 65535)
                        return -EINVAL;
        }
        if (n == 0 || n >= host_size)
                return -EINVAL;
        for (size_t i = 0; i < n; i++)
                if (!(isalnum((unsigned char) h[i]) || strchr(".-_:", h[i])))
                        return -EINVAL;
        memcpy(host, h, n);
        host[n] = 0;
        *ret_port = (uint16_t) port;
        return 0;
}

typedef struct smtp {
        deadline *d;
        unsigned step_ms;
        int fd;
        char buf[4096];
        size_t start, end;              /* unread bytes of buf */
        char line[SMTP_LINE_MAX];       /* the last reply line read */
} smtp;

static int smtp_connect(smtp *s, const char *host, uint16_t port, mail_delivery_result *ret) {
        struct addrinfo hints = { .ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICSERV }, *ai = NULL;
        char service[8];
        int r, last = -ECONNREFUSED;

        snprintf(service, sizeof(service), "%u", port);
        r = getaddrinfo(host, service, &hints, &ai);
        if (r != 0)
                return set_error(ret, -EHOSTUNREACH, false, "cannot resolve %s: %s", host, gai_strerror(r));
        for (struct addrinfo *a = ai; a; a = a->ai_next) {
                int fd = socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, a->ai_protocol);
                int err = 0;
                socklen_t len = sizeof(err);

                if (fd < 0) {
                        last = -errno;
                        continue;
                }
                if (connect(fd, a->ai_addr, a->ai_addrlen) < 0 && errno != EINPROGRESS) {
                        last = -errno;
                        close(fd);
                        continue;
                }
                r = wait_fd(s->d, fd, POLLOUT, now_ms() + s->step_ms);
                if (r >= 0 && getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
                        err = errno;
                if (r < 0 || err) {
                        last = r < 0 ? r : -err;
                        close(fd);
                        continue;
                }
                s->fd = fd;
                freeaddrinfo(ai);
                return 0;
        }
        freeaddrinfo(ai);
        return set_error(ret, last, false, "cannot connect to %s port %u: %s", host, port, strerror(-last));
}

static int smtp_send(smtp *s, const char *p, size_t n) {
        while (n > 0) {
                ssize_t k = send(s->fd, p, n, MSG_NOSIGNAL);
                if (k < 0) {
                        int r;
                        if (errno == EINTR)
                                continue;
                        if (errno != EAGAIN)
                                return -errno;
                        r = wait_fd(s->d, s->fd, POLLOUT, now_ms() + s->step_ms);
                        if (r < 0)
                                return r;
                        continue;
                }
                p += k;
                n -= (size_t) k;
        }
        return 0;
}

/* One reply, multi-line ones ("250-...") included: its code, and its last
 * line in s->line. */
static int smtp_reply(smtp *s, int *ret_code) {
        uint64_t step_end = now_ms() + s->step_ms;
        size_t n = 0;

        for (;;) {
                while (s->start < s->end) {
                        char c = s->buf[s->start++];
                        if (c == '\n') {
                                s->line[n] = 0;
                                if (n > 0 && s->line[n - 1] == '\r')
                                        s->line[--n] = 0;
                                if (n < 3 || !isdigit((unsigned char) s->line[0]) ||
                                    !isdigit((unsigned char) s->line[1]) || !isdigit((unsigned char) s->line[2]))
                                        return -EBADMSG;
                                if (n > 3 && s->line[3] == '-') {
                                        n = 0;
                                        continue;       /* more lines follow */
                                }
                                *ret_code = atoi(s->line);
                                return 0;
                        }
                        if (n < sizeof(s->line) - 1)
                                s->line[n++] = c;
                }
                ssize_t k = recv(s->fd, s->buf, sizeof(s->buf), 0);
                if (k == 0)
                        return -ECONNRESET;
                if (k < 0) {
                        int r;
                        if (errno == EINTR)
                                continue;
                        if (errno != EAGAIN)
                                return -errno;
                        r = wait_fd(s->d, s->fd, POLLIN, step_end);
                        if (r < 0)
                                return r;
                        continue;
                }
                s->start = 0;
                s->end = (size_t) k;
        }
}

/* Sends a command (NULL: none, just read the reply) and expects a reply of
 * class `expect` (2 or 3). */
static int smtp_step(smtp *s, const char *what, const char *command, int expect, int *ret_code,
                     mail_delivery_result *ret) {
        int code = 0, r;

        if (command) {
                r = smtp_send(s, command, strlen(command));
                if (r < 0)
                        return set_error(ret, r, false, "SMTP %s: cannot send: %s", what, strerror(-r));
        }
        r = smtp_reply(s, &code);
        if (r == -ETIMEDOUT)
                return set_error(ret, r, false, "SMTP %s: no reply in time", what);
        if (r == -EBADMSG)
                return set_error(ret, r, false, "SMTP %s: malformed reply \"%.120s\"", what, s->line);
        if (r < 0)
                return set_error(ret, r, false, "SMTP %s: %s", what, strerror(-r));
        if (ret_code)
                *ret_code = code;
        if (code / 100 == expect)
                return 0;
        /* 5xx: refused for good; 4xx (and anything odd): try again later. */
        return set_error(ret, code / 100 == 5 ? -EPERM : -EAGAIN, code / 100 == 5, "SMTP %s refused: %.200s", what,
                         s->line);
}

/* The message as DATA wants it: CRLF line ends, a line starting with '.'
 * gets another one (RFC 5321 4.5.2), and the final ".". */
static char *smtp_data(const char *m, size_t size, size_t *ret_size) {
        char *out = malloc(2 * size + 8), *w = out;
        bool line_start = true;

        if (!out)
                return NULL;
        for (size_t i = 0; i < size; i++) {
                char c = m[i];
                if (line_start && c == '.')
                        *w++ = '.';
                if (c == '\n' && (i == 0 || m[i - 1] != '\r'))
                        *w++ = '\r';
                *w++ = c;
                line_start = c == '\n';
        }
        if (!line_start) {
                *w++ = '\r';
                *w++ = '\n';
        }
        memcpy(w, ".\r\n", 3);
        *ret_size = (size_t) (w + 3 - out);
        return out;
}

int mail_deliver_smtp(const mail_transport *t, const char *to, const char *message, size_t size,
                      mail_delivery_result *ret) {
        _cleanup_free_ char *data = NULL, *cmd = NULL;
        char host[256], helo[256];
        deadline d = deadline_start(t);
        smtp s = { .d = &d, .step_ms = t->step_timeout_ms ?: STEP_TIMEOUT_MS_DEFAULT, .fd = -1 };
        size_t data_size;
        uint16_t port;
        int r;

        if (mail_smtp_parse(t->smtp, host, sizeof(host), &port) < 0)
                return set_error(ret, -EINVAL, false, "[mail] smtp = %s is not HOST:PORT", t->smtp);
        if (t->helo)
                snprintf(helo, sizeof(helo), "%s", t->helo);
        else if (gethostname(helo, sizeof(helo)) < 0 || !helo[0])
                snprintf(helo, sizeof(helo), "localhost");
        helo[sizeof(helo) - 1] = 0;

        data = smtp_data(message, size, &data_size);
        if (!data)
                return set_error(ret, -ENOMEM, false, "out of memory");

        r = smtp_connect(&s, host, port, ret);
        if (r < 0)
                return r;
        r = smtp_step(&s, "greeting", NULL, 2, NULL, ret);
        if (r >= 0) {
                free(cmd);
                r = asprintf(&cmd, "EHLO %s\r\n", helo) < 0 ? -ENOMEM : 0;
        }
        if (r >= 0 && smtp_step(&s, "EHLO", cmd, 2, NULL, ret) < 0) {
                /* An old server: HELO, once. */
                free(cmd);
                r = asprintf(&cmd, "HELO %s\r\n", helo) < 0 ? -ENOMEM : 0;
                if (r >= 0)
                        r = smtp_step(&s, "HELO", cmd, 2, NULL, ret);
        }
        if (r >= 0) {
                free(cmd);
                r = asprintf(&cmd, "MAIL FROM:<%s>\r\n", t->envelope_from) < 0 ? -ENOMEM : 0;
        }
        if (r >= 0)
                r = smtp_step(&s, "MAIL FROM", cmd, 2, NULL, ret);
        if (r >= 0) {
                free(cmd);
                r = asprintf(&cmd, "RCPT TO:<%s>\r\n", to) < 0 ? -ENOMEM : 0;
        }
        if (r >= 0)
                r = smtp_step(&s, "RCPT TO", cmd, 2, NULL, ret);
        if (r >= 0)
                r = smtp_step(&s, "DATA", "DATA\r\n", 3, NULL, ret);
        if (r >= 0) {
                r = smtp_send(&s, data, data_size);
                if (r < 0)
                        r = set_error(ret, r, false, "SMTP message: cannot send: %s", strerror(-r));
        }
        /* The reply to the final "." is the moment the mail system takes the
         * message: from here on it is delivered, whatever QUIT does. A
         * connection lost while waiting for it leaves it open whether the
         * mail arrived; it is sent again, and the Message-ID lets the
         * receiving side see the duplicate. */
        if (r >= 0)
                r = smtp_step(&s, "end of message", NULL, 2, NULL, ret);
        /* QUIT, without waiting for its reply: the transaction is complete,
         * and some servers deliver before they answer it (Exim with -odi
         * takes 200 ms there), which would only slow the queue down. */
        if (r >= 0)
                (void) smtp_send(&s, "QUIT\r\n", 6);
        else if (r == -ENOMEM)
                set_error(ret, r, false, "out of memory");
        if (s.fd >= 0)
                close(s.fd);
        return r < 0 ? r : 0;
}

/* ---- sendmail ---- */

/* The command line split at spaces and tabs (no shell, no quoting), and the
 * recipient unless the command reads them from the headers (-t). */
static char **sendmail_argv(const char *command, const char *to) {
        _cleanup_free_ char *copy = strdup(command);
        char **argv, *save = NULL;
        size_t n = 0;
        bool t_flag = false;

        if (!copy)
                return NULL;
        argv = calloc(strlen(command) / 2 + 4, sizeof(char *));
        if (!argv)
                return NULL;
        for (char *w = strtok_r(copy, " \t", &save); w; w = strtok_r(NULL, " \t", &save)) {
                argv[n] = strdup(w);
                if (!argv[n]) {
                        strv_free(argv);
                        return NULL;
                }
                /* -t, alone or in a cluster of single-letter flags (-ti). */
                if (n > 0 && w[0] == '-' && w[1] && strspn(w + 1, "timUv") == strlen(w + 1) && strchr(w, 't'))
                        t_flag = true;
                n++;
        }
        if (n == 0) {
                free(argv);
                return NULL;
        }
        if (!t_flag && !(argv[n++] = strdup(to))) {
                strv_free(argv);
                return NULL;
        }
        return argv;
}

/* The message with local line ends: sendmail(8) reads text lines. */
static char *to_lf(const char *m, size_t size, size_t *ret_size) {
        char *out = malloc(size + 1), *w = out;

        if (!out)
                return NULL;
        for (size_t i = 0; i < size; i++)
                if (!(m[i] == '\r' && i + 1 < size && m[i + 1] == '\n'))
                        *w++ = m[i];
        *ret_size = (size_t) (w - out);
        return out;
}

int mail_deliver_sendmail(const mail_transport *t, const char *to, const char *message, size_t size,
                          mail_delivery_result *ret) {
        _cleanup_strv_free_ char **argv = NULL;
        _cleanup_free_ char *text = NULL;
        _cleanup_close_ int in_w = -1, out_r = -1;
        posix_spawn_file_actions_t actions;
        posix_spawnattr_t attr;
        sigset_t none, defaults;
        char output[200] = "";
        size_t text_size, written = 0, got = 0;
        deadline d = deadline_start(t);
        int in[2], out[2], status = 0, r;
        bool exited = false;
        pid_t pid;

        argv = sendmail_argv(t->sendmail, to);
        text = to_lf(message, size, &text_size);
        if (!argv || !text)
                return set_error(ret, -ENOMEM, false, "out of memory (or an empty [mail] sendmail)");
        if (pipe2(in, O_CLOEXEC) < 0)
                return set_error(ret, -errno, false, "cannot create a pipe: %s", strerror(errno));
        if (pipe2(out, O_CLOEXEC) < 0) {
                r = -errno;
                close(in[0]);
                close(in[1]);
                return set_error(ret, r, false, "cannot create a pipe: %s", strerror(-r));
        }

        /* As the snapshot publisher's child: no signal blocked (worker
         * threads block them all), default dispositions (the daemon ignores
         * SIGPIPE). */
        sigemptyset(&none);
        sigemptyset(&defaults);
        sigaddset(&defaults, SIGPIPE);
        sigaddset(&defaults, SIGTERM);
        sigaddset(&defaults, SIGINT);
        sigaddset(&defaults, SIGHUP);
        posix_spawnattr_init(&attr);
        posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
        posix_spawnattr_setsigmask(&attr, &none);
        posix_spawnattr_setsigdefault(&attr, &defaults);
        posix_spawn_file_actions_init(&actions);
        posix_spawn_file_actions_adddup2(&actions, in[0], STDIN_FILENO);
        posix_spawn_file_actions_adddup2(&actions, out[1], STDOUT_FILENO);
        posix_spawn_file_actions_adddup2(&actions, out[1], STDERR_FILENO);
        r = -posix_spawnp(&pid, argv[0], &actions, &attr, argv, environ);
        posix_spawn_file_actions_destroy(&actions);
        posix_spawnattr_destroy(&attr);
        close(in[0]);
        close(out[1]);
        in_w = in[1];
        out_r = out[0];
        if (r < 0)
                return set_error(ret, r, false, "cannot run %s: %s", argv[0], strerror(-r));
        (void) fcntl(in_w, F_SETFL, O_NONBLOCK);
        (void) fcntl(out_r, F_SETFL, O_NONBLOCK);

        while (!exited) {
                struct pollfd p[3];
                nfds_t n = 0;
                uint64_t now = now_ms();
                int k, timeout;

                if (now >= d.end)
                        break;
                if (in_w >= 0)
                        p[n++] = (struct pollfd) { .fd = in_w, .events = POLLOUT };
                if (out_r >= 0)
                        p[n++] = (struct pollfd) { .fd = out_r, .events = POLLIN };
                if (t->cancel_fd >= 0 && !d.cancelled)
                        p[n++] = (struct pollfd) { .fd = t->cancel_fd, .events = POLLIN };
                /* Once the input is written the child's exit is what we wait
                 * for; a command that left a background process holding its
                 * output open must not keep us here, so look every 20 ms. */
                timeout = in_w >= 0 ? (int) (d.end - now) : 20;
                if ((uint64_t) timeout > d.end - now)
                        timeout = (int) (d.end - now);
                k = poll(p, n, timeout);
                if (k < 0 && errno != EINTR)
                        break;
                for (nfds_t i = 0; k > 0 && i < n; i++) {
                        if (!p[i].revents)
                                continue;
                        if (p[i].fd == in_w) {
                                ssize_t w = write(in_w, text + written, text_size - written);
                                if (w > 0)
                                        written += (size_t) w;
                                if ((w < 0 && errno != EAGAIN && errno != EINTR) || written == text_size) {
                                        /* Done, or the command stopped
                                         * reading (its exit status says
                                         * why). */
                                        close(TAKE_FD(in_w));
                                }
                        } else if (p[i].fd == out_r) {
                                char buf[512];
                                ssize_t got_now = read(out_r, buf, sizeof(buf));
                                if (got_now > 0 && got < sizeof(output) - 1) {
                                        size_t c = (size_t) got_now < sizeof(output) - 1 - got
                                                           ? (size_t) got_now : sizeof(output) - 1 - got;
                                        memcpy(output + got, buf, c);
                                        got += c;
                                        output[got] = 0;
                                } else if (got_now == 0 || (got_now < 0 && errno != EAGAIN && errno != EINTR))
                                        close(TAKE_FD(out_r));
                        } else {
                                d.cancelled = true;
                                if (now + CANCEL_GRACE_MS < d.end)
                                        d.end = now + CANCEL_GRACE_MS;
                        }
                }
                if (in_w < 0 && waitpid(pid, &status, WNOHANG) == pid)
                        exited = true;
        }
        if (!exited) {
                (void) kill(pid, SIGKILL);
                while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
                        ;
                return set_error(ret, d.cancelled ? -ECANCELED : -ETIMEDOUT, false, "%s %s and was killed",
                                 argv[0], d.cancelled ? "did not finish before nexalixd stopped" : "timed out");
        }
        output[strcspn(output, "\n")] = 0;
        if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
                if (written < text_size)
                        return set_error(ret, -EPIPE, false, "%s exited before reading the whole message", argv[0]);
                return 0;
        }
        if (WIFSIGNALED(status))
                return set_error(ret, -EIO, false, "%s was killed by signal %d%s%s", argv[0], WTERMSIG(status),
                                 output[0] ? ": " : "", output);
        return set_error(ret, -EIO, false, "%s exited with status %d%s%s", argv[0], WEXITSTATUS(status),
                         output[0] ? ": " : "", output);
}

int mail_deliver(const mail_transport *t, const char *to, const char *message_id, const char *message,
                 size_t size, mail_delivery_result *ret) {
        *ret = (mail_delivery_result) {};
        if (!isempty(t->spool_dir))
                return mail_deliver_spool(t, message_id, message, size, ret);
        if (!isempty(t->smtp))
                return mail_deliver_smtp(t, to, message, size, ret);
        if (!isempty(t->sendmail))
                return mail_deliver_sendmail(t, to, message, size, ret);
        return set_error(ret, -ENOTCONN, false, "no way to deliver mail is configured ([mail] spool, smtp or sendmail)");
}
