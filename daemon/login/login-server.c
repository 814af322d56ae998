/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "conversation.h"
#include "event-loop.h"
#include "log.h"
#include "macro.h"
#include "processes.h"
#include "session.h"

#include <fcntl.h>
#include <poll.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

/* Limits that keep a flood of connections from using up the daemon: a few
 * hundred logins at once is far beyond a busy host, and one local user's
 * programs (screen lockers) get a handful. */
#define CONVERSATIONS_MAX 256
#define CONVERSATIONS_PER_USER_MAX 8
/* An answer is typed by a person; enrolling a second factor takes a while.
 * sshd's LoginGraceTime is 120 s; this only frees what was abandoned. */
#define CONVERSATION_TIMEOUT_USEC (300ULL * 1000000)
/* Sessions of processes that died without closing them are removed this
 * often (and at start). */
#define SESSION_REAP_INTERVAL_USEC (60ULL * 1000000)

struct login_server {
        login_services services;
        event_loop *loop;
        int fd;
        char *path;
        event_source *listener, *reaper, *sweeper;
        conversation *conversations;
        conversation *closed;           /* gone, no reference left: freed before the loop next waits */
        unsigned n_conversations;
        login_buffer frame;             /* where outgoing frames are built */
};

/* ---- sending ---- */

static void conversation_close(conversation *c);

static int flush(conversation *c) {
        while (c->out_sent < c->out_size) {
                ssize_t k = send(c->fd, c->out + c->out_sent, c->out_size - c->out_sent, MSG_NOSIGNAL | MSG_DONTWAIT);
                if (k < 0) {
                        if (errno == EINTR)
                                continue;
                        if (errno == EAGAIN)
                                return event_source_set_io_events(c->io, POLLIN | POLLOUT);
                        return -errno;
                }
                c->out_sent += (size_t) k;
        }
        sodium_memzero(c->out, c->out_size);
        c->out_size = c->out_sent = 0;
        return event_source_set_io_events(c->io, POLLIN);
}

/* Queues the frame built in the server's buffer and sends what it can. */
static void send_frame(conversation *c, int size) {
        uint8_t *frame = c->server->frame;
        int r;

        if (c->gone)
                return;
        if (size < 0) {
                log_warning("Login conversation for %s: a frame too large to send", c->username);
                conversation_close(c);
                return;
        }
        if (c->out_allocated < c->out_size + (size_t) size) {
                size_t n = c->out_size + (size_t) size;
                /* Not realloc(): the old buffer may hold a prompt's secrets
                 * (a TOTP secret in enrolment); wipe it before letting go. */
                uint8_t *p = malloc(n);
                if (!p) {
                        conversation_close(c);
                        return;
                }
                if (c->out) {
                        memcpy(p, c->out, c->out_size);
                        sodium_memzero(c->out, c->out_allocated);
                        free(c->out);
                }
                c->out = p;
                c->out_allocated = n;
        }
        memcpy(c->out + c->out_size, frame, (size_t) size);
        c->out_size += (size_t) size;
        sodium_memzero(frame, (size_t) size);
        r = flush(c);
        if (r < 0) {
                log_debug("Login conversation for %s: %s", c->username, strerror(-r));
                conversation_close(c);
        } else if (c->finished && c->out_size == 0)
                conversation_close(c);
}

void conversation_prompt(conversation *c, login_step step, login_prompt_style style, login_prompt_kind kind,
                         const char *text) {
        c->waiting = step;
        send_frame(c, login_build_prompt(c->server->frame,
                                         &(login_prompt) { .style = style, .kind = kind, .text = text }));
}

void conversation_message(conversation *c, login_message_style style, const char *text) {
        if (c->flags & LOGIN_FLAG_SILENT)
                return;
        send_frame(c, login_build_message(c->server->frame, &(login_message) { .style = style, .text = text }));
}

void conversation_finish(conversation *c, login_result result, const char *data) {
        c->waiting = STEP_NONE;
        c->finished = true;
        send_frame(c, login_build_result(c->server->frame, &(login_result_frame) { .result = result, .data = data }));
}

/* ---- lifetime ---- */

