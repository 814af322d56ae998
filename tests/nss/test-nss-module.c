/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* Unit tests of libnss_nexalix.so.2 through its entry points, loaded with
 * dlopen() as glibc loads it, against snapshots written with the writer API
 * nexalixd uses. Each case runs in its own process with a fresh module and
 * its own runtime directory.
 *
 *     test-nss-module MODULE_PATH [CASE...]
 */

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <lmdb.h>
#include <stdalign.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/stat.h>
#include <time.h>

#include "nss-test.h"
#include "snapshot.h"
#include "snapshot-writer.h"

static const char *module_path;
static char base_dir[1024];
static char runtime_dir[1200];
static nss_module M;

/* ---- Fixtures ---- */

typedef struct fixture_user {
        const char *name;
        uint32_t uid;
        const char *gecos, *home, *shell;
} fixture_user;

static const fixture_user USERS[] = {
        { "alice", 60001, "Alice Liddell", "/home/alice", "/bin/bash" },
        { "bob", 60002, "Bob Builder", "/home/bob", "/bin/sh" },
        { "carol", 60003, "", "/home/carol", "/bin/bash" },
        { "d-long_name-that-is-32-chars-xx", 60004,
          "Dorothea Maximiliana Wolfeschlegelsteinhausenbergerdorff", "/home/d", "/usr/bin/zsh" },
};

#define BIG_GROUP_MEMBERS 500

static char *big_members[BIG_GROUP_MEMBERS + 1];

static void publish_snapshot(const char *gecos_suffix, bool with_extra_user, uint64_t *ret_gen) {
        char *support[] = { "alice", "bob", NULL };
        char *admins[] = { "alice", NULL };
        char *none[] = { NULL };
        char gecos[256];
        snapshot_writer *w;
        uint64_t gen;

        CHECK(snapshot_writer_new(runtime_dir, 8, 8, &w) == 0);
        /* Added out of order on purpose: the writer sorts. */
        for (size_t i = ELEMENTSOF(USERS); i-- > 0;) {
                const fixture_user *u = &USERS[i];
                snprintf(gecos, sizeof(gecos), "%s%s", u->gecos, gecos_suffix);
                CHECK(snapshot_writer_add_user(w, u->name, u->uid, u->uid, gecos, u->home, u->shell) == 0);
                CHECK(snapshot_writer_add_group(w, u->name, u->uid, none) == 0);
        }
        if (with_extra_user) {
                snprintf(gecos, sizeof(gecos), "Erin%s", gecos_suffix);
                CHECK(snapshot_writer_add_user(w, "erin", 60005, 60005, gecos, "/home/erin", "/bin/sh") == 0);
                CHECK(snapshot_writer_add_group(w, "erin", 60005, none) == 0);
        }
        CHECK(snapshot_writer_add_group(w, "acme-support", 70001, support) == 0);
        CHECK(snapshot_writer_add_group(w, "acme-org-admin", 70002, admins) == 0);
        CHECK(snapshot_writer_add_group(w, "acme-empty", 70003, none) == 0);
        if (!big_members[0])
                for (size_t i = 0; i < BIG_GROUP_MEMBERS; i++)
                        CHECK(asprintf(&big_members[i], "u%zu", i) > 0);
        CHECK(snapshot_writer_add_group(w, "acme-all", 70004, big_members) == 0);
        CHECK(snapshot_writer_publish(w, &gen) == 0);
        if (ret_gen)
                *ret_gen = gen;
}

static void path_in_runtime(char *buf, size_t size, const char *name) {
        snprintf(buf, size, "%s/%s", runtime_dir, name);
}

/* A fresh runtime directory for this case and the module loaded against it. */
static void setup(bool with_snapshot) {
        char tmpl[1100];

        snprintf(tmpl, sizeof(tmpl), "%s/case-XXXXXX", base_dir);
        CHECK(mkdtemp(tmpl));
        snprintf(runtime_dir, sizeof(runtime_dir), "%s/run", tmpl);
        if (with_snapshot)
                publish_snapshot("", false, NULL);
        CHECK(setenv("NEXALIX_RUNTIME_DIR", runtime_dir, 1) == 0);
        nss_module_load(module_path, &M);
}

/* Buffers with a guard area behind them, so that a write past buflen is
 * caught even without valgrind (which catches it from the malloc). */
#define GUARD 32

static char *guarded_buffer(size_t size, size_t offset) {
        char *b = malloc(offset + size + GUARD);
        CHECK(b);
        memset(b, 0xA5, offset + size + GUARD);
        return b + offset;
}

static void check_guard(const char *buf, size_t size) {
        for (size_t i = 0; i < GUARD; i++)
                CHECK((unsigned char) buf[size + i] == 0xA5);
}

static bool inside(const void *p, const char *buf, size_t size) {
        return (const char *) p >= buf && (const char *) p < buf + size;
}

static void check_passwd_in_buffer(const struct passwd *pw, const char *buf, size_t size) {
        CHECK(inside(pw->pw_name, buf, size));
        CHECK(inside(pw->pw_passwd, buf, size));
        CHECK(inside(pw->pw_gecos, buf, size));
        CHECK(inside(pw->pw_dir, buf, size));
        CHECK(inside(pw->pw_shell, buf, size));
}

static void check_group_in_buffer(const struct group *gr, const char *buf, size_t size) {
        CHECK(inside(gr->gr_name, buf, size));
        CHECK(inside(gr->gr_passwd, buf, size));
        CHECK(inside(gr->gr_mem, buf, size));
        CHECK((uintptr_t) gr->gr_mem % alignof(char *) == 0);
        for (char **m = gr->gr_mem; *m; m++) {
                CHECK(inside(*m, buf, size));
                CHECK(inside(m + 1, buf, size));
        }
}

static size_t passwd_size(const fixture_user *u, const char *gecos_suffix) {
        return strlen(u->name) + 1 + 2 + strlen(u->gecos) + strlen(gecos_suffix) + 1 +
               strlen(u->home) + 1 + strlen(u->shell) + 1;
}

/* ---- passwd ---- */

static void case_passwd_lookups(void) {
        struct passwd pw;
        char buf[1024];
        int e = 0;

        setup(true);
        for (size_t i = 0; i < ELEMENTSOF(USERS); i++) {
                const fixture_user *u = &USERS[i];

                memset(&pw, 0, sizeof(pw));
                CHECK_EQ_INT(M.getpwnam_r(u->name, &pw, buf, sizeof(buf), &e), NSS_STATUS_SUCCESS);
                CHECK_STREQ(pw.pw_name, u->name);
                CHECK_STREQ(pw.pw_passwd, "x");
                CHECK_EQ_INT(pw.pw_uid, u->uid);
                CHECK_EQ_INT(pw.pw_gid, u->uid);
                CHECK_STREQ(pw.pw_gecos, u->gecos);
                CHECK_STREQ(pw.pw_dir, u->home);
                CHECK_STREQ(pw.pw_shell, u->shell);
                check_passwd_in_buffer(&pw, buf, sizeof(buf));

                memset(&pw, 0, sizeof(pw));
                CHECK_EQ_INT(M.getpwuid_r(u->uid, &pw, buf, sizeof(buf), &e), NSS_STATUS_SUCCESS);
                CHECK_STREQ(pw.pw_name, u->name);
                CHECK_EQ_INT(pw.pw_uid, u->uid);
                CHECK_STREQ(pw.pw_shell, u->shell);
                check_passwd_in_buffer(&pw, buf, sizeof(buf));
        }
        CHECK_EQ_INT(M.getpwnam_r("nosuchuser", &pw, buf, sizeof(buf), &e), NSS_STATUS_NOTFOUND);
        CHECK_EQ_INT(M.getpwnam_r("acme-support", &pw, buf, sizeof(buf), &e), NSS_STATUS_NOTFOUND);
        CHECK_EQ_INT(M.getpwuid_r(60999, &pw, buf, sizeof(buf), &e), NSS_STATUS_NOTFOUND);
        CHECK_EQ_INT(M.getpwuid_r(0, &pw, buf, sizeof(buf), &e), NSS_STATUS_NOTFOUND);
        CHECK_EQ_INT(M.getpwuid_r((uid_t) -1, &pw, buf, sizeof(buf), &e), NSS_STATUS_NOTFOUND);
}

