/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* The records nexalixd returns (a{sv} dictionaries, see
 * data/org.nexalix.Identity1.xml), described once as schemas and printed by
 * one set of functions: JSON, "key: value" lines, or an aligned table. A
 * schema lists exactly the fields nexalixctl shows; keys a newer daemon adds
 * are skipped, keys it leaves out print as null (JSON) or "-". */

#include <dbus/dbus.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "json.h"
#include "macro.h"

typedef enum field_kind {
        FIELD_STRING,
        FIELD_OPTIONAL_STRING,  /* "" means none: null in JSON, "-" for people */
        FIELD_UINT32,
        FIELD_UINT64,
        FIELD_BOOL,
        FIELD_TIME,             /* 't' seconds since the epoch: "2026-11-28T03:44:26Z" */
        FIELD_OPTIONAL_TIME,    /* the same; 0 means none: null in JSON, "-" for people */
        FIELD_BYTES,            /* 't' a size: a number in JSON, "1.5 MiB" for people */
        FIELD_DURATION,         /* 't' seconds: a number in JSON, "2h 5min" for people */
        FIELD_STRV,             /* 'as': an array in JSON, comma-separated for people */
} field_kind;

typedef struct reply_field {
        const char *key;
        field_kind kind;
} reply_field;

#define RECORD_FIELDS_MAX 24

typedef struct reply_schema {
        const reply_field *fields;
        size_t n_fields;
} reply_schema;

extern const reply_schema SCHEMA_USER;
extern const reply_schema SCHEMA_USER_DETAIL;  /* user show, account show */
extern const reply_schema SCHEMA_SESSION;
extern const reply_schema SCHEMA_ORGANISATION;
extern const reply_schema SCHEMA_DEPARTMENT;
extern const reply_schema SCHEMA_ROLE;
extern const reply_schema SCHEMA_LINK;
extern const reply_schema SCHEMA_SSH_KEY;
extern const reply_schema SCHEMA_AUDIT;
extern const reply_schema SCHEMA_STATUS;
extern const reply_schema SCHEMA_MAIL;         /* mail queue */
extern const reply_schema SCHEMA_2FA_STATUS;
extern const reply_schema SCHEMA_LINK_INFO;
extern const reply_schema SCHEMA_TOKEN;

typedef struct field_value {
        bool present;
        const char *s;          /* points into the reply message */
        uint32_t u;
        uint64_t t;
        bool b;
        char **strv;            /* owned */
} field_value;

typedef struct reply_record {
        const reply_schema *schema;
        field_value values[RECORD_FIELDS_MAX];
} reply_record;

/* Records read from one or more replies (paged lists); holds a reference to
 * each reply because the records' strings point into them. */
typedef struct reply_list {
        const reply_schema *schema;
        reply_record *items;
        size_t n, allocated_items;
        DBusMessage **replies;
        size_t n_replies, allocated_replies;
} reply_list;

/* Reads the a{sv} at iter. Returns 0, -ENOMEM, or -EBADMSG for a reply that
 * is not a dictionary; prints the error. */
int record_read(DBusMessageIter *iter, const reply_schema *schema, reply_record *ret);
void record_done(reply_record *r);

/* Reads the aa{sv} at iter (inside reply) and appends its records to l. */
int record_list_read(reply_list *l, DBusMessage *reply, DBusMessageIter *iter);
void record_list_done(reply_list *l);

const field_value *record_get(const reply_record *r, const char *key);

/* The text a person sees for field i: newly allocated. */
int record_format(const reply_record *r, size_t i, char **ret);

void record_write_json(json_writer *w, const reply_record *r);
void record_list_write_json(json_writer *w, const reply_list *l);

/* Print to stdout. */
void record_print_json(const reply_record *r);
void record_list_print_json(const reply_list *l);
int record_print_fields(const reply_record *r);

typedef struct table_column {
        const char *header;
        const char *key;
} table_column;

int record_list_print_table(const reply_list *l, const table_column *columns, size_t n_columns);

/* ISO 8601 UTC, seconds precision. buf must hold 21 bytes. */
#define TIME_ISO_MAX 21
char *format_time_iso(uint64_t t, char buf[static TIME_ISO_MAX]);

static inline void record_donep(reply_record *r) {
        record_done(r);
}
static inline void record_list_donep(reply_list *l) {
        record_list_done(l);
}
#define _cleanup_record_ _cleanup_(record_donep)
#define _cleanup_record_list_ _cleanup_(record_list_donep)

/* Print the first argument of a reply: a list (table or JSON array) or one
 * record ("key: value" lines or a JSON object). */
int print_reply_list(DBusMessage *reply, const reply_schema *schema, bool json,
                     const table_column *columns, size_t n_columns);
int print_reply_record(DBusMessage *reply, const reply_schema *schema, bool json);
