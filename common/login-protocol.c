/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "login-protocol.h"

#include <errno.h>
#include <string.h>

/* ---- writing ---- */

typedef struct writer {
        uint8_t *buf;
        size_t size;
        bool overflow;
} writer;

static void put_bytes(writer *w, const void *p, size_t n) {
        if (w->overflow || n > LOGIN_FRAME_MAX + 4 - w->size) {
                w->overflow = true;
                return;
        }
        /* An absent string is NULL with no bytes: memcpy() from NULL is
         * undefined even then. */
        if (n > 0)
                memcpy(w->buf + w->size, p, n);
        w->size += n;
}

static void put_u8(writer *w, uint8_t v) {
        put_bytes(w, &v, 1);
}

static void put_u32(writer *w, uint32_t v) {
        uint8_t b[4] = { (uint8_t) v, (uint8_t) (v >> 8), (uint8_t) (v >> 16), (uint8_t) (v >> 24) };
        put_bytes(w, b, 4);
}

static void put_string(writer *w, const char *s) {
        size_t n = s ? strlen(s) : 0;
        uint8_t len[2];

        if (n > LOGIN_STRING_MAX) {
                w->overflow = true;
                return;
        }
        len[0] = (uint8_t) n;
        len[1] = (uint8_t) (n >> 8);
        put_bytes(w, len, 2);
        put_bytes(w, s, n);
}

static writer begin(login_buffer buf, login_frame_type type) {
        writer w = { buf, 4, false };
        put_u8(&w, (uint8_t) type);
        return w;
}

static int finish(writer *w) {
        uint32_t payload;

        if (w->overflow)
                return -E2BIG;
        payload = (uint32_t) (w->size - 4);
        w->buf[0] = (uint8_t) payload;
        w->buf[1] = (uint8_t) (payload >> 8);
        w->buf[2] = (uint8_t) (payload >> 16);
        w->buf[3] = (uint8_t) (payload >> 24);
        return (int) w->size;
}

int login_build_start(login_buffer buf, const login_start *s) {
        writer w = begin(buf, LOGIN_START);
        put_u32(&w, s->version);
        put_u32(&w, s->stage);
        put_u32(&w, s->flags);
        put_u32(&w, s->requester_uid);
        put_string(&w, s->user);
        put_string(&w, s->service);
        put_string(&w, s->tty);
        put_string(&w, s->rhost);
        put_string(&w, s->ruser);
        put_string(&w, s->session_id);
        return finish(&w);
}

int login_build_prompt(login_buffer buf, const login_prompt *p) {
        writer w = begin(buf, LOGIN_PROMPT);
        put_u8(&w, p->style);
        put_u8(&w, p->kind);
        put_string(&w, p->text);
        return finish(&w);
}

int login_build_message(login_buffer buf, const login_message *m) {
        writer w = begin(buf, LOGIN_MESSAGE);
        put_u8(&w, m->style);
        put_string(&w, m->text);
        return finish(&w);
}

int login_build_answer(login_buffer buf, const login_answer *a) {
        writer w = begin(buf, LOGIN_ANSWER);
        put_u8(&w, a->cancelled);
        put_string(&w, a->text);
        return finish(&w);
}

int login_build_result(login_buffer buf, const login_result_frame *r) {
        writer w = begin(buf, LOGIN_RESULT);
        put_u32(&w, r->result);
        put_string(&w, r->data);
        return finish(&w);
}

/* ---- reading ---- */

typedef struct reader {
        const uint8_t *p, *end;
        char *scratch;
        bool bad;
} reader;

int login_frame_size(const uint8_t *data, size_t size) {
        uint32_t n;

        if (size < 4)
                return 0;
        n = (uint32_t) data[0] | (uint32_t) data[1] << 8 | (uint32_t) data[2] << 16 | (uint32_t) data[3] << 24;
        if (n < 1 || n > LOGIN_FRAME_MAX)
                return -EBADMSG;
        return (int) n + 4;
}

static const uint8_t *take(reader *r, size_t n) {
        const uint8_t *p = r->p;

        if (r->bad || (size_t) (r->end - r->p) < n) {
                r->bad = true;
                return NULL;
        }
        r->p += n;
        return p;
}

static uint8_t get_u8(reader *r) {
        const uint8_t *p = take(r, 1);
        return p ? p[0] : 0;
}

static uint32_t get_u32(reader *r) {
        const uint8_t *p = take(r, 4);
        return p ? (uint32_t) p[0] | (uint32_t) p[1] << 8 | (uint32_t) p[2] << 16 | (uint32_t) p[3] << 24 : 0;
}

/* A copy in the scratch buffer, NUL-terminated; a string holding a NUL is
 * malformed (it would be cut short silently). */
