/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* The texts of the mails, one file per kind and language (docs/mail.md,
 * "Templates"): LANG/KIND.txt, e.g. es/invite.txt. A template is a first
 * line "Subject: ...", a blank line, then the body, all UTF-8, with
 * {username} {first_name} {last_name} {org} {link} {expires} {subject}
 * {body} replaced by the values of mail_vars.
 *
 * Each template is looked up, in order, in the administrator's directory
 * ([mail] templates, by default /etc/nexalix/mail), in the installed copies
 * (/usr/share/nexalix/mail) and in the copy compiled into nexalixd, so that
 * every kind exists in every language whatever is missing on disk. A file
 * that is not a valid template is skipped with a warning. Loaded at start
 * and again on SIGHUP. */

#include <stdbool.h>

#include "outbox.h"

#define MAIL_LANGUAGES 3       /* en, es, pt: LANGUAGES[] */

typedef struct mail_template {
        char *subject;          /* without "Subject:", trimmed */
        char *body;             /* ends with a newline */
        char *source;           /* the file it came from, or "built in" */
} mail_template;

struct mail_templates {
        char *override_dir;
        char *installed_dir;
        mail_template t[_MAIL_KIND_MAX][MAIL_LANGUAGES];        /* by kind, then LANGUAGES[] order */
};

/* The copies compiled in from data/mail/ (a generated file). */
typedef struct mail_builtin_template {
        const char *language, *kind, *text;
} mail_builtin_template;
extern const mail_builtin_template MAIL_BUILTIN_TEMPLATES[];

/* override_dir NULL: the default, "mail" beside the configuration file;
 * installed_dir NULL: where meson installs data/mail. */
int mail_templates_load(const char *override_dir, const char *installed_dir, mail_templates **ret);
/* Loads the files again; on failure the templates stay as they were. */
int mail_templates_reload(mail_templates *t);
mail_templates *mail_templates_free(mail_templates *t);

/* The template of kind in language; an unknown language gets English.
 * NULL only for a kind out of range. */
const mail_template *mail_templates_get(const mail_templates *t, mail_kind kind, const char *language);

/* Parses a template file's text; -EBADMSG with *ret_reason for one that is
 * not "Subject: ...", a blank line and a body, or not UTF-8. */
int mail_template_parse(const char *text, size_t size, mail_template *ret, const char **ret_reason);
void mail_template_done(mail_template *t);

/* text with each {name} of vars replaced (NULL values as ""); unknown
 * names stay as they are. */
int mail_template_expand(const char *text, const mail_vars *vars, char **ret);

/* "invite" -> MAIL_INVITE, or -EINVAL. */
int mail_kind_from_string(const char *s);