/* Every buffer size below the need gives TRYAGAIN/ERANGE without writing past
 * the buffer; the exact need succeeds. */
static void case_passwd_erange(void) {
        struct passwd pw;

        setup(true);
        for (size_t i = 0; i < ELEMENTSOF(USERS); i++) {
                const fixture_user *u = &USERS[i];
                size_t need = passwd_size(u, "");

                for (size_t len = 0; len <= need; len++) {
                        for (int by_uid = 0; by_uid <= 1; by_uid++) {
                                char *buf = guarded_buffer(len, 0);
                                enum nss_status s;
                                int e = 0;

                                s = by_uid ? M.getpwuid_r(u->uid, &pw, buf, len, &e)
                                           : M.getpwnam_r(u->name, &pw, buf, len, &e);
                                if (len < need) {
                                        CHECK_EQ_INT(s, NSS_STATUS_TRYAGAIN);
                                        CHECK_EQ_INT(e, ERANGE);
                                } else {
                                        CHECK_EQ_INT(s, NSS_STATUS_SUCCESS);
                                        CHECK_STREQ(pw.pw_name, u->name);
                                        CHECK_STREQ(pw.pw_shell, u->shell);
                                        check_passwd_in_buffer(&pw, buf, len);
                                }
                                check_guard(buf, len);
                                free(buf);
                        }
                }
        }
}

/* ---- group ---- */

static void check_group_members(const struct group *gr, char *const *expected) {
        size_t n = 0;

        for (; gr->gr_mem[n]; n++) {
                CHECK(expected[n]);
                CHECK_STREQ(gr->gr_mem[n], expected[n]);
        }
        CHECK(!expected[n]);
}

static void case_group_lookups(void) {
        char *support[] = { "alice", "bob", NULL }, *none[] = { NULL };
        struct group gr;
        char buf[16384];
        int e = 0;

        setup(true);
        CHECK_EQ_INT(M.getgrnam_r("acme-support", &gr, buf, sizeof(buf), &e), NSS_STATUS_SUCCESS);
        CHECK_STREQ(gr.gr_name, "acme-support");
        CHECK_STREQ(gr.gr_passwd, "x");
        CHECK_EQ_INT(gr.gr_gid, 70001);
        check_group_members(&gr, support);
        check_group_in_buffer(&gr, buf, sizeof(buf));

        CHECK_EQ_INT(M.getgrgid_r(60001, &gr, buf, sizeof(buf), &e), NSS_STATUS_SUCCESS);
        CHECK_STREQ(gr.gr_name, "alice");
        check_group_members(&gr, none);

        CHECK_EQ_INT(M.getgrgid_r(70003, &gr, buf, sizeof(buf), &e), NSS_STATUS_SUCCESS);
        CHECK_STREQ(gr.gr_name, "acme-empty");
        check_group_members(&gr, none);

        CHECK_EQ_INT(M.getgrgid_r(70004, &gr, buf, sizeof(buf), &e), NSS_STATUS_SUCCESS);
        CHECK_STREQ(gr.gr_name, "acme-all");
        check_group_members(&gr, big_members);
        check_group_in_buffer(&gr, buf, sizeof(buf));

        CHECK_EQ_INT(M.getgrnam_r("acme-nothing", &gr, buf, sizeof(buf), &e), NSS_STATUS_NOTFOUND);
        CHECK_EQ_INT(M.getgrgid_r(12345, &gr, buf, sizeof(buf), &e), NSS_STATUS_NOTFOUND);
        CHECK_EQ_INT(M.getgrgid_r((gid_t) -1, &gr, buf, sizeof(buf), &e), NSS_STATUS_NOTFOUND);
}

static size_t group_need(size_t offset, size_t n_members, size_t strings) {
        size_t pad = (alignof(char *) - offset % alignof(char *)) % alignof(char *);
        return pad + (n_members + 1) * sizeof(char *) + strings;
}

/* At every misalignment of the caller's buffer: ERANGE below the need,
 * success at it, gr_mem aligned and inside the buffer. */
static void case_group_erange(void) {
        static const struct {
                const char *name;
                gid_t gid;
                size_t n_members, strings;
        } groups[] = {
                { "acme-support", 70001, 2, sizeof("acme-support") + 2 + sizeof("alice") + sizeof("bob") },
                { "acme-empty", 70003, 0, sizeof("acme-empty") + 2 },
                { "alice", 60001, 0, sizeof("alice") + 2 },
        };
        struct group gr;

        setup(true);
        for (size_t g = 0; g < ELEMENTSOF(groups); g++)
                for (size_t offset = 0; offset < alignof(char *); offset++) {
                        /* The base malloc() result is aligned; offset misaligns it. */
                        size_t need = group_need(offset, groups[g].n_members, groups[g].strings);

                        for (size_t len = 0; len <= need; len++)
                                for (int by_gid = 0; by_gid <= 1; by_gid++) {
                                        char *buf = guarded_buffer(len, offset);
                                        enum nss_status s;
                                        int e = 0;

                                        s = by_gid ? M.getgrgid_r(groups[g].gid, &gr, buf, len, &e)
                                                   : M.getgrnam_r(groups[g].name, &gr, buf, len, &e);
                                        if (len < need) {
                                                CHECK_EQ_INT(s, NSS_STATUS_TRYAGAIN);
                                                CHECK_EQ_INT(e, ERANGE);
                                        } else {
                                                CHECK_EQ_INT(s, NSS_STATUS_SUCCESS);
                                                CHECK_STREQ(gr.gr_name, groups[g].name);
                                                check_group_in_buffer(&gr, buf, len);
                                        }
                                        check_guard(buf, len);
                                        free(buf - offset);
                                }
                }

        /* The big group: just below and at the need. */
        size_t strings = sizeof("acme-all") + 2;
        for (size_t i = 0; i < BIG_GROUP_MEMBERS; i++)
                strings += strlen(big_members[i]) + 1;
        size_t need = group_need(0, BIG_GROUP_MEMBERS, strings);
        for (size_t len = need - 1; len <= need; len++) {
                char *buf = guarded_buffer(len, 0);
                int e = 0;
                enum nss_status s = M.getgrgid_r(70004, &gr, buf, len, &e);

                if (len < need) {
                        CHECK_EQ_INT(s, NSS_STATUS_TRYAGAIN);
                        CHECK_EQ_INT(e, ERANGE);
                } else {
                        CHECK_EQ_INT(s, NSS_STATUS_SUCCESS);
                        check_group_members(&gr, big_members);
                        check_group_in_buffer(&gr, buf, len);
                }
                check_guard(buf, len);
                free(buf);
        }
}

/* ---- initgroups ---- */

