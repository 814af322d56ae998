/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Operational data that integrated applications link to a user (incidents,
 * cost records, ...). Nexalix keeps only the reference; while any exists the
 * user cannot be deleted, only deactivated. */

#include "op.h"

typedef enum link_kind {
        LINK_INCIDENT_REGISTERED,
        LINK_INCIDENT_ASSIGNED,
        LINK_COST_RECORDED,
        LINK_INCIDENT_STATUS_CHANGE,
        _LINK_KIND_MAX,
} link_kind;

#define LINK_REF_MAX 128

int link_kind_from_string(const char *s);
const char *link_kind_to_string(link_kind k);
/* For messages: "registered incident" / "registered incidents". */
const char *link_kind_singular(link_kind k);
const char *link_kind_plural(link_kind k);

int link_add(op *o, const char *username, const char *kind, const char *ref);
int link_remove(op *o, const char *username, const char *kind, const char *ref);

typedef struct linked_record {
        link_kind kind;
        const char *ref;
        uint64_t created_at;
} linked_record;

/* fn returns 0 to go on, < 0 on error. */
int link_list(op *o, const char *username, int (*fn)(const linked_record *l, void *userdata),
              void *userdata);
/* counts[kind] for the user; no permission check (internal). */
int link_count(store_txn *t, const char *username, unsigned counts[static _LINK_KIND_MAX]);
