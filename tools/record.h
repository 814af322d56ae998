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

typedef enum FieldKind {
        FIELD_STRING,
        FIELD_OPTIONAL_STRING,  /* "" means none: null in JSON, "-" for people */
        FIELD_UINT32,
        FIELD_UINT64,
        FIELD_BOOL,
        FIELD_TIME,             /* 't' seconds since the epoch: "2026-11-28T03:44:26Z" */
        FIELD_BYTES,            /* 't' a size: a number in JSON, "1.5 MiB" for people */
        FIELD_DURATION,         /* 't' seconds: a number in JSON, "2h 5min" for people */
        FIELD_STRV,             /* 'as': an array in JSON, comma-separated for people */
} FieldKind;

typedef struct Field {
        const char *key;
        FieldKind kind;
} Field;

#define RECORD_FIELDS_MAX 24

typedef struct Schema {
        const Field *fields;
        size_t n_fields;
} Schema;

extern const Schema SCHEMA_USER;
extern const Schema SCHEMA_ORGANISATION;
extern const Schema SCHEMA_DEPARTMENT;
extern const Schema SCHEMA_ROLE;
extern const Schema SCHEMA_LINK;
extern const Schema SCHEMA_AUDIT;
extern const Schema SCHEMA_STATUS;

typedef struct FieldValue {
        bool present;
        const char *s;          /* points into the reply message */
        uint32_t u;
        uint64_t t;
        bool b;
        char **strv;            /* owned */
} FieldValue;

typedef struct Record {
        const Schema *schema;
        FieldValue values[RECORD_FIELDS_MAX];
} Record;

/* Records read from one or more replies (paged lists); holds a reference to
 * each reply because the records' strings point into them. */
typedef struct RecordList {
        const Schema *schema;
        Record *items;
        size_t n;
        DBusMessage **replies;
        size_t n_replies;
} RecordList;

/* Reads the a{sv} at iter. Returns 0, -ENOMEM, or -EBADMSG for a reply that
 * is not a dictionary; prints the error. */
int record_read(DBusMessageIter *iter, const Schema *schema, Record *ret);
void record_done(Record *r);

/* Reads the aa{sv} at iter (inside reply) and appends its records to l. */
int record_list_read(RecordList *l, DBusMessage *reply, DBusMessageIter *iter);
void record_list_done(RecordList *l);

const FieldValue *record_get(const Record *r, const char *key);

/* The text a person sees for field i: newly allocated. */
int record_format(const Record *r, size_t i, char **ret);

void record_write_json(JsonWriter *w, const Record *r);
void record_list_write_json(JsonWriter *w, const RecordList *l);

/* Print to stdout. */
void record_print_json(const Record *r);
void record_list_print_json(const RecordList *l);
int record_print_fields(const Record *r);

typedef struct Column {
        const char *header;
        const char *key;
} Column;

int record_list_print_table(const RecordList *l, const Column *columns, size_t n_columns);

/* ISO 8601 UTC, seconds precision. buf must hold 21 bytes. */
#define TIME_ISO_MAX 21
char *format_time_iso(uint64_t t, char buf[static TIME_ISO_MAX]);

static inline void record_donep(Record *r) {
        record_done(r);
}
static inline void record_list_donep(RecordList *l) {
        record_list_done(l);
}
#define _cleanup_record_ _cleanup_(record_donep)
#define _cleanup_record_list_ _cleanup_(record_list_donep)

/* Print the first argument of a reply: a list (table or JSON array) or one
 * record ("key: value" lines or a JSON object). */
int print_reply_list(DBusMessage *reply, const Schema *schema, bool json,
                     const Column *columns, size_t n_columns);
int print_reply_record(DBusMessage *reply, const Schema *schema, bool json);
