/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* nexalixd.conf as docs/nexalixd.8 describes it: every key of every section,
 * the defaults, and each way a file can be wrong. The refusals are logged on
 * stderr; that is expected output. */

#include "test-util.h"
#include "config.h"
#include "macro.h"
#include "validate.h"

#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <sys/stat.h>
#include <unistd.h>

#include "build-config.h"

static char dir[] = "/tmp/test-config-XXXXXX";
static char conf_path[PATH_MAX];

static int write_file(const char *path, const char *text, size_t size) {
        FILE *f = fopen(path, "we");

        if (!f)
                return -errno;
        if (fwrite(text, 1, size, f) != size) {
                fclose(f);
                return -EIO;
        }
        return fclose(f) == 0 ? 0 : -errno;
}

/* Writes text as the configuration file and loads it; a file that must
 * exist, as the daemon's -c option makes it. */
static int load_text(const char *text, config *ret) {
        if (write_file(conf_path, text, strlen(text)) < 0) {
                fprintf(stderr, "cannot write %s\n", conf_path);
                exit(EXIT_FAILURE);
        }
        return config_load(conf_path, 1, ret);
}

/* A failed load must leave the caller's struct as it was. */
static void check_refused(const char *text, int expected) {
        config c = { .uid_min = 7 };
        int before = test_failures;

        CHECK_INT(load_text(text, &c), expected);
        CHECK_INT(c.uid_min, 7);
        CHECK(!c.store_dir);
        CHECK(!c.home_template);
        if (test_failures != before)
                fprintf(stderr, "  for the file: \"%.60s\"\n", text);
}

static void check_defaults(const config *c) {
        CHECK_STR(c->store_dir, NEXALIX_STORE_DIR);
        CHECK_STR(c->runtime_dir, NEXALIX_RUNTIME_DIR);
        CHECK_INT(c->uid_min, CONFIG_UID_MIN_DEFAULT);
        CHECK_INT(c->uid_max, CONFIG_UID_MAX_DEFAULT);
        CHECK_STR(c->home_template, "/home/{user}");
        CHECK_STR(c->shell, "/bin/bash");
        CHECK_STR(c->sendmail, "/usr/sbin/sendmail -t -i");
        CHECK(!c->mail_spool);
        CHECK_STR(c->mail_from, "nexalix@localhost");
        CHECK_STR(c->link_url, "https://id.example.com/redeem?token={token}");
}

static void test_missing_file(void) {
        char missing[PATH_MAX];
        config c = { .uid_min = 7 };

        snprintf(missing, sizeof(missing), "%s/missing.conf", dir);

        /* The daemon's built-in path need not exist: defaults apply. */
        CHECK_INT(config_load(missing, 0, &c), 0);
        check_defaults(&c);
        config_done(&c);
        CHECK(!c.store_dir);

        /* A path given explicitly must. */
        c = (config) { .uid_min = 7 };
        CHECK_INT(config_load(missing, 1, &c), -ENOENT);
        CHECK_INT(c.uid_min, 7);
        CHECK(!c.store_dir);
}

static void test_empty_and_comments(void) {
        config c = {};

        CHECK_INT(load_text("", &c), 0);
        check_defaults(&c);
        config_done(&c);

        CHECK_INT(load_text("# only a comment\n"
                            "; another kind\n"
                            "\n"
                            "   \t\n"
                            "  # indented comment = with an equals sign\n"
                            "[ids]\n"
                            "; uid_min = 5\n"
                            "# nonsense that is only a comment: [broken\n",
                            &c), 0);
        check_defaults(&c);
        config_done(&c);
}

