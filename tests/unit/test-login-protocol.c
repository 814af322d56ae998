/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The login socket's frames (common/login-protocol.c): every frame type
 * round-trips with all its fields, strings at their limits; whatever else
 * arrives (truncated, padded, mislabelled, a NUL inside a string, random
 * bytes) is refused with -EBADMSG, without reading a byte outside the frame
 * or writing outside the scratch buffer. Frames and scratch buffers are
 * allocated at their exact size so that the sanitizer build catches any
 * access past them; a refused parse leaves its out-parameter untouched. */

#include "login-protocol.h"
#include "macro.h"
#include "test-util.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static login_buffer buf, rebuilt;

/* A string of n copies of c (n <= LOGIN_STRING_MAX + 1). */
static const char *filled(char c, size_t n) {
        static char s[8][LOGIN_STRING_MAX + 2];
        static unsigned next;
        char *p = s[next++ % ELEMENTSOF(s)];

        memset(p, c, n);
        p[n] = 0;
        return p;
}

/* A heap copy of exactly n bytes: a read past it is a sanitizer error. */
static uint8_t *exact_copy(const void *p, size_t n) {
        uint8_t *c = malloc(n);

        if (!c && n > 0)
                abort();
        if (n > 0)
                memcpy(c, p, n);
        return c;
}

static void put_le32(uint8_t *p, uint32_t v) {
        p[0] = (uint8_t) v;
        p[1] = (uint8_t) (v >> 8);
        p[2] = (uint8_t) (v >> 16);
        p[3] = (uint8_t) (v >> 24);
}

static const login_frame_type all_types[] = { LOGIN_START, LOGIN_ANSWER, LOGIN_PROMPT, LOGIN_MESSAGE, LOGIN_RESULT };

/* Parses frame as type with the matching parser; on success the parsed
 * frame must build back into the identical bytes, on failure the
 * out-parameter must be untouched. Returns what the parser returned. */
static int parse_as(login_frame_type type, const uint8_t *frame, size_t size) {
        union {
                login_start s;
                login_prompt p;
                login_message m;
                login_answer a;
                login_result_frame r;
        } ret, before;
        char *scratch = malloc(size > 0 ? size : 1);
        int r, n = -1;

        if (!scratch)
                abort();
        memset(&ret, 0xa5, sizeof(ret));
        before = ret;
        switch (type) {
        case LOGIN_START:
                r = login_parse_start(frame, size, scratch, &ret.s);
                if (r >= 0)
                        n = login_build_start(rebuilt, &ret.s);
                break;
        case LOGIN_PROMPT:
                r = login_parse_prompt(frame, size, scratch, &ret.p);
                if (r >= 0)
                        n = login_build_prompt(rebuilt, &ret.p);
                break;
        case LOGIN_MESSAGE:
                r = login_parse_message(frame, size, scratch, &ret.m);
                if (r >= 0)
                        n = login_build_message(rebuilt, &ret.m);
                break;
        case LOGIN_ANSWER:
                r = login_parse_answer(frame, size, scratch, &ret.a);
                if (r >= 0)
                        n = login_build_answer(rebuilt, &ret.a);
                break;
        case LOGIN_RESULT:
                r = login_parse_result(frame, size, scratch, &ret.r);
                if (r >= 0)
                        n = login_build_result(rebuilt, &ret.r);
                break;
        default:
                abort();
        }
        if (r >= 0) {
                CHECK_INT(r, type);
                CHECK_INT(n, size);
                CHECK(n >= 0 && (size_t) n == size && memcmp(rebuilt, frame, size) == 0);
        } else {
                CHECK_INT(r, -EBADMSG);
                CHECK(memcmp(&ret, &before, sizeof(ret)) == 0);
        }
        free(scratch);
        return r;
}

