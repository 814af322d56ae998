/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The local-account view over files of our own: which names and ids it sees,
 * which lines it skips, and how it follows the files as they change. */

#include "test-util.h"
#include "local-accounts.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static char dir[] = "/tmp/test-local-accounts-XXXXXX";
static char passwd_path[PATH_MAX], group_path[PATH_MAX], subuid_path[PATH_MAX], subgid_path[PATH_MAX];

static void write_file(const char *path, const char *mode, const char *text) {
        FILE *f = fopen(path, mode);

        if (!f || fputs(text, f) < 0 || fclose(f) != 0) {
                fprintf(stderr, "cannot write %s\n", path);
                exit(EXIT_FAILURE);
        }
}

static void remove_files(void) {
        unlink(passwd_path);
        unlink(group_path);
        unlink(subuid_path);
        unlink(subgid_path);
}

static local_accounts_paths test_paths(void) {
        return (local_accounts_paths) { passwd_path, group_path, subuid_path, subgid_path };
}

static void test_passwd_and_group(void) {
        local_accounts_paths paths = test_paths();
        local_accounts *l = NULL;

        write_file(passwd_path, "we",
                   "root:x:0:0:root:/root:/bin/bash\n"
                   "alice:x:1000:1000:Alice:/home/alice:/bin/bash\n"
                   "\n"
                   "# comment:x:1100:1100::/:/bin/sh\n"
                   "nocolon\n"
                   ":x:1101:1101::/:/bin/sh\n"
                   "badid:x:abc:1102::/:/bin/sh\n"
                   "emptyid:x::1103::/:/bin/sh\n"
                   "trailing:x:1104x:1104::/:/bin/sh\n"
                   "negative:x:-1:1105::/:/bin/sh\n"
                   "huge:x:4294967296:1106::/:/bin/sh\n"
                   "huger:x:99999999999999999999999:1107::/:/bin/sh\n"
                   "short:x\n"
                   "noend:x:1108\n"
                   "+nisuser:x:1109:1109::/:/bin/sh\n"
                   "-nisuser2:x:1110:1110::/:/bin/sh\n"
                   "+\n"
                   "maxid:x:4294967295:4294967295::/:/bin/sh\n"
                   "last:x:1111:1111::/:/bin/sh");      /* no newline */
        write_file(group_path, "we",
                   "root:x:0:\n"
                   "wheel:x:10:alice\n"
                   "gbad:x:1x:\n"
                   "+:::\n"
                   "glast:x:2000:");
        /* subuid and subgid do not exist: no ranges. */

        CHECK_INT(local_accounts_new(&paths, &l), 0);
        if (!l)
                return;
        CHECK(local_accounts_generation(l) > 0);

        CHECK(local_accounts_has_name(l, "root"));
        CHECK(local_accounts_has_name(l, "alice"));
        CHECK(local_accounts_has_name(l, "maxid"));
        CHECK(local_accounts_has_name(l, "last"));
        CHECK(local_accounts_has_name(l, "wheel"));
        CHECK(local_accounts_has_name(l, "glast"));
        CHECK(!local_accounts_has_name(l, "bob"));
        CHECK(!local_accounts_has_name(l, ""));
        CHECK(!local_accounts_has_name(l, "al"));
        CHECK(!local_accounts_has_name(l, "alicex"));

        CHECK(local_accounts_has_id(l, 0));
        CHECK(local_accounts_has_id(l, 10));
        CHECK(local_accounts_has_id(l, 1000));
        CHECK(local_accounts_has_id(l, 1111));
        CHECK(local_accounts_has_id(l, 2000));
        CHECK(local_accounts_has_id(l, UINT32_MAX));
        CHECK(!local_accounts_has_id(l, 1));
        CHECK(!local_accounts_has_id(l, 999));

        /* Every malformed line is skipped, name and id alike. */
        CHECK(!local_accounts_has_name(l, "# comment"));
        CHECK(!local_accounts_has_name(l, "nocolon"));
        CHECK(!local_accounts_has_name(l, "badid"));
        CHECK(!local_accounts_has_name(l, "emptyid"));
        CHECK(!local_accounts_has_name(l, "trailing"));
        CHECK(!local_accounts_has_name(l, "negative"));
        CHECK(!local_accounts_has_name(l, "huge"));
        CHECK(!local_accounts_has_name(l, "huger"));
        CHECK(!local_accounts_has_name(l, "short"));
        CHECK(!local_accounts_has_name(l, "noend"));
        CHECK(!local_accounts_has_name(l, "+nisuser"));
        CHECK(!local_accounts_has_name(l, "nisuser"));
        CHECK(!local_accounts_has_name(l, "-nisuser2"));
        CHECK(!local_accounts_has_name(l, "gbad"));
        CHECK(!local_accounts_has_name(l, "+"));
        for (uint32_t id = 1100; id <= 1110; id++)
                CHECK(!local_accounts_has_id(l, id));

        /* The subordinate files do not exist: no ranges. */
        CHECK(!local_accounts_in_subordinate_range(l, 0));
        CHECK(!local_accounts_in_subordinate_range(l, 100000));

        local_accounts_free(l);
        CHECK(!local_accounts_free(NULL));
        remove_files();
}

