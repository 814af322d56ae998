/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* Many threads look users and groups up through the module while a publisher
 * replaces the snapshot hundreds of times. Every answer must be whole: all the
 * fields of one answer come from the same publication (each publication k
 * writes k into every field, and changes the record sizes so that the
 * readers' buffers are sometimes too small). Each thread must never see an
 * older publication after a newer one, and the publisher must see its own
 * publication in the lookup right after publish() returned.
 *
 *     test-nss-stress MODULE_PATH [PUBLICATIONS [THREADS]]
 */

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "nss-test.h"
#include "snapshot.h"
#include "snapshot-writer.h"

#define N_USERS 200
#define UID_BASE 50000
#define GROUP_GID 40000
#define INIT_GID_BASE 41000

static nss_module M;
static char runtime_dir[1200];
static atomic_bool done;
static atomic_long lookups, retries;

/* The last whole publication: updates keep its groups. */
static long last_whole;

/* Odd publications after the first are updates (a delta beside the base)
 * that rewrite every user, as a whole publication would. */
static void publish_update(long k) {
        uint32_t init[5];
        size_t n_init = (size_t) (last_whole % 5) + 1;
        snapshot_update *u;
        int pad = (int) (k % 40);

        for (size_t j = 0; j < n_init; j++)
                init[j] = INIT_GID_BASE + (uint32_t) j;
        CHECK(snapshot_update_begin(runtime_dir, &u) == 0);
        for (int i = 0; i < N_USERS; i++) {
                char name[16], gecos[128], home[64], shell[32];

                snprintf(name, sizeof(name), "u%d", i);
                snprintf(gecos, sizeof(gecos), "k=%ld i=%d %.*s", k, i, pad,
                         "........................................");
                snprintf(home, sizeof(home), "/home/u%d/%ld", i, k);
                snprintf(shell, sizeof(shell), "/bin/sh%ld", k);
                CHECK(snapshot_update_set_user(u, name, UID_BASE + (uint32_t) i, UID_BASE + (uint32_t) i,
                                               gecos, home, shell, i == 0 ? init : NULL, i == 0 ? n_init : 0) == 0);
        }
        CHECK(snapshot_update_publish(u, NULL) == 0);
}

/* Publication k: user i has gecos "k=<k> i=<i> <padding>", home
 * "/home/u<i>/<k>", shell "/bin/sh<k>"; group "grp" has k%7+1 members
 * "m<k>x<j>"; u0 is a member of groups INIT_GID_BASE .. +k%5. */
static void publish(long k) {
        char gecos[128], home[64], shell[32], names[8][32], *members[9];
        char *none[] = { NULL }, *u0[] = { "u0", NULL };
        snapshot_writer *w;
        int pad = (int) (k % 40);

        if (k % 2 == 1) {
                publish_update(k);
                return;
        }
        last_whole = k;

        CHECK(snapshot_writer_new(runtime_dir, N_USERS, N_USERS + 8, &w) == 0);
        for (int i = 0; i < N_USERS; i++) {
                char name[16];

                snprintf(name, sizeof(name), "u%d", i);
                snprintf(gecos, sizeof(gecos), "k=%ld i=%d %.*s", k, i, pad,
                         "........................................");
                snprintf(home, sizeof(home), "/home/u%d/%ld", i, k);
                snprintf(shell, sizeof(shell), "/bin/sh%ld", k);
                CHECK(snapshot_writer_add_user(w, name, UID_BASE + (uint32_t) i, UID_BASE + (uint32_t) i,
                                               gecos, home, shell) == 0);
                CHECK(snapshot_writer_add_group(w, name, UID_BASE + (uint32_t) i, none) == 0);
        }
        int n = (int) (k % 7) + 1;
        for (int j = 0; j < n; j++) {
                snprintf(names[j], sizeof(names[j]), "m%ldx%d", k, j);
                members[j] = names[j];
        }
        members[n] = NULL;
        CHECK(snapshot_writer_add_group(w, "grp", GROUP_GID, members) == 0);
        for (int j = 0; j <= k % 5; j++) {
                char name[16];
                snprintf(name, sizeof(name), "init%d", j);
                CHECK(snapshot_writer_add_group(w, name, INIT_GID_BASE + (uint32_t) j, u0) == 0);
        }
        CHECK(snapshot_writer_publish(w, NULL) == 0);
}

/* Checks one passwd answer for user i and returns its publication. */
static long check_passwd(const struct passwd *pw, int i) {
        char expect[64];
        long k;
        int gi;

        CHECK(sscanf(pw->pw_gecos, "k=%ld i=%d", &k, &gi) == 2);
        CHECK_EQ_INT(gi, i);
        CHECK_EQ_INT(pw->pw_uid, UID_BASE + i);
        snprintf(expect, sizeof(expect), "u%d", i);
        CHECK_STREQ(pw->pw_name, expect);
        snprintf(expect, sizeof(expect), "/home/u%d/%ld", i, k);
        CHECK_STREQ(pw->pw_dir, expect);
        snprintf(expect, sizeof(expect), "/bin/sh%ld", k);
        CHECK_STREQ(pw->pw_shell, expect);
        CHECK_EQ_INT(strlen(pw->pw_gecos) - strcspn(pw->pw_gecos, "."), k % 40);
        return k;
}

static long check_group(const struct group *gr) {
        long k = -1, km;
        int n = 0, j;

        CHECK_STREQ(gr->gr_name, "grp");
        for (; gr->gr_mem[n]; n++) {
                CHECK(sscanf(gr->gr_mem[n], "m%ldx%d", &km, &j) == 2);
                CHECK_EQ_INT(j, n);
                if (k < 0)
                        k = km;
                CHECK_EQ_INT(km, k);
        }
        CHECK(k >= 0);
        CHECK_EQ_INT(n, k % 7 + 1);
        return k;
}

typedef struct reader {
        pthread_t thread;
        unsigned seed;
        bool enumerate;
} reader;

static void *read_loop(void *arg) {
        reader *r = arg;
        long last_k = -1, last_gk = -1;

        while (!atomic_load(&done)) {
                int i = (int) (rand_r(&r->seed) % N_USERS);
                /* Sometimes too small, so that ERANGE races with replacement. */
                size_t len = 16 + rand_r(&r->seed) % 160;
                char *buf = malloc(len);
                struct passwd pw;
                struct group gr;
                enum nss_status s;
                int e = 0;
                long k;

                CHECK(buf);
                for (;;) {
                        if (rand_r(&r->seed) % 2)
                                s = M.getpwuid_r(UID_BASE + (uid_t) i, &pw, buf, len, &e);
                        else {
                                char name[16];
                                snprintf(name, sizeof(name), "u%d", i);
                                s = M.getpwnam_r(name, &pw, buf, len, &e);
                        }
                        if (s != NSS_STATUS_TRYAGAIN)
                                break;
                        CHECK_EQ_INT(e, ERANGE);
                        atomic_fetch_add(&retries, 1);
                        len *= 2;
                        buf = realloc(buf, len);
                        CHECK(buf);
                }
                CHECK_EQ_INT(s, NSS_STATUS_SUCCESS);
                k = check_passwd(&pw, i);
                CHECK(k >= last_k);
                last_k = k;

                for (;;) {
                        s = rand_r(&r->seed) % 2 ? M.getgrgid_r(GROUP_GID, &gr, buf, len, &e)
                                                 : M.getgrnam_r("grp", &gr, buf, len, &e);
                        if (s != NSS_STATUS_TRYAGAIN)
                                break;
                        CHECK_EQ_INT(e, ERANGE);
                        len *= 2;
                        buf = realloc(buf, len);
                        CHECK(buf);
                }
                CHECK_EQ_INT(s, NSS_STATUS_SUCCESS);
                k = check_group(&gr);
                CHECK(k >= last_gk);
                last_gk = k;
                free(buf);

                /* u0's supplementary groups: 1 to 5 consecutive gids. */
                long start = 0, size = 1;
                gid_t *groups = malloc(sizeof(gid_t));
                CHECK(groups);
                CHECK_EQ_INT(M.initgroups_dyn("u0", UID_BASE, &start, &size, &groups, 0, &e),
                             NSS_STATUS_SUCCESS);
                CHECK(start >= 1 && start <= 5);
                for (long j = 0; j < start; j++)
                        CHECK_EQ_INT(groups[j], INIT_GID_BASE + j);
                free(groups);

                if (r->enumerate && rand_r(&r->seed) % 50 == 0) {
                        char ebuf[256];
                        long ek = -1;
                        int n = 0;

                        CHECK_EQ_INT(M.setpwent(0), NSS_STATUS_SUCCESS);
                        while ((s = M.getpwent_r(&pw, ebuf, sizeof(ebuf), &e)) == NSS_STATUS_SUCCESS) {
                                k = check_passwd(&pw, n);
                                /* One enumeration, one publication. */
                                if (ek < 0)
                                        ek = k;
                                CHECK_EQ_INT(k, ek);
                                n++;
                        }
                        CHECK_EQ_INT(s, NSS_STATUS_NOTFOUND);
                        CHECK_EQ_INT(n, N_USERS);
                        CHECK_EQ_INT(M.endpwent(), NSS_STATUS_SUCCESS);
                }
                atomic_fetch_add(&lookups, 1);
        }
        return NULL;
}

int main(int argc, char **argv) {
        long publications = argc > 2 ? atol(argv[2]) : 300;
        int n_threads = argc > 3 ? atoi(argv[3]) : 4;
        reader readers[64];
        char base[1024], cmd[1100];
        struct timespec t0, t1;

        if (argc < 2 || n_threads < 1 || n_threads > 64 || publications < 1) {
                fprintf(stderr, "usage: %s MODULE_PATH [PUBLICATIONS [THREADS]]\n", argv[0]);
                return 2;
        }
        snprintf(base, sizeof(base), "%s/test-nss-stress-XXXXXX",
                 getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
        CHECK(mkdtemp(base));
        snprintf(runtime_dir, sizeof(runtime_dir), "%s/run", base);
        publish(0);
        CHECK(setenv("NEXALIX_RUNTIME_DIR", runtime_dir, 1) == 0);
        nss_module_load(argv[1], &M);

        clock_gettime(CLOCK_MONOTONIC, &t0);
        for (int t = 0; t < n_threads; t++) {
                readers[t] = (reader) { .seed = 7919u * (unsigned) (t + 1), .enumerate = t == 0 };
                CHECK(pthread_create(&readers[t].thread, NULL, read_loop, &readers[t]) == 0);
        }

        for (long k = 1; k <= publications; k++) {
                struct passwd pw;
                char buf[256];
                int e = 0;

                publish(k);
                /* Published means visible: the very next lookup sees k. */
                CHECK_EQ_INT(M.getpwuid_r(UID_BASE + 17, &pw, buf, sizeof(buf), &e), NSS_STATUS_SUCCESS);
                CHECK_EQ_INT(check_passwd(&pw, 17), k);
        }
        atomic_store(&done, true);
        for (int t = 0; t < n_threads; t++)
                CHECK(pthread_join(readers[t].thread, NULL) == 0);
        clock_gettime(CLOCK_MONOTONIC, &t1);

        printf("%ld publications, %d reader threads, %ld lookup rounds, %ld ERANGE retries, %.2f s\n",
               publications, n_threads, atomic_load(&lookups), atomic_load(&retries),
               (double) (t1.tv_sec - t0.tv_sec) + (double) (t1.tv_nsec - t0.tv_nsec) / 1e9);
        /* The readers must have run alongside the publisher, not after it. */
        CHECK(atomic_load(&lookups) >= publications);
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", base);
        if (system(cmd) != 0)
                fprintf(stderr, "could not remove %s\n", base);
        printf("1 passed, 0 failed\n");
        return 0;
}