/* Every parser but the right one refuses; the right one answers expected. */
static void check_parsers(const uint8_t *frame, size_t size, int right, int expected) {
        uint8_t *c = exact_copy(frame, size);

        for (size_t i = 0; i < ELEMENTSOF(all_types); i++)
                if ((int) all_types[i] == right)
                        CHECK_INT(parse_as(all_types[i], c, size), expected);
                else
                        CHECK_INT(parse_as(all_types[i], c, size), -EBADMSG);
        free(c);
}

/* ---- round trips ---- */

static void test_start(void) {
        const char *strings[] = { "", "a", "contraseña", NULL };
        char scratch[LOGIN_FRAME_MAX];
        login_start s, got;
        int n;

        /* Every string field at every sample length, the others distinct. */
        for (size_t field = 0; field < 6; field++)
                for (size_t k = 0; k < ELEMENTSOF(strings); k++) {
                        const char *v[6] = { "alice", "sshd", "pts/3", "192.0.2.7", "bob", "0123456789abcdef" };
                        uint8_t *c;

                        v[field] = strings[k] ? strings[k] : filled('z', LOGIN_STRING_MAX);
                        s = (login_start) {
                                .version = LOGIN_PROTOCOL_VERSION,
                                .stage = (uint32_t) (field + 1),
                                .flags = LOGIN_FLAG_SILENT | LOGIN_FLAG_ALLOW_TOKEN,
                                .requester_uid = 0xfffffffeu - (uint32_t) k,
                                .user = v[0], .service = v[1], .tty = v[2],
                                .rhost = v[3], .ruser = v[4], .session_id = v[5],
                        };
                        n = login_build_start(buf, &s);
                        CHECK(n > 5);
                        if (n <= 5)
                                continue;
                        CHECK_INT(login_frame_size(buf, (size_t) n), n);
                        CHECK_INT(login_frame_type_of(buf, (size_t) n), LOGIN_START);
                        c = exact_copy(buf, (size_t) n);
                        memset(&got, 0, sizeof(got));
                        CHECK_INT(login_parse_start(c, (size_t) n, scratch, &got), LOGIN_START);
                        CHECK_INT(got.version, s.version);
                        CHECK_INT(got.stage, s.stage);
                        CHECK_INT(got.flags, s.flags);
                        CHECK_INT(got.requester_uid, s.requester_uid);
                        CHECK_STR(got.user, v[0]);
                        CHECK_STR(got.service, v[1]);
                        CHECK_STR(got.tty, v[2]);
                        CHECK_STR(got.rhost, v[3]);
                        CHECK_STR(got.ruser, v[4]);
                        CHECK_STR(got.session_id, v[5]);
                        free(c);
                        check_parsers(buf, (size_t) n, LOGIN_START, LOGIN_START);
                }

        /* Every string at its maximum at once; absent strings read as "". */
        s = (login_start) { LOGIN_PROTOCOL_VERSION, LOGIN_STAGE_AUTH, 0, 1000,
                            filled('u', LOGIN_STRING_MAX), filled('s', LOGIN_STRING_MAX),
                            filled('t', LOGIN_STRING_MAX), filled('r', LOGIN_STRING_MAX),
                            filled('w', LOGIN_STRING_MAX), filled('i', LOGIN_STRING_MAX) };
        n = login_build_start(buf, &s);
        CHECK_INT(n, 4 + 1 + 16 + 6 * (2 + LOGIN_STRING_MAX));
        check_parsers(buf, (size_t) n, LOGIN_START, LOGIN_START);
        s = (login_start) { .version = LOGIN_PROTOCOL_VERSION, .stage = LOGIN_STAGE_ACCOUNT };
        n = login_build_start(buf, &s);
        CHECK_INT(n, 4 + 1 + 16 + 6 * 2);
        CHECK_INT(login_parse_start(buf, (size_t) n, scratch, &got), LOGIN_START);
        CHECK_STR(got.user, "");
        CHECK_STR(got.session_id, "");
        CHECK_INT(got.stage, LOGIN_STAGE_ACCOUNT);

        /* One byte too many in any one string. */
        for (size_t field = 0; field < 6; field++) {
                const char *v[6] = { "alice", "sshd", "", NULL, "bob", "" };
                v[field] = filled('x', LOGIN_STRING_MAX + 1);
                s = (login_start) { .version = 1, .stage = 1,
                                    .user = v[0], .service = v[1], .tty = v[2],
                                    .rhost = v[3], .ruser = v[4], .session_id = v[5] };
                CHECK_INT(login_build_start(buf, &s), -E2BIG);
        }
}

