/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Password hashing (daemon/accounts/password.c): a hash verifies with its
 * password and no other; a missing, empty or malformed hash never verifies
 * (not even with an empty password) and is checked against the stand-in hash;
 * the stand-in is made once, whichever threads ask for it first. Each argon2id
 * hash costs ~50-100 ms, so this test makes few. */

#include "macro.h"
#include "password.h"
#include "test-util.h"

#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <time.h>

static double now_ms(void) {
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (double) ts.tv_sec * 1000 + (double) ts.tv_nsec / 1e6;
}

static pthread_barrier_t start_line;

static void *prepare(void *userdata) {
        pthread_barrier_wait(&start_line);
        password_prepare_dummy();
        password_prepare_dummy();
        return NULL;
}

/* Four threads ask for the stand-in at once, before anything else did: one
 * computes it, all return once it is there, and later calls cost nothing. */
static void test_dummy(void) {
        pthread_t threads[4];
        double t0, t1;

        CHECK_INT(pthread_barrier_init(&start_line, NULL, ELEMENTSOF(threads)), 0);
        t0 = now_ms();
        for (size_t i = 0; i < ELEMENTSOF(threads); i++)
                CHECK_INT(pthread_create(&threads[i], NULL, prepare, NULL), 0);
        for (size_t i = 0; i < ELEMENTSOF(threads); i++)
                CHECK_INT(pthread_join(threads[i], NULL), 0);
        t1 = now_ms();
        pthread_barrier_destroy(&start_line);
        printf("stand-in hash from 4 threads: %.0f ms\n", t1 - t0);

        t0 = now_ms();
        for (int i = 0; i < 1000; i++)
                password_prepare_dummy();
        t1 = now_ms();
        /* Made once: a thousand more calls are far cheaper than one hash. */
        CHECK(t1 - t0 < 20);
}

static void test_verify(void) {
        char hash[PASSWORD_HASH_MAX], again[PASSWORD_HASH_MAX];
        const char *password = "correct horse battery staple";
        double t0, t_real, t_unknown, t_empty;

        CHECK_INT(password_hash(password, hash), 0);
        CHECK(strncmp(hash, "$argon2id$", 10) == 0);
        CHECK(strlen(hash) < PASSWORD_HASH_MAX);

        t0 = now_ms();
        CHECK_INT(password_verify(hash, password), 0);
        t_real = now_ms() - t0;
        CHECK_INT(password_verify(hash, "correct horse battery stapl"), -EACCES);
        CHECK_INT(password_verify(hash, ""), -EACCES);

        /* A salt per hash: the same password hashes differently, and both
         * verify. */
        CHECK_INT(password_hash(password, again), 0);
        CHECK(strcmp(hash, again) != 0);
        CHECK_INT(password_verify(again, password), 0);

        /* No hash: refused after the work of a real check, whatever the
         * password, the empty one included. */
        t0 = now_ms();
        CHECK_INT(password_verify(NULL, password), -EACCES);
        t_unknown = now_ms() - t0;
        t0 = now_ms();
        CHECK_INT(password_verify("", ""), -EACCES);
        t_empty = now_ms() - t0;
        printf("verify: real %.0f ms, no hash %.0f ms, empty hash %.0f ms\n", t_real, t_unknown, t_empty);

        /* Not a hash: refused without a crash. */
        CHECK_INT(password_verify("$argon2id$x", password), -EACCES);
        CHECK_INT(password_verify("x", ""), -EACCES);
        CHECK_INT(password_verify("$argon2id$v=19$m=65536,t=2,p=1$", password), -EACCES);

        /* Non-ASCII and long passwords, byte for byte. */
        CHECK_INT(password_hash("contraseña-ção", hash), 0);
        CHECK_INT(password_verify(hash, "contraseña-ção"), 0);
        CHECK_INT(password_verify(hash, "contrasena-cao"), -EACCES);
}

int main(void) {
        if (sodium_init() < 0)
                return EXIT_FAILURE;
        test_dummy();
        test_verify();
        return test_result("test-password");
}