static void conversation_free(conversation *c) {
        free(c->service);
        free(c->tty);
        free(c->rhost);
        free(c->session_id);
        if (c->new_password) {
                sodium_memzero(c->new_password, strlen(c->new_password));
                free(c->new_password);
        }
        if (c->in) {
                sodium_memzero(c->in, LOGIN_REQUEST_MAX + 4);
                free(c->in);
        }
        if (c->scratch) {
                sodium_memzero(c->scratch, LOGIN_REQUEST_MAX + 4);
                free(c->scratch);
        }
        if (c->out) {
                sodium_memzero(c->out, c->out_allocated);
                free(c->out);
        }
        free(c);
}

/* A conversation with no reference left is freed only once the loop is
 * about to wait again, never inside a callback: the step that closed it
 * (a failed send deep inside a message) may still be reading its fields. */
static void conversation_retire(conversation *c) {
        login_server *s = c->server;

        c->next = s->closed;
        s->closed = c;
}

static int on_sweep(event_source *source, void *userdata) {
        login_server *s = userdata;

        while (s->closed) {
                conversation *c = s->closed;
                s->closed = c->next;
                conversation_free(c);
        }
        return 0;
}

/* Ends the connection now; the conversation itself goes with its last
 * reference. Everything a step calls afterwards (prompts, messages, the
 * verdict) is ignored. */
static void conversation_close(conversation *c) {
        login_server *s = c->server;

        if (c->gone)
                return;
        c->gone = true;
        c->io = event_source_free(c->io);
        c->timeout = event_source_free(c->timeout);
        if (c->fd >= 0)
                close(c->fd);
        c->fd = -1;
        if (c->prev)
                c->prev->next = c->next;
        else
                s->conversations = c->next;
        if (c->next)
                c->next->prev = c->prev;
        c->prev = c->next = NULL;
        s->n_conversations--;
        if (c->refs == 0)
                conversation_retire(c);
}

static void conversation_ref(conversation *c) {
        c->refs++;
}

/* false when the conversation was closed meanwhile (and is retired, if
 * this was its last reference: the caller must not touch it after the
 * callback it runs in). */
static bool conversation_unref(conversation *c) {
        c->refs--;
        if (!c->gone)
                return true;
        if (c->refs == 0)
                conversation_retire(c);
        return false;
}

void conversation_hold(conversation *c) {
        c->busy = true;
        conversation_ref(c);
}

bool conversation_release(conversation *c) {
        c->busy = false;
        return conversation_unref(c);
}

/* ---- receiving ---- */

/* An empty field is none (NULL). */
static int copy_field(char **dst, const char *s) {
        if (isempty(s))
                return 0;
        *dst = strdup(s);
        return *dst ? 0 : -ENOMEM;
}

static int handle_start(conversation *c, size_t size) {
        login_start st;

        if (login_parse_start(c->in, size, c->scratch, &st) < 0)
                return -EBADMSG;
        if (st.version != LOGIN_PROTOCOL_VERSION || st.stage < LOGIN_STAGE_AUTH || st.stage >= _LOGIN_STAGE_MAX) {
                log_warning("Login socket: a module speaking protocol %u asked for stage %u; not understood",
                            st.version, st.stage);
                conversation_finish(c, LOGIN_SYSTEM_ERR, NULL);
                return 0;
        }
        c->started = true;
        c->stage = st.stage;
        c->flags = st.flags;
        /* Only root's word is taken for whom it acts (see conversation.h). */
        c->requester = c->peer_uid == 0 ? st.requester_uid : c->peer_uid;
        if (strlen(st.user) > USERNAME_MAX) {
                /* No Nexalix user has such a name; the module never sends one. */
                conversation_finish(c, LOGIN_USER_UNKNOWN, NULL);
                return 0;
        }
        strcpy(c->username, st.user);
        if (copy_field(&c->service, st.service) < 0 || copy_field(&c->tty, st.tty) < 0 ||
            copy_field(&c->rhost, st.rhost) < 0 || copy_field(&c->session_id, st.session_id) < 0)
                return -ENOMEM;
        login_steps_begin(c);
        return 0;
}

static int handle_frame(conversation *c, size_t size) {
        login_answer a;

        if (!c->started)
                return handle_start(c, size);
        /* An answer is accepted only to an outstanding prompt. */
        if (c->waiting == STEP_NONE || c->busy || login_parse_answer(c->in, size, c->scratch, &a) < 0)
                return -EBADMSG;
        login_steps_answer(c, a.cancelled ? NULL : a.text);
        return 0;
}