static void test_prompt_message_answer_result(void) {
        const char *strings[] = { "", "Password: ", "Código de verificação: ", NULL };
        char scratch[LOGIN_FRAME_MAX];
        int n;

        for (size_t k = 0; k < ELEMENTSOF(strings); k++) {
                const char *text = strings[k] ? strings[k] : filled('q', LOGIN_STRING_MAX);

                for (uint8_t style = LOGIN_PROMPT_ECHO_OFF; style <= LOGIN_PROMPT_ECHO_ON; style++)
                        for (uint8_t kind = LOGIN_ASK_PASSWORD; kind <= LOGIN_ASK_OTHER; kind++) {
                                login_prompt p = { style, kind, text }, got = {};

                                n = login_build_prompt(buf, &(login_prompt) { style, kind, text });
                                CHECK_INT(n, 4 + 1 + 2 + 2 + strlen(text));
                                CHECK_INT(login_frame_type_of(buf, (size_t) n), LOGIN_PROMPT);
                                CHECK_INT(login_parse_prompt(buf, (size_t) n, scratch, &got), LOGIN_PROMPT);
                                CHECK_INT(got.style, p.style);
                                CHECK_INT(got.kind, p.kind);
                                CHECK_STR(got.text, text);
                                check_parsers(buf, (size_t) n, LOGIN_PROMPT, LOGIN_PROMPT);
                        }

                for (uint8_t style = LOGIN_MESSAGE_INFO; style <= LOGIN_MESSAGE_ERROR; style++) {
                        login_message got = {};

                        n = login_build_message(buf, &(login_message) { style, text });
                        CHECK_INT(n, 4 + 1 + 1 + 2 + strlen(text));
                        CHECK_INT(login_frame_type_of(buf, (size_t) n), LOGIN_MESSAGE);
                        CHECK_INT(login_parse_message(buf, (size_t) n, scratch, &got), LOGIN_MESSAGE);
                        CHECK_INT(got.style, style);
                        CHECK_STR(got.text, text);
                        check_parsers(buf, (size_t) n, LOGIN_MESSAGE, LOGIN_MESSAGE);
                }

                for (int cancelled = 0; cancelled <= 1; cancelled++) {
                        login_answer got = {};

                        n = login_build_answer(buf, &(login_answer) { cancelled, text });
                        CHECK_INT(n, 4 + 1 + 1 + 2 + strlen(text));
                        CHECK_INT(login_frame_type_of(buf, (size_t) n), LOGIN_ANSWER);
                        CHECK_INT(login_parse_answer(buf, (size_t) n, scratch, &got), LOGIN_ANSWER);
                        CHECK_INT(got.cancelled, cancelled);
                        CHECK_STR(got.text, text);
                        check_parsers(buf, (size_t) n, LOGIN_ANSWER, LOGIN_ANSWER);
                }

                for (uint32_t result = 0; result < _LOGIN_RESULT_MAX; result++) {
                        login_result_frame got = {};

                        n = login_build_result(buf, &(login_result_frame) { result, text });
                        CHECK_INT(n, 4 + 1 + 4 + 2 + strlen(text));
                        CHECK_INT(login_frame_type_of(buf, (size_t) n), LOGIN_RESULT);
                        CHECK_INT(login_parse_result(buf, (size_t) n, scratch, &got), LOGIN_RESULT);
                        CHECK_INT(got.result, result);
                        CHECK_STR(got.data, text);
                        check_parsers(buf, (size_t) n, LOGIN_RESULT, LOGIN_RESULT);
                }
        }

        /* NULL strings go out as empty ones. */
        {
                login_answer got = {};
                n = login_build_answer(buf, &(login_answer) { true, NULL });
                CHECK_INT(login_parse_answer(buf, (size_t) n, scratch, &got), LOGIN_ANSWER);
                CHECK(got.cancelled);
                CHECK_STR(got.text, "");
        }

        /* Too long by one. */
        CHECK_INT(login_build_prompt(buf, &(login_prompt) { 1, 1, filled('x', LOGIN_STRING_MAX + 1) }), -E2BIG);
        CHECK_INT(login_build_message(buf, &(login_message) { 1, filled('x', LOGIN_STRING_MAX + 1) }), -E2BIG);
        CHECK_INT(login_build_answer(buf, &(login_answer) { false, filled('x', LOGIN_STRING_MAX + 1) }), -E2BIG);
        CHECK_INT(login_build_result(buf, &(login_result_frame) { 0, filled('x', LOGIN_STRING_MAX + 1) }), -E2BIG);

        /* A result out of range is built (the builder trusts the daemon) but
         * refused when read. */
        static const uint32_t bad[] = { _LOGIN_RESULT_MAX, _LOGIN_RESULT_MAX + 1, 255, 256, 0x80000000u, 0xffffffffu };
        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                n = login_build_result(buf, &(login_result_frame) { bad[i], "x" });
                CHECK(n > 0);
                CHECK_INT(login_frame_type_of(buf, (size_t) n), LOGIN_RESULT);
                check_parsers(buf, (size_t) n, LOGIN_RESULT, -EBADMSG);
        }

        CHECK_STR(login_result_to_string(LOGIN_SUCCESS), "success");
        CHECK_STR(login_result_to_string(LOGIN_MAXTRIES), "backed off");
        for (int r = 0; r < _LOGIN_RESULT_MAX; r++)
                CHECK(strcmp(login_result_to_string(r), "unknown") != 0);
        CHECK_STR(login_result_to_string(_LOGIN_RESULT_MAX), "unknown");
        CHECK_STR(login_result_to_string((login_result) 0x7fffffff), "unknown");
}

