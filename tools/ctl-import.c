/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* user import: invited users from a CSV file, in batches of ImportUsers.
 *
 * Everything that can be checked is checked before the first user is sent:
 * the file's syntax, every field against the rules in validate.h, duplicate
 * usernames and addresses within the file, then roles and departments
 * against what nexalixd knows. A batch is one daemon transaction, so a
 * failure the daemon alone can see (a username already taken) stops the
 * import at a batch boundary, and the message says where to resume. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bus-util.h"
#include "csv.h"
#include "array.h"
#include "ctl.h"
#include "reply.h"
#include "validate.h"

/* Each batch is one transaction and one NSS publication, which costs about
 * 0.1 s at 100,000 users: 5,000 rows (about 1 MB on the bus) keep that to
 * a few percent of an import without holding the daemon for long. */
#define IMPORT_BATCH_DEFAULT 5000
/* Enough to see what is wrong with a file without flooding the terminal. */
#define IMPORT_PROBLEMS_SHOWN 50

typedef enum import_column {
        COL_USERNAME,
        COL_FIRST_NAME,
        COL_LAST_NAME,
        COL_EMAIL,
        COL_LANGUAGE,
        COL_DEPARTMENT,
        COL_ROLES,
        _COL_MAX,
} import_column;

static const struct {
        const char *name;
        bool required;
} import_columns[_COL_MAX] = {
        [COL_USERNAME]   = { "username", true },
        [COL_FIRST_NAME] = { "first_name", true },
        [COL_LAST_NAME]  = { "last_name", true },
        [COL_EMAIL]      = { "email", true },
        [COL_LANGUAGE]   = { "language", false },
        [COL_DEPARTMENT] = { "department", false },
        [COL_ROLES]      = { "roles", false },
};

typedef struct import_row {
        unsigned line;
        bool malformed;         /* wrong number of fields: no columns to look at */
        char **fields;          /* in file order */
        char **roles;           /* the roles column split at ';' */
} import_row;

typedef struct import_problem {
        unsigned line;
        size_t seq;             /* order found, to keep a line's problems in order */
        char *message;
} import_problem;

typedef struct import_state {
        const char *file_name;          /* as messages name it */
        int index[_COL_MAX];            /* field position of each column, -1 if absent */
        size_t n_columns;
        import_row *rows;
        size_t n_rows, allocated_rows;
        import_problem *problems;
        size_t n_problems, allocated_problems;
} import_state;

static void import_done(import_state *imp) {
        for (size_t i = 0; i < imp->n_rows; i++) {
                strv_free(imp->rows[i].fields);
                strv_free(imp->rows[i].roles);
        }
        free(imp->rows);
        for (size_t i = 0; i < imp->n_problems; i++)
                free(imp->problems[i].message);
        free(imp->problems);
}

static const char *import_field(const import_state *imp, const import_row *row, import_column col) {
        return imp->index[col] >= 0 ? row->fields[imp->index[col]] : "";
}

static int import_report_problem(import_state *imp, unsigned line, const char *format, ...) _printf_(3, 4);
static int import_report_problem(import_state *imp, unsigned line, const char *format, ...) {
        import_problem *p;
        va_list ap;
        int n;

        if (ARRAY_RESERVE(imp->problems, imp->allocated_problems, imp->n_problems + 1) < 0)
                return ctl_error(-ENOMEM, "out of memory");
        p = &imp->problems[imp->n_problems];
        p->line = line;
        p->seq = imp->n_problems;
        va_start(ap, format);
        n = vasprintf(&p->message, format, ap);
        va_end(ap);
        if (n < 0)
                return ctl_error(-ENOMEM, "out of memory");
        imp->n_problems++;
        return 0;
}

