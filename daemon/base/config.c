/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"
#include "log.h"
#include "macro.h"

#include <ctype.h>
#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "build-config.h"
#include "validate.h"

static char *strip(char *s) {
        char *e;

        while (isspace((unsigned char) *s))
                s++;
        e = s + strlen(s);
        while (e > s && isspace((unsigned char) e[-1]))
                *--e = 0;
        return s;
}

static int set_string(char **field, const char *value) {
        char *v = strdup(value);
        if (!v)
                return -ENOMEM;
        free(*field);
        *field = v;
        return 0;
}

static int parse_uint32(const char *s, uint32_t *ret) {
        char *end;
        unsigned long long v;

        errno = 0;
        if (!isdigit((unsigned char) *s))
                return -EINVAL;
        v = strtoull(s, &end, 10);
        if (errno || *end || v > UINT32_MAX - 1)
                return -EINVAL;
        *ret = (uint32_t) v;
        return 0;
}

static int apply(config *c, const char *section, const char *key, const char *value) {
        static const struct {
                const char *section, *key;
                size_t offset;
        } strings[] = {
                { "paths", "store", offsetof(config, store_dir) },
                { "paths", "runtime", offsetof(config, runtime_dir) },
                { "ids", "home", offsetof(config, home_template) },
                { "ids", "shell", offsetof(config, shell) },
                { "mail", "sendmail", offsetof(config, sendmail) },
                { "mail", "spool", offsetof(config, mail_spool) },
                { "mail", "from", offsetof(config, mail_from) },
                { "mail", "smtp", offsetof(config, mail_smtp) },
                { "mail", "templates", offsetof(config, mail_templates) },
                { "links", "url", offsetof(config, link_url) },
                { "ssh", "keys_group", offsetof(config, ssh_keys_group) },
        };

        for (size_t i = 0; i < ELEMENTSOF(strings); i++)
                if (strcmp(section, strings[i].section) == 0 && strcmp(key, strings[i].key) == 0) {
                        char **field = (char **) ((char *) c + strings[i].offset);
                        /* Empty: unset (the sendmail command, the
                         * installed templates are used). */
                        if (!*value && (strings[i].offset == offsetof(config, mail_spool) ||
                                        strings[i].offset == offsetof(config, mail_smtp) ||
                                        strings[i].offset == offsetof(config, mail_templates))) {
                                free(*field);
                                *field = NULL;
                                return 0;
                        }
                        return set_string(field, value);
                }

        if (strcmp(section, "ids") == 0 && strcmp(key, "uid_min") == 0)
                return parse_uint32(value, &c->uid_min);
        if (strcmp(section, "ids") == 0 && strcmp(key, "uid_max") == 0)
                return parse_uint32(value, &c->uid_max);
        return -ENOENT;
}

static bool known_section(const char *section) {
        static const char *const sections[] = { "paths", "ids", "mail", "links", "ssh" };

        for (size_t i = 0; i < ELEMENTSOF(sections); i++)
                if (strcmp(section, sections[i]) == 0)
                        return true;
        return false;
}

static int set_defaults(config *c) {
        *c = (config) {
                .uid_min = CONFIG_UID_MIN_DEFAULT,
                .uid_max = CONFIG_UID_MAX_DEFAULT,
        };
        c->store_dir = strdup(NEXALIX_STORE_DIR);
        c->runtime_dir = strdup(NEXALIX_RUNTIME_DIR);
        c->home_template = strdup("/home/{user}");
        c->shell = strdup("/bin/bash");
        c->sendmail = strdup("/usr/sbin/sendmail -t -i");
        c->mail_from = strdup("nexalix@localhost");
        c->link_url = strdup("https://id.example.com/redeem?token={token}");
        c->ssh_keys_group = strdup("nexalix-keys");
        if (!c->store_dir || !c->runtime_dir || !c->home_template || !c->shell ||
            !c->sendmail || !c->mail_from || !c->link_url || !c->ssh_keys_group)
                return -ENOMEM;
        return 0;
}

