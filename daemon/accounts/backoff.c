/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "backoff.h"
#include "record.h"

#include <string.h>

#define BACKOFF_RECORD_VERSION 1

int backoff_get(store_txn *t, uint64_t now, const char *username, backoff *ret) {
        record_reader rd;
        backoff b = {};
        const void *v;
        size_t n;
        int r;

        r = store_get(t, TABLE_LOGIN_FAILURES, username, strlen(username), &v, &n);
        if (r == -ENOENT) {
                *ret = b;
                return 0;
        }
        if (r < 0)
                return r;
        rd = record_reader_init(v, n);
        if (record_get_u8(&rd) != BACKOFF_RECORD_VERSION)
                return -EBADMSG;
        b.failures = record_get_u32(&rd);
        b.last_failure = record_get_u64(&rd);
        b.until = record_get_u64(&rd);
        if (rd.error)
                return rd.error;
        if (now >= b.last_failure + BACKOFF_FORGET_SECONDS && now >= b.until)
                b = (backoff) {};
        *ret = b;
        return 0;
}

int backoff_record_failure(op *o, const char *username, backoff *ret) {
        _cleanup_(record_writer_done) record_writer w = {};
        backoff b;
        int r;

        r = backoff_get(o->txn, o->now, username, &b);
        if (r < 0)
                return r;
        b.failures++;
        b.last_failure = o->now;
        if (b.failures > BACKOFF_FREE_FAILURES) {
                unsigned shift = b.failures - BACKOFF_FREE_FAILURES - 1;
                uint64_t seconds = shift >= 16 ? BACKOFF_MAX_SECONDS : (uint64_t) BACKOFF_FIRST_SECONDS << shift;
                if (seconds > BACKOFF_MAX_SECONDS)
                        seconds = BACKOFF_MAX_SECONDS;
                b.until = o->now + seconds;
        }
        record_put_u8(&w, BACKOFF_RECORD_VERSION);
        record_put_u32(&w, b.failures);
        record_put_u64(&w, b.last_failure);
        record_put_u64(&w, b.until);
        r = record_writer_error(&w);
        if (r >= 0)
                r = store_put(o->txn, TABLE_LOGIN_FAILURES, username, strlen(username), w.data, w.size, false);
        if (r >= 0 && ret)
                *ret = b;
        return r;
}

int backoff_clear(op *o, const char *username) {
        int r = store_del(o->txn, TABLE_LOGIN_FAILURES, username, strlen(username));
        return r == -ENOENT ? 0 : r;
}
