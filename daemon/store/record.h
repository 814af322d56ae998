/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* The byte format of store records: a version byte, then fields in a fixed
 * order per record type: integers little endian, strings as a 16-bit length
 * followed by the bytes and a NUL (so readers can point into the map).
 * Readers check every bound; a short or malformed record is -EBADMSG. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct record_writer {
        uint8_t *data;
        size_t size, allocated;
        int error;              /* sticky: the first failure */
} record_writer;

void record_put_u8(record_writer *w, uint8_t v);
void record_put_u32(record_writer *w, uint32_t v);
void record_put_u64(record_writer *w, uint64_t v);
void record_put_string(record_writer *w, const char *s);
/* n raw bytes; the reader knows n from the record's version. */
void record_put_bytes(record_writer *w, const void *p, size_t n);
/* Allocates room for n bytes at once: a record holding a secret is reserved
 * first, so that no reallocation leaves a copy behind (record_writer_done()
 * wipes what it frees). */
void record_writer_reserve(record_writer *w, size_t n);
/* Returns 0 or the first error; frees nothing. */
int record_writer_error(const record_writer *w);
void record_writer_done(record_writer *w);

typedef struct record_reader {
        const uint8_t *p, *end;
        int error;
} record_reader;

static inline record_reader record_reader_init(const void *data, size_t size) {
        return (record_reader) { data, (const uint8_t *) data + size, 0 };
}
uint8_t record_get_u8(record_reader *r);
uint32_t record_get_u32(record_reader *r);
uint64_t record_get_u64(record_reader *r);
/* Points into the record; "" after an error. */
const char *record_get_string(record_reader *r);
/* n raw bytes, pointing into the record; NULL after an error. */
const void *record_get_bytes(record_reader *r, size_t n);
/* Allocated copy; NULL (and r->error set) on failure. */
char *record_dup_string(record_reader *r);
