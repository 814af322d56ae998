/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* SSH keys benchmark helper (bench/ssh-keys/run.sh, bench/README.md):
 *
 *   keys-bench populate DIR N [REPS]
 *       a store in DIR/store with organisation "acme" and N active members
 *       u000000… with one Ed25519 key each, made with the daemon's own
 *       account logic (user_create, sshkey_add) in batches of 5,000 per
 *       transaction; then publishes the keys snapshot into DIR/run REPS
 *       times with the daemon's publisher (keys_publish_whole: the store
 *       walk, the writer, fsync, rename) and prints the time of each.
 *
 *   keys-bench publish DIR [REPS]
 *       only the publications, from the store populate made.
 *
 *   keys-bench spawn CALLS N -- COMMAND [ARG…]
 *       runs COMMAND CALLS times, one after the other, each time with every
 *       "%u" in its arguments replaced by a random user u000000…u(N-1)
 *       ("%x" by a user that does not exist), its standard output read to
 *       the end through a pipe as sshd reads it; prints the median, p90,
 *       p99 and mean wall time per call in microseconds, process start and
 *       exit included. */

#include "keys-snapshot.h"
#include "local-accounts.h"
#include "org.h"
#include "publish-keys.h"
#include "sshkey.h"
#include "store.h"
#include "user.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdbool.h>
#include <sodium.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define BATCH 5000

static uint64_t now_ns(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec * 1000000000ULL + (uint64_t) ts.tv_nsec;
}

static int cmp_u64(const void *a, const void *b) {
        uint64_t x = *(const uint64_t *) a, y = *(const uint64_t *) b;
        return x < y ? -1 : x > y;
}

/* ---- populate ---- */

static int make_org(op *o, void *userdata) {
        return org_create(o, "acme");
}

typedef struct batch {
        unsigned from, to;
} batch;

static int make_users(op *o, void *userdata) {
        batch *b = userdata;
        char *roles[] = { (char *) "member", NULL };

        for (unsigned i = b->from; i < b->to; i++) {
                char name[16], email[48], line[192], b64[96];
                uint8_t blob[4 + 11 + 4 + 32], pk[32];
                int r;

                snprintf(name, sizeof(name), "u%06u", i);
                snprintf(email, sizeof(email), "u%06u@bench.invalid", i);
                user_spec spec = { name, "acme", "Bench", "User", email, "en", NULL, roles };
                r = user_create(o, &spec, "$argon2id$bench-not-a-real-hash", NULL);
                if (r < 0)
                        return r;
                randombytes_buf(pk, sizeof(pk));
                memcpy(blob, "\0\0\0\x0bssh-ed25519\0\0\0\x20", 4 + 11 + 4);
                memcpy(blob + 19, pk, sizeof(pk));
                sodium_bin2base64(b64, sizeof(b64), blob, sizeof(blob), sodium_base64_VARIANT_ORIGINAL);
                snprintf(line, sizeof(line), "ssh-ed25519 %s %s@laptop", b64, name);
                r = sshkey_add(o, name, NULL, line, NULL, NULL);
                if (r < 0)
                        return r;
        }
        return 0;
}

static int run_op(accounts *acc, int (*fn)(op *o, void *userdata), void *userdata) {
        nx_error e = {};
        op o;
        int r;

        r = op_begin(acc, 0, true, &e, &o);
        if (r < 0)
                return r;
        r = fn(&o, userdata);
        if (r < 0) {
                fprintf(stderr, "keys-bench: %s (%s)\n", e.message, strerror(-r));
                op_abort(&o);
                return r;
        }
        r = op_commit(&o);
        op_done(&o);
        return r;
}