static void case_initgroups(void) {
        long int start, size;
        gid_t *groups;
        int e = 0;

        setup(true);

        /* Growing from a one-element array; the primary group is skipped. */
        size = 1;
        groups = malloc(sizeof(gid_t));
        groups[0] = 60001;
        start = 1;
        CHECK_EQ_INT(M.initgroups_dyn("alice", 60001, &start, &size, &groups, 0, &e), NSS_STATUS_SUCCESS);
        CHECK_EQ_INT(start, 3);
        CHECK(size >= 3);
        CHECK_EQ_INT(groups[0], 60001);
        CHECK_EQ_INT(groups[1], 70001);
        CHECK_EQ_INT(groups[2], 70002);
        free(groups);

        /* Groups another service already added are not added twice. */
        size = 4;
        groups = calloc(4, sizeof(gid_t));
        groups[0] = 60001;
        groups[1] = 70002;
        start = 2;
        CHECK_EQ_INT(M.initgroups_dyn("alice", 60001, &start, &size, &groups, 0, &e), NSS_STATUS_SUCCESS);
        CHECK_EQ_INT(start, 3);
        CHECK_EQ_INT(size, 4);
        CHECK_EQ_INT(groups[2], 70001);
        free(groups);

        /* The limit is a hard cap: no growth beyond it, success. */
        size = 1;
        groups = malloc(sizeof(gid_t));
        groups[0] = 60001;
        start = 1;
        CHECK_EQ_INT(M.initgroups_dyn("alice", 60001, &start, &size, &groups, 2, &e), NSS_STATUS_SUCCESS);
        CHECK_EQ_INT(start, 2);
        CHECK_EQ_INT(size, 2);
        CHECK_EQ_INT(groups[1], 70001);
        free(groups);

        /* The group passed as primary is skipped whatever it is. */
        size = 8;
        groups = calloc(8, sizeof(gid_t));
        start = 0;
        CHECK_EQ_INT(M.initgroups_dyn("bob", 70001, &start, &size, &groups, 0, &e), NSS_STATUS_SUCCESS);
        CHECK_EQ_INT(start, 0);
        CHECK_EQ_INT(M.initgroups_dyn("u7", 1, &start, &size, &groups, 0, &e), NSS_STATUS_SUCCESS);
        CHECK_EQ_INT(start, 1);
        CHECK_EQ_INT(groups[0], 70004);

        /* A user in no member list, and one that does not exist. */
        start = 0;
        CHECK_EQ_INT(M.initgroups_dyn("carol", 60003, &start, &size, &groups, 0, &e), NSS_STATUS_NOTFOUND);
        CHECK_EQ_INT(M.initgroups_dyn("nosuchuser", 1, &start, &size, &groups, 0, &e), NSS_STATUS_NOTFOUND);
        CHECK_EQ_INT(start, 0);
        free(groups);
}

/* ---- Enumeration ---- */

static void case_passwd_enumeration(void) {
        struct passwd pw;
        char big[1024];
        size_t n = 0;
        int e = 0;

        setup(true);
        CHECK_EQ_INT(M.setpwent(0), NSS_STATUS_SUCCESS);
        for (;;) {
                /* Each entry first with a buffer too small: it must come back
                 * on the next call, not be skipped. */
                char tiny[4];
                enum nss_status s = M.getpwent_r(&pw, tiny, sizeof(tiny), &e);
                if (s == NSS_STATUS_NOTFOUND)
                        break;
                CHECK_EQ_INT(s, NSS_STATUS_TRYAGAIN);
                CHECK_EQ_INT(e, ERANGE);
                CHECK_EQ_INT(M.getpwent_r(&pw, tiny, sizeof(tiny), &e), NSS_STATUS_TRYAGAIN);
                CHECK_EQ_INT(M.getpwent_r(&pw, big, sizeof(big), &e), NSS_STATUS_SUCCESS);
                CHECK(n < ELEMENTSOF(USERS));
                /* In uid order, which is the fixture's order. */
                CHECK_STREQ(pw.pw_name, USERS[n].name);
                CHECK_EQ_INT(pw.pw_uid, USERS[n].uid);
                check_passwd_in_buffer(&pw, big, sizeof(big));
                n++;
        }
        CHECK_EQ_INT(n, ELEMENTSOF(USERS));
        CHECK_EQ_INT(M.getpwent_r(&pw, big, sizeof(big), &e), NSS_STATUS_NOTFOUND);
        CHECK_EQ_INT(M.endpwent(), NSS_STATUS_SUCCESS);

        /* setpwent rewinds; getpwent_r without setpwent starts by itself. */
        CHECK_EQ_INT(M.getpwent_r(&pw, big, sizeof(big), &e), NSS_STATUS_SUCCESS);
        CHECK_STREQ(pw.pw_name, "alice");
        CHECK_EQ_INT(M.getpwent_r(&pw, big, sizeof(big), &e), NSS_STATUS_SUCCESS);
        CHECK_STREQ(pw.pw_name, "bob");
        CHECK_EQ_INT(M.setpwent(1), NSS_STATUS_SUCCESS);
        CHECK_EQ_INT(M.getpwent_r(&pw, big, sizeof(big), &e), NSS_STATUS_SUCCESS);
        CHECK_STREQ(pw.pw_name, "alice");
        CHECK_EQ_INT(M.endpwent(), NSS_STATUS_SUCCESS);
        CHECK_EQ_INT(M.endpwent(), NSS_STATUS_SUCCESS);
}

static void case_group_enumeration(void) {
        static const gid_t expected[] = { 60001, 60002, 60003, 60004, 70001, 70002, 70003, 70004 };
        struct group gr;
        size_t n = 0;
        int e = 0;

        setup(true);
        CHECK_EQ_INT(M.setgrent(0), NSS_STATUS_SUCCESS);
        for (;;) {
                char tiny[8], *big = guarded_buffer(16384, 3);
                enum nss_status s = M.getgrent_r(&gr, tiny, sizeof(tiny), &e);
                if (s == NSS_STATUS_NOTFOUND) {
                        free(big - 3);
                        break;
                }
                CHECK_EQ_INT(s, NSS_STATUS_TRYAGAIN);
                CHECK_EQ_INT(e, ERANGE);
                CHECK_EQ_INT(M.getgrent_r(&gr, big, 16384, &e), NSS_STATUS_SUCCESS);
                CHECK(n < ELEMENTSOF(expected));
                CHECK_EQ_INT(gr.gr_gid, expected[n]);
                check_group_in_buffer(&gr, big, 16384);
                check_guard(big, 16384);
                free(big - 3);
                n++;
        }
        CHECK_EQ_INT(n, ELEMENTSOF(expected));
        CHECK_EQ_INT(M.endgrent(), NSS_STATUS_SUCCESS);
}

/* A publication in the middle of an enumeration does not disturb it; the
 * next enumeration sees the new snapshot. */
static void case_enumeration_isolated(void) {
        struct passwd pw;
        char buf[1024];
        size_t n = 1;
        int e = 0;

        setup(true);
        CHECK_EQ_INT(M.setpwent(0), NSS_STATUS_SUCCESS);
        CHECK_EQ_INT(M.getpwent_r(&pw, buf, sizeof(buf), &e), NSS_STATUS_SUCCESS);
        publish_snapshot(" (new)", true, NULL);
        while (M.getpwent_r(&pw, buf, sizeof(buf), &e) == NSS_STATUS_SUCCESS) {
                CHECK(strstr(pw.pw_gecos, "(new)") == NULL);
                n++;
        }
        CHECK_EQ_INT(n, ELEMENTSOF(USERS));
        CHECK_EQ_INT(M.endpwent(), NSS_STATUS_SUCCESS);

        n = 0;
        CHECK_EQ_INT(M.setpwent(0), NSS_STATUS_SUCCESS);
        while (M.getpwent_r(&pw, buf, sizeof(buf), &e) == NSS_STATUS_SUCCESS) {
                CHECK(strstr(pw.pw_gecos, "(new)") != NULL);
                n++;
        }
        CHECK_EQ_INT(n, ELEMENTSOF(USERS) + 1);
        CHECK_EQ_INT(M.endpwent(), NSS_STATUS_SUCCESS);
}

