/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "array.h"
#include "log.h"
#include "message.h"
#include "outbox.h"
#include "record.h"
#include "templates.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define OUTBOX_RECORD_VERSION 1
#define OUTBOX_SEQ_KEY "outbox_seq"
/* What a record keeps of the last error. */
#define OUTBOX_ERROR_MAX 400

/* ---- the record ---- */

static int entry_encode(const outbox_entry *e, record_writer *w) {
        if (e->message_size > UINT32_MAX)
                return -E2BIG;
        record_put_u8(w, OUTBOX_RECORD_VERSION);
        record_put_u64(w, e->queued_at);
        record_put_u64(w, e->next_attempt);
        record_put_u64(w, e->last_attempt);
        record_put_u64(w, e->give_up_at);
        record_put_u32(w, e->attempts);
        record_put_u8(w, (uint8_t) e->kind);
        record_put_u8(w, e->given_up ? 1 : 0);
        record_put_string(w, e->to);
        record_put_string(w, e->username);
        record_put_string(w, e->org);
        record_put_string(w, e->message_id);
        record_put_string(w, e->last_error);
        record_put_u32(w, (uint32_t) e->message_size);
        record_put_bytes(w, e->message, e->message_size);
        return record_writer_error(w);
}

int outbox_entry_decode(const void *key, size_t key_size, const void *value, size_t value_size,
                        outbox_entry *ret) {
        record_reader rd = record_reader_init(value, value_size);
        outbox_entry e = {};
        uint8_t kind;

        if (key_size != 8 || record_get_u8(&rd) != OUTBOX_RECORD_VERSION)
                return -EBADMSG;
        e.id = be64_get(key);
        e.queued_at = record_get_u64(&rd);
        e.next_attempt = record_get_u64(&rd);
        e.last_attempt = record_get_u64(&rd);
        e.give_up_at = record_get_u64(&rd);
        e.attempts = record_get_u32(&rd);
        kind = record_get_u8(&rd);
        e.given_up = record_get_u8(&rd) != 0;
        e.to = record_get_string(&rd);
        e.username = record_get_string(&rd);
        e.org = record_get_string(&rd);
        e.message_id = record_get_string(&rd);
        e.last_error = record_get_string(&rd);
        e.message_size = record_get_u32(&rd);
        e.message = record_get_bytes(&rd, e.message_size);
        if (rd.error)
                return rd.error;
        if (kind >= _MAIL_KIND_MAX || rd.p != rd.end)
                return -EBADMSG;
        e.kind = (mail_kind) kind;
        *ret = e;
        return 0;
}

static int entry_put(store_txn *t, const outbox_entry *e, bool no_overwrite) {
        _cleanup_(record_writer_done) record_writer w = {};
        uint8_t key[8];
        int r;

        record_writer_reserve(&w, 128 + e->message_size);
        r = entry_encode(e, &w);
        if (r < 0)
                return r;
        be64_put(key, e->id);
        return store_put(t, TABLE_OUTBOX, key, sizeof(key), w.data, w.size, no_overwrite);
}

/* TABLE_OUTBOX_USERS: "user\0" + the id, for each waiting mail that is a
 * user's, so that a user's mail is found without reading the outbox. */
static size_t user_key(uint8_t key[static USERNAME_MAX + 1 + 8], const char *username, uint64_t id) {
        size_t n = strlen(username);

        memcpy(key, username, n + 1);
        be64_put(key + n + 1, id);
        return n + 1 + 8;
}

/* The next id: a counter in the meta table, so that ids are never reused
 * even when the outbox runs empty (an id in a log stays unambiguous). */
static int next_id(store_txn *t, uint64_t *ret) {
        const void *v;
        size_t n;
        uint8_t buf[8];
        uint64_t id = 1;
        int r;

        r = store_get(t, TABLE_META, OUTBOX_SEQ_KEY, strlen(OUTBOX_SEQ_KEY), &v, &n);
        if (r >= 0) {
                if (n != 8)
                        return -EBADMSG;
                id = be64_get(v) + 1;
        } else if (r != -ENOENT)
                return r;
        be64_put(buf, id);
        r = store_put(t, TABLE_META, OUTBOX_SEQ_KEY, strlen(OUTBOX_SEQ_KEY), buf, sizeof(buf), false);
        if (r < 0)
                return r;
        *ret = id;
        return 0;
}

