/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* NSS benchmark helper. One deterministic population of N users (private
 * groups, 20 departments, 3 role groups: what nexalixd publishes), written
 * three ways, and lookups timed through glibc, whatever nsswitch.conf says.
 *
 *   nss-bench generate N DIR         DIR/passwd and DIR/group (files, db)
 *   nss-bench publish N RUNTIME REPS publish the snapshot REPS times with the
 *                                    writer API; prints the median time
 *   nss-bench lookup N [SECONDS]     time getpwnam_r (hit, miss), getpwuid_r,
 *                                    getgrouplist and a full getpwent
 *                                    enumeration through glibc
 *   nss-bench direct N MODULE [SECONDS]
 *                                    the same calls straight into the module's
 *                                    entry points (dlopen), without glibc's
 *                                    per-call overhead
 *
 * run-bench.sh drives it in mount namespaces, one per NSS service. */

#include <dlfcn.h>
#include <errno.h>
#include <grp.h>
#include <nss.h>
#include <inttypes.h>
#include <pwd.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "macro.h"
#include "snapshot.h"
#include "snapshot-writer.h"

#define UID_BASE 100000
#define N_DEPTS 20
#define DEPT_GID_BASE 90000
#define ROLE_MEMBER_GID 91000
#define ROLE_ADMIN_GID 91001
#define ROLE_SUPPORT_GID 91002
#define N_KEYS 4096

static double now(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (double) ts.tv_sec + (double) ts.tv_nsec / 1e9;
}

static double cpu_now(void) {
        struct timespec ts;
        clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
        return (double) ts.tv_sec + (double) ts.tv_nsec / 1e9;
}

static void die(const char *what) {
        fprintf(stderr, "nss-bench: %s\n", what);
        exit(1);
}

/* ---- The population ---- */

static void user_name(char *buf, size_t size, long i) {
        snprintf(buf, size, "user%06ld", i);
}

/* Role membership: everyone is a member (may log in), one in ten is in
 * support, one in a hundred administers the organisation. */
static bool in_admin(long i) { return i % 100 == 0; }
static bool in_support(long i) { return i % 10 == 0; }

static int cmd_generate(long n, const char *dir) {
        char path[4096], name[32];
        FILE *pw, *gr;

        snprintf(path, sizeof(path), "%s/passwd", dir);
        pw = fopen(path, "we");
        snprintf(path, sizeof(path), "%s/group", dir);
        gr = fopen(path, "we");
        if (!pw || !gr)
                die("cannot write the files");

        for (long i = 0; i < n; i++) {
                user_name(name, sizeof(name), i);
                fprintf(pw, "%s:x:%ld:%ld:Given%ld Family%ld:/home/%s:/bin/bash\n",
                        name, UID_BASE + i, UID_BASE + i, i, i, name);
                fprintf(gr, "%s:x:%ld:\n", name, UID_BASE + i);
        }
        for (int d = 0; d < N_DEPTS; d++) {
                bool first = true;
                fprintf(gr, "acme-dept%02d:x:%d:", d, DEPT_GID_BASE + d);
                for (long i = d; i < n; i += N_DEPTS) {
                        user_name(name, sizeof(name), i);
                        fprintf(gr, "%s%s", first ? "" : ",", name);
                        first = false;
                }
                fputc('\n', gr);
        }
        static const struct {
                const char *name;
                int gid;
                bool (*member)(long);
        } roles[] = {
                { "acme-member", ROLE_MEMBER_GID, NULL },
                { "acme-org-admin", ROLE_ADMIN_GID, in_admin },
                { "acme-support", ROLE_SUPPORT_GID, in_support },
        };
        for (size_t r = 0; r < ELEMENTSOF(roles); r++) {
                bool first = true;
                fprintf(gr, "%s:x:%d:", roles[r].name, roles[r].gid);
                for (long i = 0; i < n; i++)
                        if (!roles[r].member || roles[r].member(i)) {
                                user_name(name, sizeof(name), i);
                                fprintf(gr, "%s%s", first ? "" : ",", name);
                                first = false;
                        }
                fputc('\n', gr);
        }
        if (fclose(pw) != 0 || fclose(gr) != 0)
                die("cannot write the files");
        return 0;
}

/* The population's strings, formatted once: what is timed below is the
 * writer API, from snapshot_writer_new() to the counter bump. */
typedef struct population {
        long n;
        char **names, **gecos, **homes;
        char **dept[N_DEPTS], **member, **admin, **support;
} population;

