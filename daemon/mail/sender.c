/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "deliver.h"
#include "event-loop.h"
#include "log.h"
#include "message.h"
#include "outbox.h"
#include "sender.h"
#include "worker.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>

/* However far the next attempt is, look again after this long: the wall
 * clock (next attempts) and the loop's monotonic clock may drift apart. */
#define SENDER_SLEEP_MAX_USEC (300ULL * 1000000)
/* After a store failure, try again in a while rather than spin. */
#define SENDER_STORE_RETRY_USEC (10ULL * 1000000)

struct mail_sender {
        const accounts *accounts;
        event_loop *loop;
        worker_pool *workers;
        event_source *timer;
        mail_address from;
        mail_transport transport;
        int cancel_fd;

        bool busy;                      /* a delivery is on a worker */
        uint64_t excluded;              /* delivered, its deletion not yet committed: not to be picked */
        bool stopping;

        /* Where to look. A sweep walks the outbox from an id to its end and
         * delivers every due mail it meets, one at a time. `earliest` is a
         * lower bound of the next attempt of every waiting mail (0: unknown,
         * look at everything); `sweep_from` is the lowest id kicked since
         * the last sweep began (UINT64_MAX: none). */
        bool sweeping;
        bool sweep_full;
        uint64_t cursor;                /* the next id the sweep looks at */
        uint64_t sweep_earliest;
        uint64_t sweep_from;
        uint64_t earliest;
};

typedef struct delivery {
        mail_sender *sender;
        uint64_t id;
        mail_kind kind;
        char *to, *message_id, *message;
        size_t size;
        int result;
        mail_delivery_result outcome;
} delivery;

static void delivery_free(delivery *d) {
        if (!d)
                return;
        if (d->message)
                explicit_bzero(d->message, d->size);
        free(d->message);
        free(d->message_id);
        free(d->to);
        free(d);
}

static void wake_at(mail_sender *s, uint64_t usec) {
        if (s->timer && !s->stopping)
                (void) event_source_set_time(s->timer, usec ?: 1);
}

static void wake_now(mail_sender *s) {
        wake_at(s, 1);
}

void mail_sender_kick(void *userdata, uint64_t id) {
        mail_sender *s = userdata;

        if (!s)
                return;
        if (id < s->sweep_from)
                s->sweep_from = id;
        /* On the loop's next turn: after the commit of the operation that
         * called this. */
        wake_now(s);
}

/* ---- the worker's side ---- */

static void delivery_work(void *userdata) {
        delivery *d = userdata;

        d->result = mail_deliver(&d->sender->transport, d->to, d->message_id, d->message, d->size, &d->outcome);
}

/* ---- the loop's side ---- */

static void format_delay(uint64_t sec, char *buf, size_t size) {
        if (sec < 120)
                snprintf(buf, size, "%" PRIu64 " s", sec);
        else
                snprintf(buf, size, "%" PRIu64 " min", (sec + 59) / 60);
}

static int sender_next(mail_sender *s);
static void sender_failed(mail_sender *s, int r);

static void delivery_done(void *userdata) {
        delivery *d = userdata;
        mail_sender *s = d->sender;
        _cleanup_txn_ store_txn *t = NULL;
        uint64_t now = (uint64_t) time(NULL), next = 0;
        int r;

        s->busy = false;
        if (d->result == -ECANCELED) {
                /* Cut short by the stop: not an attempt; the next start
                 * tries again. */
                log_info("Mail %" PRIu64 " to %s: delivery interrupted by the stop, left in the outbox", d->id, d->to);
                delivery_free(d);
                return;
        }

        /* The next delivery starts before this one's outcome is committed:
         * the worker writes or sends it while the loop waits for the
         * store's fsync. Deliveries stay one at a time and in order; this
         * mail, still in the outbox until the commit below, is left out of
         * the pick. */
        s->excluded = d->id;
        r = sender_next(s);
        s->excluded = 0;
        if (r < 0)
                sender_failed(s, r);

        r = store_begin(s->accounts->store, true, &t);
        if (r >= 0) {
                if (d->result >= 0)
                        r = outbox_delivered(t, d->id);
                else
                        r = outbox_deferred(t, d->id, now, d->outcome.error, d->outcome.permanent, &next);
                if (r == -ENOENT)
                        r = 0;          /* dropped by an administrator meanwhile */
                if (r >= 0)
                        r = store_commit(TAKE_PTR(t));
        }
        if (r < 0) {
                /* The outbox still has it as due: it is sent again, with the
                 * same Message-ID, at the next full look. */
                log_error_errno(r, "Mail %" PRIu64 " to %s: cannot update the outbox: %m", d->id, d->to);
                s->earliest = 0;
        }
        else if (d->result >= 0)
                log_info("Mail %" PRIu64 " (%s) to %s delivered", d->id, mail_kind_to_string(d->kind), d->to);
        else if (next == 0)
                log_error("Mail %" PRIu64 " (%s) to %s given up: %s", d->id, mail_kind_to_string(d->kind), d->to,
                          d->outcome.error);
        else {
                char delay[32];
                format_delay(next > now ? next - now : 0, delay, sizeof(delay));
                log_warning("Mail %" PRIu64 " (%s) to %s not delivered, next attempt in %s: %s", d->id,
                            mail_kind_to_string(d->kind), d->to, delay, d->outcome.error);
                if (next < s->sweep_earliest)
                        s->sweep_earliest = next;
                if (next < s->earliest)
                        s->earliest = next;
        }
        /* Unless the next delivery is under way, look again (the sweep may
         * have ended before this mail's next attempt was known). */
        if (r < 0 && !s->busy)
                wake_at(s, now_usec() + SENDER_STORE_RETRY_USEC);
        else if (!s->busy)
                wake_now(s);
        delivery_free(d);
}