/* ---- the length prefix ---- */

static void test_frame_size(void) {
        uint8_t b[8] = { 0xff, 0xff, 0xff, 0xff, 5, 0, 0, 0 };

        /* Fewer than four bytes: not known yet, whatever they are. */
        for (size_t n = 0; n < 4; n++) {
                uint8_t *c = exact_copy(b, n);
                CHECK_INT(login_frame_size(c, n), 0);
                CHECK_INT(login_frame_type_of(c, n), -EBADMSG);
                free(c);
        }
        put_le32(b, 0);
        CHECK_INT(login_frame_size(b, 4), -EBADMSG);
        CHECK_INT(login_frame_size(b, 8), -EBADMSG);
        put_le32(b, 1);
        CHECK_INT(login_frame_size(b, 4), 5);
        CHECK_INT(login_frame_type_of(b, 5), 5);
        CHECK_INT(login_frame_type_of(b, 4), -EBADMSG);
        CHECK_INT(login_frame_type_of(b, 6), -EBADMSG);
        put_le32(b, LOGIN_FRAME_MAX);
        CHECK_INT(login_frame_size(b, 4), LOGIN_FRAME_MAX + 4);
        put_le32(b, LOGIN_FRAME_MAX + 1);
        CHECK_INT(login_frame_size(b, 4), -EBADMSG);
        put_le32(b, 0x01000000);
        CHECK_INT(login_frame_size(b, 4), -EBADMSG);
        put_le32(b, 0xffffffffu);
        CHECK_INT(login_frame_size(b, 4), -EBADMSG);
        CHECK_INT(login_frame_size(b, 8), -EBADMSG);

        /* A type byte that names no frame is reported as is, and no parser
         * takes it. */
        for (unsigned t = 0; t < 256; t++) {
                put_le32(b, 4);
                b[4] = (uint8_t) t;
                b[5] = b[6] = b[7] = 0;
                CHECK_INT(login_frame_type_of(b, 8), t);
                if (t < LOGIN_START || t > LOGIN_RESULT)
                        check_parsers(b, 8, -1, -EBADMSG);
        }
}

