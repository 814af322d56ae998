/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "array.h"
#include "record.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static uint8_t *reserve(record_writer *w, size_t n) {
        if (w->error)
                return NULL;
        if (ARRAY_RESERVE(w->data, w->allocated, w->size + n) < 0) {
                w->error = -ENOMEM;
                return NULL;
        }
        w->size += n;
        return w->data + w->size - n;
}

void record_put_u8(record_writer *w, uint8_t v) {
        uint8_t *p = reserve(w, 1);
        if (p)
                *p = v;
}

void record_put_u32(record_writer *w, uint32_t v) {
        uint8_t *p = reserve(w, 4);
        for (int i = 0; p && i < 4; i++)
                p[i] = (uint8_t) (v >> (8 * i));
}

void record_put_u64(record_writer *w, uint64_t v) {
        uint8_t *p = reserve(w, 8);
        for (int i = 0; p && i < 8; i++)
                p[i] = (uint8_t) (v >> (8 * i));
}

void record_put_string(record_writer *w, const char *s) {
        size_t n = s ? strlen(s) : 0;
        uint8_t *p;

        if (n > UINT16_MAX - 1) {
                w->error = w->error ?: -E2BIG;
                return;
        }
        p = reserve(w, 2 + n + 1);
        if (!p)
                return;
        p[0] = (uint8_t) n;
        p[1] = (uint8_t) (n >> 8);
        if (n)
                memcpy(p + 2, s, n);
        p[2 + n] = 0;
}

int record_writer_error(const record_writer *w) {
        return w->error;
}

void record_put_bytes(record_writer *w, const void *p, size_t n) {
        uint8_t *d = reserve(w, n);
        if (d && n)
                memcpy(d, p, n);
}

void record_writer_reserve(record_writer *w, size_t n) {
        if (!w->error && ARRAY_RESERVE(w->data, w->allocated, w->size + n) < 0)
                w->error = -ENOMEM;
}

void record_writer_done(record_writer *w) {
        if (w->data)
                explicit_bzero(w->data, w->allocated);
        free(w->data);
        *w = (record_writer) {};
}

static const uint8_t *take(record_reader *r, size_t n) {
        const uint8_t *p = r->p;

        if (r->error || (size_t) (r->end - r->p) < n) {
                r->error = -EBADMSG;
                return NULL;
        }
        r->p += n;
        return p;
}

uint8_t record_get_u8(record_reader *r) {
        const uint8_t *p = take(r, 1);
        return p ? *p : 0;
}

uint32_t record_get_u32(record_reader *r) {
        const uint8_t *p = take(r, 4);
        uint32_t v = 0;
        for (int i = 0; p && i < 4; i++)
                v |= (uint32_t) p[i] << (8 * i);
        return v;
}

uint64_t record_get_u64(record_reader *r) {
        const uint8_t *p = take(r, 8);
        uint64_t v = 0;
        for (int i = 0; p && i < 8; i++)
                v |= (uint64_t) p[i] << (8 * i);
        return v;
}

const char *record_get_string(record_reader *r) {
        const uint8_t *len = take(r, 2), *s;
        size_t n;

        if (!len)
                return "";
        n = (size_t) len[0] | (size_t) len[1] << 8;
        s = take(r, n + 1);
        if (!s || s[n] != 0 || memchr(s, 0, n)) {
                r->error = -EBADMSG;
                return "";
        }
        return (const char *) s;
}

const void *record_get_bytes(record_reader *r, size_t n) {
        return take(r, n);
}

char *record_dup_string(record_reader *r) {
        const char *s = record_get_string(r);
        char *d;

        if (r->error)
                return NULL;
        d = strdup(s);
        if (!d)
                r->error = -ENOMEM;
        return d;
}