static void test_missing_files(void) {
        local_accounts_paths paths = test_paths();
        local_accounts_paths no_sub = { passwd_path, group_path, NULL, NULL };
        local_accounts *l = NULL;

        /* A machine may lack any of them: treated as empty. */
        CHECK_INT(local_accounts_new(&paths, &l), 0);
        if (!l)
                return;
        CHECK(!local_accounts_has_name(l, "root"));
        CHECK(!local_accounts_has_id(l, 0));
        CHECK(!local_accounts_in_subordinate_range(l, 0));
        CHECK(!local_accounts_in_subordinate_range(l, 100000));
        CHECK_INT(local_accounts_refresh(l), 0);
        l = local_accounts_free(l);

        /* NULL subordinate paths: none are looked at. */
        write_file(subuid_path, "we", "alice:100000:65536\n");
        CHECK_INT(local_accounts_new(&no_sub, &l), 0);
        if (!l)
                return;
        CHECK(!local_accounts_in_subordinate_range(l, 100000));
        local_accounts_free(l);
        remove_files();
}

static void test_subordinate_ranges(void) {
        local_accounts_paths paths = test_paths();
        local_accounts *l = NULL;

        write_file(subuid_path, "we",
                   "alice:100000:65536\n"
                   "# comment:300000:10\n"
                   "zero:200000:0\n"
                   "letters:abc:10\n"
                   "noend:310000\n"
                   "empty::1000\n"
                   "emptycount:320000:\n"
                   "badcount:330000:xyz\n"
                   "trailing:340000:10x\n"
                   "negstart:-1:10\n"
                   "negcount:350000:-1\n"
                   "bigstart:4294967296:10\n"
                   "bigcount:360000:4294967296\n"
                   "nocolon\n"
                   ":600000:10\n"
                   "\n"
                   "top:4294967290:6\n");
        write_file(subgid_path, "we",
                   "bob:500000:10\n"
                   "wrap:4294967280:100");      /* past the end of uint32, no newline */

        CHECK_INT(local_accounts_new(&paths, &l), 0);
        if (!l)
                return;

        CHECK(!local_accounts_in_subordinate_range(l, 99999));
        CHECK(local_accounts_in_subordinate_range(l, 100000));
        CHECK(local_accounts_in_subordinate_range(l, 165535));
        CHECK(!local_accounts_in_subordinate_range(l, 165536));
        CHECK(local_accounts_in_subordinate_range(l, 500000));
        CHECK(local_accounts_in_subordinate_range(l, 500009));
        CHECK(!local_accounts_in_subordinate_range(l, 500010));

        /* The ends of uint32. */
        CHECK(!local_accounts_in_subordinate_range(l, 4294967279u));
        CHECK(local_accounts_in_subordinate_range(l, 4294967280u));
        CHECK(local_accounts_in_subordinate_range(l, 4294967290u));
        CHECK(local_accounts_in_subordinate_range(l, UINT32_MAX));

        /* Skipped lines cover nothing; a range running past the end does
         * not wrap around to the low ids. */
        CHECK(!local_accounts_in_subordinate_range(l, 0));
        CHECK(!local_accounts_in_subordinate_range(l, 5));
        CHECK(!local_accounts_in_subordinate_range(l, 10));
        CHECK(!local_accounts_in_subordinate_range(l, 83));
        CHECK(!local_accounts_in_subordinate_range(l, 500));
        CHECK(!local_accounts_in_subordinate_range(l, 200000));
        CHECK(!local_accounts_in_subordinate_range(l, 300000));
        CHECK(!local_accounts_in_subordinate_range(l, 310000));
        CHECK(!local_accounts_in_subordinate_range(l, 320000));
        CHECK(!local_accounts_in_subordinate_range(l, 330000));
        CHECK(!local_accounts_in_subordinate_range(l, 340000));
        CHECK(!local_accounts_in_subordinate_range(l, 340005));
        CHECK(!local_accounts_in_subordinate_range(l, 350000));
        CHECK(!local_accounts_in_subordinate_range(l, 360000));
        CHECK(!local_accounts_in_subordinate_range(l, 600000));

        /* Owners of ranges are no account names. */
        CHECK(!local_accounts_has_name(l, "alice"));
        CHECK(!local_accounts_has_id(l, 100000));

        local_accounts_free(l);
        remove_files();
}