/* ---- errno ---- */

static void case_errno(void) {
        struct passwd pw;
        struct group gr;
        char buf[1024];
        long int start = 0, size = 4;
        gid_t *groups = calloc(4, sizeof(gid_t));
        int e;

        setup(true);
        /* The first call opens the snapshot: system calls that may set errno. */
        errno = 4242;
        e = 0;
        CHECK_EQ_INT(M.getpwnam_r("alice", &pw, buf, sizeof(buf), &e), NSS_STATUS_SUCCESS);
        CHECK_EQ_INT(errno, 4242);
        CHECK_EQ_INT(e, 0);
        errno = 4243;
        CHECK_EQ_INT(M.getpwnam_r("nosuchuser", &pw, buf, sizeof(buf), &e), NSS_STATUS_NOTFOUND);
        CHECK_EQ_INT(errno, 4243);
        CHECK_EQ_INT(M.getpwnam_r("Not-Valid", &pw, buf, sizeof(buf), &e), NSS_STATUS_NOTFOUND);
        CHECK_EQ_INT(errno, 4243);
        CHECK_EQ_INT(M.getgrgid_r(70001, &gr, buf, sizeof(buf), &e), NSS_STATUS_SUCCESS);
        CHECK_EQ_INT(M.initgroups_dyn("alice", 60001, &start, &size, &groups, 0, &e), NSS_STATUS_SUCCESS);
        CHECK_EQ_INT(M.setgrent(0), NSS_STATUS_SUCCESS);
        CHECK_EQ_INT(M.getgrent_r(&gr, buf, sizeof(buf), &e), NSS_STATUS_SUCCESS);
        CHECK_EQ_INT(M.endgrent(), NSS_STATUS_SUCCESS);
        CHECK_EQ_INT(errno, 4243);
        CHECK_EQ_INT(e, 0);

        /* glibc passes &errno as errnop: ERANGE must survive the restore. */
        errno = 4244;
        CHECK_EQ_INT(M.getpwuid_r(60001, &pw, buf, 3, &errno), NSS_STATUS_TRYAGAIN);
        CHECK_EQ_INT(errno, ERANGE);
        errno = 4244;
        CHECK_EQ_INT(M.getgrnam_r("acme-support", &gr, buf, 3, &errno), NSS_STATUS_TRYAGAIN);
        CHECK_EQ_INT(errno, ERANGE);
        free(groups);
}

/* ---- No snapshot, invalid names ---- */

static const char *const INVALID_NAMES[] = {
        "", "Alice", "1alice", "al ice", "al:ice", "../alice", "alice\n", "-alice",
        "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa" /* 33 */, "al*", "al\xc3\xa9",
};

static void check_invalid_names_notfound(void) {
        struct passwd pw;
        struct group gr;
        char buf[256];
        long int start = 0, size = 1;
        gid_t *groups = calloc(1, sizeof(gid_t));
        int e = 0;

        for (size_t i = 0; i < ELEMENTSOF(INVALID_NAMES); i++) {
                CHECK_EQ_INT(M.getpwnam_r(INVALID_NAMES[i], &pw, buf, sizeof(buf), &e), NSS_STATUS_NOTFOUND);
                CHECK_EQ_INT(M.getgrnam_r(INVALID_NAMES[i], &gr, buf, sizeof(buf), &e), NSS_STATUS_NOTFOUND);
                CHECK_EQ_INT(M.initgroups_dyn(INVALID_NAMES[i], 1, &start, &size, &groups, 0, &e),
                             NSS_STATUS_NOTFOUND);
        }
        CHECK_EQ_INT(M.getpwnam_r(NULL, &pw, buf, sizeof(buf), &e), NSS_STATUS_NOTFOUND);
        free(groups);
}

static bool process_maps_mention(const char *needle) {
        char line[PATH_MAX + 256];
        bool found = false;
        FILE *f = fopen("/proc/self/maps", "re");

        CHECK(f);
        while (fgets(line, sizeof(line), f))
                if (strstr(line, needle))
                        found = true;
        fclose(f);
        return found;
}

static bool process_has_fd_to(const char *needle) {
        DIR *d = opendir("/proc/self/fd");
        struct dirent *de;
        bool found = false;

        CHECK(d);
        while ((de = readdir(d))) {
                char link[PATH_MAX], target[PATH_MAX];
                ssize_t n;

                snprintf(link, sizeof(link), "/proc/self/fd/%s", de->d_name);
                n = readlink(link, target, sizeof(target) - 1);
                if (n < 0)
                        continue;
                target[n] = '\0';
                if (strstr(target, needle))
                        found = true;
        }
        closedir(d);
        return found;
}

/* With a snapshot present, invalid names answer NOTFOUND and the module does
 * not even open it (had it opened it, the map would show). */
static void case_invalid_names_untouched(void) {
        struct passwd pw;
        char buf[256];
        int e = 0;

        setup(true);
        check_invalid_names_notfound();
        CHECK(!process_maps_mention(SNAPSHOT_FILE));
        CHECK(!process_maps_mention(SNAPSHOT_GENERATION_FILE));
        CHECK(!process_has_fd_to(SNAPSHOT_FILE));
        /* Positive control: a valid name does open it. */
        CHECK_EQ_INT(M.getpwnam_r("alice", &pw, buf, sizeof(buf), &e), NSS_STATUS_SUCCESS);
        CHECK(process_maps_mention(SNAPSHOT_FILE));
        CHECK(process_maps_mention(SNAPSHOT_GENERATION_FILE));
}

static double now_sec(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (double) ts.tv_sec + (double) ts.tv_nsec / 1e9;
}

/* No snapshot: UNAVAIL at once from every function, errno-style ENOENT. */
static void case_no_snapshot(void) {
        struct passwd pw;
        struct group gr;
        char buf[256];
        long int start = 0, size = 1;
        gid_t *groups = calloc(1, sizeof(gid_t));
        double t0;
        int e;

        setup(false);
        /* Invalid names still say NOTFOUND: they never reach the snapshot. */
        check_invalid_names_notfound();

        t0 = now_sec();
        for (int i = 0; i < 2000; i++) {
                e = 0;
                CHECK_EQ_INT(M.getpwnam_r("alice", &pw, buf, sizeof(buf), &e), NSS_STATUS_UNAVAIL);
                CHECK_EQ_INT(e, ENOENT);
                e = 0;
                CHECK_EQ_INT(M.getpwuid_r(60001, &pw, buf, sizeof(buf), &e), NSS_STATUS_UNAVAIL);
                CHECK_EQ_INT(e, ENOENT);
                e = 0;
                CHECK_EQ_INT(M.getgrnam_r("alice", &gr, buf, sizeof(buf), &e), NSS_STATUS_UNAVAIL);
                CHECK_EQ_INT(e, ENOENT);
                e = 0;
                CHECK_EQ_INT(M.getgrgid_r(60001, &gr, buf, sizeof(buf), &e), NSS_STATUS_UNAVAIL);
                CHECK_EQ_INT(e, ENOENT);
                e = 0;
                CHECK_EQ_INT(M.initgroups_dyn("alice", 1, &start, &size, &groups, 0, &e), NSS_STATUS_UNAVAIL);
                CHECK_EQ_INT(e, ENOENT);
        }
        /* 10,000 lookups; each is a failed open() or two, far below a second
         * even under valgrind. A module that waited or retried would not be. */
        CHECK(now_sec() - t0 < 5.0);
        CHECK_EQ_INT(M.setpwent(0), NSS_STATUS_UNAVAIL);
        CHECK_EQ_INT(M.getpwent_r(&pw, buf, sizeof(buf), &e), NSS_STATUS_UNAVAIL);
        CHECK_EQ_INT(M.endpwent(), NSS_STATUS_SUCCESS);
        CHECK_EQ_INT(M.setgrent(0), NSS_STATUS_UNAVAIL);
        CHECK_EQ_INT(M.getgrent_r(&gr, buf, sizeof(buf), &e), NSS_STATUS_UNAVAIL);
        CHECK_EQ_INT(M.endgrent(), NSS_STATUS_SUCCESS);

        /* The first publication is seen by the very next lookup. */
        publish_snapshot("", false, NULL);
        CHECK_EQ_INT(M.getpwnam_r("alice", &pw, buf, sizeof(buf), &e), NSS_STATUS_SUCCESS);
        /* And the one after, without waiting for the safety check. */
        publish_snapshot(" v2", false, NULL);
        CHECK_EQ_INT(M.getpwnam_r("alice", &pw, buf, sizeof(buf), &e), NSS_STATUS_SUCCESS);
        CHECK_STREQ(pw.pw_gecos, "Alice Liddell v2");
        free(groups);
}