static void test_every_key(void) {
        config c = {};

        CHECK_INT(load_text("[paths]\n"
                            "store = /srv/nexalix/store\n"
                            "runtime = /run/nx\n"
                            "[ids]\n"
                            "uid_min = 1000\n"
                            "uid_max = 4294967294\n"
                            "home = /srv/home/{user}/files\n"
                            "shell = /usr/bin/zsh\n"
                            "[mail]\n"
                            "sendmail = /usr/lib/sendmail -oi -t\n"
                            "spool = /var/spool/nexalix\n"
                            "from = Identity <id@example.org>\n"
                            "[links]\n"
                            "url = https://id.example.org/r?t={token}&lang=en\n",
                            &c), 0);
        CHECK_STR(c.store_dir, "/srv/nexalix/store");
        CHECK_STR(c.runtime_dir, "/run/nx");
        CHECK_INT(c.uid_min, 1000);
        CHECK_INT(c.uid_max, 4294967294u);
        CHECK_STR(c.home_template, "/srv/home/{user}/files");
        CHECK_STR(c.shell, "/usr/bin/zsh");
        CHECK_STR(c.sendmail, "/usr/lib/sendmail -oi -t");
        CHECK_STR(c.mail_spool, "/var/spool/nexalix");
        CHECK_STR(c.mail_from, "Identity <id@example.org>");
        /* Only the first '=' separates key and value. */
        CHECK_STR(c.link_url, "https://id.example.org/r?t={token}&lang=en");
        config_done(&c);
        CHECK(!c.store_dir);
        CHECK(!c.mail_spool);

        /* Sections may come in any order and more than once; a repeated key
         * takes the last value. uid_min == uid_max is a range of one. */
        CHECK_INT(load_text("[ids]\nuid_min = 5000\n[paths]\nstore = /a\n[ids]\nuid_max = 5000\nuid_min = 5000\n"
                            "[paths]\nstore = /b\n", &c), 0);
        CHECK_INT(c.uid_min, 5000);
        CHECK_INT(c.uid_max, 5000);
        CHECK_STR(c.store_dir, "/b");
        CHECK_STR(c.runtime_dir, NEXALIX_RUNTIME_DIR);
        config_done(&c);
}

static void test_whitespace(void) {
        config c = {};

        CHECK_INT(load_text("  [ ids ]  \n"
                            "\tuid_min\t=\t 3000  \n"
                            "uid_max=4000\n"
                            "   shell   =   /bin/sh   \n"
                            "[mail]\r\n"
                            "from = a@b.example\r\n"
                            "sendmail =  /usr/sbin/sendmail  -t  \n",
                            &c), 0);
        CHECK_INT(c.uid_min, 3000);
        CHECK_INT(c.uid_max, 4000);
        CHECK_STR(c.shell, "/bin/sh");
        /* CRLF files (edited on another system) lose the CR. */
        CHECK_STR(c.mail_from, "a@b.example");
        /* Inner spaces stay; only the ends are trimmed. */
        CHECK_STR(c.sendmail, "/usr/sbin/sendmail  -t");
        config_done(&c);

        /* No newline after the last line. */
        CHECK_INT(load_text("[ids]\nuid_min = 2000", &c), 0);
        CHECK_INT(c.uid_min, 2000);
        config_done(&c);
}

static void test_spool(void) {
        config c = {};

        CHECK_INT(load_text("[mail]\nspool =\n", &c), 0);
        CHECK(!c.mail_spool);
        config_done(&c);

        CHECK_INT(load_text("[mail]\nspool =    \n", &c), 0);
        CHECK(!c.mail_spool);
        config_done(&c);

        /* An empty value unsets an earlier one. */
        CHECK_INT(load_text("[mail]\nspool = /var/spool/x\nspool =\n", &c), 0);
        CHECK(!c.mail_spool);
        config_done(&c);

        CHECK_INT(load_text("[mail]\nspool = /var/spool/x\n", &c), 0);
        CHECK_STR(c.mail_spool, "/var/spool/x");
        config_done(&c);
}

static void test_syntax_errors(void) {
        /* Unknown key, unknown section, a key before any section. */
        check_refused("[ids]\nuid_mn = 2000\n", -EINVAL);
        check_refused("[ids]\nstore = /x\n", -EINVAL);
        check_refused("[paths]\nStore = /x\n", -EINVAL);
        check_refused("[idz]\nuid_min = 2000\n", -EINVAL);
        check_refused("[]\nuid_min = 2000\n", -EINVAL);
        /* A misspelt section is an error even with no key under it. */
        check_refused("[idz]\n", -EINVAL);
        check_refused("[ids]\n[mial]\n# spool =\n", -EINVAL);
        check_refused("[IDS]\n", -EINVAL);
        check_refused("uid_min = 2000\n", -EINVAL);
        check_refused("store = /x\n[paths]\n", -EINVAL);
        check_refused("[ids]\n= 2000\n", -EINVAL);

        /* Malformed section headers. */
        check_refused("[ids\nuid_min = 2000\n", -EINVAL);
        check_refused("[ids] x\nuid_min = 2000\n", -EINVAL);
        check_refused("[ids]]\n", -EINVAL);
        check_refused("[ids] # comment\n", -EINVAL);
        check_refused("[aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa]\n",
                      -EINVAL);

        /* A line that is neither a comment, a section nor key = value. */
        check_refused("[ids]\nuid_min 2000\n", -EINVAL);
        check_refused("[ids]\nuid_min = 2000\njunk\n", -EINVAL);

        /* A key belongs to the section it is written in. */
        check_refused("[paths]\nstore = /x\nuid_min = 2000\n", -EINVAL);
}