static int on_conversation_io(event_source *s, int fd, uint32_t revents, void *userdata) {
        conversation *c = userdata;
        int r;

        if (revents & POLLOUT) {
                r = flush(c);
                if (r < 0 || (c->finished && c->out_size == 0)) {
                        conversation_close(c);
                        return 0;
                }
        }
        if (!(revents & (POLLIN | POLLHUP | POLLERR)))
                return 0;

        /* Read one frame at most, then let the loop serve others. */
        for (;;) {
                size_t want;
                ssize_t k;
                int n;

                n = login_frame_size(c->in, c->in_size);
                if (n < 0 || n > LOGIN_REQUEST_MAX + 4) {
                        log_debug("Login socket: malformed frame from pid %u", c->peer_pid);
                        conversation_close(c);
                        return 0;
                }
                want = n == 0 ? 4 : (size_t) n;
                if (c->in_size == want && n > 0) {
                        c->in_size = 0;
                        /* The steps may end the conversation; it stays
                         * allocated until they return. */
                        conversation_ref(c);
                        /* Idle means nothing received for the timeout. */
                        (void) event_source_set_time(c->timeout, now_usec() + CONVERSATION_TIMEOUT_USEC);
                        r = c->busy || c->finished ? -EBADMSG : handle_frame(c, (size_t) n);
                        /* The frame may have held a password. */
                        sodium_memzero(c->in, (size_t) n);
                        sodium_memzero(c->scratch, (size_t) n);
                        if (r < 0 && !c->gone) {
                                if (r != -EBADMSG)
                                        log_warning_errno(r, "Login conversation for %s failed: %m", c->username);
                                conversation_close(c);
                        }
                        (void) conversation_unref(c);
                        return 0;
                }
                k = recv(c->fd, c->in + c->in_size, want - c->in_size, MSG_DONTWAIT);
                if (k > 0) {
                        c->in_size += (size_t) k;
                        continue;
                }
                if (k < 0 && errno == EINTR)
                        continue;
                if (k < 0 && errno == EAGAIN)
                        return 0;
                /* The module hung up (the user gave up, the host died). */
                conversation_close(c);
                return 0;
        }
}

static int on_conversation_timeout(event_source *s, uint64_t now, void *userdata) {
        conversation *c = userdata;

        log_debug("Login conversation for %s timed out", c->username[0] ? c->username : "(nobody yet)");
        conversation_close(c);
        return 0;
}

/* ---- accepting ---- */

static unsigned conversations_of(const login_server *s, uint32_t uid) {
        unsigned n = 0;

        for (const conversation *c = s->conversations; c; c = c->next)
                n += c->peer_uid == uid;
        return n;
}

static int accept_one(login_server *s, int fd) {
        struct ucred cred;
        socklen_t len = sizeof(cred);
        conversation *c;
        int r;

        if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0) {
                r = -errno;
                close(fd);
                return log_warning_errno(r, "Login socket: cannot identify a peer: %m");
        }
        if (s->n_conversations >= CONVERSATIONS_MAX ||
            (cred.uid != 0 && conversations_of(s, cred.uid) >= CONVERSATIONS_PER_USER_MAX)) {
                /* The module sees the connection close: PAM_AUTHINFO_UNAVAIL. */
                log_warning("Login socket: too many conversations, refusing pid %d (uid %u)", (int) cred.pid,
                            (unsigned) cred.uid);
                close(fd);
                return 0;
        }

        c = calloc(1, sizeof(*c));
        if (!c) {
                close(fd);
                return -ENOMEM;
        }
        c->server = s;
        c->services = &s->services;
        c->fd = fd;
        c->peer_uid = (uint32_t) cred.uid;
        c->peer_pid = (uint32_t) cred.pid;
        /* The start time tells this process from a later one with its pid
         * (sessions are ended by pid); a peer gone already has none. */
        (void) process_start_time(c->peer_pid, &c->peer_start);
        strcpy(c->language, "en");
        c->in = malloc(LOGIN_REQUEST_MAX + 4);
        c->scratch = malloc(LOGIN_REQUEST_MAX + 4);
        r = c->in && c->scratch ? 0 : -ENOMEM;
        if (r >= 0)
                r = event_add_io(s->loop, fd, POLLIN, on_conversation_io, c, &c->io);
        if (r >= 0)
                r = event_add_time(s->loop, now_usec() + CONVERSATION_TIMEOUT_USEC, on_conversation_timeout, c,
                                   &c->timeout);
        if (r < 0) {
                event_source_free(c->io);
                event_source_free(c->timeout);
                close(fd);
                free(c->in);
                free(c->scratch);
                free(c);
                return r;
        }
        c->next = s->conversations;
        if (c->next)
                c->next->prev = c;
        s->conversations = c;
        s->n_conversations++;
        return 0;
}