static void population_init(population *p, long n) {
        size_t n_dept[N_DEPTS] = { 0 }, n_member = 0, n_admin = 0, n_support = 0;

        p->n = n;
        p->names = calloc((size_t) n, sizeof(char *));
        p->gecos = calloc((size_t) n, sizeof(char *));
        p->homes = calloc((size_t) n, sizeof(char *));
        p->member = calloc((size_t) n + 1, sizeof(char *));
        p->admin = calloc((size_t) n + 1, sizeof(char *));
        p->support = calloc((size_t) n + 1, sizeof(char *));
        if (!p->names || !p->gecos || !p->homes || !p->member || !p->admin || !p->support)
                die("out of memory");
        for (int d = 0; d < N_DEPTS; d++)
                if (!(p->dept[d] = calloc((size_t) n / N_DEPTS + 2, sizeof(char *))))
                        die("out of memory");
        for (long i = 0; i < n; i++) {
                char name[32];
                user_name(name, sizeof(name), i);
                if (!(p->names[i] = strdup(name)) ||
                    asprintf(&p->gecos[i], "Given%ld Family%ld", i, i) < 0 ||
                    asprintf(&p->homes[i], "/home/%s", name) < 0)
                        die("out of memory");
                /* Member lists in user order, as the daemon collects them. */
                p->dept[i % N_DEPTS][n_dept[i % N_DEPTS]++] = p->names[i];
                p->member[n_member++] = p->names[i];
                if (in_admin(i))
                        p->admin[n_admin++] = p->names[i];
                if (in_support(i))
                        p->support[n_support++] = p->names[i];
        }
}

/* One publication the way nexalixd makes it: users walked once, each user's
 * private group added with it, department and role groups added at the
 * end. Returns wall-clock seconds, and CPU seconds in *ret_cpu. */
static double publish_once(const population *p, const char *runtime, double *ret_cpu) {
        char *none[] = { NULL };
        snapshot_writer *w;
        double t0, c0;
        int r;

        t0 = now();
        c0 = cpu_now();
        r = snapshot_writer_new(runtime, (size_t) p->n, (size_t) p->n + N_DEPTS + 3, &w);
        if (r < 0)
                die("snapshot_writer_new failed");
        for (long i = 0; i < p->n; i++)
                if (snapshot_writer_add_user(w, p->names[i], (uint32_t) (UID_BASE + i),
                                             (uint32_t) (UID_BASE + i), p->gecos[i], p->homes[i],
                                             "/bin/bash") < 0 ||
                    snapshot_writer_add_group(w, p->names[i], (uint32_t) (UID_BASE + i), none) < 0)
                        die("adding a user failed");
        for (int d = 0; d < N_DEPTS; d++) {
                char gname[32];
                snprintf(gname, sizeof(gname), "acme-dept%02d", d);
                if (snapshot_writer_add_group(w, gname, DEPT_GID_BASE + (uint32_t) d, p->dept[d]) < 0)
                        die("adding a department failed");
        }
        if (snapshot_writer_add_group(w, "acme-member", ROLE_MEMBER_GID, p->member) < 0 ||
            snapshot_writer_add_group(w, "acme-org-admin", ROLE_ADMIN_GID, p->admin) < 0 ||
            snapshot_writer_add_group(w, "acme-support", ROLE_SUPPORT_GID, p->support) < 0)
                die("adding a role group failed");
        r = snapshot_writer_publish(w, NULL);
        if (r < 0) {
                fprintf(stderr, "publish: %s\n", strerror(-r));
                exit(1);
        }
        *ret_cpu = cpu_now() - c0;
        return now() - t0;
}

static int cmp_double(const void *a, const void *b) {
        double x = *(const double *) a, y = *(const double *) b;
        return x < y ? -1 : x > y;
}

static int cmd_publish(long n, const char *runtime, int reps) {
        double t[64], cpu[64];
        char path[4096];
        struct stat st;
        population p;

        if (reps < 1 || reps > 64)
                die("REPS must be 1..64");
        population_init(&p, n);
        for (int i = 0; i < reps; i++)
                t[i] = publish_once(&p, runtime, &cpu[i]);
        qsort(t, (size_t) reps, sizeof(double), cmp_double);
        qsort(cpu, (size_t) reps, sizeof(double), cmp_double);
        snprintf(path, sizeof(path), "%s/%s", runtime, SNAPSHOT_FILE);
        if (stat(path, &st) < 0)
                die("no snapshot after publishing");
        printf("publish_ms=%.1f\n", t[reps / 2] * 1e3);
        printf("publish_min_ms=%.1f\n", t[0] * 1e3);
        /* CPU time of the same region: less disturbed by other load. */
        printf("publish_cpu_ms=%.1f\n", cpu[reps / 2] * 1e3);
        printf("snapshot_bytes=%lld\n", (long long) st.st_size);
        return 0;
}