/* ---- Freshness ---- */

static void case_fresh_after_publish(void) {
        struct passwd pw;
        char buf[1024], expected[64];
        int e = 0;

        setup(true);
        CHECK_EQ_INT(M.getpwnam_r("alice", &pw, buf, sizeof(buf), &e), NSS_STATUS_SUCCESS);
        CHECK_STREQ(pw.pw_gecos, "Alice Liddell");
        CHECK_EQ_INT(M.getpwnam_r("erin", &pw, buf, sizeof(buf), &e), NSS_STATUS_NOTFOUND);
        for (int i = 0; i < 20; i++) {
                char suffix[16];

                snprintf(suffix, sizeof(suffix), " #%d", i);
                publish_snapshot(suffix, i % 2 == 0, NULL);
                /* No sleep: the lookup right after publish() returned sees it. */
                snprintf(expected, sizeof(expected), "Alice Liddell%s", suffix);
                CHECK_EQ_INT(M.getpwuid_r(60001, &pw, buf, sizeof(buf), &e), NSS_STATUS_SUCCESS);
                CHECK_STREQ(pw.pw_gecos, expected);
                CHECK_EQ_INT(M.getpwnam_r("erin", &pw, buf, sizeof(buf), &e),
                             i % 2 == 0 ? NSS_STATUS_SUCCESS : NSS_STATUS_NOTFOUND);
        }
}

/* Polls a lookup until it gives the expected gecos (or status), for up to
 * `timeout` seconds; returns the time it took. */
static double wait_for_gecos(const char *gecos, enum nss_status status, double timeout) {
        struct passwd pw;
        char buf[1024];
        double t0 = now_sec();
        int e = 0;

        for (;;) {
                enum nss_status s = M.getpwnam_r("alice", &pw, buf, sizeof(buf), &e);
                if (s == status && (s != NSS_STATUS_SUCCESS || strcmp(pw.pw_gecos, gecos) == 0))
                        return now_sec() - t0;
                CHECK(now_sec() - t0 < timeout);
                usleep(20 * 1000);
        }
}

/* nss.gen deleted and recreated: readers mapped the old one, so only the
 * once-a-second safety check can notice; it must. */
static void case_generation_file_recreated(void) {
        char gen_path[PATH_MAX];
        struct passwd pw;
        char buf[1024];
        uint64_t g1, g2;
        int e = 0;

        setup(false);
        publish_snapshot("", false, &g1);
        CHECK_EQ_INT(M.getpwnam_r("alice", &pw, buf, sizeof(buf), &e), NSS_STATUS_SUCCESS);
        path_in_runtime(gen_path, sizeof(gen_path), SNAPSHOT_GENERATION_FILE);
        CHECK(unlink(gen_path) == 0);
        publish_snapshot(" recreated", false, &g2);
        /* The new counter carries on from the snapshot that was in place. */
        CHECK_EQ_INT(g2, g1 + 1);
        wait_for_gecos("Alice Liddell recreated", NSS_STATUS_SUCCESS, 3.0);
        /* And from then on the new counter file drives freshness again. */
        publish_snapshot(" again", false, NULL);
        CHECK_EQ_INT(M.getpwnam_r("alice", &pw, buf, sizeof(buf), &e), NSS_STATUS_SUCCESS);
        CHECK_STREQ(pw.pw_gecos, "Alice Liddell again");
}

/* The snapshot removed (say, /run wiped by hand): answer like a process
 * started now would, UNAVAIL, within the safety-check interval. */
static void case_snapshot_removed(void) {
        char path[PATH_MAX];
        struct passwd pw;
        char buf[1024];
        int e = 0;

        setup(true);
        CHECK_EQ_INT(M.getpwnam_r("alice", &pw, buf, sizeof(buf), &e), NSS_STATUS_SUCCESS);
        path_in_runtime(path, sizeof(path), SNAPSHOT_FILE);
        CHECK(unlink(path) == 0);
        wait_for_gecos(NULL, NSS_STATUS_UNAVAIL, 3.0);
        publish_snapshot(" back", false, NULL);
        CHECK_EQ_INT(M.getpwnam_r("alice", &pw, buf, sizeof(buf), &e), NSS_STATUS_SUCCESS);
        CHECK_STREQ(pw.pw_gecos, "Alice Liddell back");
}

/* A snapshot replaced behind the writer's back (copied into place by hand,
 * no counter bump): the inode check notices within the interval. */
static void case_snapshot_replaced_by_hand(void) {
        char path[PATH_MAX], saved[PATH_MAX], cmd[3 * PATH_MAX];
        struct passwd pw;
        char buf[1024];
        int e = 0;

        setup(true);
        path_in_runtime(path, sizeof(path), SNAPSHOT_FILE);
        snprintf(saved, sizeof(saved), "%s.saved", runtime_dir);
        publish_snapshot(" by hand", false, NULL);
        snprintf(cmd, sizeof(cmd), "cp '%s' '%s'", path, saved);
        CHECK(system(cmd) == 0);
        publish_snapshot("", false, NULL);
        CHECK_EQ_INT(M.getpwnam_r("alice", &pw, buf, sizeof(buf), &e), NSS_STATUS_SUCCESS);
        CHECK_STREQ(pw.pw_gecos, "Alice Liddell");
        CHECK(rename(saved, path) == 0);
        wait_for_gecos("Alice Liddell by hand", NSS_STATUS_SUCCESS, 3.0);
}

/* ---- Descriptors ---- */

/* Descriptors the test inherited are none of the module's business. */
static bool inherited[1024];

static void note_inherited_fds(void) {
        DIR *d = opendir("/proc/self/fd");
        struct dirent *de;

        CHECK(d);
        while ((de = readdir(d))) {
                int fd = atoi(de->d_name);
                if (de->d_name[0] != '.' && fd >= 0 && fd < (int) ELEMENTSOF(inherited) &&
                    fd != dirfd(d))
                        inherited[fd] = true;
        }
        closedir(d);
}

