/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "audit.h"
#include "record.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#define AUDIT_RECORD_VERSION 1

int audit_append(op *o, const char *action, const char *org, const char *target,
                 const char *detail_fmt, ...) {
        _cleanup_(record_writer_done) record_writer w = {};
        char detail[512], actor[USERNAME_MAX + 16];
        const void *last;
        size_t last_size;
        uint8_t key[8];
        uint64_t seq = 1;
        va_list ap;
        int r;

        va_start(ap, detail_fmt);
        utf8_vsnprintf(detail, sizeof(detail), detail_fmt, ap);
        va_end(ap);

        r = store_last_key(o->txn, TABLE_AUDIT, &last, &last_size);
        if (r == 0 && last_size == 8)
                seq = be64_get(last) + 1;
        else if (r < 0 && r != -ENOENT)
                return r;

        if (o->caller.name[0])
                snprintf(actor, sizeof(actor), "%s", o->caller.name);
        else
                snprintf(actor, sizeof(actor), "uid %u", o->caller.uid);

        record_put_u8(&w, AUDIT_RECORD_VERSION);
        record_put_u64(&w, o->now);
        record_put_u32(&w, o->caller.uid);
        record_put_string(&w, actor);
        record_put_string(&w, action);
        record_put_string(&w, org);
        record_put_string(&w, target);
        record_put_string(&w, detail);
        r = record_writer_error(&w);
        if (r < 0)
                return r;

        be64_put(key, seq);
        return store_put(o->txn, TABLE_AUDIT, key, sizeof(key), w.data, w.size, true);
}

typedef struct audit_walk {
        const audit_filter *filter;
        audit_visit_fn fn;
        void *userdata;
        uint32_t seen;
} audit_walk;

static int audit_visit(const void *key, size_t key_size, const void *value, size_t value_size,
                       void *userdata) {
        audit_walk *walk = userdata;
        record_reader rd = record_reader_init(value, value_size);
        audit_entry e = {};
        int r;

        if (key_size != 8 || record_get_u8(&rd) != AUDIT_RECORD_VERSION)
                return -EBADMSG;
        e.id = be64_get(key);
        e.time = record_get_u64(&rd);
        e.actor_uid = record_get_u32(&rd);
        e.actor = record_get_string(&rd);
        e.action = record_get_string(&rd);
        e.org = record_get_string(&rd);
        e.target = record_get_string(&rd);
        e.detail = record_get_string(&rd);
        if (rd.error)
                return rd.error;

        if (walk->filter->target && strcmp(walk->filter->target, e.target) != 0)
                return 0;
        if (walk->filter->org && strcmp(walk->filter->org, e.org) != 0)
                return 0;
        r = walk->fn(&e, walk->userdata);
        if (r < 0)
                return r;
        if (walk->filter->limit && ++walk->seen >= walk->filter->limit)
                return 1;
        return 0;
}

int audit_list(store_txn *t, const audit_filter *f, audit_visit_fn fn, void *userdata) {
        audit_walk walk = { f, fn, userdata, 0 };
        int r = store_foreach(t, TABLE_AUDIT, NULL, 0, true, audit_visit, &walk);
        return r > 0 ? 0 : r;
}