static const char *get_string(reader *r) {
        const uint8_t *len = take(r, 2), *s;
        size_t n;
        char *copy;

        if (!len)
                return "";
        n = (size_t) len[0] | (size_t) len[1] << 8;
        s = take(r, n);
        if (!s || n > LOGIN_STRING_MAX || memchr(s, 0, n)) {
                r->bad = true;
                return "";
        }
        copy = r->scratch;
        memcpy(copy, s, n);
        copy[n] = 0;
        r->scratch += n + 1;
        return copy;
}

/* A frame of the expected type, whole: the scratch buffer holds at most the
 * frame's strings plus one NUL each, which the frame's size bounds. */
static int open_frame(const uint8_t *frame, size_t size, char *scratch, login_frame_type type, reader *ret) {
        int n = login_frame_size(frame, size);

        if (n <= 0 || (size_t) n != size || frame[4] != type)
                return -EBADMSG;
        *ret = (reader) { frame + 5, frame + size, scratch, false };
        return 0;
}

static int close_frame(const reader *r, login_frame_type type) {
        return r->bad || r->p != r->end ? -EBADMSG : (int) type;
}

int login_frame_type_of(const uint8_t *frame, size_t size) {
        int n = login_frame_size(frame, size);
        if (n <= 0 || (size_t) n != size)
                return -EBADMSG;
        return frame[4];
}

int login_parse_start(const uint8_t *frame, size_t size, char *scratch, login_start *ret) {
        login_start s = {};
        reader r;

        if (open_frame(frame, size, scratch, LOGIN_START, &r) < 0)
                return -EBADMSG;
        s.version = get_u32(&r);
        s.stage = get_u32(&r);
        s.flags = get_u32(&r);
        s.requester_uid = get_u32(&r);
        s.user = get_string(&r);
        s.service = get_string(&r);
        s.tty = get_string(&r);
        s.rhost = get_string(&r);
        s.ruser = get_string(&r);
        s.session_id = get_string(&r);
        if (close_frame(&r, LOGIN_START) < 0)
                return -EBADMSG;
        *ret = s;
        return LOGIN_START;
}

int login_parse_prompt(const uint8_t *frame, size_t size, char *scratch, login_prompt *ret) {
        login_prompt p = {};
        reader r;

        if (open_frame(frame, size, scratch, LOGIN_PROMPT, &r) < 0)
                return -EBADMSG;
        p.style = get_u8(&r);
        p.kind = get_u8(&r);
        p.text = get_string(&r);
        if (close_frame(&r, LOGIN_PROMPT) < 0)
                return -EBADMSG;
        *ret = p;
        return LOGIN_PROMPT;
}

int login_parse_message(const uint8_t *frame, size_t size, char *scratch, login_message *ret) {
        login_message m = {};
        reader r;

        if (open_frame(frame, size, scratch, LOGIN_MESSAGE, &r) < 0)
                return -EBADMSG;
        m.style = get_u8(&r);
        m.text = get_string(&r);
        if (close_frame(&r, LOGIN_MESSAGE) < 0)
                return -EBADMSG;
        *ret = m;
        return LOGIN_MESSAGE;
}

int login_parse_answer(const uint8_t *frame, size_t size, char *scratch, login_answer *ret) {
        login_answer a = {};
        uint8_t cancelled;
        reader r;

        if (open_frame(frame, size, scratch, LOGIN_ANSWER, &r) < 0)
                return -EBADMSG;
        cancelled = get_u8(&r);
        a.cancelled = cancelled != 0;
        a.text = get_string(&r);
        /* The flag is 0 or 1, as the builder writes it: a frame has one
         * encoding only. */
        if (close_frame(&r, LOGIN_ANSWER) < 0 || cancelled > 1)
                return -EBADMSG;
        *ret = a;
        return LOGIN_ANSWER;
}

int login_parse_result(const uint8_t *frame, size_t size, char *scratch, login_result_frame *ret) {
        login_result_frame f = {};
        reader r;

        if (open_frame(frame, size, scratch, LOGIN_RESULT, &r) < 0)
                return -EBADMSG;
        f.result = get_u32(&r);
        f.data = get_string(&r);
        if (close_frame(&r, LOGIN_RESULT) < 0 || f.result >= _LOGIN_RESULT_MAX)
                return -EBADMSG;
        *ret = f;
        return LOGIN_RESULT;
}

const char *login_result_to_string(login_result r) {
        static const char *const names[_LOGIN_RESULT_MAX] = {
                [LOGIN_SUCCESS] = "success",
                [LOGIN_USER_UNKNOWN] = "user unknown",
                [LOGIN_AUTH_ERR] = "authentication failed",
                [LOGIN_PERM_DENIED] = "permission denied",
                [LOGIN_ACCT_EXPIRED] = "account not usable",
                [LOGIN_MAXTRIES] = "backed off",
                [LOGIN_AUTHTOK_ERR] = "new password refused",
                [LOGIN_SESSION_ERR] = "session error",
                [LOGIN_ABORT] = "conversation failed",
                [LOGIN_SYSTEM_ERR] = "system error",
        };
        return r < _LOGIN_RESULT_MAX && names[r] ? names[r] : "unknown";
}
