/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Operational data that integrated applications link to a user (incidents,
 * cost records, ...). Nexalix keeps only the reference; while any exists the
 * user cannot be deleted, only deactivated. */

#include "op.h"

typedef enum linked_record_kind {
        LINKED_RECORD_INCIDENT_REGISTERED,
        LINKED_RECORD_INCIDENT_ASSIGNED,
        LINKED_RECORD_COST_RECORDED,
        LINKED_RECORD_INCIDENT_STATUS_CHANGE,
        _LINKED_RECORD_KIND_MAX,
} linked_record_kind;

#define LINKED_RECORD_REF_MAX 128

int linked_record_kind_from_string(const char *s);
const char *linked_record_kind_to_string(linked_record_kind k);
/* For messages: "registered incident" / "registered incidents". */
const char *linked_record_kind_singular(linked_record_kind k);
const char *linked_record_kind_plural(linked_record_kind k);

int linked_record_add(op *o, const char *username, const char *kind, const char *ref);
int linked_record_remove(op *o, const char *username, const char *kind, const char *ref);

typedef struct linked_record {
        linked_record_kind kind;
        const char *ref;
        uint64_t created_at;
} linked_record;

/* fn returns 0 to go on, < 0 on error. */
int linked_record_list(op *o, const char *username, int (*fn)(const linked_record *l, void *userdata),
              void *userdata);
/* counts[kind] for the user; no permission check (internal). */
int linked_record_count(store_txn *t, const char *username, unsigned counts[static _LINKED_RECORD_KIND_MAX]);