int config_load(const char *path, int must_exist, config *ret) {
        _cleanup_free_ char *line = NULL;
        char section[64] = "";
        config c;
        const char *user;
        size_t size = 0;
        ssize_t n;
        unsigned lineno = 0;
        FILE *f;
        int r;

        r = set_defaults(&c);
        if (r < 0) {
                config_done(&c);
                return log_error_errno(r, "Out of memory");
        }

        f = fopen(path, "re");
        if (!f) {
                if (errno == ENOENT && !must_exist) {
                        *ret = c;
                        return 0;
                }
                r = -errno;
                config_done(&c);
                return log_error_errno(r, "Failed to open %s: %m", path);
        }

        while ((n = getline(&line, &size, f)) >= 0) {
                char *s, *eq;

                lineno++;
                /* Everything below sees the line only up to a NUL byte: the
                 * rest would be dropped unseen, and a cut-off value taken
                 * for the one written. */
                if (memchr(line, 0, (size_t) n)) {
                        r = log_error_errno(-EINVAL, "%s:%u: line contains a NUL byte", path, lineno);
                        goto fail;
                }
                s = strip(line);
                if (!*s || *s == '#' || *s == ';')
                        continue;
                if (*s == '[') {
                        char *end = strchr(s, ']');
                        if (!end || end[1] || (size_t) (end - s - 1) >= sizeof(section)) {
                                r = log_error_errno(-EINVAL, "%s:%u: malformed section header", path, lineno);
                                goto fail;
                        }
                        *end = 0;
                        snprintf(section, sizeof(section), "%s", strip(s + 1));
                        /* Said here, at the typo, rather than as an unknown
                         * key further down, or not at all for a section
                         * whose keys are all commented out. */
                        if (!known_section(section)) {
                                r = log_error_errno(-EINVAL, "%s:%u: unknown section [%s]", path, lineno, section);
                                goto fail;
                        }
                        continue;
                }
                eq = strchr(s, '=');
                if (!eq) {
                        r = log_error_errno(-EINVAL, "%s:%u: expected key = value", path, lineno);
                        goto fail;
                }
                *eq = 0;
                if (!section[0]) {
                        r = log_error_errno(-EINVAL, "%s:%u: '%s' is outside any [section]", path, lineno, strip(s));
                        goto fail;
                }
                r = apply(&c, section, strip(s), strip(eq + 1));
                if (r == -ENOENT) {
                        r = log_error_errno(-EINVAL, "%s:%u: unknown key '%s' in section [%s]",
                                            path, lineno, strip(s), section);
                        goto fail;
                }
                if (r < 0) {
                        r = log_error_errno(r, "%s:%u: invalid value for '%s'", path, lineno, strip(s));
                        goto fail;
                }
        }
        /* getline() ends with -1 on a read error too (EISDIR for a directory,
         * EIO): that is no end of file, and defaults must not replace what
         * the file says. */
        if (ferror(f)) {
                r = log_error_errno(errno > 0 ? -errno : -EIO, "Failed to read %s: %m", path);
                goto fail;
        }
        fclose(f);

        if (c.uid_min < 1000 || c.uid_min > c.uid_max) {
                config_done(&c);
                return log_error_errno(-EINVAL, "%s: [ids] needs 1000 <= uid_min <= uid_max", path);
        }
        /* They become fields of every passwd entry. */
        if (c.home_template[0] != '/' || c.shell[0] != '/' || strpbrk(c.home_template, ":\n") ||
            strpbrk(c.shell, ":\n")) {
                config_done(&c);
                return log_error_errno(-EINVAL, "%s: [ids] home and shell must be absolute paths without ':'", path);
        }
        /* Checked here, once: a home that does not fit a path buffer with the
         * longest username in it (config_home_for()), or a shell longer than
         * a path, would fail every user's entry at each publication. */
        user = strstr(c.home_template, "{user}");
        if (strlen(c.home_template) + (user ? USERNAME_MAX - strlen("{user}") : 0) >= PATH_MAX ||
            strlen(c.shell) >= PATH_MAX) {
                config_done(&c);
                return log_error_errno(-EINVAL, "%s: [ids] home or shell is longer than a path may be", path);
        }
        if (c.store_dir[0] != '/' || c.runtime_dir[0] != '/') {
                config_done(&c);
                return log_error_errno(-EINVAL, "%s: [paths] store and runtime must be absolute", path);
        }
        if (strlen(c.store_dir) >= PATH_MAX || strlen(c.runtime_dir) >= PATH_MAX) {
                config_done(&c);
                return log_error_errno(-EINVAL, "%s: [paths] store or runtime is longer than a path may be", path);
        }
        *ret = c;
        return 0;

fail:
        fclose(f);
        config_done(&c);
        return r;
}

void config_done(config *c) {
        free(c->store_dir);
        free(c->runtime_dir);
        free(c->home_template);
        free(c->shell);
        free(c->sendmail);
        free(c->mail_spool);
        free(c->mail_from);
        free(c->mail_smtp);
        free(c->mail_templates);
        free(c->link_url);
        free(c->ssh_keys_group);
        *c = (config) {};
}

int config_home_for(const config *c, const char *username, char *buf, size_t size) {
        const char *at = strstr(c->home_template, "{user}");
        size_t prefix = at ? (size_t) (at - c->home_template) : strlen(c->home_template);
        const char *suffix = at ? at + strlen("{user}") : "";
        size_t name = at ? strlen(username) : 0, rest = strlen(suffix);

        if (prefix + name + rest + 1 > size)
                return -ENAMETOOLONG;
        memcpy(buf, c->home_template, prefix);
        memcpy(buf + prefix, username, name);
        memcpy(buf + prefix + name, suffix, rest + 1);
        return 0;
}
