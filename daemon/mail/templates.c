/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "log.h"
#include "macro.h"
#include "templates.h"
#include "validate.h"

#include <ctype.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "build-config.h"
#include "mail-config.h"

/* A template is a page of text; anything larger is a mistake. */
#define TEMPLATE_SIZE_MAX (64u * 1024)
#define N_LANGUAGES MAIL_LANGUAGES

static const char *const kind_names[_MAIL_KIND_MAX] = {
        [MAIL_INVITE] = "invite",
        [MAIL_RESET_ADMIN] = "reset-admin",
        [MAIL_RESET_SELF] = "reset-self",
        [MAIL_VERIFY_EMAIL] = "verify-email",
        [MAIL_INCIDENT_ALERT] = "incident-alert",
        [MAIL_INCIDENT_ASSIGNED] = "incident-assigned",
};

const char *mail_kind_to_string(mail_kind k) {
        return k >= 0 && k < _MAIL_KIND_MAX ? kind_names[k] : NULL;
}

int mail_kind_from_string(const char *s) {
        for (int k = 0; k < _MAIL_KIND_MAX; k++)
                if (s && strcmp(s, kind_names[k]) == 0)
                        return k;
        return -EINVAL;
}

static int language_index(const char *language) {
        for (int i = 0; i < N_LANGUAGES && LANGUAGES[i]; i++)
                if (language && strcmp(language, LANGUAGES[i]) == 0)
                        return i;
        return -ENOENT;
}

void mail_template_done(mail_template *t) {
        free(t->subject);
        free(t->body);
        free(t->source);
        *t = (mail_template) {};
}

int mail_template_parse(const char *text, size_t size, mail_template *ret, const char **ret_reason) {
        _cleanup_free_ char *copy = NULL;
        mail_template t = {};
        char *line, *rest, *subject, *end;

        if (memchr(text, 0, size) || size > TEMPLATE_SIZE_MAX) {
                *ret_reason = "contains a NUL byte or is larger than 64 KiB";
                return -EBADMSG;
        }
        copy = strndup(text, size);
        if (!copy)
                return -ENOMEM;
        if (validate_utf8(copy) < 0) {
                *ret_reason = "is not UTF-8";
                return -EBADMSG;
        }
        /* Windows line ends are forgiven: an administrator's editor may
         * write them. */
        for (char *r = copy, *w = copy;; r++) {
                if (!(r[0] == '\r' && r[1] == '\n'))
                        *w++ = *r;
                if (!*r)
                        break;
        }

        line = copy;
        rest = strchr(line, '\n');
        if (!rest || strncasecmp(line, "Subject:", 8) != 0) {
                *ret_reason = "does not start with a line \"Subject: ...\"";
                return -EBADMSG;
        }
        *rest++ = 0;
        subject = line + 8;
        while (*subject == ' ' || *subject == '\t')
                subject++;
        end = subject + strlen(subject);
        while (end > subject && isspace((unsigned char) end[-1]))
                *--end = 0;
        if (!*subject) {
                *ret_reason = "has an empty subject";
                return -EBADMSG;
        }
        for (const char *p = subject; *p; p++)
                if ((unsigned char) *p < 0x20 || *p == 0x7f) {
                        *ret_reason = "has a control character in its subject";
                        return -EBADMSG;
                }
        if (*rest != '\n') {
                *ret_reason = "has no blank line after the subject";
                return -EBADMSG;
        }
        rest++;

        t.subject = strdup(subject);
        /* The body ends with exactly one newline, whatever the editor did. */
        end = rest + strlen(rest);
        while (end > rest && (end[-1] == '\n' || end[-1] == ' ' || end[-1] == '\t'))
                end--;
        if (end == rest) {
                free(t.subject);
                *ret_reason = "has an empty body";
                return -EBADMSG;
        }
        if (asprintf(&t.body, "%.*s\n", (int) (end - rest), rest) < 0)
                t.body = NULL;
        if (!t.subject || !t.body) {
                mail_template_done(&t);
                return -ENOMEM;
        }
        *ret = t;
        return 0;
}

/* Reads dir/LANG/KIND.txt: 0 and *ret, -ENOENT when there is no such file,
 * another error (already logged) when it is there but unusable. */
static int load_file(const char *dir, const char *language, const char *kind, mail_template *ret) {
        _cleanup_free_ char *path = NULL, *text = NULL;
        _cleanup_fclose_ FILE *f = NULL;
        const char *reason = NULL;
        size_t n;
        int r;

        if (asprintf(&path, "%s/%s/%s.txt", dir, language, kind) < 0)
                return -ENOMEM;
        f = fopen(path, "re");
        if (!f) {
                if (errno == ENOENT || errno == ENOTDIR)
                        return -ENOENT;
                return log_warning_errno(-errno, "Mail template %s cannot be read, skipped: %m", path);
        }
        text = malloc(TEMPLATE_SIZE_MAX + 1);
        if (!text)
                return -ENOMEM;
        n = fread(text, 1, TEMPLATE_SIZE_MAX + 1, f);
        if (ferror(f))
                return log_warning_errno(-EIO, "Mail template %s cannot be read, skipped: %m", path);
        r = mail_template_parse(text, n, ret, &reason);
        if (r == -EBADMSG) {
                log_warning("Mail template %s %s: skipped", path, reason);
                return r;
        }
        if (r < 0)
                return r;
        ret->source = TAKE_PTR(path);
        return 0;
}

