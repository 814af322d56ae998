/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The import file reader of nexalixctl: RFC 4180 as written, and every
 * malformed input refused with the line a person finds it on. */

#include "test-util.h"
#include "csv.h"
#include "macro.h"

#include <errno.h>
#include <stdarg.h>

/* Reads the next record and compares it with the expected fields (a
 * NULL-terminated list) and starting line. */
static void check_record(csv_reader *r, unsigned expected_line, ...) {
        _cleanup_strv_free_ char **fields = NULL;
        const char *reason = NULL, *e;
        unsigned line = 0;
        size_t i = 0;
        va_list ap;
        int k;

        k = csv_read_record(r, &fields, &line, &reason);
        CHECK_INT(k, 1);
        if (k != 1) {
                fprintf(stderr, "  reason: %s (line %u)\n", strempty(reason), line);
                return;
        }
        CHECK_INT(line, expected_line);
        va_start(ap, expected_line);
        while ((e = va_arg(ap, const char *))) {
                CHECK(fields[i]);
                if (!fields[i])
                        break;
                CHECK_STR(fields[i], e);
                i++;
        }
        va_end(ap);
        CHECK_INT(strv_length(fields), i);
}

static void check_end(csv_reader *r) {
        char **fields = NULL;
        const char *reason = NULL;
        unsigned line = 0;

        CHECK_INT(csv_read_record(r, &fields, &line, &reason), 0);
        CHECK(!fields);
        /* And stays at the end. */
        CHECK_INT(csv_read_record(r, &fields, &line, &reason), 0);
        CHECK(!fields);
}

/* Reads records until the error; it must be -EBADMSG on expected_line with a
 * reason containing `what`. */
static void check_error(const char *data, size_t size, unsigned expected_line, const char *what) {
        csv_reader r;
        const char *reason = NULL;
        unsigned line = 0;
        int k;

        csv_reader_init(&r, data, size);
        for (;;) {
                _cleanup_strv_free_ char **fields = NULL;

                k = csv_read_record(&r, &fields, &line, &reason);
                if (k <= 0)
                        break;
        }
        CHECK_INT(k, -EBADMSG);
        CHECK_INT(line, expected_line);
        CHECK(reason && strstr(reason, what));
        if (!reason || !strstr(reason, what))
                fprintf(stderr, "  reason: %s, expected to mention \"%s\"\n", strempty(reason), what);
}

/* For literals, so that embedded NUL bytes count. */
#define INIT(r, s) csv_reader_init((r), (s), sizeof(s) - 1)
#define CHECK_ERROR(s, line, what) check_error((s), sizeof(s) - 1, (line), (what))

static void test_plain(void) {
        csv_reader r;

        INIT(&r, "username,first,last\nalice,Alice,Liddell\nbob,Bob,Builder\n");
        check_record(&r, 1, "username", "first", "last", NULL);
        check_record(&r, 2, "alice", "Alice", "Liddell", NULL);
        check_record(&r, 3, "bob", "Bob", "Builder", NULL);
        check_end(&r);

        /* CRLF, and the last record without a line break. */
        INIT(&r, "a,b\r\nc,d\r\ne,f");
        check_record(&r, 1, "a", "b", NULL);
        check_record(&r, 2, "c", "d", NULL);
        check_record(&r, 3, "e", "f", NULL);
        check_end(&r);

        /* Spaces belong to the field; UTF-8 passes through. */
        INIT(&r, " a , b \nJos\xc3\xa9,\xe7\x8e\x8b\n");
        check_record(&r, 1, " a ", " b ", NULL);
        check_record(&r, 2, "Jos\xc3\xa9", "\xe7\x8e\x8b", NULL);
        check_end(&r);

        INIT(&r, "single\n");
        check_record(&r, 1, "single", NULL);
        check_end(&r);

        INIT(&r, "");
        check_end(&r);
        INIT(&r, "\n\r\n\n");
        check_end(&r);
}

static void test_empty_fields(void) {
        csv_reader r;

        INIT(&r, ",,\na,,b\na,\n,a\n\"\"\n\"\",\"\"\na,");
        check_record(&r, 1, "", "", "", NULL);
        check_record(&r, 2, "a", "", "b", NULL);
        check_record(&r, 3, "a", "", NULL);
        check_record(&r, 4, "", "a", NULL);
        check_record(&r, 5, "", NULL);
        check_record(&r, 6, "", "", NULL);
        check_record(&r, 7, "a", "", NULL);
        check_end(&r);
}

static void test_empty_lines(void) {
        csv_reader r;

        INIT(&r, "\n\na,b\n\r\n\nc\n\n");
        check_record(&r, 3, "a", "b", NULL);
        check_record(&r, 6, "c", NULL);
        check_end(&r);
}

