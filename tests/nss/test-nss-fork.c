/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* A threaded program that forks while its other threads resolve users
 * through the module (sshd, systemd and language runtimes all do): the child's
 * first lookup must answer, never block on a lock that a thread of the parent
 * held at the moment of fork() and that no thread of the child will release.
 * glibc resets its own NSS locks in the child, not the module's.
 *
 * Reader threads loop over every kind of lookup, enumeration included, while a
 * publisher thread keeps replacing the snapshot (so that the module's reopen
 * path, which holds its lock longest, runs too). The main thread forks
 * FORKS times; each child looks users, groups and an enumeration up under an
 * alarm and exits 0 when every answer is right. A child killed by the alarm
 * is the deadlock.
 *
 *     test-nss-fork MODULE_PATH [FORKS [THREADS]]
 */

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "nss-test.h"
#include "snapshot.h"
#include "snapshot-writer.h"

#define N_USERS 50
#define UID_BASE 60000
#define GROUP_GID 45000
#define CHILD_TIMEOUT_SEC 10

static nss_module M;
static char runtime_dir[1200];
static atomic_bool done;
static atomic_long lookups, publications;

static void publish(void) {
        char *none[] = { NULL }, *members[] = { "u1", "u2", NULL };
        snapshot_writer *w;

        CHECK(snapshot_writer_new(runtime_dir, N_USERS, N_USERS + 1, &w) == 0);
        for (int i = 0; i < N_USERS; i++) {
                char name[16];

                snprintf(name, sizeof(name), "u%d", i);
                CHECK(snapshot_writer_add_user(w, name, UID_BASE + (uint32_t) i, UID_BASE + (uint32_t) i,
                                               "Fork Tester", "/home/u", "/bin/sh") == 0);
                CHECK(snapshot_writer_add_group(w, name, UID_BASE + (uint32_t) i, none) == 0);
        }
        CHECK(snapshot_writer_add_group(w, "forkers", GROUP_GID, members) == 0);
        CHECK(snapshot_writer_publish(w, NULL) == 0);
}

/* One round of every lookup; returns false on a wrong answer. */
static bool lookup_round(unsigned i) {
        struct passwd pw;
        struct group gr;
        char buf[1024], name[16];
        long start = 0, size = 4;
        gid_t *groups = malloc(4 * sizeof(gid_t));
        int e = 0;
        bool good = true;

        if (!groups)
                return false;
        snprintf(name, sizeof(name), "u%u", i % N_USERS);
        good = good && M.getpwnam_r(name, &pw, buf, sizeof(buf), &e) == NSS_STATUS_SUCCESS &&
               pw.pw_uid == UID_BASE + i % N_USERS;
        good = good && M.getpwuid_r(UID_BASE + (i + 1) % N_USERS, &pw, buf, sizeof(buf), &e) ==
                       NSS_STATUS_SUCCESS;
        good = good && M.getgrgid_r(GROUP_GID, &gr, buf, sizeof(buf), &e) == NSS_STATUS_SUCCESS &&
               strcmp(gr.gr_name, "forkers") == 0;
        good = good && M.getgrnam_r(name, &gr, buf, sizeof(buf), &e) == NSS_STATUS_SUCCESS;
        good = good && M.initgroups_dyn("u1", 0, &start, &size, &groups, 0, &e) == NSS_STATUS_SUCCESS &&
               start == 1 && groups[0] == GROUP_GID;
        free(groups);
        return good;
}

/* Walks part of the passwd enumeration: the enumeration has its own lock. */
static bool enumerate_some(void) {
        struct passwd pw;
        char buf[1024];
        int e = 0, n = 0;

        if (M.setpwent(1) != NSS_STATUS_SUCCESS)
                return false;
        while (n < 5 && M.getpwent_r(&pw, buf, sizeof(buf), &e) == NSS_STATUS_SUCCESS)
                n++;
        M.endpwent();
        return n == 5;
}

static void *read_loop(void *arg) {
        unsigned i = (unsigned) (uintptr_t) arg;

        while (!atomic_load(&done)) {
                CHECK(lookup_round(i++));
                if (i % 7 == 0)
                        CHECK(enumerate_some());
                atomic_fetch_add(&lookups, 1);
        }
        return NULL;
}

static void *publish_loop(void *arg) {
        while (!atomic_load(&done)) {
                publish();
                atomic_fetch_add(&publications, 1);
        }
        return NULL;
}

static void child(void) {
        alarm(CHILD_TIMEOUT_SEC);
        if (!lookup_round(3) || !enumerate_some() || !lookup_round(11))
                _exit(1);
        _exit(0);
}

int main(int argc, char **argv) {
        long forks = argc > 2 ? atol(argv[2]) : 3000;
        int n_threads = argc > 3 ? atoi(argv[3]) : 3;
        pthread_t readers[16], publisher;
        long hung = 0, failed = 0;
        char base[1024], cmd[1100];

        if (argc < 2 || forks < 1 || n_threads < 1 || n_threads > 16) {
                fprintf(stderr, "usage: %s MODULE_PATH [FORKS [THREADS]]\n", argv[0]);
                return 2;
        }
        snprintf(base, sizeof(base), "%s/test-nss-fork-XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
        CHECK(mkdtemp(base));
        snprintf(runtime_dir, sizeof(runtime_dir), "%s/run", base);
        publish();
        CHECK(setenv("NEXALIX_RUNTIME_DIR", runtime_dir, 1) == 0);
        nss_module_load(argv[1], &M);
        CHECK(lookup_round(0));

        for (int t = 0; t < n_threads; t++)
                CHECK(pthread_create(&readers[t], NULL, read_loop, (void *) (uintptr_t) (t * 13)) == 0);
        CHECK(pthread_create(&publisher, NULL, publish_loop, NULL) == 0);

        for (long k = 0; k < forks; k++) {
                int status;
                pid_t pid = fork();

                CHECK(pid >= 0);
                if (pid == 0)
                        child();
                CHECK(waitpid(pid, &status, 0) == pid);
                if (WIFSIGNALED(status) && WTERMSIG(status) == SIGALRM) {
                        hung++;
                        fprintf(stderr, "fork %ld: the child's lookup hung for %d s\n", k, CHILD_TIMEOUT_SEC);
                        break;
                }
                if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
                        failed++;
                        fprintf(stderr, "fork %ld: the child's lookups failed (status 0x%x)\n", k, status);
                }
        }

        atomic_store(&done, true);
        for (int t = 0; t < n_threads; t++)
                CHECK(pthread_join(readers[t], NULL) == 0);
        CHECK(pthread_join(publisher, NULL) == 0);
        printf("%ld forks done, %d reader threads, %ld lookup rounds, %ld publications meanwhile\n",
               forks, n_threads, atomic_load(&lookups), atomic_load(&publications));
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", base);
        if (system(cmd) != 0)
                fprintf(stderr, "could not remove %s\n", base);
        CHECK(atomic_load(&lookups) > 0);
        CHECK_EQ_INT(hung, 0);
        CHECK_EQ_INT(failed, 0);
        printf("1 passed, 0 failed\n");
        return 0;
}