/* ---- malformed frames ---- */

/* Every prefix of frame, as it stands and with its length prefix rewritten
 * to fit, is refused by every parser. */
static void check_truncations(const uint8_t *frame, size_t size) {
        uint8_t *c = exact_copy(frame, size);

        for (size_t k = 0; k < size; k++) {
                check_parsers(c, k, -1, -EBADMSG);
                CHECK_INT(login_frame_type_of(c, k), -EBADMSG);
                if (k >= 5) {
                        uint8_t *t = exact_copy(frame, k);
                        put_le32(t, (uint32_t) (k - 4));
                        check_parsers(t, k, -1, -EBADMSG);
                        free(t);
                }
        }
        free(c);
}

/* One byte more than the frame, either outside its length prefix or
 * counted in it: refused. */
static void check_trailing(const uint8_t *frame, size_t size, int type) {
        uint8_t *c = malloc(size + 3);

        if (!c)
                abort();
        memcpy(c, frame, size);
        c[size] = 0;
        c[size + 1] = 0;
        c[size + 2] = 'x';
        for (size_t extra = 1; extra <= 3; extra++) {
                put_le32(c, (uint32_t) (size - 4));
                check_parsers(c, size + extra, -1, -EBADMSG);
                CHECK_INT(login_frame_type_of(c, size + extra), -EBADMSG);
                put_le32(c, (uint32_t) (size - 4 + extra));
                check_parsers(c, size + extra, -1, -EBADMSG);
                CHECK_INT(login_frame_type_of(c, size + extra), type);
        }
        free(c);
}

/* The byte where needle starts in frame becomes a NUL: refused. */
static void check_nul_in(const uint8_t *frame, size_t size, const char *needle, size_t at) {
        const uint8_t *p = memmem(frame, size, needle, strlen(needle));
        uint8_t *c;

        CHECK(p);
        if (!p)
                return;
        c = exact_copy(frame, size);
        c[(size_t) (p - frame) + at] = 0;
        check_parsers(c, size, -1, -EBADMSG);
        free(c);
}