static void case_cloexec(void) {
        struct passwd pw;
        struct group gr;
        char buf[16384];
        int e = 0, n_checked = 0;
        DIR *d;
        struct dirent *de;

        note_inherited_fds();
        setup(true);
        CHECK_EQ_INT(M.getpwnam_r("alice", &pw, buf, sizeof(buf), &e), NSS_STATUS_SUCCESS);
        CHECK_EQ_INT(M.setgrent(0), NSS_STATUS_SUCCESS);
        CHECK_EQ_INT(M.getgrent_r(&gr, buf, sizeof(buf), &e), NSS_STATUS_SUCCESS);
        publish_snapshot(" 2", false, NULL);
        CHECK_EQ_INT(M.getpwnam_r("alice", &pw, buf, sizeof(buf), &e), NSS_STATUS_SUCCESS);

        CHECK(process_has_fd_to(SNAPSHOT_FILE));
        d = opendir("/proc/self/fd");
        CHECK(d);
        while ((de = readdir(d))) {
                int fd = atoi(de->d_name), flags;

                if (de->d_name[0] == '.' || fd == dirfd(d) ||
                    (fd < (int) ELEMENTSOF(inherited) && inherited[fd]))
                        continue;
                flags = fcntl(fd, F_GETFD);
                CHECK(flags >= 0);
                if (!(flags & FD_CLOEXEC)) {
                        char link[64], target[PATH_MAX] = "";
                        snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
                        CHECK(readlink(link, target, sizeof(target) - 1) >= 0);
                        fprintf(stderr, "fd %d (%s) is not close-on-exec\n", fd, target);
                        exit(1);
                }
                n_checked++;
        }
        closedir(d);
        CHECK(n_checked >= 1);
        CHECK_EQ_INT(M.endgrent(), NSS_STATUS_SUCCESS);
}

/* ---- Damaged and foreign files ---- */

static void write_file(const char *path, const void *data, size_t size) {
        FILE *f = fopen(path, "we");
        CHECK(f);
        CHECK(fwrite(data, 1, size, f) == size);
        CHECK(fclose(f) == 0);
}

static void check_all_unavail(void) {
        struct passwd pw;
        struct group gr;
        char buf[1024];
        int e = 0;

        CHECK_EQ_INT(M.getpwnam_r("alice", &pw, buf, sizeof(buf), &e), NSS_STATUS_UNAVAIL);
        CHECK_EQ_INT(M.getpwuid_r(60001, &pw, buf, sizeof(buf), &e), NSS_STATUS_UNAVAIL);
        CHECK_EQ_INT(M.getgrgid_r(70001, &gr, buf, sizeof(buf), &e), NSS_STATUS_UNAVAIL);
        CHECK_EQ_INT(M.setpwent(0), NSS_STATUS_UNAVAIL);
}

static void case_garbage_file(void) {
        char path[PATH_MAX], junk[8192];

        setup(false);
        CHECK(mkdir(runtime_dir, 0755) == 0);
        path_in_runtime(path, sizeof(path), SNAPSHOT_FILE);
        write_file(path, "", 0);
        check_all_unavail();
        for (size_t i = 0; i < sizeof(junk); i++)
                junk[i] = (char) (i * 7919 % 251);
        write_file(path, junk, sizeof(junk));
        check_all_unavail();
}

/* A snapshot cut short must be refused, not mapped and read past its end
 * (which would kill the host with SIGBUS). */
static void case_truncated_file(void) {
        char path[PATH_MAX];
        struct stat st;

        setup(true);
        path_in_runtime(path, sizeof(path), SNAPSHOT_FILE);
        CHECK(stat(path, &st) == 0);
        CHECK(truncate(path, st.st_size - 4096) == 0);
        check_all_unavail();
}

/* A snapshot of another format version is refused. */
static void case_other_format_version(void) {
        char path[PATH_MAX];
        MDB_env *env;
        MDB_txn *txn;
        MDB_dbi dbi;
        uint32_t v = SNAPSHOT_FORMAT_VERSION + 1;
        MDB_val k = { .mv_size = 6, .mv_data = "format" }, d = { .mv_size = sizeof(v), .mv_data = &v };

        setup(true);
        path_in_runtime(path, sizeof(path), SNAPSHOT_FILE);
        CHECK(mdb_env_create(&env) == 0);
        CHECK(mdb_env_set_maxdbs(env, 8) == 0);
        CHECK(mdb_env_open(env, path, MDB_NOSUBDIR | MDB_NOLOCK, 0644) == 0);
        CHECK(mdb_txn_begin(env, NULL, 0, &txn) == 0);
        CHECK(mdb_dbi_open(txn, "meta", 0, &dbi) == 0);
        CHECK(mdb_put(txn, dbi, &k, &d, 0) == 0);
        CHECK(mdb_txn_commit(txn) == 0);
        mdb_env_close(env);
        check_all_unavail();
}

/* ---- The writer ---- */

static size_t count_dir_entries(const char *dir) {
        DIR *d = opendir(dir);
        struct dirent *de;
        size_t n = 0;

        CHECK(d);
        while ((de = readdir(d)))
                if (de->d_name[0] != '.' || strncmp(de->d_name, ".nss", 4) == 0)
                        n++;
        closedir(d);
        return n;
}

static void case_writer(void) {
        char gen_path[PATH_MAX], mdb_path[PATH_MAX];
        char *none[] = { NULL }, *bad_member[] = { "Bob", NULL };
        struct stat st, st2;
        snapshot_writer *w;
        uint64_t g1, g2;
        mode_t old_umask;

        setup(false);
        path_in_runtime(gen_path, sizeof(gen_path), SNAPSHOT_GENERATION_FILE);
        path_in_runtime(mdb_path, sizeof(mdb_path), SNAPSHOT_FILE);

        /* Modes do not depend on the daemon's umask. */
        old_umask = umask(077);
        publish_snapshot("", false, &g1);
        umask(old_umask);
        CHECK(stat(runtime_dir, &st) == 0);
        CHECK_EQ_INT(st.st_mode & 07777, 0755);
        CHECK(stat(mdb_path, &st) == 0);
        CHECK_EQ_INT(st.st_mode & 07777, 0644);
        CHECK(stat(gen_path, &st) == 0);
        CHECK_EQ_INT(st.st_mode & 07777, 0644);
        CHECK_EQ_INT(g1, 1);
        CHECK_EQ_INT(count_dir_entries(runtime_dir), 2);

        /* Generations count up by one; nss.gen is the same file throughout. */
        publish_snapshot("", false, &g2);
        CHECK_EQ_INT(g2, g1 + 1);
        CHECK(stat(gen_path, &st2) == 0);
        CHECK_EQ_INT(st.st_ino, st2.st_ino);

        /* Rejected records, and no temporary file left behind. */
        CHECK(snapshot_writer_new(runtime_dir, 0, 0, &w) == 0);
        CHECK_EQ_INT(count_dir_entries(runtime_dir), 3);
        CHECK_EQ_INT(snapshot_writer_add_user(w, "Alice", 1000, 1000, "", "/", "/bin/sh"), -EINVAL);
        CHECK_EQ_INT(snapshot_writer_add_user(w, "alice", 1000, 1000, "A:B", "/", "/bin/sh"), -EINVAL);
        CHECK_EQ_INT(snapshot_writer_add_user(w, "alice", 1000, 1000, "A", "/ho\nme", "/bin/sh"), -EINVAL);
        CHECK_EQ_INT(snapshot_writer_add_user(w, "alice", (uint32_t) -1, 1000, "A", "/", "/bin/sh"), -EINVAL);
        CHECK_EQ_INT(snapshot_writer_add_group(w, "acme-x", 7000, bad_member), -EINVAL);
        CHECK_EQ_INT(snapshot_writer_add_group(w, "acme x", 7000, none), -EINVAL);
        CHECK(snapshot_writer_free(w) == NULL);
        CHECK_EQ_INT(count_dir_entries(runtime_dir), 2);

        /* Leftovers of a crashed publication are cleaned up at start. */
        char stale[PATH_MAX];
        snprintf(stale, sizeof(stale), "%s/.nss.mdb.AbC123", runtime_dir);
        write_file(stale, "partial", 7);
        CHECK_EQ_INT(count_dir_entries(runtime_dir), 3);
        CHECK_EQ_INT(snapshot_writer_remove_stale(runtime_dir), 1);
        CHECK_EQ_INT(count_dir_entries(runtime_dir), 2);
        CHECK_EQ_INT(snapshot_writer_remove_stale("/nonexistent/run"), 0);

        /* Duplicates fail the publication, leave the published snapshot and
         * the counter alone, and remove the temporary file. */
        CHECK(snapshot_writer_new(runtime_dir, 0, 0, &w) == 0);
        CHECK(snapshot_writer_add_user(w, "alice", 1000, 1000, "", "/", "/bin/sh") == 0);
        CHECK(snapshot_writer_add_user(w, "bob", 1000, 1000, "", "/", "/bin/sh") == 0);
        CHECK_EQ_INT(snapshot_writer_publish(w, NULL), -EEXIST);
        CHECK(snapshot_writer_new(runtime_dir, 0, 0, &w) == 0);
        CHECK(snapshot_writer_add_user(w, "alice", 1000, 1000, "", "/", "/bin/sh") == 0);
        CHECK(snapshot_writer_add_user(w, "alice", 1001, 1001, "", "/", "/bin/sh") == 0);
        CHECK_EQ_INT(snapshot_writer_publish(w, NULL), -EEXIST);
        CHECK(snapshot_writer_new(runtime_dir, 0, 0, &w) == 0);
        CHECK(snapshot_writer_add_group(w, "alice", 1000, none) == 0);
        CHECK(snapshot_writer_add_group(w, "alice", 1001, none) == 0);
        CHECK_EQ_INT(snapshot_writer_publish(w, NULL), -EEXIST);
        CHECK_EQ_INT(count_dir_entries(runtime_dir), 2);
        CHECK(snapshot_writer_new(runtime_dir, 0, 0, &w) == 0);
        CHECK(snapshot_writer_publish(w, &g2) == 0);
        CHECK_EQ_INT(g2, g1 + 2);

        /* An empty snapshot is a valid one: everything NOTFOUND, not UNAVAIL. */
        struct passwd pw;
        struct group gr;
        char buf[256];
        int e = 0;
        CHECK_EQ_INT(M.getpwnam_r("alice", &pw, buf, sizeof(buf), &e), NSS_STATUS_NOTFOUND);
        CHECK_EQ_INT(M.setpwent(0), NSS_STATUS_SUCCESS);
        CHECK_EQ_INT(M.getpwent_r(&pw, buf, sizeof(buf), &e), NSS_STATUS_NOTFOUND);
        CHECK_EQ_INT(M.endpwent(), NSS_STATUS_SUCCESS);
        CHECK_EQ_INT(M.setgrent(0), NSS_STATUS_SUCCESS);
        CHECK_EQ_INT(M.getgrent_r(&gr, buf, sizeof(buf), &e), NSS_STATUS_NOTFOUND);
        CHECK_EQ_INT(M.endgrent(), NSS_STATUS_SUCCESS);
}

