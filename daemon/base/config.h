/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* nexalixd.conf: an INI file, every key optional (nexalixd(8), docs/nexalixd.8). */

#include <stddef.h>
#include <stdint.h>

typedef struct config {
        char *store_dir;        /* [paths] store */
        char *runtime_dir;      /* [paths] runtime */
        uint32_t uid_min;       /* [ids] uid_min */
        uint32_t uid_max;       /* [ids] uid_max */
        char *home_template;    /* [ids] home, "{user}" replaced */
        char *shell;            /* [ids] shell */
        char *sendmail;         /* [mail] sendmail */
        char *mail_spool;       /* [mail] spool, NULL when unset */
        char *mail_from;        /* [mail] from */
        char *mail_smtp;        /* [mail] smtp, "HOST[:PORT]", NULL when unset */
        char *mail_templates;   /* [mail] templates, the administrator's templates */
        char *link_url;         /* [links] url, "{token}" replaced */
        char *ssh_keys_group;   /* [ssh] keys_group: may read the SSH keys snapshot; "": root only */
} config;

#define CONFIG_UID_MIN_DEFAULT 200000u
#define CONFIG_UID_MAX_DEFAULT 999999u

/* Loads path; a missing file is fine when `must_exist` is false (defaults
 * apply). Unknown keys and bad values are errors that name file and line. */
int config_load(const char *path, int must_exist, config *ret);
void config_done(config *c);

/* "/home/{user}" -> "/home/alice" into buf; -ENAMETOOLONG if it does not fit.
 * No allocation: the NSS publication calls it for every user. */
int config_home_for(const config *c, const char *username, char *buf, size_t size);