/* ---- queueing ---- */

int outbox_queue(op *o, const char *to, const char *language, mail_kind kind, const mail_vars *vars) {
        const accounts *a = o->accounts;
        _cleanup_free_ char *subject = NULL, *body = NULL, *name = NULL, *message = NULL;
        char message_id[MAIL_MESSAGE_ID_MAX];
        const mail_template *tpl;
        mail_address from;
        outbox_entry e;
        size_t size;
        int r;

        if (!a->mail_templates) {
                log_debug("No mail templates: %s mail to %s not queued", strempty(mail_kind_to_string(kind)),
                          strempty(to));
                return 0;
        }
        if (validate_email(to, NULL) < 0)
                return nx_error_set(o->error, -EINVAL, "no mail can be sent to '%s': it is not a valid address",
                                    strempty(to));
        tpl = mail_templates_get(a->mail_templates, kind, language);
        if (!tpl)
                return log_error_errno(-ENOENT, "No mail template for %s: the installation is broken",
                                       strempty(mail_kind_to_string(kind)));
        r = mail_address_parse(a->config->mail_from, &from);
        if (r < 0)
                return log_error_errno(r, "[mail] from = %s is not an address mail can be sent from",
                                       a->config->mail_from);

        r = mail_template_expand(tpl->subject, vars, &subject);
        if (r >= 0)
                r = mail_template_expand(tpl->body, vars, &body);
        if (r < 0)
                return r;
        if (asprintf(&name, "%s%s%s", strempty(vars->first_name),
                     !isempty(vars->first_name) && !isempty(vars->last_name) ? " " : "",
                     strempty(vars->last_name)) < 0) {
                name = NULL;
                return -ENOMEM;
        }
        mail_message_id_new(&from, message_id);
        r = mail_message_render(&(mail_message) {
                        .from = &from,
                        .to = to,
                        .to_name = name,
                        .subject = subject,
                        .body = body,
                        .date = o->now,
                        .message_id = message_id,
                        .kind = mail_kind_to_string(kind),
                }, &message, &size);
        if (r < 0)
                return r;

        e = (outbox_entry) {
                .queued_at = o->now,
                .give_up_at = o->now + OUTBOX_GIVE_UP_SEC,
                .kind = kind,
                .to = to,
                .username = strempty(vars->username),
                .org = strempty(vars->org),
                .message_id = message_id,
                .last_error = "",
                .message = message,
                .message_size = size,
        };
        r = next_id(o->txn, &e.id);
        if (r >= 0)
                r = entry_put(o->txn, &e, true);
        if (r >= 0 && !isempty(e.username) && strlen(e.username) <= USERNAME_MAX) {
                uint8_t key[USERNAME_MAX + 1 + 8];
                r = store_put(o->txn, TABLE_OUTBOX_USERS, key, user_key(key, e.username, e.id), "", 0, false);
        }
        /* The message carries a one-time link: no copy outlives it here. */
        explicit_bzero(message, size);
        explicit_bzero(body, strlen(body));
        if (r < 0)
                return r;
        log_debug("Mail %" PRIu64 " (%s) to %s queued", e.id, mail_kind_to_string(kind), to);
        if (a->mail_queued)
                a->mail_queued(a->mail_userdata, e.id);
        return 0;
}

/* ---- reading and updating ---- */

typedef struct walk {
        int (*fn)(const outbox_entry *e, void *userdata);
        void *userdata;
} walk;

static int visit(const void *key, size_t key_size, const void *value, size_t value_size, void *userdata) {
        walk *w = userdata;
        outbox_entry e;
        int r;

        r = outbox_entry_decode(key, key_size, value, value_size, &e);
        if (r < 0) {
                /* One bad record must not stop all mail. */
                log_warning_errno(r, "Outbox entry %" PRIu64 " cannot be read, skipped: %m",
                                  key_size == 8 ? be64_get(key) : 0);
                return 0;
        }
        return w->fn(&e, w->userdata);
}

