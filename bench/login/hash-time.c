/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* What one password hash costs on this machine, for bench/login/run.sh: the
 * unit in which a login's time is counted.
 *
 *   hash-time argon2id N            N verifications of an argon2id hash made
 *                                   at libsodium's interactive limits (what
 *                                   nexalixd stores and checks); prints each
 *                                   one's wall time in ms, one a line
 *   hash-time yescrypt N            the same for crypt_r() on a yescrypt hash
 *                                   at libxcrypt's default cost (Debian's)
 *   hash-time once HASH             one verification of HASH (argon2id or
 *                                   yescrypt, by its prefix), timed, with no
 *                                   untimed one before it: a fresh process
 *                                   checking one password, as a login finds
 *                                   the machine (idle since the last one)
 *   hash-time argon2id-par T SECS   T threads verifying side by side for SECS
 *   hash-time yescrypt-par T SECS   seconds; prints verifications per second
 *                                   (what the machine's cores can do at
 *                                   once, memory bandwidth included)
 *   hash-time argon2id-procs P SECS the same with P processes of one thread:
 *                                   no address space shared between them
 *   hash-time yescrypt-hash         a yescrypt hash of the password read
 *                                   from standard input (a shadow entry),
 *                                   made as mkpasswd -m yescrypt makes it
 *   hash-time argon2id-hash         an argon2id hash, made as nexalixd does
 *
 * The password is read from standard input for every command (one line). */

#define _GNU_SOURCE
#include <crypt.h>
#include <pthread.h>
#include <sodium.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static char password[256];
static char argon2_hash[crypto_pwhash_STRBYTES];
static char yescrypt_hash[CRYPT_OUTPUT_SIZE];
static double deadline;

static double now(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (double) ts.tv_sec + (double) ts.tv_nsec / 1e9;
}

static void die(const char *what) {
        fprintf(stderr, "hash-time: %s\n", what);
        exit(1);
}

static void read_password(void) {
        if (!fgets(password, sizeof(password), stdin))
                die("no password on standard input");
        password[strcspn(password, "\n")] = 0;
        if (!password[0])
                die("empty password");
}

/* The hash nexalixd stores (daemon/accounts/password.c). */
static void make_argon2_hash(void) {
        if (crypto_pwhash_str(argon2_hash, password, strlen(password), crypto_pwhash_OPSLIMIT_INTERACTIVE,
                              crypto_pwhash_MEMLIMIT_INTERACTIVE) != 0)
                die("crypto_pwhash_str failed (out of memory?)");
}

/* A NULL prefix and count 0 give libxcrypt's defaults: yescrypt ($y$) at
 * cost 5, which is what Debian's passwd, chpasswd and mkpasswd write. */
static void make_yescrypt_hash(void) {
        char salt[CRYPT_GENSALT_OUTPUT_SIZE];
        struct crypt_data data = {};
        const char *h;

        if (!crypt_gensalt_rn("$y$", 0, NULL, 0, salt, sizeof(salt)))
                die("crypt_gensalt_rn($y$) failed");
        h = crypt_r(password, salt, &data);
        if (!h || h[0] != '$')
                die("crypt_r failed");
        snprintf(yescrypt_hash, sizeof(yescrypt_hash), "%s", h);
}

static bool verify_argon2(void) {
        return crypto_pwhash_str_verify(argon2_hash, password, strlen(password)) == 0;
}

/* How pam_unix checks: hash the password with the stored hash as setting
 * and compare. */
static bool verify_yescrypt(void) {
        struct crypt_data data = {};
        const char *h = crypt_r(password, yescrypt_hash, &data);
        return h && strcmp(h, yescrypt_hash) == 0;
}

/* Back to back, as in a burst of logins; the first verification, untimed,
 * follows the hash's creation. */
static void serial(bool (*verify)(void), long n) {
        if (!verify())
                die("the password does not verify");
        for (long i = 0; i < n; i++) {
                double t0 = now();
                if (!verify())
                        die("the password does not verify");
                printf("%.3f\n", (now() - t0) * 1e3);
        }
}

static void *par_thread(void *userdata) {
        bool (*verify)(void) = (bool (*)(void)) userdata;
        long done = 0;

        while (now() < deadline) {
                if (!verify())
                        die("the password does not verify");
                done++;
        }
        return (void *) done;
}