/* How the writer stores groups: private groups (name = user, gid = uid =
 * the user's gid, no members) ride on the user record, anything else is a
 * group record; readers must not be able to tell the difference. */
static void case_group_storage(void) {
        char *none[] = { NULL }, *b_members[] = { "a", NULL }, *staff[] = { "c", NULL };
        char *mid[] = { "d", "a", "ghost", NULL }, *dup[] = { "a", "a", NULL };
        struct group gr;
        char buf[1024];
        long int start, size;
        gid_t *groups;
        snapshot_writer *w;
        int e = 0;

        setup(false);
        CHECK(snapshot_writer_new(runtime_dir, 0, 0, &w) == 0);
        CHECK(snapshot_writer_add_user(w, "a", 1000, 1000, "A", "/a", "/bin/sh") == 0);
        CHECK(snapshot_writer_add_user(w, "b", 1001, 1001, "B", "/b", "/bin/sh") == 0);
        CHECK(snapshot_writer_add_user(w, "c", 1002, 500, "C", "/c", "/bin/sh") == 0);
        CHECK(snapshot_writer_add_user(w, "d", 1003, 1003, "D", "/d", "/bin/sh") == 0);
        CHECK(snapshot_writer_add_group(w, "a", 1000, none) == 0);       /* private */
        CHECK(snapshot_writer_add_group(w, "b", 1001, b_members) == 0);  /* has members */
        CHECK(snapshot_writer_add_group(w, "c", 1002, none) == 0);       /* gid != user's gid */
        CHECK(snapshot_writer_add_group(w, "staff", 500, staff) == 0);
        CHECK(snapshot_writer_add_group(w, "x-mid", 999, mid) == 0);
        CHECK(snapshot_writer_add_group(w, "zeta", 5, dup) == 0);        /* a listed twice */
        /* No private group for d. */
        CHECK(snapshot_writer_publish(w, NULL) == 0);

        CHECK_EQ_INT(M.getgrgid_r(1000, &gr, buf, sizeof(buf), &e), NSS_STATUS_SUCCESS);
        CHECK_STREQ(gr.gr_name, "a");
        CHECK(gr.gr_mem[0] == NULL);
        check_group_in_buffer(&gr, buf, sizeof(buf));
        CHECK_EQ_INT(M.getgrnam_r("a", &gr, buf, sizeof(buf), &e), NSS_STATUS_SUCCESS);
        CHECK_EQ_INT(gr.gr_gid, 1000);
        CHECK_EQ_INT(M.getgrgid_r(1001, &gr, buf, sizeof(buf), &e), NSS_STATUS_SUCCESS);
        CHECK_STREQ(gr.gr_name, "b");
        CHECK_STREQ(gr.gr_mem[0], "a");
        CHECK(gr.gr_mem[1] == NULL);
        CHECK_EQ_INT(M.getgrnam_r("c", &gr, buf, sizeof(buf), &e), NSS_STATUS_SUCCESS);
        CHECK_EQ_INT(gr.gr_gid, 1002);
        CHECK_EQ_INT(M.getgrnam_r("d", &gr, buf, sizeof(buf), &e), NSS_STATUS_NOTFOUND);
        CHECK_EQ_INT(M.getgrgid_r(1003, &gr, buf, sizeof(buf), &e), NSS_STATUS_NOTFOUND);

        /* Supplementary groups, for users and for a member that is not one. */
        static const struct {
                const char *user;
                gid_t expected[3];
        } ig[] = {
                { "a", { 5, 999, 1001 } },
                { "c", { 500 } },
                { "d", { 999 } },
                { "ghost", { 999 } },
        };
        for (size_t i = 0; i < ELEMENTSOF(ig); i++) {
                size_t n = 0;

                size = 1;
                start = 0;
                groups = malloc(sizeof(gid_t));
                CHECK_EQ_INT(M.initgroups_dyn(ig[i].user, 99999, &start, &size, &groups, 0, &e),
                             NSS_STATUS_SUCCESS);
                while (n < 3 && ig[i].expected[n])
                        n++;
                CHECK_EQ_INT(start, n);
                for (size_t j = 0; j < n; j++)
                        CHECK_EQ_INT(groups[j], ig[i].expected[j]);
                free(groups);
        }
        start = 0;
        size = 1;
        groups = malloc(sizeof(gid_t));
        CHECK_EQ_INT(M.initgroups_dyn("b", 1001, &start, &size, &groups, 0, &e), NSS_STATUS_NOTFOUND);
        free(groups);

        /* Enumeration: both kinds, in gid order. */
        static const gid_t order[] = { 5, 500, 999, 1000, 1001, 1002 };
        size_t n = 0;
        enum nss_status st;
        CHECK_EQ_INT(M.setgrent(0), NSS_STATUS_SUCCESS);
        while ((st = M.getgrent_r(&gr, buf, sizeof(buf), &e)) == NSS_STATUS_SUCCESS) {
                CHECK(n < ELEMENTSOF(order));
                CHECK_EQ_INT(gr.gr_gid, order[n]);
                n++;
        }
        CHECK_EQ_INT(st, NSS_STATUS_NOTFOUND);
        CHECK_EQ_INT(n, ELEMENTSOF(order));
        /* Past the end it stays at the end. */
        CHECK_EQ_INT(M.getgrent_r(&gr, buf, sizeof(buf), &e), NSS_STATUS_NOTFOUND);
        CHECK_EQ_INT(M.endgrent(), NSS_STATUS_SUCCESS);

        /* Names and gids are unique across both kinds. */
        CHECK(snapshot_writer_new(runtime_dir, 0, 0, &w) == 0);
        CHECK(snapshot_writer_add_user(w, "a", 1000, 1000, "A", "/a", "/bin/sh") == 0);
        CHECK(snapshot_writer_add_group(w, "a", 1000, none) == 0);
        CHECK(snapshot_writer_add_group(w, "a", 7000, b_members) == 0);
        CHECK_EQ_INT(snapshot_writer_publish(w, NULL), -EEXIST);
        CHECK(snapshot_writer_new(runtime_dir, 0, 0, &w) == 0);
        CHECK(snapshot_writer_add_user(w, "a", 1000, 1000, "A", "/a", "/bin/sh") == 0);
        CHECK(snapshot_writer_add_group(w, "a", 1000, none) == 0);
        CHECK(snapshot_writer_add_group(w, "other", 1000, none) == 0);
        CHECK_EQ_INT(snapshot_writer_publish(w, NULL), -EEXIST);
        /* A group may share a name with a user that has no private group. */
        CHECK(snapshot_writer_new(runtime_dir, 0, 0, &w) == 0);
        CHECK(snapshot_writer_add_user(w, "a", 1000, 1000, "A", "/a", "/bin/sh") == 0);
        CHECK(snapshot_writer_add_group(w, "a", 7000, b_members) == 0);
        CHECK(snapshot_writer_publish(w, NULL) == 0);
        CHECK_EQ_INT(M.getgrnam_r("a", &gr, buf, sizeof(buf), &e), NSS_STATUS_SUCCESS);
        CHECK_EQ_INT(gr.gr_gid, 7000);
        CHECK_EQ_INT(M.getgrgid_r(1000, &gr, buf, sizeof(buf), &e), NSS_STATUS_NOTFOUND);
}

