/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* A minimal streaming JSON writer: enough for nexalixctl's --json output,
 * which is compact, one document per command, newline-terminated by the
 * caller. Commas are placed automatically. Strings must be valid UTF-8 (every
 * string that reaches us came through D-Bus, which guarantees it); they are
 * written as they are except for the characters JSON requires escaped. */

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

typedef struct json_writer {
        FILE *f;
        bool need_comma;        /* a value was written in the open container */
        bool after_key;         /* a key was written; its value comes next */
} json_writer;

void json_writer_init(json_writer *w, FILE *f);

void json_begin_object(json_writer *w);
void json_end_object(json_writer *w);
void json_begin_array(json_writer *w);
void json_end_array(json_writer *w);
void json_key(json_writer *w, const char *key);

/* NULL is written as null. */
void json_string(json_writer *w, const char *s);
void json_uint(json_writer *w, uint64_t v);
void json_bool(json_writer *w, bool v);
void json_null(json_writer *w);

/* Writes s as a quoted JSON string: '"' and '\' escaped, control characters
 * (U+0000–U+001F and DEL) as \n, \t, … or \u00XX, everything else,
 * multi-byte UTF-8 included, unchanged. */
void json_write_escaped(FILE *f, const char *s);