typedef struct pick {
        uint64_t now;
        uint64_t excluded;
        uint64_t earliest;
        delivery *found;
        int error;
} pick;

static int pick_visit(const outbox_entry *e, void *userdata) {
        pick *p = userdata;
        delivery *d;

        if (e->given_up || e->id == p->excluded)
                return 0;
        if (e->next_attempt > p->now) {
                if (e->next_attempt < p->earliest)
                        p->earliest = e->next_attempt;
                return 0;
        }
        d = calloc(1, sizeof(*d));
        if (!d)
                return -ENOMEM;
        *d = (delivery) { .id = e->id, .kind = e->kind, .size = e->message_size };
        d->to = strdup(e->to);
        d->message_id = strdup(e->message_id);
        d->message = malloc(e->message_size + 1);
        if (!d->to || !d->message_id || !d->message) {
                delivery_free(d);
                return -ENOMEM;
        }
        memcpy(d->message, e->message, e->message_size);
        d->message[e->message_size] = 0;
        p->found = d;
        return 1;
}

/* Finds the next due mail of the sweep and hands it to a worker, or ends
 * the sweep and sleeps until the next attempt is due. */
static int sender_next(mail_sender *s) {
        uint64_t now = (uint64_t) time(NULL);
        int r;

        if (s->busy || s->stopping)
                return 0;
        for (unsigned sweeps = 0;; sweeps++) {
                _cleanup_txn_ store_txn *t = NULL;
                pick p = { .now = now, .earliest = UINT64_MAX, .excluded = s->excluded };

                if (!s->sweeping) {
                        if (sweeps > 1 || (now < s->earliest && s->sweep_from == UINT64_MAX)) {
                                uint64_t sleep = s->earliest == UINT64_MAX ? SENDER_SLEEP_MAX_USEC
                                                                            : (s->earliest - now) * 1000000;
                                if (sleep > SENDER_SLEEP_MAX_USEC)
                                        sleep = SENDER_SLEEP_MAX_USEC;
                                wake_at(s, now_usec() + sleep);
                                return 0;
                        }
                        /* Something may be due anywhere: everything;
                         * else only from the lowest id kicked on. */
                        s->sweep_full = now >= s->earliest;
                        s->cursor = s->sweep_full ? 1 : s->sweep_from;
                        s->sweep_from = UINT64_MAX;
                        s->sweep_earliest = UINT64_MAX;
                        s->sweeping = true;
                }

                r = store_begin(s->accounts->store, false, &t);
                if (r < 0)
                        return r;
                r = outbox_foreach(t, s->cursor, pick_visit, &p);
                if (r < 0)
                        return r;
                if (p.earliest < s->sweep_earliest)
                        s->sweep_earliest = p.earliest;
                if (p.found) {
                        delivery *d = p.found;

                        s->cursor = d->id + 1;
                        d->sender = s;
                        r = worker_pool_submit(s->workers, delivery_work, delivery_done, d);
                        if (r < 0) {
                                delivery_free(d);
                                return r;
                        }
                        s->busy = true;
                        return 0;
                }
                /* The sweep reached the end. */
                s->sweeping = false;
                if (s->sweep_full)
                        s->earliest = s->sweep_earliest;
                else if (s->sweep_earliest < s->earliest)
                        s->earliest = s->sweep_earliest;
        }
}

/* Mail waits; the daemon goes on serving. */
static void sender_failed(mail_sender *s, int r) {
        log_error_errno(r, "Cannot read the mail outbox, trying again in %llu s: %m", SENDER_STORE_RETRY_USEC / 1000000);
        s->sweeping = false;
        s->earliest = 0;
        wake_at(s, now_usec() + SENDER_STORE_RETRY_USEC);
}