int outbox_foreach(store_txn *t, uint64_t from_id, int (*fn)(const outbox_entry *e, void *userdata),
                   void *userdata) {
        walk w = { fn, userdata };
        uint8_t key[8];

        if (from_id <= 1)
                return store_foreach(t, TABLE_OUTBOX, NULL, 0, false, visit, &w);
        be64_put(key, from_id);
        return store_foreach_from_key(t, TABLE_OUTBOX, key, sizeof(key), visit, &w);
}

int outbox_get(store_txn *t, uint64_t id, outbox_entry *ret) {
        uint8_t key[8];
        const void *v;
        size_t n;
        int r;

        be64_put(key, id);
        r = store_get(t, TABLE_OUTBOX, key, sizeof(key), &v, &n);
        if (r < 0)
                return r;
        return outbox_entry_decode(key, sizeof(key), v, n, ret);
}

int outbox_delivered(store_txn *t, uint64_t id) {
        uint8_t key[8], ukey[USERNAME_MAX + 1 + 8];
        outbox_entry e;
        size_t n = 0;
        int r;

        /* The user's index entry goes with it (the name is read first:
         * the record's strings point into pages the deletion changes). */
        r = outbox_get(t, id, &e);
        if (r < 0)
                return r;
        if (!isempty(e.username) && strlen(e.username) <= USERNAME_MAX)
                n = user_key(ukey, e.username, id);
        be64_put(key, id);
        r = store_del(t, TABLE_OUTBOX, key, sizeof(key));
        if (r < 0 || n == 0)
                return r;
        r = store_del(t, TABLE_OUTBOX_USERS, ukey, n);
        return r == -ENOENT ? 0 : r;
}

uint64_t outbox_retry_delay(uint32_t failures) {
        uint64_t d = OUTBOX_RETRY_FIRST_SEC;

        for (uint32_t i = 1; i < failures && d < OUTBOX_RETRY_MAX_SEC; i++)
                d *= 2;
        return d < OUTBOX_RETRY_MAX_SEC ? d : OUTBOX_RETRY_MAX_SEC;
}

/* A copy of e's record with changes, written back: the strings of e point
 * into the map, which the put may move. */
static int entry_rewrite(store_txn *t, const outbox_entry *e) {
        _cleanup_(record_writer_done) record_writer w = {};
        uint8_t key[8];
        int r;

        record_writer_reserve(&w, 128 + e->message_size);
        r = entry_encode(e, &w);
        if (r < 0)
                return r;
        be64_put(key, e->id);
        return store_put(t, TABLE_OUTBOX, key, sizeof(key), w.data, w.size, false);
}

int outbox_deferred(store_txn *t, uint64_t id, uint64_t now, const char *error, bool permanent,
                    uint64_t *ret_next) {
        char text[OUTBOX_ERROR_MAX];
        outbox_entry e;
        int r;

        r = outbox_get(t, id, &e);
        if (r < 0)
                return r;
        e.attempts++;
        e.last_attempt = now;
        if (permanent || now >= e.give_up_at) {
                e.given_up = true;
                e.next_attempt = 0;
                utf8_snprintf(text, sizeof(text), "given up: %s", strempty(error));
        } else {
                e.next_attempt = now + outbox_retry_delay(e.attempts);
                utf8_snprintf(text, sizeof(text), "%s", strempty(error));
        }
        e.last_error = text;
        r = entry_rewrite(t, &e);
        if (r < 0)
                return r;
        if (ret_next)
                *ret_next = e.next_attempt;
        return 0;
}

typedef struct retry_walk {
        store_txn *t;
        uint64_t id;
        const char *org;
        bool given_up;
        uint64_t now;
        unsigned count;
        /* Ids to rewrite after the walk: a put during a cursor walk is not
         * something to rely on. */
        uint64_t *ids;
        size_t n_ids, allocated;
} retry_walk;