/* ---- Lookups through glibc ---- */

static long keys[N_KEYS];
static char *buf;
static size_t buflen = 1 << 20;

/* Runs op(i) over the key sequence until `budget` seconds have passed (at
 * least 3 and at most max_ops calls); returns seconds per call. */
static double timed(double budget, long max_ops, void (*op)(long)) {
        long ops = 0;
        double t0, elapsed;

        for (int i = 0; i < 3; i++)     /* warm-up: module loaded, file opened */
                op(keys[i]);
        t0 = now();
        do {
                for (int i = 0; i < 16 && ops < max_ops; i++, ops++)
                        op(keys[ops % N_KEYS]);
                elapsed = now() - t0;
        } while ((elapsed < budget || ops < 3) && ops < max_ops);
        return elapsed / (double) ops;
}

/* The module's entry points, for `direct`. */
static struct {
        enum nss_status (*getpwnam_r)(const char *, struct passwd *, char *, size_t, int *);
        enum nss_status (*getpwuid_r)(uid_t, struct passwd *, char *, size_t, int *);
        enum nss_status (*initgroups_dyn)(const char *, gid_t, long int *, long int *,
                                          gid_t **, long int, int *);
        enum nss_status (*setpwent)(int);
        enum nss_status (*getpwent_r)(struct passwd *, char *, size_t, int *);
        enum nss_status (*endpwent)(void);
} mod;

static void op_pwnam_hit(long i) {
        char name[32];
        struct passwd pw, *res = NULL;

        user_name(name, sizeof(name), i);
        if (getpwnam_r(name, &pw, buf, buflen, &res) != 0 || !res || pw.pw_uid != UID_BASE + i)
                die("getpwnam_r hit failed");
}

static void op_direct_pwnam_hit(long i) {
        char name[32];
        struct passwd pw;
        int e;

        user_name(name, sizeof(name), i);
        if (mod.getpwnam_r(name, &pw, buf, buflen, &e) != NSS_STATUS_SUCCESS || pw.pw_uid != UID_BASE + i)
                die("getpwnam_r hit failed");
}

static void op_direct_pwnam_miss(long i) {
        char name[32];
        struct passwd pw;
        int e;

        snprintf(name, sizeof(name), "nosuch%06ld", i);
        if (mod.getpwnam_r(name, &pw, buf, buflen, &e) != NSS_STATUS_NOTFOUND)
                die("getpwnam_r miss found something");
}

static void op_direct_pwuid_hit(long i) {
        struct passwd pw;
        int e;

        if (mod.getpwuid_r((uid_t) (UID_BASE + i), &pw, buf, buflen, &e) != NSS_STATUS_SUCCESS)
                die("getpwuid_r hit failed");
}

static gid_t *direct_groups;

/* What getgrouplist() asks of a module: the primary group first, then the
 * module appends. */
static void op_direct_grouplist(long i) {
        char name[32];
        long int start = 1, size = 64;
        int e;

        user_name(name, sizeof(name), i);
        direct_groups[0] = (gid_t) (UID_BASE + i);
        if (mod.initgroups_dyn(name, (gid_t) (UID_BASE + i), &start, &size, &direct_groups, 64, &e) !=
            NSS_STATUS_SUCCESS || start != 3 + in_support(i) + in_admin(i))
                die("initgroups_dyn failed");
}

static long enum_count;

static void op_direct_enumerate(long unused) {
        struct passwd pw;
        long n = 0;
        int e;

        mod.setpwent(0);
        while (mod.getpwent_r(&pw, buf, buflen, &e) == NSS_STATUS_SUCCESS)
                n++;
        mod.endpwent();
        enum_count = n;
}

static void op_pwnam_miss(long i) {
        char name[32];
        struct passwd pw, *res = NULL;

        snprintf(name, sizeof(name), "nosuch%06ld", i);
        getpwnam_r(name, &pw, buf, buflen, &res);
        if (res)
                die("getpwnam_r miss found something");
}

static void op_pwuid_hit(long i) {
        struct passwd pw, *res = NULL;

        if (getpwuid_r((uid_t) (UID_BASE + i), &pw, buf, buflen, &res) != 0 || !res)
                die("getpwuid_r hit failed");
}