static void set_mtime(const char *path, time_t sec) {
        struct timespec ts[2] = { { sec, 0 }, { sec, 0 } };

        CHECK_INT(utimensat(AT_FDCWD, path, ts, 0), 0);
}

static void test_refresh(void) {
        local_accounts_paths paths = test_paths();
        local_accounts *l = NULL;
        uint64_t gen;

        write_file(passwd_path, "we", "alice:x:1000:1000::/home/alice:/bin/bash\n");
        write_file(group_path, "we", "staff:x:50:\n");
        write_file(subuid_path, "we", "alice:100000:65536\n");
        CHECK_INT(local_accounts_new(&paths, &l), 0);
        if (!l)
                return;
        gen = local_accounts_generation(l);

        /* Nothing changed: nothing read, the generation stays. */
        CHECK_INT(local_accounts_refresh(l), 0);
        CHECK_INT(local_accounts_refresh(l), 0);
        CHECK_INT(local_accounts_generation(l), gen);

        /* An appended line is seen. */
        CHECK(!local_accounts_has_name(l, "bob"));
        write_file(passwd_path, "ae", "bob:x:1001:1001::/home/bob:/bin/bash\n");
        CHECK_INT(local_accounts_refresh(l), 0);
        CHECK(local_accounts_has_name(l, "bob"));
        CHECK(local_accounts_has_id(l, 1001));
        CHECK(local_accounts_has_name(l, "alice"));
        CHECK_INT(local_accounts_generation(l), gen + 1);
        CHECK_INT(local_accounts_refresh(l), 0);
        CHECK_INT(local_accounts_generation(l), gen + 1);

        /* Same size, other content: the modification time tells. */
        set_mtime(group_path, 1000000000);
        CHECK_INT(local_accounts_refresh(l), 0);
        CHECK_INT(local_accounts_generation(l), gen + 2);
        write_file(group_path, "we", "audio:x:51:\n");
        set_mtime(group_path, 1000000001);
        CHECK_INT(local_accounts_refresh(l), 0);
        CHECK_INT(local_accounts_generation(l), gen + 3);
        CHECK(local_accounts_has_name(l, "audio"));
        CHECK(!local_accounts_has_name(l, "staff"));
        CHECK(local_accounts_has_id(l, 51));
        CHECK(!local_accounts_has_id(l, 50));

        /* A file created after the start is seen. */
        CHECK(!local_accounts_in_subordinate_range(l, 500000));
        write_file(subgid_path, "we", "bob:500000:10\n");
        CHECK_INT(local_accounts_refresh(l), 0);
        CHECK(local_accounts_in_subordinate_range(l, 500000));
        CHECK_INT(local_accounts_generation(l), gen + 4);

        /* A file removed is seen too: its entries go. */
        CHECK_INT(unlink(subuid_path), 0);
        CHECK_INT(local_accounts_refresh(l), 0);
        CHECK(!local_accounts_in_subordinate_range(l, 100000));
        CHECK(local_accounts_in_subordinate_range(l, 500000));
        CHECK_INT(local_accounts_generation(l), gen + 5);
        CHECK_INT(local_accounts_refresh(l), 0);
        CHECK_INT(local_accounts_generation(l), gen + 5);

        /* A file that cannot be read fails the refresh and the previous
         * lists stay, so that no local name or id slips through; the next
         * refresh tries again. */
        CHECK_INT(unlink(group_path), 0);
        CHECK_INT(mkdir(group_path, 0755), 0);
        CHECK(local_accounts_refresh(l) < 0);
        CHECK_INT(local_accounts_generation(l), gen + 5);
        CHECK(local_accounts_has_name(l, "audio"));
        CHECK(local_accounts_has_id(l, 51));
        CHECK(local_accounts_has_name(l, "bob"));
        CHECK(local_accounts_in_subordinate_range(l, 500000));
        CHECK(local_accounts_refresh(l) < 0);
        CHECK(local_accounts_has_name(l, "audio"));

        CHECK_INT(rmdir(group_path), 0);
        write_file(group_path, "we", "video:x:52:\n");
        CHECK_INT(local_accounts_refresh(l), 0);
        CHECK_INT(local_accounts_generation(l), gen + 6);
        CHECK(local_accounts_has_name(l, "video"));
        CHECK(!local_accounts_has_name(l, "audio"));
        CHECK(local_accounts_has_name(l, "bob"));

        /* The same for a subordinate file. */
        CHECK_INT(unlink(subgid_path), 0);
        CHECK_INT(mkdir(subgid_path, 0755), 0);
        CHECK(local_accounts_refresh(l) < 0);
        CHECK(local_accounts_in_subordinate_range(l, 500000));
        CHECK_INT(local_accounts_generation(l), gen + 6);
        CHECK_INT(rmdir(subgid_path), 0);

        local_accounts_free(l);
        remove_files();
}