static void test_malformed(void) {
        login_start s = { LOGIN_PROTOCOL_VERSION, LOGIN_STAGE_SESSION_CLOSE, LOGIN_FLAG_SILENT, 1000,
                          "alice", "sshd", "pts/3", "192.0.2.7", "bob", "0123456789abcdef" };
        int n;

        n = login_build_start(buf, &s);
        check_truncations(buf, (size_t) n);
        check_trailing(buf, (size_t) n, LOGIN_START);
        check_nul_in(buf, (size_t) n, "alice", 0);
        check_nul_in(buf, (size_t) n, "sshd", 3);
        check_nul_in(buf, (size_t) n, "pts/3", 2);
        check_nul_in(buf, (size_t) n, "192.0.2.7", 4);
        check_nul_in(buf, (size_t) n, "bob", 1);
        check_nul_in(buf, (size_t) n, "0123456789abcdef", 15);
        s.session_id = "";
        n = login_build_start(buf, &s);
        check_truncations(buf, (size_t) n);
        check_trailing(buf, (size_t) n, LOGIN_START);

        n = login_build_prompt(buf, &(login_prompt) { LOGIN_PROMPT_ECHO_OFF, LOGIN_ASK_PASSWORD,
                                                      filled('p', LOGIN_STRING_MAX) });
        check_truncations(buf, (size_t) n);
        check_trailing(buf, (size_t) n, LOGIN_PROMPT);
        n = login_build_prompt(buf, &(login_prompt) { LOGIN_PROMPT_ECHO_ON, LOGIN_ASK_CODE, "Code: " });
        check_truncations(buf, (size_t) n);
        check_trailing(buf, (size_t) n, LOGIN_PROMPT);
        check_nul_in(buf, (size_t) n, "Code: ", 5);
        n = login_build_prompt(buf, &(login_prompt) { LOGIN_PROMPT_ECHO_ON, LOGIN_ASK_CODE, "" });
        check_truncations(buf, (size_t) n);
        check_trailing(buf, (size_t) n, LOGIN_PROMPT);

        n = login_build_message(buf, &(login_message) { LOGIN_MESSAGE_ERROR, "Denied." });
        check_truncations(buf, (size_t) n);
        check_trailing(buf, (size_t) n, LOGIN_MESSAGE);
        check_nul_in(buf, (size_t) n, "Denied.", 0);

        n = login_build_answer(buf, &(login_answer) { false, "hunter22" });
        check_truncations(buf, (size_t) n);
        check_trailing(buf, (size_t) n, LOGIN_ANSWER);
        check_nul_in(buf, (size_t) n, "hunter22", 7);
        n = login_build_answer(buf, &(login_answer) { true, "" });
        check_truncations(buf, (size_t) n);
        check_trailing(buf, (size_t) n, LOGIN_ANSWER);
        /* The cancelled flag is 0 or 1: any other byte would read as
         * "cancelled" but is not how a frame is written. */
        for (unsigned flag = 2; flag < 256; flag++) {
                buf[5] = (uint8_t) flag;
                check_parsers(buf, (size_t) n, LOGIN_ANSWER, -EBADMSG);
        }

        n = login_build_result(buf, &(login_result_frame) { LOGIN_SUCCESS, "fedcba9876543210" });
        check_truncations(buf, (size_t) n);
        check_trailing(buf, (size_t) n, LOGIN_RESULT);
        check_nul_in(buf, (size_t) n, "fedcba9876543210", 8);
        n = login_build_result(buf, &(login_result_frame) { LOGIN_AUTH_ERR, NULL });
        check_truncations(buf, (size_t) n);
        check_trailing(buf, (size_t) n, LOGIN_RESULT);

        /* A string whose length says more than LOGIN_STRING_MAX, with the
         * bytes there to back it. */
        {
                size_t len = LOGIN_STRING_MAX + 1, size = 4 + 1 + 1 + 2 + len;
                uint8_t *c = malloc(size);

                if (!c)
                        abort();
                put_le32(c, (uint32_t) (size - 4));
                c[4] = LOGIN_MESSAGE;
                c[5] = LOGIN_MESSAGE_INFO;
                c[6] = (uint8_t) len;
                c[7] = (uint8_t) (len >> 8);
                memset(c + 8, 'm', len);
                check_parsers(c, size, LOGIN_MESSAGE, -EBADMSG);
                c[4] = LOGIN_ANSWER;
                check_parsers(c, size, LOGIN_ANSWER, -EBADMSG);
                free(c);
        }
}

/* ---- random bytes ---- */

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

static uint64_t rng(void) {
        /* xorshift64*: the same sequence on every libc. */
        rng_state ^= rng_state >> 12;
        rng_state ^= rng_state << 25;
        rng_state ^= rng_state >> 27;
        return rng_state * 0x2545f4914f6cdd1dull;
}

