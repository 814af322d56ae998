/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Organisations and their departments, and the identifiers they share with
 * users: one counter hands out uids and gids alike, so a department's or a
 * role's group never takes a gid that is some user's private group, and no
 * id is ever handed out twice. */

#include "op.h"
#include "role.h"

typedef struct organisation {
        char name[ORG_NAME_MAX + 1];
        bool require_2fa;
        bool hint_2fa;                          /* remind members without 2FA at login */
        uint32_t ssh_key_types;                 /* SSH key types members may add: a mask of
                                                 * 1 << sshkey_type; 0: every accepted type */
        uint64_t created_at;
        uint32_t role_gids[ROLE_COUNT];         /* the "ORG.ROLE" groups */
} organisation;

typedef struct department {
        char org[ORG_NAME_MAX + 1];
        char name[DEPT_NAME_MAX + 1];
        uint32_t gid;                           /* the "ORG.DEPT" group */
        uint64_t created_at;
} department;

/* The published group of a department or role of org: "ORG.NAME". The '.'
 * appears in no organisation, department, role or user name, so every
 * group name has exactly one owner and no organisation can claim another's
 * group names or usernames. Returns buf. */
const char *org_group_name(const char *org, const char *name, char buf[static GROUP_NAME_MAX + 1]);

int org_load(store_txn *t, const char *name, organisation *ret);
int org_create(op *o, const char *name);
int org_set_require_2fa(op *o, const char *name, bool required);
int org_set_2fa_hint(op *o, const char *name, bool shown);
/* The SSH key types members may add from now on (a mask of 1 << sshkey_type,
 * 0: every accepted type), audited as org.ssh-key-types. Keys of a type no
 * longer accepted stay stored but leave the keys snapshot. */
int org_set_ssh_key_types(op *o, const char *name, uint32_t types);
/* fn returns 0 to go on, < 0 on error. */
int org_foreach(store_txn *t, int (*fn)(const organisation *org, void *userdata), void *userdata);

int dept_load(store_txn *t, const char *org, const char *name, department *ret);
int dept_create(op *o, const char *org, const char *name);
int dept_delete(op *o, const char *org, const char *name);
/* All departments of org, or of every organisation when org is NULL. */
int dept_foreach(store_txn *t, const char *org,
                 int (*fn)(const department *dept, void *userdata), void *userdata);

/* How many users an organisation, or one of its departments (dept not
 * NULL), has: kept up to date by user.c, read in O(1). */
int org_count_users(store_txn *t, const char *org, const char *dept, uint32_t *ret);
/* Adds delta to those counts (dept may be NULL or ""). */
int org_count_users_adjust(op *o, const char *org, const char *dept, int delta);

/* The next free uid/gid from the configured range, skipping local ids. */
int id_allocate(op *o, uint32_t *ret);

/* Refuses (AlreadyExists, with a message) a user or group name that a
 * Nexalix user or group, or a local account or group, already has. */
int name_check_free(op *o, const char *name, const char *what);
