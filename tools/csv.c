/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "array.h"
#include "csv.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "macro.h"

void csv_reader_init(csv_reader *r, const char *data, size_t size) {
        *r = (csv_reader) { .p = data, .end = data + size, .line = 1 };
        if (size >= 3 && memcmp(data, "\xEF\xBB\xBF", 3) == 0)
                r->p += 3;
}

/* At a line break ("\n" or "\r\n")? Returns its length, or 0. */
static size_t line_break_at(const csv_reader *r) {
        if (r->p < r->end && r->p[0] == '\n')
                return 1;
        if (r->end - r->p >= 2 && r->p[0] == '\r' && r->p[1] == '\n')
                return 2;
        return 0;
}

static int fail(const csv_reader *r, unsigned *ret_line, const char **ret_reason, const char *reason) {
        *ret_line = r->line;
        *ret_reason = reason;
        return -EBADMSG;
}

/* Reads one field at r->p into a new string, leaving r->p at the ',', line
 * break or end that follows it. */
static int read_field(csv_reader *r, char **ret, unsigned *ret_line, const char **ret_reason) {
        _cleanup_free_ char *s = NULL;
        size_t n = 0;

        if (r->p < r->end && *r->p == '"') {
                unsigned start_line = r->line;

                /* The unescaped text is never longer than the quoted one. */
                const char *close = r->p + 1;
                while (close < r->end && !(close[0] == '"' && (close + 1 >= r->end || close[1] != '"')))
                        close += close[0] == '"' ? 2 : 1;
                s = malloc((size_t) (close - r->p));
                if (!s)
                        return -ENOMEM;

                for (r->p++;; r->p++) {
                        if (r->p >= r->end) {
                                *ret_line = start_line;
                                *ret_reason = "a quoted field is not closed (missing '\"')";
                                return -EBADMSG;
                        }
                        if (*r->p == '"') {
                                if (r->p + 1 < r->end && r->p[1] == '"') {
                                        s[n++] = '"';
                                        r->p++;
                                        continue;
                                }
                                r->p++;
                                break;
                        }
                        if (*r->p == '\0')
                                return fail(r, ret_line, ret_reason, "the file contains a NUL byte");
                        if (*r->p == '\n')
                                r->line++;
                        s[n++] = *r->p;
                }
                if (r->p < r->end && *r->p != ',' && line_break_at(r) == 0)
                        return fail(r, ret_line, ret_reason,
                                    "text after the closing '\"' of a quoted field");
        } else {
                const char *start = r->p;

                for (; r->p < r->end && *r->p != ',' && line_break_at(r) == 0; r->p++) {
                        if (*r->p == '"')
                                return fail(r, ret_line, ret_reason,
                                            "'\"' inside an unquoted field: quote the whole field and double the '\"'");
                        if (*r->p == '\0')
                                return fail(r, ret_line, ret_reason, "the file contains a NUL byte");
                        /* "\r\n" ended the loop above. A lone CR is no line
                         * break in RFC 4180, but it is one to whoever wrote
                         * the file (classic Mac OS line ends): taken as data,
                         * the whole file would be misread as one record. */
                        if (*r->p == '\r')
                                return fail(r, ret_line, ret_reason,
                                            "a carriage return without a line feed: lines must end in \"\\n\" or \"\\r\\n\", "
                                            "or quote a field that holds one");
                }
                n = (size_t) (r->p - start);
                s = malloc(n + 1);
                if (!s)
                        return -ENOMEM;
                memcpy(s, start, n);
        }
        s[n] = '\0';
        *ret = TAKE_PTR(s);
        return 0;
}

int csv_read_record(csv_reader *r, char ***ret_fields, unsigned *ret_line, const char **ret_reason) {
        _cleanup_strv_free_ char **fields = NULL;
        size_t n = 0, allocated = 0, brk;
        unsigned line;

        /* Skip empty lines. */
        while ((brk = line_break_at(r)) > 0) {
                r->p += brk;
                r->line++;
        }
        if (r->p >= r->end)
                return 0;

        line = r->line;
        for (;;) {
                int k;

                if (ARRAY_RESERVE(fields, allocated, n + 2) < 0)
                        return -ENOMEM;
                fields[n] = NULL;
                k = read_field(r, &fields[n], ret_line, ret_reason);
                if (k < 0)
                        return k;
                fields[++n] = NULL;

                if (r->p < r->end && *r->p == ',') {
                        r->p++;
                        continue;
                }
                brk = line_break_at(r);
                r->p += brk;
                if (brk > 0)
                        r->line++;
                break;
        }
        *ret_fields = TAKE_PTR(fields);
        *ret_line = line;
        return 1;
}