static void test_unreadable_at_start(void) {
        local_accounts_paths paths = test_paths();
        local_accounts *l = NULL;

        /* No view at all rather than an empty one that lets everything in. */
        CHECK_INT(mkdir(passwd_path, 0755), 0);
        CHECK(local_accounts_new(&paths, &l) < 0);
        CHECK(!l);
        local_accounts_free(l);
        CHECK_INT(rmdir(passwd_path), 0);

        CHECK_INT(mkdir(subuid_path, 0755), 0);
        CHECK(local_accounts_new(&paths, &l) < 0);
        CHECK(!l);
        local_accounts_free(l);
        CHECK_INT(rmdir(subuid_path), 0);
}

int main(void) {
        if (!mkdtemp(dir)) {
                perror("mkdtemp");
                return EXIT_FAILURE;
        }
        snprintf(passwd_path, sizeof(passwd_path), "%s/passwd", dir);
        snprintf(group_path, sizeof(group_path), "%s/group", dir);
        snprintf(subuid_path, sizeof(subuid_path), "%s/subuid", dir);
        snprintf(subgid_path, sizeof(subgid_path), "%s/subgid", dir);

        test_passwd_and_group();
        test_missing_files();
        test_subordinate_ranges();
        test_refresh();
        test_unreadable_at_start();

        remove_files();
        rmdir(dir);
        return test_result("test-local-accounts");
}