static void parallel(bool (*verify)(void), int threads, double seconds) {
        pthread_t t[64];
        long total = 0;
        double t0;

        if (threads < 1 || threads > 64)
                die("1 to 64 threads");
        t0 = now();
        deadline = t0 + seconds;
        for (int i = 0; i < threads; i++)
                if (pthread_create(&t[i], NULL, par_thread, (void *) verify) != 0)
                        die("pthread_create failed");
        for (int i = 0; i < threads; i++) {
                void *done;
                pthread_join(t[i], &done);
                total += (long) done;
        }
        /* Every thread finishes the hash it started before the deadline. */
        printf("%.2f\n", (double) total / (now() - t0));
}

/* Each process hashes on its own: no mmap lock and no TLB shootdowns shared
 * with the others, which threads of one process (nexalixd's workers) have. */
static void processes(bool (*verify)(void), int n, double seconds) {
        int fds[64][2];
        long total = 0;
        double t0;

        if (n < 1 || n > 64)
                die("1 to 64 processes");
        fflush(stdout);
        t0 = now();
        deadline = t0 + seconds;
        for (int i = 0; i < n; i++) {
                pid_t pid;

                if (pipe(fds[i]) < 0)
                        die("pipe failed");
                pid = fork();
                if (pid < 0)
                        die("fork failed");
                if (pid == 0) {
                        long done = (long) par_thread((void *) verify);
                        if (write(fds[i][1], &done, sizeof(done)) != sizeof(done))
                                _exit(1);
                        _exit(0);
                }
                close(fds[i][1]);
        }
        for (int i = 0; i < n; i++) {
                long done = 0;
                if (read(fds[i][0], &done, sizeof(done)) != sizeof(done))
                        die("a child process failed");
                total += done;
                close(fds[i][0]);
        }
        while (wait(NULL) > 0)
                ;
        printf("%.2f\n", (double) total / (now() - t0));
}

int main(int argc, char **argv) {
        const char *cmd = argc > 1 ? argv[1] : "";

        if (sodium_init() < 0)
                die("sodium_init failed");
        read_password();
        if (strcmp(cmd, "yescrypt-hash") == 0) {
                make_yescrypt_hash();
                printf("%s\n", yescrypt_hash);
                return 0;
        }
        if (strcmp(cmd, "argon2id-hash") == 0) {
                make_argon2_hash();
                printf("%s\n", argon2_hash);
                return 0;
        }
        if (argc == 3 && strcmp(cmd, "once") == 0) {
                bool argon2 = strncmp(argv[2], "$argon2id$", 10) == 0;
                bool ok;
                double t0;

                if (argon2)
                        snprintf(argon2_hash, sizeof(argon2_hash), "%s", argv[2]);
                else
                        snprintf(yescrypt_hash, sizeof(yescrypt_hash), "%s", argv[2]);
                t0 = now();
                ok = argon2 ? verify_argon2() : verify_yescrypt();
                if (!ok)
                        die("the password does not verify");
                printf("%.3f\n", (now() - t0) * 1e3);
                return 0;
        }
        if (argc == 3 && strcmp(cmd, "argon2id") == 0) {
                make_argon2_hash();
                serial(verify_argon2, atol(argv[2]));
                return 0;
        }
        if (argc == 3 && strcmp(cmd, "yescrypt") == 0) {
                make_yescrypt_hash();
                serial(verify_yescrypt, atol(argv[2]));
                return 0;
        }
        if (argc == 4 && strcmp(cmd, "argon2id-par") == 0) {
                make_argon2_hash();
                parallel(verify_argon2, atoi(argv[2]), atof(argv[3]));
                return 0;
        }
        if (argc == 4 && strcmp(cmd, "argon2id-procs") == 0) {
                make_argon2_hash();
                processes(verify_argon2, atoi(argv[2]), atof(argv[3]));
                return 0;
        }
        if (argc == 4 && strcmp(cmd, "yescrypt-par") == 0) {
                make_yescrypt_hash();
                parallel(verify_yescrypt, atoi(argv[2]), atof(argv[3]));
                return 0;
        }
        fprintf(stderr, "usage: %s argon2id|yescrypt N | once HASH | argon2id-par|yescrypt-par THREADS SECONDS | argon2id-procs N SECONDS\n"
                        "       %s argon2id-hash|yescrypt-hash\n"
                        "       (the password on standard input)\n", argv[0], argv[0]);
        return 2;
}