static int collect_retry(const outbox_entry *e, void *userdata) {
        retry_walk *w = userdata;

        if (w->id && e->id != w->id)
                return e->id > w->id ? 1 : 0;
        if (w->org && strcmp(w->org, e->org) != 0)
                return 0;
        if (e->given_up && !w->given_up)
                return 0;
        if (!e->given_up && e->next_attempt <= w->now)
                return 0;       /* due already */
        if (w->n_ids >= w->allocated) {
                size_t n = w->allocated ? 2 * w->allocated : 64;
                uint64_t *p = realloc(w->ids, n * sizeof(uint64_t));
                if (!p)
                        return -ENOMEM;
                w->ids = p;
                w->allocated = n;
        }
        w->ids[w->n_ids++] = e->id;
        return 0;
}

int outbox_retry(store_txn *t, uint64_t id, const char *org, bool given_up, uint64_t now, unsigned *ret_count) {
        retry_walk w = { .t = t, .id = id, .org = org, .given_up = given_up, .now = now };
        int r;

        r = outbox_foreach(t, id, collect_retry, &w);
        for (size_t i = 0; r >= 0 && i < w.n_ids; i++) {
                outbox_entry e;

                r = outbox_get(t, w.ids[i], &e);
                if (r < 0)
                        break;
                if (e.given_up)
                        e.give_up_at = now + OUTBOX_GIVE_UP_SEC;
                e.given_up = false;
                e.next_attempt = now;
                r = entry_rewrite(t, &e);
        }
        free(w.ids);
        if (r < 0)
                return r;
        if (ret_count)
                *ret_count = (unsigned) w.n_ids;
        return 0;
}

/* The organisation an operation's caller may reach: NULL for root. */
static const char *caller_org(const op *o) {
        return o->caller.superadmin ? NULL : o->caller.org;
}

/* Whether mail id exists and is the caller's to see. */
static int check_reach(op *o, uint64_t id) {
        outbox_entry e;
        int r;

        r = outbox_get(o->txn, id, &e);
        if (r == -ENOENT || (r >= 0 && caller_org(o) && strcmp(caller_org(o), e.org) != 0))
                return nx_error_set(o->error, -ENOENT, "no mail %" PRIu64 " is waiting: see 'nexalixctl mail queue'",
                                    id);
        return r;
}

int outbox_retry_for(op *o, uint64_t id, unsigned *ret_count) {
        unsigned n = 0;
        int r;

        if (id) {
                r = check_reach(o, id);
                if (r < 0)
                        return r;
        }
        r = outbox_retry(o->txn, id, caller_org(o), true, o->now, &n);
        if (r < 0)
                return r;
        /* A mail already due counts too: it is about to be tried. */
        if (id && n == 0)
                n = 1;
        if (o->accounts->mail_queued)
                o->accounts->mail_queued(o->accounts->mail_userdata, id ?: 1);
        if (ret_count)
                *ret_count = n;
        return 0;
}

int outbox_drop_for(op *o, uint64_t id) {
        int r = check_reach(o, id);
        if (r < 0)
                return r;
        return outbox_delivered(o->txn, id);
}

typedef struct user_walk {
        uint64_t *ids;
        size_t n_ids, allocated;
} user_walk;

static int collect_user(const void *key, size_t key_size, const void *value, size_t value_size,
                        void *userdata) {
        user_walk *w = userdata;

        if (key_size < 8)
                return -EBADMSG;
        if (ARRAY_RESERVE(w->ids, w->allocated, w->n_ids + 1) < 0)
                return -ENOMEM;
        w->ids[w->n_ids++] = be64_get((const uint8_t *) key + key_size - 8);
        return 0;
}

int outbox_cancel_user(op *o, const char *username, unsigned *ret_count) {
        user_walk w = {};
        int r;

        /* Collected first: LMDB cursors must not be used across deletions. */
        r = store_foreach(o->txn, TABLE_OUTBOX_USERS, username, strlen(username) + 1, false, collect_user, &w);
        for (size_t i = 0; r >= 0 && i < w.n_ids; i++)
                r = outbox_delivered(o->txn, w.ids[i]);
        free(w.ids);
        if (r < 0)
                return r;
        if (ret_count)
                *ret_count = (unsigned) w.n_ids;
        return 0;
}