static void test_bom(void) {
        csv_reader r;

        INIT(&r, "\xef\xbb\xbfusername,email\r\nalice,a@example.com\r\n");
        check_record(&r, 1, "username", "email", NULL);
        check_record(&r, 2, "alice", "a@example.com", NULL);
        check_end(&r);

        INIT(&r, "\xef\xbb\xbf");
        check_end(&r);

        /* Only at the start: elsewhere it is data. */
        INIT(&r, "a\n\xef\xbb\xbf" "b\n");
        check_record(&r, 1, "a", NULL);
        check_record(&r, 2, "\xef\xbb\xbf" "b", NULL);
        check_end(&r);

        /* A partial mark is data too. */
        INIT(&r, "\xef\xbb");
        check_record(&r, 1, "\xef\xbb", NULL);
        check_end(&r);
}

static void test_quoted(void) {
        csv_reader r;

        INIT(&r, "\"Liddell, Alice\",x\n"
                 "\"say \"\"hi\"\"\",\"\"\"\"\n"
                 "\"two\nlines\",after\n"
                 "\"crlf\r\ninside\"\r\n"
                 "\"\"\"\",\"a\"\"\"\n"
                 "\"last\"");
        check_record(&r, 1, "Liddell, Alice", "x", NULL);
        check_record(&r, 2, "say \"hi\"", "\"", NULL);
        check_record(&r, 3, "two\nlines", "after", NULL);
        /* The records after a multi-line field start where they are. */
        check_record(&r, 5, "crlf\r\ninside", NULL);
        check_record(&r, 7, "\"", "a\"", NULL);
        check_record(&r, 8, "last", NULL);
        check_end(&r);

        /* Several line breaks in one field, in several fields of a record. */
        INIT(&r, "\"a\n\nb\",\"c\nd\"\ne\n\n\"f\n\"\ng");
        check_record(&r, 1, "a\n\nb", "c\nd", NULL);
        check_record(&r, 5, "e", NULL);
        check_record(&r, 7, "f\n", NULL);
        check_record(&r, 9, "g", NULL);
        check_end(&r);

        /* A quoted field that looks like an empty line or a separator. */
        INIT(&r, "\"\n\",\",\"\n");
        check_record(&r, 1, "\n", ",", NULL);
        check_end(&r);
}

static void test_errors(void) {
        /* A quote inside an unquoted field. */
        CHECK_ERROR("a\"b\n", 1, "inside an unquoted field");
        CHECK_ERROR("a,b\nc,d\"\n", 2, "inside an unquoted field");
        CHECK_ERROR("a,b\n\"x\ny\",c\"d\n", 3, "inside an unquoted field");
        CHECK_ERROR("ab\"\n", 1, "inside an unquoted field");

        /* Text after the closing quote, on the line the quote closes on. */
        CHECK_ERROR("\"a\"b\n", 1, "after the closing");
        CHECK_ERROR("\"a\" ,b\n", 1, "after the closing");
        CHECK_ERROR("x\n\"a\nb\"c\n", 3, "after the closing");
        CHECK_ERROR("\"a\"\"b\"x", 1, "after the closing");

        /* An unterminated quote is reported where its field starts. */
        CHECK_ERROR("\"abc\n", 1, "not closed");
        CHECK_ERROR("a\n\n\"abc\ndef\nghi", 3, "not closed");
        CHECK_ERROR("a,\"", 1, "not closed");
        CHECK_ERROR("\"a\"\"", 1, "not closed");

        CHECK_ERROR("a,b\nc,d\0e\n", 2, "NUL");
        CHECK_ERROR("a\n\"b\nc\0\"\n", 3, "NUL");
        CHECK_ERROR("\0", 1, "NUL");

        /* A carriage return is a line break only before a line feed. Files
         * with bare CR line ends (classic Mac OS) would otherwise be read as
         * one record whose fields swallow the line ends. */
        CHECK_ERROR("a,b\rc,d\r", 1, "carriage return");
        CHECK_ERROR("a,b\r\nc\rd\r\n", 2, "carriage return");
        CHECK_ERROR("a\r", 1, "carriage return");
        CHECK_ERROR("\"a\"\r", 1, "after the closing");
}

/* The error leaves the reader where the error is: records before it were
 * returned whole. */
static void test_records_before_error(void) {
        csv_reader r;
        char **fields = NULL;
        const char *reason = NULL;
        unsigned line = 0;

        INIT(&r, "a,b\nc\"d\n");
        check_record(&r, 1, "a", "b", NULL);
        CHECK_INT(csv_read_record(&r, &fields, &line, &reason), -EBADMSG);
        CHECK(!fields);
        CHECK_INT(line, 2);
}

int main(void) {
        test_plain();
        test_empty_fields();
        test_empty_lines();
        test_bom();
        test_quoted();
        test_errors();
        test_records_before_error();
        return test_result("test-csv");
}
