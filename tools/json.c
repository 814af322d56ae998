/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "json.h"

#include <inttypes.h>

void json_writer_init(json_writer *w, FILE *f) {
        *w = (json_writer) { .f = f };
}

/* Every value and key starts here: it writes the separator the position
 * needs. */
static void json_separate(json_writer *w) {
        if (w->after_key)
                w->after_key = false;
        else if (w->need_comma)
                fputc(',', w->f);
}

static bool needs_escape(unsigned char c) {
        return c == '"' || c == '\\' || c < 0x20 || c == 0x7F;
}

void json_write_escaped(FILE *f, const char *s) {
        const unsigned char *p = (const unsigned char *) s;

        fputc('"', f);
        while (*p) {
                const unsigned char *run = p;

                /* Runs of plain characters in one write: a listing of
                 * thousands of users is mostly that. */
                while (*p && !needs_escape(*p))
                        p++;
                if (p > run)
                        fwrite_unlocked(run, 1, (size_t) (p - run), f);
                if (!*p)
                        break;
                switch (*p) {
                case '"':  fputs("\\\"", f); break;
                case '\\': fputs("\\\\", f); break;
                case '\b': fputs("\\b", f); break;
                case '\f': fputs("\\f", f); break;
                case '\n': fputs("\\n", f); break;
                case '\r': fputs("\\r", f); break;
                case '\t': fputs("\\t", f); break;
                default:
                        /* JSON only requires U+0000–U+001F escaped; DEL is
                         * escaped too so that output piped to a terminal
                         * stays harmless. */
                        fprintf(f, "\\u%04x", *p);
                }
                p++;
        }
        fputc('"', f);
}

void json_begin_object(json_writer *w) {
        json_separate(w);
        fputc('{', w->f);
        w->need_comma = false;
}

void json_end_object(json_writer *w) {
        fputc('}', w->f);
        w->need_comma = true;
}

void json_begin_array(json_writer *w) {
        json_separate(w);
        fputc('[', w->f);
        w->need_comma = false;
}

void json_end_array(json_writer *w) {
        fputc(']', w->f);
        w->need_comma = true;
}

void json_key(json_writer *w, const char *key) {
        json_separate(w);
        json_write_escaped(w->f, key);
        fputc(':', w->f);
        w->after_key = true;
}

void json_string(json_writer *w, const char *s) {
        if (!s) {
                json_null(w);
                return;
        }
        json_separate(w);
        json_write_escaped(w->f, s);
        w->need_comma = true;
}

void json_uint(json_writer *w, uint64_t v) {
        json_separate(w);
        fprintf(w->f, "%" PRIu64, v);
        w->need_comma = true;
}

void json_bool(json_writer *w, bool v) {
        json_separate(w);
        fputs(v ? "true" : "false", w->f);
        w->need_comma = true;
}

void json_null(json_writer *w) {
        json_separate(w);
        fputs("null", w->f);
        w->need_comma = true;
}