static int load_builtin(const char *language, const char *kind, mail_template *ret) {
        const char *reason = NULL;
        int r;

        for (const mail_builtin_template *b = MAIL_BUILTIN_TEMPLATES; b->text; b++) {
                if (strcmp(b->language, language) != 0 || strcmp(b->kind, kind) != 0)
                        continue;
                r = mail_template_parse(b->text, strlen(b->text), ret, &reason);
                if (r < 0)
                        return r == -EBADMSG ? log_error_errno(r, "Built-in mail template %s/%s %s", language,
                                                               kind, reason)
                                             : r;
                ret->source = strdup("built in");
                return ret->source ? 0 : -ENOMEM;
        }
        return -ENOENT;
}

/* Fills t[][] from the three places, in order. */
static int load_all(const char *override_dir, const char *installed_dir,
                    mail_template t[_MAIL_KIND_MAX][N_LANGUAGES]) {
        unsigned overridden = 0;

        for (int k = 0; k < _MAIL_KIND_MAX; k++)
                for (int l = 0; l < N_LANGUAGES; l++) {
                        const char *dirs[] = { override_dir, installed_dir };
                        int r = -ENOENT;

                        for (size_t d = 0; r < 0 && d < ELEMENTSOF(dirs); d++) {
                                r = load_file(dirs[d], LANGUAGES[l], kind_names[k], &t[k][l]);
                                if (r == -ENOMEM)
                                        return r;
                                if (r >= 0 && d == 0)
                                        overridden++;
                        }
                        if (r < 0)
                                r = load_builtin(LANGUAGES[l], kind_names[k], &t[k][l]);
                        if (r == -ENOENT && l > 0) {
                                /* No such text anywhere: the English one
                                 * is better than no mail. */
                                log_warning("No mail template %s in %s: English is used", kind_names[k],
                                            LANGUAGES[l]);
                                r = 0;
                        }
                        if (r < 0 && r != -ENOENT)
                                return r;
                }
        if (overridden > 0)
                log_info("%u mail template(s) taken from %s", overridden, override_dir);
        return 0;
}

static void templates_clear(mail_template t[_MAIL_KIND_MAX][N_LANGUAGES]) {
        for (int k = 0; k < _MAIL_KIND_MAX; k++)
                for (int l = 0; l < N_LANGUAGES; l++)
                        mail_template_done(&t[k][l]);
}

static char *default_override_dir(void) {
        const char *slash = strrchr(NEXALIX_CONFIG_PATH, '/');
        char *d = NULL;

        /* "mail" beside the configuration file: /etc/nexalix/mail. */
        if (asprintf(&d, "%.*s/mail", slash ? (int) (slash - NEXALIX_CONFIG_PATH) : 0, NEXALIX_CONFIG_PATH) < 0)
                return NULL;
        return d;
}

int mail_templates_load(const char *override_dir, const char *installed_dir, mail_templates **ret) {
        mail_templates *t;
        int r;

        t = calloc(1, sizeof(*t));
        if (!t)
                return -ENOMEM;
        t->override_dir = override_dir ? strdup(override_dir) : default_override_dir();
        t->installed_dir = strdup(installed_dir ?: NEXALIX_MAIL_TEMPLATE_DIR);
        if (!t->override_dir || !t->installed_dir) {
                mail_templates_free(t);
                return -ENOMEM;
        }
        r = load_all(t->override_dir, t->installed_dir, t->t);
        if (r < 0) {
                mail_templates_free(t);
                return log_error_errno(r, "Failed to load the mail templates: %m");
        }
        *ret = t;
        return 0;
}

int mail_templates_reload(mail_templates *t) {
        mail_template fresh[_MAIL_KIND_MAX][N_LANGUAGES] = {};
        int r;

        r = load_all(t->override_dir, t->installed_dir, fresh);
        if (r < 0) {
                templates_clear(fresh);
                return log_error_errno(r, "Failed to reload the mail templates, keeping the previous ones: %m");
        }
        templates_clear(t->t);
        memcpy(t->t, fresh, sizeof(fresh));
        return 0;
}

mail_templates *mail_templates_free(mail_templates *t) {
        if (!t)
                return NULL;
        templates_clear(t->t);
        free(t->override_dir);
        free(t->installed_dir);
        free(t);
        return NULL;
}

const mail_template *mail_templates_get(const mail_templates *t, mail_kind kind, const char *language) {
        int l = language_index(language);

        if (kind < 0 || kind >= _MAIL_KIND_MAX)
                return NULL;
        if (l < 0 || !t->t[kind][l].subject)
                l = 0;
        return t->t[kind][l].subject ? &t->t[kind][l] : NULL;
}

int mail_template_expand(const char *text, const mail_vars *v, char **ret) {
        const struct {
                const char *name;
                const char *value;
        } vars[] = {
                { "username", v->username },
                { "first_name", v->first_name },
                { "last_name", v->last_name },
                { "org", v->org },
                { "link", v->link },
                { "expires", v->expires },
                { "subject", v->subject },
                { "body", v->body },
        };
        _cleanup_free_ char *out = NULL;
        size_t size = 0;
        FILE *f;

        f = open_memstream(&out, &size);
        if (!f)
                return -ENOMEM;
        for (const char *p = text; *p;) {
                const char *close;
                bool done = false;

                if (*p == '{' && (close = strchr(p + 1, '}')))
                        for (size_t i = 0; i < ELEMENTSOF(vars); i++)
                                if ((size_t) (close - p - 1) == strlen(vars[i].name) &&
                                    strncmp(p + 1, vars[i].name, strlen(vars[i].name)) == 0) {
                                        fputs(strempty(vars[i].value), f);
                                        p = close + 1;
                                        done = true;
                                        break;
                                }
                if (!done) {
                        /* The text up to the next placeholder, at once. */
                        size_t n = strcspn(p + 1, "{") + 1;
                        fwrite(p, 1, n, f);
                        p += n;
                }
        }
        if (fclose(f) != 0)
                return -ENOMEM;
        *ret = TAKE_PTR(out);
        return 0;
}