static int problem_compare(const void *a, const void *b) {
        const import_problem *x = a, *y = b;
        if (x->line != y->line)
                return x->line < y->line ? -1 : 1;
        return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* Prints the problems found, in file order, and returns -EINVAL (exit 2). */
static int import_report(import_state *imp) {
        qsort(imp->problems, imp->n_problems, sizeof(import_problem), problem_compare);
        fflush(stdout);
        for (size_t i = 0; i < imp->n_problems && i < IMPORT_PROBLEMS_SHOWN; i++) {
                if (imp->problems[i].line > 0)
                        fprintf(stderr, "%s:%u: %s\n", imp->file_name,
                                imp->problems[i].line, imp->problems[i].message);
                else
                        fprintf(stderr, "%s: %s\n", imp->file_name, imp->problems[i].message);
        }
        if (imp->n_problems > IMPORT_PROBLEMS_SHOWN)
                fprintf(stderr, "%s: ... and %zu more\n", imp->file_name,
                        imp->n_problems - IMPORT_PROBLEMS_SHOWN);
        return ctl_error(-EINVAL, "%zu problem%s in %s; nothing was imported",
                         imp->n_problems, imp->n_problems == 1 ? "" : "s", imp->file_name);
}

static int read_all(int fd, char **ret, size_t *ret_size) {
        _cleanup_free_ char *data = NULL;
        size_t size = 0, allocated = 0;

        for (;;) {
                ssize_t k;

                if (ARRAY_RESERVE(data, allocated, size + 65536) < 0)
                        return -ENOMEM;
                k = read(fd, data + size, allocated - size);
                if (k < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                if (k == 0)
                        break;
                size += (size_t) k;
        }
        *ret = TAKE_PTR(data);
        *ret_size = size;
        return 0;
}

static int import_load(const char *path, char **ret, size_t *ret_size) {
        _cleanup_close_ int fd = -1;
        int r;

        if (strcmp(path, "-") != 0) {
                fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
                /* A file that is not there is a mistake on the command line. */
                if (fd < 0)
                        return ctl_error(-EINVAL, "cannot open %s: %s", path, strerror(errno));
        }
        r = read_all(fd >= 0 ? fd : STDIN_FILENO, ret, ret_size);
        if (r < 0)
                return ctl_error(r == -EINVAL ? -EIO : r, "cannot read %s: %s", path, strerror(-r));
        return 0;
}

static int import_header(import_state *imp, char **fields, unsigned line) {
        int r;

        for (size_t c = 0; c < _COL_MAX; c++)
                imp->index[c] = -1;
        imp->n_columns = strv_length(fields);

        for (size_t i = 0; i < imp->n_columns; i++) {
                size_t c;

                for (c = 0; c < _COL_MAX; c++)
                        if (strcmp(fields[i], import_columns[c].name) == 0)
                                break;
                if (c == _COL_MAX)
                        r = import_report_problem(imp, line, "unknown column '%s' (known: username, first_name, "
                                           "last_name, email, language, department, roles)", fields[i]);
                else if (imp->index[c] >= 0)
                        r = import_report_problem(imp, line, "column '%s' appears twice", fields[i]);
                else {
                        imp->index[c] = (int) i;
                        r = 0;
                }
                if (r < 0)
                        return r;
        }
        for (size_t c = 0; c < _COL_MAX; c++)
                if (import_columns[c].required && imp->index[c] < 0) {
                        r = import_report_problem(imp, line, "missing column '%s' in the header line",
                                           import_columns[c].name);
                        if (r < 0)
                                return r;
                }
        return 0;
}

/* Splits "a; b;;c" into { "a", "b", "c" }. */
static int split_roles(const char *s, char ***ret) {
        _cleanup_strv_free_ char **l = calloc(strlen(s) / 2 + 2, sizeof(char *));
        size_t n = 0;

        if (!l)
                return -ENOMEM;
        while (*s) {
                size_t len;

                s += strspn(s, " \t;");
                len = strcspn(s, ";");
                while (len > 0 && (s[len - 1] == ' ' || s[len - 1] == '\t'))
                        len--;
                if (len > 0) {
                        l[n] = strndup(s, len);
                        if (!l[n++])
                                return -ENOMEM;
                }
                s += len;
        }
        *ret = TAKE_PTR(l);
        return 0;
}

/* Checks one row against the user rules; the problems go to imp. */
static int import_check_row(import_state *imp, import_row *row) {
        typedef int (*field_validator)(const char *s, const char **ret_reason);
        static const field_validator validators[_COL_MAX] = {
                [COL_USERNAME] = validate_username,
                [COL_FIRST_NAME] = validate_person_name,
                [COL_LAST_NAME] = validate_person_name,
                [COL_EMAIL] = validate_email,
                [COL_LANGUAGE] = validate_language,
                [COL_DEPARTMENT] = validate_dept_name,
        };
        size_t n = strv_length(row->fields);
        int r;

        if (n != imp->n_columns) {
                row->malformed = true;
                return import_report_problem(imp, row->line, "%zu field%s, but the header names %zu columns",
                                      n, n == 1 ? "" : "s", imp->n_columns);
        }

        for (size_t c = 0; c < _COL_MAX; c++) {
                const char *value = import_field(imp, row, (import_column) c), *reason = NULL;

                /* Optional columns may be empty: default language, no
                 * department, no roles. */
                if (!validators[c] || (!import_columns[c].required && isempty(value)))
                        continue;
                if (validators[c](value, &reason) < 0) {
                        r = import_report_problem(imp, row->line, "%s: %s", import_columns[c].name, reason);
                        if (r < 0)
                                return r;
                }
        }

        r = split_roles(import_field(imp, row, COL_ROLES), &row->roles);
        if (r < 0)
                return ctl_error(r, "out of memory");
        for (char **role = row->roles; *role; role++)
                for (char **earlier = row->roles; earlier < role; earlier++)
                        if (strcmp(*earlier, *role) == 0) {
                                r = import_report_problem(imp, row->line, "roles: '%s' is listed twice", *role);
                                if (r < 0)
                                        return r;
                                break;
                        }
        return 0;
}

typedef struct key_line {
        const char *key;
        unsigned line;
} key_line;

static int key_line_compare(const void *a, const void *b) {
        const key_line *x = a, *y = b;
        int c = strcmp(x->key, y->key);
        if (c != 0)
                return c;
        return x->line < y->line ? -1 : x->line > y->line;
}

/* Reports every value of column col that occurs on more than one row.
 * Addresses are compared the way the daemon's unique index compares them. */
static int import_check_duplicates(import_state *imp, import_column col) {
        _cleanup_free_ key_line *keys = calloc(imp->n_rows + 1, sizeof(key_line));
        _cleanup_strv_free_ char **copies = NULL;
        size_t n = 0;
        int r = 0;

        if (!keys)
                return ctl_error(-ENOMEM, "out of memory");
        if (col == COL_EMAIL) {
                copies = calloc(imp->n_rows + 1, sizeof(char *));
                if (!copies)
                        return ctl_error(-ENOMEM, "out of memory");
        }

        for (size_t i = 0; i < imp->n_rows; i++) {
                const char *key;

                if (imp->rows[i].malformed)
                        continue;
                key = import_field(imp, &imp->rows[i], col);
                if (copies) {
                        copies[n] = strdup(key);
                        if (!copies[n])
                                return ctl_error(-ENOMEM, "out of memory");
                        email_normalize(copies[n]);
                        key = copies[n];
                }
                keys[n++] = (key_line) { key, imp->rows[i].line };
        }
        qsort(keys, n, sizeof(key_line), key_line_compare);

        /* Sorted, equal keys are neighbours, the first occurrence first;
         * each repetition is reported against it. */
        for (size_t i = 1, first = 0; i < n && r >= 0; i++) {
                if (strcmp(keys[i].key, keys[first].key) != 0) {
                        first = i;
                        continue;
                }
                r = import_report_problem(imp, keys[i].line, "duplicate %s '%s' (also on line %u)",
                                   import_columns[col].name, keys[i].key, keys[first].line);
        }
        return r;
}

/* Names from a list reply (ListRoles, ListDepartments). */
static int fetch_names(ctl_context *ctl, const char *method, const char *org, const reply_schema *schema,
                       reply_list *ret) {
        _cleanup_message_ DBusMessage *reply = NULL;
        DBusMessageIter iter;
        int r;

        if (org)
                r = ctl_call_simple(ctl, BUS_IFACE_ADMIN, method, &reply,
                                    DBUS_TYPE_STRING, &org, DBUS_TYPE_INVALID);
        else
                r = ctl_call_simple(ctl, BUS_IFACE_ADMIN, method, &reply, DBUS_TYPE_INVALID);
        if (r < 0)
                return r;
        *ret = (reply_list) { .schema = schema };
        dbus_message_iter_init(reply, &iter);
        return record_list_read(ret, reply, &iter);
}

static bool names_contain(const reply_list *l, const char *name) {
        for (size_t i = 0; i < l->n; i++) {
                const field_value *v = record_get(&l->items[i], "name");
                if (v && v->present && strcmp(v->s, name) == 0)
                        return true;
        }
        return false;
}

/* Roles and departments the daemon does not know would fail a batch after
 * earlier ones were committed; ask first. */
static int import_check_known(ctl_context *ctl, import_state *imp, const char *org) {
        _cleanup_record_list_ reply_list roles = { .schema = &SCHEMA_ROLE };
        _cleanup_record_list_ reply_list depts = { .schema = &SCHEMA_DEPARTMENT };
        bool any_dept = false;
        int r;

        r = fetch_names(ctl, "ListRoles", NULL, &SCHEMA_ROLE, &roles);
        if (r < 0)
                return r;
        for (size_t i = 0; i < imp->n_rows && !any_dept; i++)
                any_dept = !isempty(import_field(imp, &imp->rows[i], COL_DEPARTMENT));
        if (any_dept) {
                r = fetch_names(ctl, "ListDepartments", org, &SCHEMA_DEPARTMENT, &depts);
                if (r < 0)
                        return r;
        }

        for (size_t i = 0; i < imp->n_rows; i++) {
                const import_row *row = &imp->rows[i];
                const char *dept = import_field(imp, row, COL_DEPARTMENT);

                for (char **role = row->roles; *role; role++)
                        if (!names_contain(&roles, *role)) {
                                r = import_report_problem(imp, row->line, "roles: unknown role '%s'", *role);
                                if (r < 0)
                                        return r;
                        }
                if (!isempty(dept) && !names_contain(&depts, dept)) {
                        r = import_report_problem(imp, row->line, "department: %s has no department '%s'",
                                           org, dept);
                        if (r < 0)
                                return r;
                }
        }
        return 0;
}

/* Reads, parses and checks the whole file. */
static int import_parse(import_state *imp, const char *data, size_t size) {
        csv_reader reader;
        bool header = true;
        int r;

        csv_reader_init(&reader, data, size);
        for (;;) {
                _cleanup_strv_free_ char **fields = NULL;
                const char *reason;
                unsigned line;

                r = csv_read_record(&reader, &fields, &line, &reason);
                if (r == -EBADMSG)
                        /* After a syntax error the rest cannot be trusted. */
                        return import_report_problem(imp, line, "%s", reason);
                if (r < 0)
                        return ctl_error(r, "out of memory");
                if (r == 0)
                        break;

                if (header) {
                        r = import_header(imp, fields, line);
                        if (r < 0)
                                return r;
                        if (imp->n_problems > 0)
                                return 0;
                        header = false;
                        continue;
                }

                if (ARRAY_RESERVE(imp->rows, imp->allocated_rows, imp->n_rows + 1) < 0)
                        return ctl_error(-ENOMEM, "out of memory");
                import_row *row = &imp->rows[imp->n_rows++];
                *row = (import_row) { .line = line, .fields = TAKE_PTR(fields) };
                r = import_check_row(imp, row);
                if (r < 0)
                        return r;
        }

        if (header)
                return import_report_problem(imp, 0, "empty file: expected a header line "
                                      "(username,first_name,last_name,email,...)");
        r = import_check_duplicates(imp, COL_USERNAME);
        if (r < 0)
                return r;
        return import_check_duplicates(imp, COL_EMAIL);
}

static int import_append_user(DBusMessageIter *array, const import_state *imp, const import_row *row) {
        static const import_column strings[] = {
                COL_USERNAME, COL_FIRST_NAME, COL_LAST_NAME, COL_EMAIL, COL_LANGUAGE, COL_DEPARTMENT,
        };
        DBusMessageIter dict;

        if (bus_dict_open(array, &dict) < 0)
                return -ENOMEM;
        for (size_t i = 0; i < ELEMENTSOF(strings); i++) {
                const char *value = import_field(imp, row, strings[i]);
                if (!isempty(value) && bus_dict_add_string(&dict, import_columns[strings[i]].name, value) < 0)
                        return -ENOMEM;
        }
        if (row->roles[0] && bus_dict_add_strv(&dict, "roles", row->roles) < 0)
                return -ENOMEM;
        return bus_dict_close(array, &dict);
}

static int import_batch(ctl_context *ctl, const import_state *imp, const char *org, size_t first, size_t n,
                        uint32_t *ret_created) {
        _cleanup_message_ DBusMessage *m = NULL, *reply = NULL;
        DBusMessageIter iter, array;
        dbus_uint32_t created;
        int r;

        r = ctl_new_call(BUS_IFACE_ADMIN, "ImportUsers", &m);
        if (r < 0)
                return r;
        dbus_message_iter_init_append(m, &iter);
        if (!dbus_message_iter_append_basic(&iter, DBUS_TYPE_STRING, &org) ||
            !dbus_message_iter_open_container(&iter, DBUS_TYPE_ARRAY, "a{sv}", &array))
                return ctl_error(-ENOMEM, "out of memory");
        for (size_t i = first; i < first + n; i++)
                if (import_append_user(&array, imp, &imp->rows[i]) < 0)
                        return ctl_error(-ENOMEM, "out of memory");
        if (!dbus_message_iter_close_container(&iter, &array))
                return ctl_error(-ENOMEM, "out of memory");

        r = ctl_call(ctl, m, &reply);
        if (r < 0)
                return r;
        r = ctl_reply_get(reply, DBUS_TYPE_UINT32, &created, DBUS_TYPE_INVALID);
        if (r < 0)
                return r;
        *ret_created = created;
        return 0;
}

int verb_user_import(ctl_context *ctl, const command_args *args) {
        _cleanup_(import_done) import_state imp = {};
        _cleanup_free_ char *data = NULL;
        const char *path = args->pos[0], *org = args->value[OPT_ORG], *reason;
        uint32_t batch = IMPORT_BATCH_DEFAULT;
        size_t size = 0, done = 0;
        uint64_t imported = 0;
        int r;

        if (validate_org_name(org, &reason) < 0)
                return ctl_usage_error(args, "--org: %s", reason);
        if (args->set[OPT_BATCH]) {
                r = ctl_parse_uint32(args, OPT_BATCH, "--batch", &batch);
                if (r < 0)
                        return r;
                if (batch == 0)
                        return ctl_usage_error(args, "--batch must be at least 1");
        }

        imp.file_name = strcmp(path, "-") == 0 ? "<stdin>" : path;
        r = import_load(path, &data, &size);
        if (r < 0)
                return r;
        r = import_parse(&imp, data, size);
        if (r < 0)
                return r;
        if (imp.n_problems > 0)
                return import_report(&imp);

        if (imp.n_rows > 0) {
                r = import_check_known(ctl, &imp, org);
                if (r < 0)
                        return r;
                if (imp.n_problems > 0)
                        return import_report(&imp);
        }

        while (done < imp.n_rows) {
                size_t n = imp.n_rows - done < batch ? imp.n_rows - done : batch;
                uint32_t created = 0;

                ctl_status_line("importing users: %zu/%zu (%zu%%)", done, imp.n_rows,
                                done * 100 / imp.n_rows);
                r = import_batch(ctl, &imp, org, done, n, &created);
                if (r < 0) {
                        /* Earlier batches are committed: say where to resume.
                         * The daemon numbers entries within the batch. */
                        if (imported > 0)
                                ctl_error(r, "%" PRIu64 " user%s imported; the batch starting at %s:%u "
                                          "(its entry 1) and the rows after it were not",
                                          imported, imported == 1 ? " was" : "s were",
                                          imp.file_name, imp.rows[done].line);
                        return r;
                }
                imported += created;
                done += n;
        }
        ctl_status_clear();
        printf("imported %" PRIu64 " user%s\n", imported, imported == 1 ? "" : "s");
        return 0;
}
