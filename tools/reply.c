/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "array.h"
#include "reply.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <time.h>

#include "bus-util.h"
#include "ctl.h"

#define SCHEMA(name, ...)                                                       \
        static const reply_field name##_fields[] = { __VA_ARGS__ };                   \
        _Static_assert(ELEMENTSOF(name##_fields) <= RECORD_FIELDS_MAX,          \
                       "RECORD_FIELDS_MAX too small for " #name);               \
        const reply_schema name = { name##_fields, ELEMENTSOF(name##_fields) }

/* The user object of nexalixctl(1) (--json), in the order it is printed;
 * one user (user show, account show) also says how its logins stand. */
#define USER_FIELDS \
        { "username", FIELD_STRING }, \
        { "uid", FIELD_UINT32 }, \
        { "gid", FIELD_UINT32 }, \
        { "org", FIELD_STRING }, \
        { "department", FIELD_OPTIONAL_STRING }, \
        { "first_name", FIELD_STRING }, \
        { "last_name", FIELD_STRING }, \
        { "email", FIELD_STRING }, \
        { "email_verified", FIELD_BOOL }, \
        { "language", FIELD_STRING }, \
        { "roles", FIELD_STRV }, \
        { "state", FIELD_STRING }, \
        { "totp_enabled", FIELD_BOOL }, \
        { "created_at", FIELD_TIME }, \
        { "updated_at", FIELD_TIME }, \
        { "home", FIELD_STRING }, \
        { "shell", FIELD_STRING }
SCHEMA(SCHEMA_USER, USER_FIELDS);
SCHEMA(SCHEMA_USER_DETAIL, USER_FIELDS,
        { "failed_logins", FIELD_UINT32 },
        { "backed_off_until", FIELD_OPTIONAL_TIME });

SCHEMA(SCHEMA_SESSION,
        { "id", FIELD_STRING },
        { "username", FIELD_STRING },
        { "pid", FIELD_UINT32 },
        { "service", FIELD_OPTIONAL_STRING },
        { "tty", FIELD_OPTIONAL_STRING },
        { "rhost", FIELD_OPTIONAL_STRING },
        { "started_at", FIELD_TIME });

SCHEMA(SCHEMA_ORGANISATION,
        { "name", FIELD_STRING },
        { "require_2fa", FIELD_BOOL },
        { "hint_2fa", FIELD_BOOL },
        { "ssh_key_types", FIELD_STRV },
        { "users", FIELD_UINT32 },
        { "departments", FIELD_UINT32 },
        { "created_at", FIELD_TIME });

SCHEMA(SCHEMA_DEPARTMENT,
        { "name", FIELD_STRING },
        { "org", FIELD_STRING },
        { "group", FIELD_STRING },
        { "gid", FIELD_UINT32 },
        { "users", FIELD_UINT32 });

SCHEMA(SCHEMA_ROLE,
        { "name", FIELD_STRING },
        { "description", FIELD_STRING },
        { "permissions", FIELD_STRV });

/* An SSH public key (AddSSHKey, ListSSHKeys). */
SCHEMA(SCHEMA_SSH_KEY,
        { "name", FIELD_STRING },
        { "type", FIELD_STRING },
        { "bits", FIELD_UINT32 },
        { "fingerprint", FIELD_STRING },
        { "created_at", FIELD_TIME },
        { "key", FIELD_STRING });

SCHEMA(SCHEMA_LINK,
        { "kind", FIELD_STRING },
        { "ref", FIELD_STRING },
        { "created_at", FIELD_TIME });

SCHEMA(SCHEMA_AUDIT,
        { "id", FIELD_UINT64 },
        { "time", FIELD_TIME },
        { "actor", FIELD_STRING },
        { "actor_uid", FIELD_UINT32 },
        { "action", FIELD_STRING },
        { "org", FIELD_OPTIONAL_STRING },
        { "target", FIELD_OPTIONAL_STRING },
        { "detail", FIELD_OPTIONAL_STRING });

SCHEMA(SCHEMA_LINK_INFO,
        { "purpose", FIELD_STRING },
        { "username", FIELD_STRING },
        { "expires_at", FIELD_TIME });

SCHEMA(SCHEMA_TOKEN,
        { "name", FIELD_STRING },
        { "created_at", FIELD_TIME },
        { "last_used_at", FIELD_OPTIONAL_TIME },
        { "expires_at", FIELD_OPTIONAL_TIME });

SCHEMA(SCHEMA_2FA_STATUS,
        { "enabled", FIELD_BOOL },
        { "enabled_at", FIELD_OPTIONAL_TIME },
        { "recovery_codes_left", FIELD_UINT32 },
        { "required", FIELD_BOOL },
        { "enrolment_pending", FIELD_BOOL });

SCHEMA(SCHEMA_MAIL,
        { "id", FIELD_UINT64 },
        { "to", FIELD_STRING },
        { "username", FIELD_OPTIONAL_STRING },
        { "org", FIELD_OPTIONAL_STRING },
        { "kind", FIELD_STRING },
        { "message_id", FIELD_STRING },
        { "size", FIELD_BYTES },
        { "queued_at", FIELD_TIME },
        { "attempts", FIELD_UINT32 },
        { "last_attempt", FIELD_OPTIONAL_TIME },
        { "next_attempt", FIELD_OPTIONAL_TIME },
        { "state", FIELD_STRING },
        { "last_error", FIELD_OPTIONAL_STRING });

SCHEMA(SCHEMA_STATUS,
        { "version", FIELD_STRING },
        { "users", FIELD_UINT32 },
        { "organisations", FIELD_UINT32 },
        { "store", FIELD_STRING },
        { "store_bytes", FIELD_BYTES },
        { "uptime_seconds", FIELD_DURATION },
        { "snapshot", FIELD_STRING },
        { "snapshot_generation", FIELD_UINT64 },
        { "caller_uid", FIELD_UINT32 },
        { "caller", FIELD_OPTIONAL_STRING });

static char bus_type_of(field_kind kind) {
        switch (kind) {
        case FIELD_STRING:
        case FIELD_OPTIONAL_STRING:
                return 's';
        case FIELD_UINT32:
                return 'u';
        case FIELD_UINT64:
        case FIELD_TIME:
        case FIELD_OPTIONAL_TIME:
        case FIELD_BYTES:
        case FIELD_DURATION:
                return 't';
        case FIELD_BOOL:
                return 'b';
        case FIELD_STRV:
                return 'a';
        }
        return 0;
}

int record_read(DBusMessageIter *iter, const reply_schema *schema, reply_record *ret) {
        bus_dict_field table[RECORD_FIELDS_MAX + 1] = {};
        _cleanup_record_ reply_record rec = { .schema = schema };
        int r;

        for (size_t i = 0; i < schema->n_fields; i++) {
                const reply_field *f = &schema->fields[i];
                field_value *v = &rec.values[i];
                char type = bus_type_of(f->kind);

                table[i] = (bus_dict_field) {
                        .key = f->key,
                        .type = type,
                        .value = type == 's' ? (void *) &v->s :
                                 type == 'u' ? (void *) &v->u :
                                 type == 't' ? (void *) &v->t :
                                 type == 'b' ? (void *) &v->b : (void *) &v->strv,
                        .present = &v->present,
                        /* The daemon's replies are trusted to be sane. */
                        .max_items = SIZE_MAX,
                };
        }

        /* Not strict: a newer daemon may send more than we know. */
        r = bus_dict_read(iter, table, false, NULL);
        if (r == -ENOMEM)
                return ctl_error(r, "out of memory");
        if (r < 0)
                return ctl_error(-EBADMSG, "unexpected reply from nexalixd: not a record");

        /* The values hold no pointer into rec itself, so it can be copied
         * out; the emptied schema keeps the cleanup from freeing them. */
        *ret = rec;
        rec.schema = NULL;
        return 0;
}

void record_done(reply_record *r) {
        if (!r->schema)
                return;
        for (size_t i = 0; i < r->schema->n_fields; i++) {
                strv_free(r->values[i].strv);
                r->values[i].strv = NULL;
        }
}

int record_list_read(reply_list *l, DBusMessage *reply, DBusMessageIter *iter) {
        DBusMessageIter array;
        int r;

        if (dbus_message_iter_get_arg_type(iter) != DBUS_TYPE_ARRAY ||
            dbus_message_iter_get_element_type(iter) != DBUS_TYPE_ARRAY)
                return ctl_error(-EBADMSG, "unexpected reply from nexalixd: not a list");

        if (ARRAY_RESERVE(l->replies, l->allocated_replies, l->n_replies + 1) < 0)
                return ctl_error(-ENOMEM, "out of memory");
        l->replies[l->n_replies++] = dbus_message_ref(reply);

        dbus_message_iter_recurse(iter, &array);
        for (; dbus_message_iter_get_arg_type(&array) == DBUS_TYPE_ARRAY;
             dbus_message_iter_next(&array)) {
                if (ARRAY_RESERVE(l->items, l->allocated_items, l->n + 1) < 0)
                        return ctl_error(-ENOMEM, "out of memory");
                r = record_read(&array, l->schema, &l->items[l->n]);
                if (r < 0)
                        return r;
                l->n++;
        }
        return 0;
}

void record_list_done(reply_list *l) {
        for (size_t i = 0; i < l->n; i++)
                record_done(&l->items[i]);
        free(l->items);
        for (size_t i = 0; i < l->n_replies; i++)
                dbus_message_unref(l->replies[i]);
        free(l->replies);
        *l = (reply_list) { .schema = l->schema };
}

const field_value *record_get(const reply_record *r, const char *key) {
        for (size_t i = 0; i < r->schema->n_fields; i++)
                if (strcmp(r->schema->fields[i].key, key) == 0)
                        return &r->values[i];
        return NULL;
}

char *format_time_iso(uint64_t t, char buf[static TIME_ISO_MAX]) {
        time_t tt = (time_t) t;
        struct tm tm;

        if ((uint64_t) tt != t || !gmtime_r(&tt, &tm) ||
            strftime(buf, TIME_ISO_MAX, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
                snprintf(buf, TIME_ISO_MAX, "%" PRIu64, t);
        return buf;
}

static int format_bytes(uint64_t n, char **ret) {
        static const char *const units[] = { "KiB", "MiB", "GiB", "TiB" };
        double v = (double) n;
        size_t i;

        if (n < 1024)
                return asprintf(ret, "%" PRIu64 " B", n) < 0 ? -ENOMEM : 0;
        for (i = 0, v /= 1024; v >= 1024 && i + 1 < ELEMENTSOF(units); i++)
                v /= 1024;
        return asprintf(ret, "%.1f %s", v, units[i]) < 0 ? -ENOMEM : 0;
}

static int format_duration(uint64_t s, char **ret) {
        uint64_t d = s / 86400, h = s / 3600 % 24, m = s / 60 % 60;
        int n;

        if (d > 0)
                n = asprintf(ret, "%" PRIu64 "d %" PRIu64 "h %" PRIu64 "min", d, h, m);
        else if (h > 0)
                n = asprintf(ret, "%" PRIu64 "h %" PRIu64 "min", h, m);
        else if (m > 0)
                n = asprintf(ret, "%" PRIu64 "min %" PRIu64 "s", m, s % 60);
        else
                n = asprintf(ret, "%" PRIu64 "s", s);
        return n < 0 ? -ENOMEM : 0;
}

/* A copy of s fit for a terminal: control characters, which could move the
 * cursor or recolour the screen when a string comes from an integrated
 * application (a link's ref, an audit detail), become \xNN. */
static int strdup_printable(const char *s, char **ret) {
        size_t n = 0;
        char *t, *p;

        for (const unsigned char *q = (const unsigned char *) s; *q; q++)
                n += *q < 0x20 || *q == 0x7F ? 4 : 1;
        p = t = malloc(n + 1);
        if (!t)
                return -ENOMEM;
        for (const unsigned char *q = (const unsigned char *) s; *q; q++)
                if (*q < 0x20 || *q == 0x7F)
                        p += sprintf(p, "\\x%02x", *q);
                else
                        *p++ = (char) *q;
        *p = '\0';
        *ret = t;
        return 0;
}

static int format_strv(char *const *l, char **ret) {
        size_t len = 1;
        char *s, *p;
        int r;

        if (strv_length(l) == 0)
                return (*ret = strdup("-")) ? 0 : -ENOMEM;
        for (char *const *i = l; *i; i++)
                len += strlen(*i) + 1;
        p = s = malloc(len);
        if (!s)
                return -ENOMEM;
        for (char *const *i = l; *i; i++)
                p = stpcpy(stpcpy(p, i == l ? "" : ","), *i);
        r = strdup_printable(s, ret);
        free(s);
        return r;
}

static int record_format_raw(const reply_record *r, size_t i, char **ret) {
        const field_value *v = &r->values[i];
        char buf[TIME_ISO_MAX];

        if (!v->present)
                return (*ret = strdup("-")) ? 0 : -ENOMEM;

        switch (r->schema->fields[i].kind) {
        case FIELD_STRING:
                return strdup_printable(v->s, ret);
        case FIELD_OPTIONAL_STRING:
                return strdup_printable(isempty(v->s) ? "-" : v->s, ret);
        case FIELD_UINT32:
                return asprintf(ret, "%" PRIu32, v->u) < 0 ? -ENOMEM : 0;
        case FIELD_UINT64:
                return asprintf(ret, "%" PRIu64, v->t) < 0 ? -ENOMEM : 0;
        case FIELD_BOOL:
                return (*ret = strdup(v->b ? "yes" : "no")) ? 0 : -ENOMEM;
        case FIELD_TIME:
                return (*ret = strdup(format_time_iso(v->t, buf))) ? 0 : -ENOMEM;
        case FIELD_OPTIONAL_TIME:
                return (*ret = strdup(v->t == 0 ? "-" : format_time_iso(v->t, buf))) ? 0 : -ENOMEM;
        case FIELD_BYTES:
                return format_bytes(v->t, ret);
        case FIELD_DURATION:
                return format_duration(v->t, ret);
        case FIELD_STRV:
                return format_strv(v->strv, ret);
        }
        return -EINVAL;
}

int record_format(const reply_record *r, size_t i, char **ret) {
        int k = record_format_raw(r, i, ret);
        if (k < 0)
                return ctl_error(-ENOMEM, "out of memory");
        return 0;
}

void record_write_json(json_writer *w, const reply_record *r) {
        char buf[TIME_ISO_MAX];

        json_begin_object(w);
        for (size_t i = 0; i < r->schema->n_fields; i++) {
                const reply_field *f = &r->schema->fields[i];
                const field_value *v = &r->values[i];

                json_key(w, f->key);
                if (!v->present && f->kind != FIELD_STRV) {
                        json_null(w);
                        continue;
                }
                switch (f->kind) {
                case FIELD_STRING:
                        json_string(w, v->s);
                        break;
                case FIELD_OPTIONAL_STRING:
                        json_string(w, isempty(v->s) ? NULL : v->s);
                        break;
                case FIELD_UINT32:
                        json_uint(w, v->u);
                        break;
                case FIELD_UINT64:
                case FIELD_BYTES:
                case FIELD_DURATION:
                        json_uint(w, v->t);
                        break;
                case FIELD_BOOL:
                        json_bool(w, v->b);
                        break;
                case FIELD_TIME:
                        json_string(w, format_time_iso(v->t, buf));
                        break;
                case FIELD_OPTIONAL_TIME:
                        json_string(w, v->t == 0 ? NULL : format_time_iso(v->t, buf));
                        break;
                case FIELD_STRV:
                        json_begin_array(w);
                        for (char **s = v->strv; s && *s; s++)
                                json_string(w, *s);
                        json_end_array(w);
                        break;
                }
        }
        json_end_object(w);
}

void record_print_json(const reply_record *r) {
        json_writer w;

        json_writer_init(&w, stdout);
        record_write_json(&w, r);
        fputc('\n', stdout);
}

void record_list_write_json(json_writer *w, const reply_list *l) {
        json_begin_array(w);
        for (size_t i = 0; i < l->n; i++)
                record_write_json(w, &l->items[i]);
        json_end_array(w);
}

void record_list_print_json(const reply_list *l) {
        json_writer w;

        json_writer_init(&w, stdout);
        record_list_write_json(&w, l);
        fputc('\n', stdout);
}

int record_print_fields(const reply_record *r) {
        size_t width = 0;

        for (size_t i = 0; i < r->schema->n_fields; i++) {
                size_t n = strlen(r->schema->fields[i].key);
                if (n > width)
                        width = n;
        }
        for (size_t i = 0; i < r->schema->n_fields; i++) {
                _cleanup_free_ char *text = NULL;
                int k = record_format(r, i, &text);
                if (k < 0)
                        return k;
                printf("%s:%*s %s\n", r->schema->fields[i].key,
                       (int) (width - strlen(r->schema->fields[i].key)), "", text);
        }
        return 0;
}

/* Columns are measured in code points, which is what a terminal shows for
 * everything but wide (East Asian) characters. */
static size_t text_width(const char *s) {
        size_t n = 0;
        for (; *s; s++)
                if (((unsigned char) *s & 0xC0) != 0x80)
                        n++;
        return n;
}

static ssize_t schema_index(const reply_schema *schema, const char *key) {
        for (size_t i = 0; i < schema->n_fields; i++)
                if (strcmp(schema->fields[i].key, key) == 0)
                        return (ssize_t) i;
        return -1;
}

int record_list_print_table(const reply_list *l, const table_column *columns, size_t n_columns) {
        size_t width[n_columns], index[n_columns];
        _cleanup_free_ char **cells = NULL;
        size_t n_cells = l->n * n_columns;
        int r = 0;

        for (size_t c = 0; c < n_columns; c++) {
                ssize_t i = schema_index(l->schema, columns[c].key);
                if (i < 0)
                        return ctl_error(-EINVAL, "internal error: no field %s", columns[c].key);
                index[c] = (size_t) i;
                width[c] = text_width(columns[c].header);
        }

        cells = calloc(n_cells + 1, sizeof(char *));
        if (!cells)
                return ctl_error(-ENOMEM, "out of memory");
        for (size_t row = 0; row < l->n; row++)
                for (size_t c = 0; c < n_columns; c++) {
                        char **cell = &cells[row * n_columns + c];
                        r = record_format(&l->items[row], index[c], cell);
                        if (r < 0)
                                goto finish;
                        if (text_width(*cell) > width[c])
                                width[c] = text_width(*cell);
                }

        for (size_t row = 0; row <= l->n; row++)
                for (size_t c = 0; c < n_columns; c++) {
                        const char *text = row == 0 ? columns[c].header
                                                    : cells[(row - 1) * n_columns + c];
                        bool last = c + 1 == n_columns;

                        fputs(text, stdout);
                        if (last)
                                fputc('\n', stdout);
                        else
                                printf("%*s", (int) (width[c] - text_width(text) + 2), "");
                }

finish:
        for (size_t i = 0; i < n_cells; i++)
                free(cells[i]);
        return r;
}

int print_reply_list(DBusMessage *reply, const reply_schema *schema, bool json,
                     const table_column *columns, size_t n_columns) {
        _cleanup_record_list_ reply_list l = { .schema = schema };
        DBusMessageIter iter;
        int r;

        dbus_message_iter_init(reply, &iter);
        r = record_list_read(&l, reply, &iter);
        if (r < 0)
                return r;
        if (json) {
                record_list_print_json(&l);
                return 0;
        }
        return record_list_print_table(&l, columns, n_columns);
}

int print_reply_record(DBusMessage *reply, const reply_schema *schema, bool json) {
        _cleanup_record_ reply_record rec = {};
        DBusMessageIter iter;
        int r;

        dbus_message_iter_init(reply, &iter);
        r = record_read(&iter, schema, &rec);
        if (r < 0)
                return r;
        if (json) {
                record_print_json(&rec);
                return 0;
        }
        return record_print_fields(&rec);
}
