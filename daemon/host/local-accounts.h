/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* The machine's own accounts, read straight from /etc/passwd and /etc/group
 * (not through NSS, which would include Nexalix itself), and the subordinate
 * id ranges of /etc/subuid and /etc/subgid that rootless containers map their
 * users to. Nexalix never creates a user or group whose name or id a local
 * one already has, never allocates such an id or one inside a subordinate
 * range, and never publishes an entry over one created later. The lists are
 * reloaded when a file changes. */

#include <stdbool.h>
#include <stdint.h>

typedef struct local_accounts local_accounts;

typedef struct local_accounts_paths {
        const char *passwd, *group;
        const char *subuid, *subgid;    /* NULL: none */
} local_accounts_paths;

#define LOCAL_ACCOUNTS_SYSTEM \
        ((const local_accounts_paths) { "/etc/passwd", "/etc/group", "/etc/subuid", "/etc/subgid" })

int local_accounts_new(const local_accounts_paths *paths, local_accounts **ret);
local_accounts *local_accounts_free(local_accounts *l);

/* Re-reads the files if their modification time or size changed. */
int local_accounts_refresh(local_accounts *l);
/* Grows by one each time the files were read anew: a publication that saw
 * another value must look at every entry again. */
uint64_t local_accounts_generation(const local_accounts *l);

bool local_accounts_has_name(const local_accounts *l, const char *name);   /* user or group */
bool local_accounts_has_id(const local_accounts *l, uint32_t id);          /* uid or gid */
/* Whether id lies in a subordinate range of /etc/subuid or /etc/subgid. */
bool local_accounts_in_subordinate_range(const local_accounts *l, uint32_t id);