static int on_timer(event_source *source, uint64_t usec, void *userdata) {
        mail_sender *s = userdata;
        int r = sender_next(s);

        if (r < 0)
                sender_failed(s, r);
        return 0;
}

int mail_sender_retry_now(mail_sender *s) {
        _cleanup_txn_ store_txn *t = NULL;
        unsigned n = 0;
        int r;

        r = store_begin(s->accounts->store, true, &t);
        if (r >= 0)
                r = outbox_retry(t, 0, NULL, false, (uint64_t) time(NULL), &n);
        if (r >= 0)
                r = store_commit(TAKE_PTR(t));
        if (r < 0)
                return log_error_errno(r, "Cannot retry the waiting mail: %m");
        if (n > 0)
                log_info("Retrying %u waiting mail(s) now", n);
        mail_sender_kick(s, 1);
        s->earliest = 0;
        return 0;
}

static int count_visit(const outbox_entry *e, void *userdata) {
        unsigned *n = userdata;
        n[e->given_up ? 1 : 0]++;
        return 0;
}

int mail_sender_new(const accounts *a, event_loop *loop, worker_pool *workers, mail_sender **ret) {
        const config *c = a->config;
        mail_sender *s;
        unsigned counts[2] = {};
        char host[256];
        uint16_t port;
        int r;

        s = calloc(1, sizeof(*s));
        if (!s)
                return -ENOMEM;
        *s = (mail_sender) {
                .accounts = a,
                .loop = loop,
                .workers = workers,
                .cancel_fd = -1,
                .sweep_from = UINT64_MAX,
                .earliest = 0,
        };
        if (mail_address_parse(c->mail_from, &s->from) < 0) {
                r = log_error_errno(-EINVAL, "[mail] from = %s is not an address mail can be sent from", c->mail_from);
                goto fail;
        }
        if (!isempty(c->mail_smtp) && mail_smtp_parse(c->mail_smtp, host, sizeof(host), &port) < 0) {
                r = log_error_errno(-EINVAL, "[mail] smtp = %s: expected HOST:PORT, e.g. 127.0.0.1:25", c->mail_smtp);
                goto fail;
        }
        if (isempty(c->mail_spool) && isempty(c->mail_smtp) && strspn(strempty(c->sendmail), " \t") == strlen(strempty(c->sendmail))) {
                r = log_error_errno(-EINVAL, "[mail] sendmail is empty and neither spool nor smtp is set: "
                                    "mail cannot be delivered");
                goto fail;
        }
        s->cancel_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
        if (s->cancel_fd < 0) {
                r = -errno;
                goto fail;
        }
        s->transport = (mail_transport) {
                .spool_dir = c->mail_spool,
                .smtp = c->mail_smtp,
                .sendmail = c->sendmail,
                .envelope_from = s->from.addr,
                .cancel_fd = s->cancel_fd,
        };

        /* A restart is a natural moment to try again (the administrator may
         * have just fixed the mail system): every waiting mail is due. */
        {
                _cleanup_txn_ store_txn *t = NULL;

                r = store_begin(a->store, true, &t);
                if (r >= 0)
                        r = outbox_retry(t, 0, NULL, false, (uint64_t) time(NULL), NULL);
                if (r >= 0)
                        r = outbox_foreach(t, 0, count_visit, counts);
                if (r >= 0)
                        r = store_commit(TAKE_PTR(t));
                if (r < 0) {
                        log_error_errno(r, "Cannot read the mail outbox: %m");
                        goto fail;
                }
        }
        if (!isempty(c->mail_spool))
                log_info("Mail is written to the spool directory %s", c->mail_spool);
        else if (!isempty(c->mail_smtp))
                log_info("Mail is handed over by SMTP to %s", c->mail_smtp);
        else
                log_info("Mail is handed to %s", c->sendmail);
        if (counts[0] || counts[1])
                log_info("The mail outbox holds %u waiting and %u given-up message(s)", counts[0], counts[1]);

        r = event_add_time(loop, 1, on_timer, s, &s->timer);
        if (r < 0)
                goto fail;
        *ret = s;
        return 0;
fail:
        mail_sender_free(s);
        return r;
}

void mail_sender_stop(mail_sender *s) {
        if (!s || s->stopping)
                return;
        s->stopping = true;
        (void) eventfd_write(s->cancel_fd, 1);
}

mail_sender *mail_sender_free(mail_sender *s) {
        if (!s)
                return NULL;
        event_source_free(s->timer);
        if (s->cancel_fd >= 0)
                close(s->cancel_fd);
        free(s);
        return NULL;
}
