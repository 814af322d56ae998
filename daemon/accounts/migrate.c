/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "log.h"
#include "migrate.h"
#include "org.h"
#include "user.h"

#include <string.h>

static int claim(store_txn *t, const char *org, const char *name, uint32_t gid) {
        char group[GROUP_NAME_MAX + 1];
        uint8_t buf[4];

        be32_put(buf, gid);
        org_group_name(org, name, group);
        return store_put(t, TABLE_GROUPS, group, strlen(group), buf, sizeof(buf), false);
}

static int rename_role_groups(const organisation *org, void *userdata) {
        for (size_t i = 0; i < ROLE_COUNT; i++) {
                int r = claim(userdata, org->name, ROLES[i].name, org->role_gids[i]);
                if (r < 0)
                        return r;
        }
        return 0;
}

static int rename_dept_group(const department *d, void *userdata) {
        return claim(userdata, d->org, d->name, d->gid);
}


/* Format 1 named department and role groups "ORG-NAME", which let one
 * organisation claim names another would need. The groups table is rebuilt
 * from the organisations and departments, which hold the gids. */
static int migrate_1_to_2(store_txn *t) {
        const void *key;
        size_t key_size;
        int r;

        while ((r = store_last_key(t, TABLE_GROUPS, &key, &key_size)) == 0) {
                char copy[GROUP_NAME_MAX + 1];

                if (key_size > GROUP_NAME_MAX)
                        return -EBADMSG;
                memcpy(copy, key, key_size);
                r = store_del(t, TABLE_GROUPS, copy, key_size);
                if (r < 0)
                        return r;
        }
        if (r != -ENOENT)
                return r;
        r = org_foreach(t, rename_role_groups, t);
        if (r < 0)
                return r;
        return dept_foreach(t, NULL, rename_dept_group, t);
}

/* Format 3 keeps an index of each organisation's users and their counts, so
 * that listing and counting cost no walk over every user: built here from
 * the users, through the same writes user.c makes. */
static int index_user(const user *u, void *userdata) {
        op *o = userdata;
        user copy = *u;
        int r = user_index(o, &copy);
        if (r >= 0)
                r = org_count_users_adjust(o, u->org, u->department, +1);
        return r;
}

static int migrate_2_to_3(store_txn *t) {
        op o = { .txn = t };
        return user_foreach(t, index_user, &o);
}

int store_migrate(store *s) {
        _cleanup_txn_ store_txn *t = NULL;
        unsigned version;
        int r;

        r = store_begin(s, true, &t);
        if (r < 0)
                return r;
        r = store_get_format(t, &version);
        if (r < 0)
                return log_error_errno(r, "Failed to read the store's format: %m");
        if (version == STORE_FORMAT_VERSION)
                return 0;

        log_notice("Migrating the store from format %u to %u", version, STORE_FORMAT_VERSION);
        if (version < 2) {
                r = migrate_1_to_2(t);
                if (r < 0)
                        return log_error_errno(r, "Failed to migrate the store to format 2: %m");
        }
        if (version < 3) {
                r = migrate_2_to_3(t);
                if (r < 0)
                        return log_error_errno(r, "Failed to migrate the store to format 3: %m");
        }
        r = store_set_format(t, STORE_FORMAT_VERSION);
        if (r < 0)
                return r;
        return store_commit(TAKE_PTR(t));
}