static int populate(const char *dir, unsigned n, unsigned reps, bool create) {
        char path[4200], run[4096];
        config cfg = {};
        accounts acc = {};
        local_accounts *local = NULL;
        uint64_t *times, start, users = 0;
        struct stat st;
        int r;

        cfg.store_dir = strdup(dir);
        cfg.runtime_dir = strdup(dir);
        cfg.home_template = strdup("/home/{user}");
        cfg.shell = strdup("/bin/bash");
        cfg.uid_min = 2000000;
        cfg.uid_max = 2999999;
        cfg.link_url = strdup("https://id.bench.invalid/redeem?token={token}");
        cfg.mail_from = strdup("nexalix@bench.invalid");
        snprintf(path, sizeof(path), "%s/store", dir);
        snprintf(run, sizeof(run), "%s/run", dir);
        if (mkdir(run, 0755) < 0 && errno != EEXIST)
                return -errno;
        r = store_open(path, &acc.store);
        if (r >= 0)
                r = local_accounts_new(&LOCAL_ACCOUNTS_SYSTEM, &local);
        if (r < 0)
                return r;
        acc.config = &cfg;
        acc.local = local;

        if (create) {
                start = now_ns();
                r = run_op(&acc, make_org, NULL);
                for (unsigned from = 0; r >= 0 && from < n; from += BATCH)
                        r = run_op(&acc, make_users, &(batch) { from, from + BATCH < n ? from + BATCH : n });
                if (r < 0)
                        return r;
                printf("populate: %u users with a key each in %.1f s\n", n, (double) (now_ns() - start) / 1e9);
        }

        times = calloc(reps, sizeof(*times));
        for (unsigned i = 0; i < reps; i++) {
                start = now_ns();
                /* The group of the caller: what a root daemon chowns to. */
                r = keys_publish_whole(&acc, run, getgid(), NULL, &users);
                if (r < 0)
                        return r;
                times[i] = now_ns() - start;
        }
        qsort(times, reps, sizeof(*times), cmp_u64);
        snprintf(path, sizeof(path), "%s/%s", run, KEYS_SNAPSHOT_FILE);
        if (stat(path, &st) < 0)
                return -errno;
        printf("publish: %" PRIu64 " users, keys.mdb %.1f MiB, whole publication median %.1f ms, min %.1f ms, max %.1f ms (%u runs)\n",
               users, (double) st.st_size / (1 << 20), (double) times[reps / 2] / 1e6, (double) times[0] / 1e6,
               (double) times[reps - 1] / 1e6, reps);
        free(times);
        store_close(acc.store);
        local_accounts_free(local);
        config_done(&cfg);
        return 0;
}

/* ---- spawn ---- */

static int spawn(unsigned calls, unsigned n, char **cmd) {
        size_t argc = 0;
        uint64_t *times, sum = 0;
        char **argv, name[16];
        int r;

        while (cmd[argc])
                argc++;
        argv = calloc(argc + 1, sizeof(char *));
        times = calloc(calls, sizeof(*times));
        if (!argv || !times)
                return -ENOMEM;
        srand(42);
        for (unsigned c = 0; c < calls; c++) {
                posix_spawn_file_actions_t actions;
                char buf[65536];
                uint64_t start;
                int fds[2], status;
                pid_t pid;

                snprintf(name, sizeof(name), "u%06u", (unsigned) rand() % n);
                for (size_t i = 0; i < argc; i++)
                        argv[i] = strcmp(cmd[i], "%u") == 0 ? name :
                                  strcmp(cmd[i], "%x") == 0 ? (char *) "nosuchuser" : cmd[i];
                if (pipe2(fds, O_CLOEXEC) < 0)
                        return -errno;
                posix_spawn_file_actions_init(&actions);
                posix_spawn_file_actions_adddup2(&actions, fds[1], STDOUT_FILENO);
                start = now_ns();
                r = posix_spawn(&pid, argv[0], &actions, NULL, argv, environ);
                posix_spawn_file_actions_destroy(&actions);
                close(fds[1]);
                if (r != 0) {
                        close(fds[0]);
                        return -r;
                }
                while (read(fds[0], buf, sizeof(buf)) > 0)
                        ;
                close(fds[0]);
                if (waitpid(pid, &status, 0) < 0)
                        return -errno;
                times[c] = now_ns() - start;
                if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
                        fprintf(stderr, "keys-bench: %s exited with status %d\n", argv[0], status);
                        return -EIO;
                }
        }
        for (unsigned c = 0; c < calls; c++)
                sum += times[c];
        qsort(times, calls, sizeof(*times), cmp_u64);
        printf("median %.0f us, p90 %.0f us, p99 %.0f us, mean %.0f us (%u calls)\n", (double) times[calls / 2] / 1e3,
               (double) times[calls * 9 / 10] / 1e3, (double) times[calls * 99 / 100] / 1e3,
               (double) sum / calls / 1e3, calls);
        free(argv);
        free(times);
        return 0;
}

int main(int argc, char *argv[]) {
        int r;

        if (sodium_init() < 0)
                return EXIT_FAILURE;
        if (argc >= 4 && strcmp(argv[1], "populate") == 0)
                r = populate(argv[2], (unsigned) strtoul(argv[3], NULL, 10),
                             argc >= 5 ? (unsigned) strtoul(argv[4], NULL, 10) : 5, true);
        else if (argc >= 3 && strcmp(argv[1], "publish") == 0)
                r = populate(argv[2], 0, argc >= 4 ? (unsigned) strtoul(argv[3], NULL, 10) : 5, false);
        else if (argc >= 6 && strcmp(argv[1], "spawn") == 0 && strcmp(argv[4], "--") == 0)
                r = spawn((unsigned) strtoul(argv[2], NULL, 10), (unsigned) strtoul(argv[3], NULL, 10), argv + 5);
        else {
                fprintf(stderr, "usage: keys-bench populate DIR N [REPS] | publish DIR [REPS] | spawn CALLS N -- COMMAND [ARG...]\n");
                return 2;
        }
        if (r < 0) {
                fprintf(stderr, "keys-bench: %s\n", strerror(-r));
                return EXIT_FAILURE;
        }
        return EXIT_SUCCESS;
}