static int on_listener(event_source *source, int fd, uint32_t revents, void *userdata) {
        login_server *s = userdata;

        for (;;) {
                int cfd = accept4(fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
                if (cfd < 0) {
                        if (errno == EINTR || errno == ECONNABORTED)
                                continue;
                        if (errno != EAGAIN)
                                log_warning_errno(-errno, "Login socket: accept failed: %m");
                        return 0;
                }
                (void) accept_one(s, cfd);
        }
}

/* ---- reaping ---- */

static void reap_sessions(login_server *s) {
        unsigned reaped = 0;
        op o;
        int r;

        r = op_begin(s->services.accounts, 0, true, NULL, &o);
        if (r < 0)
                return;
        r = session_reap(&o, NULL, process_alive, &reaped);
        if (r >= 0 && reaped > 0)
                r = op_commit(&o);
        else
                op_abort(&o);
        if (r < 0)
                log_warning_errno(r, "Failed to remove sessions of ended processes: %m");
        else if (reaped > 0) {
                log_info("Removed %u session%s of processes that ended without closing them", reaped,
                         reaped == 1 ? "" : "s");
                op_done(&o);
        }
}

static int on_reaper(event_source *source, uint64_t now, void *userdata) {
        reap_sessions(userdata);
        return event_source_set_time(source, now + SESSION_REAP_INTERVAL_USEC);
}

/* ---- the socket ---- */

int login_server_new(event_loop *loop, const login_services *services, login_server **ret) {
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        login_server *s;
        int r;

        s = calloc(1, sizeof(*s));
        if (!s)
                return -ENOMEM;
        s->services = *services;
        s->loop = loop;
        s->fd = -1;
        if (asprintf(&s->path, "%s/%s", services->runtime_dir, LOGIN_SOCKET_FILE) < 0) {
                free(s);
                return -ENOMEM;
        }
        if (strlen(s->path) >= sizeof(sa.sun_path)) {
                r = log_error_errno(-ENAMETOOLONG, "Login socket path too long: %s", s->path);
                goto fail;
        }
        memcpy(sa.sun_path, s->path, strlen(s->path));

        s->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        if (s->fd < 0) {
                r = log_error_errno(-errno, "Failed to create the login socket: %m");
                goto fail;
        }
        /* The runtime directory's lock (manager.c) makes this daemon its only
         * owner: a socket left there is a previous run's. */
        (void) unlink(s->path);
        if (bind(s->fd, (struct sockaddr *) &sa, sizeof(sa)) < 0) {
                r = log_error_errno(-errno, "Failed to bind %s: %m", s->path);
                goto fail;
        }
        /* Everyone may connect: who may ask what is decided per request from
         * the peer's credentials. */
        if (chmod(s->path, 0666) < 0 || listen(s->fd, 128) < 0) {
                r = log_error_errno(-errno, "Failed to open %s for connections: %m", s->path);
                goto fail;
        }
        r = event_add_io(loop, s->fd, POLLIN, on_listener, s, &s->listener);
        if (r >= 0)
                r = event_add_prepare(loop, on_sweep, s, &s->sweeper);
        if (r < 0)
                goto fail;
        reap_sessions(s);
        r = event_add_time(loop, now_usec() + SESSION_REAP_INTERVAL_USEC, on_reaper, s, &s->reaper);
        if (r < 0)
                goto fail;
        *ret = s;
        return 0;

fail:
        login_server_free(s);
        return r;
}

login_server *login_server_free(login_server *s) {
        if (!s)
                return NULL;
        while (s->conversations)
                conversation_close(s->conversations);
        (void) on_sweep(NULL, s);
        event_source_free(s->sweeper);
        event_source_free(s->listener);
        event_source_free(s->reaper);
        if (s->fd >= 0) {
                close(s->fd);
                (void) unlink(s->path);
        }
        free(s->path);
        free(s);
        return NULL;
}