static size_t sample_frame(uint8_t *out) {
        const char *texts[] = { "", "x", "Password: ", "0123456789abcdef" };
        const char *t = texts[rng() % ELEMENTSOF(texts)];
        int n;

        switch (rng() % 5) {
        case 0:
                n = login_build_start(out, &(login_start) { 1, (uint32_t) (rng() % 7), 3, 1000, t, "sshd", t, "", t, t });
                break;
        case 1:
                n = login_build_prompt(out, &(login_prompt) { (uint8_t) rng(), (uint8_t) rng(), t });
                break;
        case 2:
                n = login_build_message(out, &(login_message) { (uint8_t) rng(), t });
                break;
        case 3:
                n = login_build_answer(out, &(login_answer) { rng() & 1, t });
                break;
        default:
                n = login_build_result(out, &(login_result_frame) { (uint32_t) (rng() % 12), t });
                break;
        }
        if (n < 0)
                abort();
        return (size_t) n;
}

static void test_fuzz(void) {
        static uint8_t work[LOGIN_FRAME_MAX + 8];
        unsigned parsed[6] = {};

        for (unsigned i = 0; i < 100000; i++) {
                size_t size;
                uint8_t *c;
                int type, n;

                switch (rng() % 4) {
                case 0:
                        /* Pure noise, any size up to a little over the maximum. */
                        size = rng() % 256 == 0 ? rng() % (LOGIN_FRAME_MAX + 8) : rng() % 96;
                        for (size_t k = 0; k < size; k++)
                                work[k] = (uint8_t) rng();
                        /* Sometimes with a length prefix that fits. */
                        if (size >= 5 && rng() % 2)
                                put_le32(work, (uint32_t) (size - 4));
                        break;
                case 1:
                        /* Noise behind a consistent length prefix and a real type,
                         * with short strings more likely than long ones. */
                        size = 5 + rng() % 64;
                        for (size_t k = 0; k < size; k++)
                                work[k] = (uint8_t) (rng() % 3 ? rng() % 8 : rng());
                        put_le32(work, (uint32_t) (size - 4));
                        work[4] = (uint8_t) (1 + rng() % 5);
                        break;
                default:
                        /* A valid frame with a few bytes changed, cut or added. */
                        size = sample_frame(work);
                        for (unsigned m = 1 + rng() % 3; m > 0; m--) {
                                size_t at = rng() % size;
                                switch (rng() % 4) {
                                case 0:
                                        work[at] = (uint8_t) rng();
                                        break;
                                case 1:
                                        work[at] ^= (uint8_t) (1u << (rng() % 8));
                                        break;
                                case 2:
                                        if (size > 1)
                                                size -= 1 + rng() % (size - 1 < 4 ? size - 1 : 4);
                                        break;
                                default:
                                        work[size++] = (uint8_t) rng();
                                        break;
                                }
                        }
                        if (size >= 5 && rng() % 2)
                                put_le32(work, (uint32_t) (size - 4));
                        break;
                }

                c = exact_copy(work, size);
                type = login_frame_type_of(c, size);
                CHECK(type == -EBADMSG || (type >= 0 && type <= 255));
                n = login_frame_size(c, size);
                CHECK(size < 4 ? n == 0 : n == -EBADMSG || (n >= 5 && n <= LOGIN_FRAME_MAX + 4));
                for (size_t k = 0; k < ELEMENTSOF(all_types); k++) {
                        int r = parse_as(all_types[k], c, size);
                        CHECK(r == -EBADMSG || r == (int) all_types[k]);
                        if (r > 0) {
                                CHECK_INT(type, r);
                                parsed[r]++;
                        }
                }
                free(c);
        }
        /* The mutations reach the parsers' insides, not only their first
         * check. */
        for (size_t k = 0; k < ELEMENTSOF(all_types); k++)
                CHECK(parsed[all_types[k]] > 100);
        printf("fuzz: parsed start %u, answer %u, prompt %u, message %u, result %u\n", parsed[LOGIN_START],
               parsed[LOGIN_ANSWER], parsed[LOGIN_PROMPT], parsed[LOGIN_MESSAGE], parsed[LOGIN_RESULT]);
}

int main(void) {
        test_start();
        test_prompt_message_answer_result();
        test_frame_size();
        test_malformed();
        test_fuzz();
        return test_result("test-login-protocol");
}