static void test_uid_values(void) {
        config c = {};

        check_refused("[ids]\nuid_min = 999\n", -EINVAL);
        check_refused("[ids]\nuid_min = 0\n", -EINVAL);
        check_refused("[ids]\nuid_min = 1000\nuid_max = 999\n", -EINVAL);
        check_refused("[ids]\nuid_min = 500000\nuid_max = 400000\n", -EINVAL);
        /* Only uid_max given, below the default uid_min: still a bad range. */
        check_refused("[ids]\nuid_max = 100000\n", -EINVAL);

        check_refused("[ids]\nuid_max = 99999999999\n", -EINVAL);
        check_refused("[ids]\nuid_max = 4294967296\n", -EINVAL);
        check_refused("[ids]\nuid_max = 99999999999999999999999999\n", -EINVAL);
        /* (uid_t) -1 means "no uid" to chown() and setreuid(). */
        check_refused("[ids]\nuid_max = 4294967295\n", -EINVAL);
        check_refused("[ids]\nuid_min = -5\n", -EINVAL);
        check_refused("[ids]\nuid_min = +5000\n", -EINVAL);
        check_refused("[ids]\nuid_min = 10x\n", -EINVAL);
        check_refused("[ids]\nuid_min = 10 000\n", -EINVAL);
        check_refused("[ids]\nuid_min = 0x2000\n", -EINVAL);
        check_refused("[ids]\nuid_min = 2000.5\n", -EINVAL);
        check_refused("[ids]\nuid_min = abc\n", -EINVAL);
        check_refused("[ids]\nuid_min =\n", -EINVAL);

        /* Leading zeros are still decimal. */
        CHECK_INT(load_text("[ids]\nuid_min = 0002000\n", &c), 0);
        CHECK_INT(c.uid_min, 2000);
        config_done(&c);
}

static void test_path_values(void) {
        check_refused("[paths]\nstore = var/lib/nexalix\n", -EINVAL);
        check_refused("[paths]\nruntime = run/nexalix\n", -EINVAL);
        check_refused("[paths]\nstore =\n", -EINVAL);
        check_refused("[paths]\nruntime = ./x\n", -EINVAL);

        check_refused("[ids]\nhome = home/{user}\n", -EINVAL);
        check_refused("[ids]\nhome = ~/{user}\n", -EINVAL);
        check_refused("[ids]\nhome =\n", -EINVAL);
        check_refused("[ids]\nhome = /home/{user}:x\n", -EINVAL);
        check_refused("[ids]\nshell = bash\n", -EINVAL);
        check_refused("[ids]\nshell =\n", -EINVAL);
        check_refused("[ids]\nshell = /bin/bash:/bin/sh\n", -EINVAL);
}

/* A value far longer than any line a person writes: no crash, and either a
 * refusal or a value kept whole, never a truncated one. */
static void test_long_lines(void) {
        const size_t n = 100 * 1024;
        _cleanup_free_ char *text = malloc(n + 64), *value = malloc(n + 1);
        config c = {};
        char *p;

        if (!text || !value) {
                CHECK(!"out of memory");
                return;
        }
        memset(value, 'a', n);
        value[0] = '/';
        value[n] = 0;

        /* home and shell become fields of every passwd entry and must fit a
         * path buffer; refused at load, not at every later publication. */
        snprintf(text, n + 64, "[ids]\nshell = %s\n", value);
        check_refused(text, -EINVAL);
        snprintf(text, n + 64, "[ids]\nhome = %s/{user}\n", value);
        check_refused(text, -EINVAL);
        snprintf(text, n + 64, "[paths]\nstore = %s\n", value);
        check_refused(text, -EINVAL);
        snprintf(text, n + 64, "[paths]\nruntime = %s\n", value);
        check_refused(text, -EINVAL);

        /* The longest home that fits: with a 32-character username the path
         * is PATH_MAX - 1 characters. */
        p = text + sprintf(text, "[ids]\nhome = ");
        memset(p, 'h', PATH_MAX - 1 - USERNAME_MAX - 1);
        p[0] = '/';
        p += PATH_MAX - 1 - USERNAME_MAX - 1;
        strcpy(p, "/{user}\n");
        CHECK_INT(load_text(text, &c), 0);
        if (c.home_template) {
                char home[PATH_MAX], name[USERNAME_MAX + 1];

                memset(name, 'n', USERNAME_MAX);
                name[USERNAME_MAX] = 0;
                CHECK_INT(config_home_for(&c, name, home, sizeof(home)), 0);
                CHECK_INT(strlen(home), PATH_MAX - 1);
        }
        config_done(&c);
        /* One more character does not. */
        strcpy(p, "x/{user}\n");
        check_refused(text, -EINVAL);

        /* The mail settings have no length limit: kept whole. */
        snprintf(text, n + 64, "[mail]\nfrom = %s\n", value);
        CHECK_INT(load_text(text, &c), 0);
        CHECK_INT(c.mail_from ? strlen(c.mail_from) : 0, n);
        config_done(&c);

        /* A long unknown key, a long comment, a long section name. */
        snprintf(text, n + 64, "[ids]\n%s = 1\n", value + 1);
        check_refused(text, -EINVAL);
        snprintf(text, n + 64, "# %s\n[ids]\nuid_min = 2000\n", value);
        CHECK_INT(load_text(text, &c), 0);
        CHECK_INT(c.uid_min, 2000);
        config_done(&c);
        p = text + sprintf(text, "[");
        memset(p, 'a', n);
        strcpy(p + n, "]\n");
        check_refused(text, -EINVAL);
}

