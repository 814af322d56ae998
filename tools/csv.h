/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* A strict RFC 4180 CSV reader over a buffer in memory: fields separated by
 * ',', records by "\n" or "\r\n"; a field in double quotes may hold commas,
 * line breaks and doubled quotes (""). Empty lines are skipped. A quote
 * inside an unquoted field, text after a closing quote, an unterminated
 * quote and NUL bytes are errors, reported with their line number: an import
 * file is better rejected than misread. */

#include <stddef.h>

typedef struct csv_reader {
        const char *p, *end;    /* what is left to read */
        unsigned line;          /* line number at p, from 1 */
} csv_reader;

/* Starts reading data[0..size). A UTF-8 byte order mark (which spreadsheet
 * programs write) is skipped. */
void csv_reader_init(csv_reader *r, const char *data, size_t size);

/* Reads the next record into *ret_fields (a newly allocated NULL-terminated
 * array; free with strv_free) and the line it starts on into *ret_line.
 * Returns 1 for a record, 0 at the end of the input, -ENOMEM, or -EBADMSG
 * for malformed input with *ret_line and *ret_reason (static text) saying
 * where and what. */
int csv_read_record(csv_reader *r, char ***ret_fields, unsigned *ret_line, const char **ret_reason);
