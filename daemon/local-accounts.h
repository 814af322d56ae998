/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* The machine's own accounts, read straight from /etc/passwd and /etc/group
 * (not through NSS, which would include Nexalix itself). Nexalix never creates
 * a user or group whose name or id a local one already has, never allocates
 * such an id, and never publishes an entry over one created later. The lists
 * are reloaded when either file changes. */

#include <stdbool.h>
#include <stdint.h>

typedef struct local_accounts local_accounts;

int local_accounts_new(const char *passwd_path, const char *group_path, local_accounts **ret);
local_accounts *local_accounts_free(local_accounts *l);

/* Re-reads the files if their modification time or size changed. */
int local_accounts_refresh(local_accounts *l);

bool local_accounts_has_name(const local_accounts *l, const char *name);   /* user or group */
bool local_accounts_has_id(const local_accounts *l, uint32_t id);          /* uid or gid */