static void test_unreadable(void) {
        static const char nul[] = "[ids]\nshell = /bin/sh\0:junk\n";
        char sub[PATH_MAX];
        config c = { .uid_min = 7 };

        /* A directory opens, but cannot be read: that is no empty file. */
        snprintf(sub, sizeof(sub), "%s/conf.d", dir);
        CHECK_INT(mkdir(sub, 0755), 0);
        CHECK(config_load(sub, 1, &c) < 0);
        CHECK(config_load(sub, 0, &c) < 0);
        CHECK_INT(c.uid_min, 7);
        CHECK(!c.store_dir);
        rmdir(sub);

        /* A NUL byte would cut the line short as C sees it: the file is
         * damaged, and a shortened value must not be taken for the real one. */
        CHECK_INT(write_file(conf_path, nul, sizeof(nul) - 1), 0);
        CHECK_INT(config_load(conf_path, 1, &c), -EINVAL);
        CHECK_INT(c.uid_min, 7);
        CHECK(!c.shell);
}

static void test_home_for(void) {
        config c = {};
        char buf[64];

        CHECK_INT(load_text("", &c), 0);
        CHECK_INT(config_home_for(&c, "alice", buf, sizeof(buf)), 0);
        CHECK_STR(buf, "/home/alice");
        /* Exactly fitting, then one byte short. */
        CHECK_INT(config_home_for(&c, "alice", buf, strlen("/home/alice") + 1), 0);
        CHECK_STR(buf, "/home/alice");
        CHECK_INT(config_home_for(&c, "alice", buf, strlen("/home/alice")), -ENAMETOOLONG);
        CHECK_INT(config_home_for(&c, "alice", buf, 0), -ENAMETOOLONG);
        config_done(&c);

        CHECK_INT(load_text("[ids]\nhome = /srv/{user}/home\n", &c), 0);
        CHECK_INT(config_home_for(&c, "bob", buf, sizeof(buf)), 0);
        CHECK_STR(buf, "/srv/bob/home");
        CHECK_INT(config_home_for(&c, "bob", buf, 8), -ENAMETOOLONG);
        config_done(&c);

        /* Without {user} every user gets the template as it is. */
        CHECK_INT(load_text("[ids]\nhome = /var/empty\n", &c), 0);
        CHECK_INT(config_home_for(&c, "carol", buf, sizeof(buf)), 0);
        CHECK_STR(buf, "/var/empty");
        CHECK_INT(config_home_for(&c, "carol", buf, 5), -ENAMETOOLONG);
        config_done(&c);

        /* Only the first {user} is replaced. */
        CHECK_INT(load_text("[ids]\nhome = /h/{user}/{user}\n", &c), 0);
        CHECK_INT(config_home_for(&c, "dave", buf, sizeof(buf)), 0);
        CHECK_STR(buf, "/h/dave/{user}");
        config_done(&c);
}

int main(void) {
        if (!mkdtemp(dir)) {
                perror("mkdtemp");
                return EXIT_FAILURE;
        }
        snprintf(conf_path, sizeof(conf_path), "%s/nexalixd.conf", dir);

        test_missing_file();
        test_empty_and_comments();
        test_every_key();
        test_whitespace();
        test_spool();
        test_syntax_errors();
        test_uid_values();
        test_path_values();
        test_long_lines();
        test_unreadable();
        test_home_for();

        unlink(conf_path);
        rmdir(dir);
        return test_result("test-config");
}
