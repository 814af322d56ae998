/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Minimal assertions for the unit tests: a failed check prints where and
 * what, and the test exits non-zero at the end. */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int test_failures;

#define CHECK(cond)                                                                  \
        do {                                                                         \
                if (!(cond)) {                                                       \
                        fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__,       \
                                __LINE__, #cond);                                    \
                        test_failures++;                                             \
                }                                                                    \
        } while (0)

#define CHECK_INT(a, b)                                                              \
        do {                                                                         \
                long long _a = (long long) (a), _b = (long long) (b);                \
                if (_a != _b) {                                                      \
                        fprintf(stderr, "%s:%d: %s == %lld, expected %lld\n",        \
                                __FILE__, __LINE__, #a, _a, _b);                     \
                        test_failures++;                                             \
                }                                                                    \
        } while (0)

#define CHECK_STR(a, b)                                                              \
        do {                                                                         \
                const char *_a = (a), *_b = (b);                                     \
                if (!_a || !_b || strcmp(_a, _b) != 0) {                             \
                        fprintf(stderr, "%s:%d: %s == \"%s\", expected \"%s\"\n",    \
                                __FILE__, __LINE__, #a, _a ? _a : "(null)",          \
                                _b ? _b : "(null)");                                 \
                        test_failures++;                                             \
                }                                                                    \
        } while (0)

static inline int test_result(const char *name) {
        if (test_failures)
                fprintf(stderr, "%s: %d check(s) failed\n", name, test_failures);
        else
                printf("%s: all checks passed\n", name);
        return test_failures ? EXIT_FAILURE : EXIT_SUCCESS;
}
