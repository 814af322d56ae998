/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "array.h"
#include "record.h"
#include "session.h"

#include <sodium.h>
#include <stdio.h>
#include <string.h>

#define SESSION_RECORD_VERSION 1

static size_t session_key(char buf[static USERNAME_MAX + SESSION_ID_LENGTH + 2], const char *username, const char *id) {
        size_t lu = strlen(username), li = strlen(id);

        memcpy(buf, username, lu);
        buf[lu] = 0;
        memcpy(buf + lu + 1, id, li);
        return lu + 1 + li;
}

static int count_session(const login_session *s, void *userdata) {
        (*(unsigned *) userdata)++;
        return 0;
}

int session_open(op *o, const char *username, uint32_t pid, uint64_t pid_start, const char *service,
                 const char *tty, const char *rhost, char ret_id[static SESSION_ID_LENGTH + 1]) {
        _cleanup_(record_writer_done) record_writer w = {};
        char key[USERNAME_MAX + SESSION_ID_LENGTH + 2], id[SESSION_ID_LENGTH + 1];
        uint8_t raw[SESSION_ID_LENGTH / 2];
        unsigned n = 0;
        int r;

        if (strlen(username) > USERNAME_MAX)
                return -EINVAL;
        /* A user's own programs may open sessions for them: not without
         * end (sessions of ended processes are reaped before this). */
        r = session_foreach(o->txn, username, count_session, &n);
        if (r < 0)
                return r;
        if (n >= SESSIONS_PER_USER_MAX)
                return -EMFILE;
        randombytes_buf(raw, sizeof(raw));
        sodium_bin2hex(id, sizeof(id), raw, sizeof(raw));
        record_put_u8(&w, SESSION_RECORD_VERSION);
        record_put_u32(&w, pid);
        record_put_u64(&w, pid_start);
        record_put_u64(&w, o->now);
        record_put_string(&w, service);
        record_put_string(&w, tty);
        record_put_string(&w, rhost);
        r = record_writer_error(&w);
        if (r < 0)
                return r;
        r = store_put(o->txn, TABLE_SESSIONS, key, session_key(key, username, id), w.data, w.size, true);
        if (r < 0)
                return r;
        memcpy(ret_id, id, sizeof(id));
        return 0;
}

int session_close(op *o, const char *username, const char *id) {
        char key[USERNAME_MAX + SESSION_ID_LENGTH + 2];

        if (strlen(id) != SESSION_ID_LENGTH || strlen(username) > USERNAME_MAX)
                return -ENOENT;
        return store_del(o->txn, TABLE_SESSIONS, key, session_key(key, username, id));
}

static int decode(const void *key, size_t key_size, const void *value, size_t value_size, login_session *ret) {
        record_reader rd = record_reader_init(value, value_size);
        const char *id = memchr(key, 0, key_size);
        login_session s = {};
        size_t lu;

        if (!id)
                return -EBADMSG;
        lu = (size_t) (id - (const char *) key);
        id++;
        if (lu > USERNAME_MAX || key_size - lu - 1 != SESSION_ID_LENGTH)
                return -EBADMSG;
        memcpy(s.username, key, lu);
        memcpy(s.id, id, SESSION_ID_LENGTH);
        if (record_get_u8(&rd) != SESSION_RECORD_VERSION)
                return -EBADMSG;
        s.pid = record_get_u32(&rd);
        s.pid_start = record_get_u64(&rd);
        s.started_at = record_get_u64(&rd);
        s.service = record_get_string(&rd);
        s.tty = record_get_string(&rd);
        s.rhost = record_get_string(&rd);
        if (rd.error)
                return rd.error;
        *ret = s;
        return 0;
}

typedef struct walk {
        session_visit_fn fn;
        void *userdata;
} walk;

static int visit(const void *key, size_t key_size, const void *value, size_t value_size, void *userdata) {
        walk *w = userdata;
        login_session s;
        int r = decode(key, key_size, value, value_size, &s);
        return r < 0 ? r : w->fn(&s, w->userdata);
}

int session_foreach(store_txn *t, const char *username, session_visit_fn fn, void *userdata) {
        walk w = { fn, userdata };

        if (!username)
                return store_foreach(t, TABLE_SESSIONS, NULL, 0, false, visit, &w);
        return store_foreach(t, TABLE_SESSIONS, username, strlen(username) + 1, false, visit, &w);
}

typedef struct session_name {
        char username[USERNAME_MAX + 1];
        char id[SESSION_ID_LENGTH + 1];
} session_name;

typedef struct doomed {
        session_alive_fn alive;         /* NULL: all */
        session_name *v;
        size_t n, allocated;
} doomed;

static int collect(const login_session *s, void *userdata) {
        doomed *d = userdata;

        if (d->alive && d->alive(s->pid, s->pid_start))
                return 0;
        if (ARRAY_RESERVE(d->v, d->allocated, d->n + 1) < 0)
                return -ENOMEM;
        memcpy(d->v[d->n].username, s->username, sizeof(s->username));
        memcpy(d->v[d->n].id, s->id, sizeof(s->id));
        d->n++;
        return 0;
}

/* Collected first: LMDB cursors must not be used across deletions. */
static int remove_where(op *o, const char *username, session_alive_fn alive, unsigned *ret_removed) {
        doomed d = { .alive = alive };
        int r = session_foreach(o->txn, username, collect, &d);

        for (size_t i = 0; r >= 0 && i < d.n; i++)
                r = session_close(o, d.v[i].username, d.v[i].id);
        free(d.v);
        if (r >= 0 && ret_removed)
                *ret_removed = (unsigned) d.n;
        return r < 0 ? r : 0;
}

int session_reap(op *o, const char *username, session_alive_fn alive, unsigned *ret_reaped) {
        return remove_where(o, username, alive, ret_reaped);
}

int session_remove_all(op *o, const char *username) {
        return remove_where(o, username, NULL, NULL);
}
