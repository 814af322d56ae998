/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "audit.h"
#include "linked-record.h"
#include "record.h"
#include "role.h"
#include "user.h"

#include <stdio.h>
#include <string.h>

#define LINKED_RECORD_VERSION 1

static const struct {
        const char *name, *singular, *plural;
} kinds[_LINKED_RECORD_KIND_MAX] = {
        [LINKED_RECORD_INCIDENT_REGISTERED] = { "incident.registered", "registered incident", "registered incidents" },
        [LINKED_RECORD_INCIDENT_ASSIGNED] = { "incident.assigned", "assigned incident", "assigned incidents" },
        [LINKED_RECORD_COST_RECORDED] = { "cost.recorded", "cost record", "cost records" },
        [LINKED_RECORD_INCIDENT_STATUS_CHANGE] = { "incident.status_change", "incident status change",
                                          "incident status changes" },
};

int linked_record_kind_from_string(const char *s) {
        for (int i = 0; i < _LINKED_RECORD_KIND_MAX; i++)
                if (s && strcmp(s, kinds[i].name) == 0)
                        return i;
        return -EINVAL;
}

const char *linked_record_kind_to_string(linked_record_kind k) { return kinds[k].name; }
const char *linked_record_kind_singular(linked_record_kind k) { return kinds[k].singular; }
const char *linked_record_kind_plural(linked_record_kind k) { return kinds[k].plural; }

/* Key: "username\0kind\0ref". */
static size_t linked_record_key(char *buf, size_t size, const char *username, const char *kind, const char *ref) {
        int n = snprintf(buf, size, "%s%c%s%c%s", username, 0, kind, 0, ref);
        return n < 0 || (size_t) n >= size ? 0 : (size_t) n;
}

static int check_linked_record(op *o, const char *username, const char *kind, const char *ref, user *ret) {
        int r;

        r = user_load_for(o, username, PERM_MANAGE_LINKS, ret);
        if (r < 0)
                return r;
        if (linked_record_kind_from_string(kind) < 0)
                return nx_error_set(o->error, -EINVAL,
                                    "unknown kind '%s' — use incident.registered, incident.assigned, cost.recorded or incident.status_change",
                                    kind);
        if (isempty(ref) || strlen(ref) > LINKED_RECORD_REF_MAX)
                return nx_error_set(o->error, -EINVAL, "a reference must be 1 to %d characters", LINKED_RECORD_REF_MAX);
        /* References are identifiers of other systems, shown in terminals:
         * printable ASCII only, no spaces. */
        for (const unsigned char *p = (const unsigned char *) ref; *p; p++)
                if (*p < 0x21 || *p > 0x7E)
                        return nx_error_set(o->error, -EINVAL,
                                            "a reference must be printable ASCII without spaces");
        return 0;
}

int linked_record_add(op *o, const char *username, const char *kind, const char *ref) {
        _cleanup_(record_writer_done) record_writer w = {};
        _cleanup_(user_done) user u = {};
        char key[USERNAME_MAX + 32 + LINKED_RECORD_REF_MAX + 3];
        size_t n;
        int r;

        r = check_linked_record(o, username, kind, ref, &u);
        if (r < 0)
                return r;
        n = linked_record_key(key, sizeof(key), u.username, kind, ref);
        record_put_u8(&w, LINKED_RECORD_VERSION);
        record_put_u64(&w, o->now);
        r = record_writer_error(&w);
        if (r < 0)
                return r;
        r = store_put(o->txn, TABLE_LINKED_RECORDS, key, n, w.data, w.size, true);
        if (r == -EEXIST)
                return nx_error_set(o->error, -EEXIST, "%s %s is already linked to '%s'", kind, ref, username);
        if (r < 0)
                return r;
        return audit_append(o, "linked-record.add", u.org, u.username, "%s %s", kind, ref);
}

int linked_record_remove(op *o, const char *username, const char *kind, const char *ref) {
        _cleanup_(user_done) user u = {};
        char key[USERNAME_MAX + 32 + LINKED_RECORD_REF_MAX + 3];
        size_t n;
        int r;

        r = check_linked_record(o, username, kind, ref, &u);
        if (r < 0)
                return r;
        n = linked_record_key(key, sizeof(key), u.username, kind, ref);
        r = store_del(o->txn, TABLE_LINKED_RECORDS, key, n);
        if (r == -ENOENT)
                return nx_error_set(o->error, -ENOENT, "%s %s is not linked to '%s'", kind, ref, username);
        if (r < 0)
                return r;
        return audit_append(o, "linked-record.remove", u.org, u.username, "%s %s", kind, ref);
}

typedef struct linked_record_walk {
        int (*fn)(const linked_record *l, void *userdata);
        void *userdata;
        unsigned *counts;
} linked_record_walk;

static int linked_record_visit(const void *key, size_t key_size, const void *value, size_t value_size,
                      void *userdata) {
        linked_record_walk *walk = userdata;
        record_reader rd = record_reader_init(value, value_size);
        const char *k = key, *kind, *ref, *end = k + key_size;
        linked_record l = {};
        char refbuf[LINKED_RECORD_REF_MAX + 1];
        int i;

        /* Skip "username\0", split "kind\0ref". */
        kind = memchr(k, 0, key_size);
        if (!kind)
                return -EBADMSG;
        kind++;
        ref = memchr(kind, 0, (size_t) (end - kind));
        if (!ref || (size_t) (end - ref - 1) > LINKED_RECORD_REF_MAX)
                return -EBADMSG;
        ref++;
        i = linked_record_kind_from_string(kind);
        if (i < 0 || record_get_u8(&rd) != LINKED_RECORD_VERSION)
                return -EBADMSG;
        l.kind = (linked_record_kind) i;
        l.created_at = record_get_u64(&rd);
        if (rd.error)
                return rd.error;

        if (walk->counts) {
                walk->counts[l.kind]++;
                return 0;
        }
        memcpy(refbuf, ref, (size_t) (end - ref));
        refbuf[end - ref] = 0;
        l.ref = refbuf;
        return walk->fn(&l, walk->userdata);
}

int linked_record_list(op *o, const char *username, int (*fn)(const linked_record *l, void *userdata),
              void *userdata) {
        _cleanup_(user_done) user u = {};
        linked_record_walk walk = { fn, userdata, NULL };
        int r;

        r = user_load_for(o, username, PERM_MANAGE_LINKS, &u);
        if (r < 0)
                return r;
        return store_foreach(o->txn, TABLE_LINKED_RECORDS, u.username, strlen(u.username) + 1, false, linked_record_visit, &walk);
}

int linked_record_count(store_txn *t, const char *username, unsigned counts[static _LINKED_RECORD_KIND_MAX]) {
        linked_record_walk walk = { NULL, NULL, counts };
        return store_foreach(t, TABLE_LINKED_RECORDS, username, strlen(username) + 1, false, linked_record_visit, &walk);
}