static void op_grouplist(long i) {
        char name[32];
        gid_t groups[64];
        int n = ELEMENTSOF(groups);

        user_name(name, sizeof(name), i);
        if (getgrouplist(name, (gid_t) (UID_BASE + i), groups, &n) < 0)
                die("getgrouplist: more groups than expected");
        /* Private group, department, member, and maybe support and admin. */
        if (n != 3 + in_support(i) + in_admin(i))
                die("getgrouplist: wrong number of groups");
}

static void op_enumerate(long unused) {
        struct passwd pw, *res;
        long n = 0;

        setpwent();
        while (getpwent_r(&pw, buf, buflen, &res) == 0 && res)
                n++;
        endpwent();
        enum_count = n;
}

static void init_keys(long n) {
        unsigned seed = 12345;

        buf = malloc(buflen);
        if (!buf)
                die("out of memory");
        for (int i = 0; i < N_KEYS; i++)
                keys[i] = (long) (rand_r(&seed) % (unsigned) n);
}

static void *sym(void *dl, const char *name) {
        void *p = dlsym(dl, name);
        if (!p)
                die("the module lacks an entry point");
        return p;
}

static int cmd_direct(long n, const char *module, double budget) {
        void *dl = dlopen(module, RTLD_NOW | RTLD_LOCAL);

        if (!dl)
                die(dlerror());
        mod.getpwnam_r = sym(dl, "_nss_nexalix_getpwnam_r");
        mod.getpwuid_r = sym(dl, "_nss_nexalix_getpwuid_r");
        mod.initgroups_dyn = sym(dl, "_nss_nexalix_initgroups_dyn");
        mod.setpwent = sym(dl, "_nss_nexalix_setpwent");
        mod.getpwent_r = sym(dl, "_nss_nexalix_getpwent_r");
        mod.endpwent = sym(dl, "_nss_nexalix_endpwent");
        direct_groups = malloc(64 * sizeof(gid_t));
        if (!direct_groups)
                die("out of memory");
        init_keys(n);

        printf("pwnam_hit_us=%.3f\n", timed(budget, 10000000, op_direct_pwnam_hit) * 1e6);
        printf("pwnam_miss_us=%.3f\n", timed(budget, 10000000, op_direct_pwnam_miss) * 1e6);
        printf("pwuid_hit_us=%.3f\n", timed(budget, 10000000, op_direct_pwuid_hit) * 1e6);
        printf("grouplist_us=%.3f\n", timed(budget, 10000000, op_direct_grouplist) * 1e6);
        printf("enumerate_ms=%.3f\n", timed(budget, 1000, op_direct_enumerate) * 1e3);
        if (enum_count != n)
                die("enumeration returned a different number of users");
        printf("enumerated=%ld\n", enum_count);
        return 0;
}

static int cmd_lookup(long n, double budget) {
        init_keys(n);

        printf("pwnam_hit_us=%.3f\n", timed(budget, 10000000, op_pwnam_hit) * 1e6);
        printf("pwnam_miss_us=%.3f\n", timed(budget, 10000000, op_pwnam_miss) * 1e6);
        printf("pwuid_hit_us=%.3f\n", timed(budget, 10000000, op_pwuid_hit) * 1e6);
        printf("grouplist_us=%.3f\n", timed(budget, 10000000, op_grouplist) * 1e6);
        printf("enumerate_ms=%.3f\n", timed(budget, 1000, op_enumerate) * 1e3);
        /* The local files of the namespace may add a few entries (root). */
        if (enum_count < n)
                die("enumeration returned fewer users than generated");
        printf("enumerated=%ld\n", enum_count);
        return 0;
}

int main(int argc, char **argv) {
        long n = argc > 2 ? atol(argv[2]) : 0;

        if (argc >= 4 && strcmp(argv[1], "generate") == 0 && n > 0)
                return cmd_generate(n, argv[3]);
        if (argc >= 5 && strcmp(argv[1], "publish") == 0 && n > 0)
                return cmd_publish(n, argv[3], atoi(argv[4]));
        if (argc >= 3 && strcmp(argv[1], "lookup") == 0 && n > 0)
                return cmd_lookup(n, argc > 3 ? atof(argv[3]) : 0.5);
        if (argc >= 4 && strcmp(argv[1], "direct") == 0 && n > 0)
                return cmd_direct(n, argv[3], argc > 4 ? atof(argv[4]) : 0.5);
        fprintf(stderr,
                "usage: %s generate N DIR\n"
                "       %s publish N RUNTIME_DIR REPS\n"
                "       %s lookup N [SECONDS]\n"
                "       %s direct N MODULE [SECONDS]\n", argv[0], argv[0], argv[0], argv[0]);
        return 2;
}