/* The reader API directly: the views it hands out. */
static void case_reader_api(void) {
        char mdb_path[PATH_MAX];
        snapshot *s;
        snapshot_txn t;
        snapshot_user u;
        snapshot_group g;
        snapshot_cursor *c;
        const void *gids;
        size_t n;

        setup(true);
        path_in_runtime(mdb_path, sizeof(mdb_path), SNAPSHOT_FILE);
        CHECK(snapshot_open(mdb_path, NULL, &s) == 0);
        CHECK_EQ_INT(snapshot_get_generation(s), 1);
        CHECK(snapshot_txn_begin(s, &t) == 0);
        CHECK(snapshot_get_user_by_name(&t, "bob", &u) == 0);
        CHECK_EQ_INT(u.uid, 60002);
        CHECK_EQ_INT(u.name_len, 3);
        /* The private group rides on the user record, with the gids. */
        CHECK(u.private_group);
        CHECK_EQ_INT(u.n_gids, 1);
        CHECK_EQ_INT(snapshot_gid_at(u.gids, 0), 70001);
        CHECK_EQ_INT(u.gecos_len, strlen("Bob Builder"));
        CHECK_EQ_INT(snapshot_get_user_by_name(&t, "zed", &u), -ENOENT);
        CHECK_EQ_INT(snapshot_get_user_by_uid(&t, 1, &u), -ENOENT);
        CHECK(snapshot_get_group_by_name(&t, "acme-support", &g) == 0);
        CHECK_EQ_INT(g.n_members, 2);
        CHECK_EQ_INT(g.members_size, sizeof("alice") + sizeof("bob"));
        CHECK(snapshot_get_user_groups(&t, "alice", &gids, &n) == 0);
        CHECK_EQ_INT(n, 2);
        CHECK_EQ_INT(snapshot_gid_at(gids, 0), 70001);
        CHECK_EQ_INT(snapshot_gid_at(gids, 1), 70002);
        CHECK_EQ_INT(snapshot_get_user_groups(&t, "carol", &gids, &n), -ENOENT);
        CHECK(snapshot_cursor_open(&t, SNAPSHOT_GROUPS, &c) == 0);
        CHECK(snapshot_cursor_get_group(c, SNAPSHOT_FIRST, &g) == 0);
        CHECK_EQ_INT(g.gid, 60001);
        CHECK(snapshot_cursor_get_group(c, SNAPSHOT_CURRENT, &g) == 0);
        CHECK_EQ_INT(g.gid, 60001);
        CHECK_EQ_INT(snapshot_cursor_get_user(c, SNAPSHOT_NEXT, &u), -EINVAL);
        snapshot_cursor_close(c);
        snapshot_txn_end(&t);
        snapshot_close(s);
        CHECK_EQ_INT(snapshot_open("/nonexistent/nss.mdb", NULL, &s), -ENOENT);
}

static const struct {
        const char *name;
        void (*fn)(void);
} CASES[] = {
        { "passwd-lookups", case_passwd_lookups },
        { "passwd-erange", case_passwd_erange },
        { "group-lookups", case_group_lookups },
        { "group-erange", case_group_erange },
        { "initgroups", case_initgroups },
        { "passwd-enumeration", case_passwd_enumeration },
        { "group-enumeration", case_group_enumeration },
        { "enumeration-isolated", case_enumeration_isolated },
        { "errno", case_errno },
        { "invalid-names-untouched", case_invalid_names_untouched },
        { "no-snapshot", case_no_snapshot },
        { "fresh-after-publish", case_fresh_after_publish },
        { "generation-file-recreated", case_generation_file_recreated },
        { "snapshot-removed", case_snapshot_removed },
        { "snapshot-replaced-by-hand", case_snapshot_replaced_by_hand },
        { "cloexec", case_cloexec },
        { "garbage-file", case_garbage_file },
        { "truncated-file", case_truncated_file },
        { "other-format-version", case_other_format_version },
        { "writer", case_writer },
        { "group-storage", case_group_storage },
        { "reader-api", case_reader_api },
};

int main(int argc, char **argv) {
        unsigned passed = 0, failed = 0;

        if (argc < 2) {
                fprintf(stderr, "usage: %s MODULE_PATH [CASE...]\n", argv[0]);
                return 2;
        }
        module_path = argv[1];
        snprintf(base_dir, sizeof(base_dir), "%s/test-nss-module-XXXXXX",
                 getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
        if (!mkdtemp(base_dir)) {
                perror("mkdtemp");
                return 1;
        }
        for (size_t i = 0; i < ELEMENTSOF(CASES); i++) {
                bool selected = argc == 2;

                for (int j = 2; j < argc; j++)
                        if (strcmp(argv[j], CASES[i].name) == 0)
                                selected = true;
                if (!selected)
                        continue;
                if (nss_run_case(CASES[i].name, CASES[i].fn))
                        passed++;
                else
                        failed++;
        }
        /* Keep the directories of a failed run for a look. */
        if (failed == 0) {
                char cmd[PATH_MAX + 16];
                snprintf(cmd, sizeof(cmd), "rm -rf '%s'", base_dir);
                if (system(cmd) != 0)
                        fprintf(stderr, "could not remove %s\n", base_dir);
        } else
                printf("test directories kept in %s\n", base_dir);
        printf("%u passed, %u failed\n", passed, failed);
        return failed == 0 && passed > 0 ? 0 : 1;
}
