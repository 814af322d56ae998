/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* The audit log: who did what to whom, and when. Entries are written in the
 * same transaction as the change they describe and are never modified. */

#include <stdint.h>

#include "op.h"

typedef struct audit_entry {
        uint64_t id;
        uint64_t time;
        uint32_t actor_uid;
        const char *actor;      /* "root", a username, or "uid N" */
        const char *action;     /* "user.create", "org.create", ... */
        const char *org;        /* "" when none */
        const char *target;     /* the user, organisation or department */
        const char *detail;
} audit_entry;

int audit_append(op *o, const char *action, const char *org, const char *target,
                 const char *detail_fmt, ...) _printf_(5, 6);

typedef struct audit_filter {
        const char *target;     /* NULL: any */
        const char *org;        /* NULL: any */
        uint32_t limit;         /* 0: no limit */
} audit_filter;

/* Newest first. fn returns 0 to go on, < 0 on error. */
typedef int (*audit_visit_fn)(const audit_entry *e, void *userdata);
int audit_list(store_txn *t, const audit_filter *f, audit_visit_fn fn, void *userdata);
