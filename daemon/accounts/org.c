/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "audit.h"
#include "local-accounts.h"
#include "org.h"
#include "record.h"
#include "sshkey.h"
#include "user.h"

#include <stdio.h>
#include <string.h>

/* 2 adds whether members without 2FA are reminded of it at login (1: they
 * are); 3 the SSH key types members may add (a u32 mask of 1 << sshkey_type,
 * 0: all; 1 and 2 read as all). Records of older versions are read as they
 * are. */
#define ORG_RECORD_VERSION 3
#define DEPT_RECORD_VERSION 1

/* ---- identifiers and names ---- */

const char *org_group_name(const char *org, const char *name, char buf[static GROUP_NAME_MAX + 1]) {
        snprintf(buf, GROUP_NAME_MAX + 1, "%s.%s", org, name);
        return buf;
}

int id_allocate(op *o, uint32_t *ret) {
        const config *cfg = o->accounts->config;
        const void *v;
        size_t n;
        uint32_t id = cfg->uid_min;
        uint8_t buf[4];
        int r;

        r = store_get(o->txn, TABLE_META, "next_id", 7, &v, &n);
        if (r == 0 && n == 4)
                id = be32_get(v);
        else if (r < 0 && r != -ENOENT)
                return r;
        if (id < cfg->uid_min)
                id = cfg->uid_min;

        /* Local accounts may have been created inside the range since it was
         * configured: step over their ids rather than share one. Ids of a
         * subordinate range belong to some rootless container's users. */
        r = local_accounts_refresh(o->accounts->local);
        if (r < 0)
                return nx_error_set(o->error, r, "cannot read the local accounts (/etc/passwd, /etc/group) — try again");
        while (id <= cfg->uid_max && (local_accounts_has_id(o->accounts->local, id) ||
                                      local_accounts_in_subordinate_range(o->accounts->local, id)))
                id++;
        if (id > cfg->uid_max || id == UINT32_MAX)
                return nx_error_set(o->error, -ENOSPC,
                                    "the id range %u-%u is exhausted — raise [ids] uid_max in nexalixd.conf",
                                    cfg->uid_min, cfg->uid_max);

        be32_put(buf, id + 1);
        r = store_put(o->txn, TABLE_META, "next_id", 7, buf, sizeof(buf), false);
        if (r < 0)
                return r;
        *ret = id;
        return 0;
}

int name_check_free(op *o, const char *name, const char *what) {
        int r;

        r = store_get(o->txn, TABLE_USERS, name, strlen(name), NULL, NULL);
        if (r == 0)
                return nx_error_set(o->error, -EEXIST, "%s '%s' is already taken by a user", what, name);
        if (r != -ENOENT)
                return r;
        r = store_get(o->txn, TABLE_GROUPS, name, strlen(name), NULL, NULL);
        if (r == 0)
                return nx_error_set(o->error, -EEXIST, "%s '%s' is already taken by a group", what, name);
        if (r != -ENOENT)
                return r;
        r = local_accounts_refresh(o->accounts->local);
        if (r < 0)
                return nx_error_set(o->error, r, "cannot read the local accounts (/etc/passwd, /etc/group) — try again");
        if (local_accounts_has_name(o->accounts->local, name))
                return nx_error_set(o->error, -EEXIST,
                                    "%s '%s' is a local account or group on this machine", what, name);
        return 0;
}

static int group_claim(op *o, const char *name, uint32_t gid) {
        uint8_t buf[4];
        int r = name_check_free(o, name, "group name");
        if (r < 0)
                return r;
        be32_put(buf, gid);
        return store_put(o->txn, TABLE_GROUPS, name, strlen(name), buf, sizeof(buf), true);
}

/* ---- user counts ---- */

static size_t count_key(char buf[static ORG_NAME_MAX + DEPT_NAME_MAX + 4], const char *org, const char *dept) {
        return (size_t) (isempty(dept) ? snprintf(buf, ORG_NAME_MAX + DEPT_NAME_MAX + 4, "o:%s", org)
                                       : snprintf(buf, ORG_NAME_MAX + DEPT_NAME_MAX + 4, "d:%s/%s", org, dept));
}

int org_count_users(store_txn *t, const char *org, const char *dept, uint32_t *ret) {
        char key[ORG_NAME_MAX + DEPT_NAME_MAX + 4];
        const void *v;
        size_t n;
        int r = store_get(t, TABLE_COUNTS, key, count_key(key, org, dept), &v, &n);

        if (r == -ENOENT) {
                *ret = 0;
                return 0;
        }
        if (r < 0)
                return r;
        if (n != 4)
                return -EBADMSG;
        *ret = be32_get(v);
        return 0;
}

static int adjust(op *o, const char *org, const char *dept, int delta) {
        char key[ORG_NAME_MAX + DEPT_NAME_MAX + 4];
        size_t n = count_key(key, org, dept);
        uint8_t buf[4];
        uint32_t count;
        int r = org_count_users(o->txn, org, dept, &count);

        if (r < 0)
                return r;
        if (delta < 0 && count < (uint32_t) -delta)
                return -EBADMSG;
        count = (uint32_t) ((int64_t) count + delta);
        if (count == 0) {
                r = store_del(o->txn, TABLE_COUNTS, key, n);
                return r == -ENOENT ? 0 : r;
        }
        be32_put(buf, count);
        return store_put(o->txn, TABLE_COUNTS, key, n, buf, sizeof(buf), false);
}

int org_count_users_adjust(op *o, const char *org, const char *dept, int delta) {
        int r = adjust(o, org, NULL, delta);
        if (r >= 0 && !isempty(dept))
                r = adjust(o, org, dept, delta);
        return r;
}

/* ---- organisations ---- */

static int org_decode(const char *name, size_t name_size, const void *data, size_t size,
                      organisation *ret) {
        record_reader rd = record_reader_init(data, size);
        organisation org = {};

        uint8_t version = record_get_u8(&rd);

        if (name_size > ORG_NAME_MAX || version < 1 || version > ORG_RECORD_VERSION)
                return -EBADMSG;
        memcpy(org.name, name, name_size);
        org.require_2fa = record_get_u8(&rd);
        org.created_at = record_get_u64(&rd);
        for (size_t i = 0; i < ROLE_COUNT; i++)
                org.role_gids[i] = record_get_u32(&rd);
        org.hint_2fa = version >= 2 ? !record_get_u8(&rd) : true;
        org.ssh_key_types = version >= 3 ? record_get_u32(&rd) : 0;
        if (rd.error)
                return rd.error;
        *ret = org;
        return 0;
}

static int org_save(op *o, const organisation *org, bool create) {
        _cleanup_(record_writer_done) record_writer w = {};
        int r;

        record_put_u8(&w, ORG_RECORD_VERSION);
        record_put_u8(&w, org->require_2fa);
        record_put_u64(&w, org->created_at);
        for (size_t i = 0; i < ROLE_COUNT; i++)
                record_put_u32(&w, org->role_gids[i]);
        record_put_u8(&w, !org->hint_2fa);
        record_put_u32(&w, org->ssh_key_types);
        r = record_writer_error(&w);
        if (r < 0)
                return r;
        return store_put(o->txn, TABLE_ORGS, org->name, strlen(org->name), w.data, w.size, create);
}

int org_load(store_txn *t, const char *name, organisation *ret) {
        const void *v;
        size_t n;
        int r;

        if (!name || validate_org_name(name, NULL) < 0)
                return -ENOENT;
        r = store_get(t, TABLE_ORGS, name, strlen(name), &v, &n);
        if (r < 0)
                return r;
        return org_decode(name, strlen(name), v, n, ret);
}

int org_create(op *o, const char *name) {
        organisation org = { .created_at = o->now, .hint_2fa = true };
        const char *reason;
        int r;

        if (!o->caller.superadmin)
                return nx_error_set(o->error, -EACCES, "only root may create organisations");
        if (validate_org_name(name, &reason) < 0)
                return nx_error_set(o->error, -EINVAL, "%s", reason);
        r = store_get(o->txn, TABLE_ORGS, name, strlen(name), NULL, NULL);
        if (r == 0)
                return nx_error_set(o->error, -EEXIST, "organisation '%s' already exists", name);
        if (r != -ENOENT)
                return r;

        snprintf(org.name, sizeof(org.name), "%s", name);
        for (size_t i = 0; i < ROLE_COUNT; i++) {
                char group[GROUP_NAME_MAX + 1];

                r = id_allocate(o, &org.role_gids[i]);
                if (r < 0)
                        return r;
                r = group_claim(o, org_group_name(name, ROLES[i].name, group), org.role_gids[i]);
                if (r < 0)
                        return r;
                r = op_group_changed(o, group);
                if (r < 0)
                        return r;
        }
        r = org_save(o, &org, true);
        if (r < 0)
                return r;
        return audit_append(o, "org.create", name, name, "organisation created");
}

/* An organisation the caller may manage; one it may not reads as missing. */
static int org_load_to_manage(op *o, const char *name, organisation *ret) {
        int r = org_load(o->txn, name, ret);

        if (r == -ENOENT || (r == 0 && !caller_may(&o->caller, PERM_MANAGE_ORG, name)))
                return nx_error_set(o->error, -ENOENT, "no organisation '%s'", name);
        return r;
}

int org_set_require_2fa(op *o, const char *name, bool required) {
        organisation org;
        int r;

        r = org_load_to_manage(o, name, &org);
        if (r < 0)
                return r;
        if (org.require_2fa == required)
                return 0;
        org.require_2fa = required;
        r = org_save(o, &org, false);
        if (r < 0)
                return r;
        return audit_append(o, "org.require-2fa", name, name, "Require 2FA %s", required ? "on" : "off");
}

int org_set_2fa_hint(op *o, const char *name, bool shown) {
        organisation org;
        int r;

        r = org_load_to_manage(o, name, &org);
        if (r < 0)
                return r;
        if (org.hint_2fa == shown)
                return 0;
        org.hint_2fa = shown;
        r = org_save(o, &org, false);
        if (r < 0)
                return r;
        return audit_append(o, "org.2fa-hint", name, name, "2FA hint at login %s", shown ? "on" : "off");
}

int org_set_ssh_key_types(op *o, const char *name, uint32_t types) {
        char list[256];
        organisation org;
        int r;

        r = org_load_to_manage(o, name, &org);
        if (r < 0)
                return r;
        types &= SSHKEY_TYPES_ALL;
        if (types == SSHKEY_TYPES_ALL)
                types = 0;
        if (org.ssh_key_types == types)
                return 0;
        org.ssh_key_types = types;
        r = org_save(o, &org, false);
        if (r < 0)
                return r;
        return audit_append(o, "org.ssh-key-types", name, name, "SSH key types accepted: %s",
                            types ? sshkey_types_to_text(types, list, sizeof(list)) : "all");
}

typedef struct org_walk {
        int (*fn)(const organisation *org, void *userdata);
        void *userdata;
} org_walk;

static int org_visit(const void *key, size_t key_size, const void *value, size_t value_size,
                     void *userdata) {
        org_walk *walk = userdata;
        organisation org;
        int r = org_decode(key, key_size, value, value_size, &org);
        return r < 0 ? r : walk->fn(&org, walk->userdata);
}

int org_foreach(store_txn *t, int (*fn)(const organisation *org, void *userdata), void *userdata) {
        org_walk walk = { fn, userdata };
        return store_foreach(t, TABLE_ORGS, NULL, 0, false, org_visit, &walk);
}

/* ---- departments ---- */

static int dept_key(const char *org, const char *name, char ret[static ORG_NAME_MAX + DEPT_NAME_MAX + 2]) {
        return snprintf(ret, ORG_NAME_MAX + DEPT_NAME_MAX + 2, "%s/%s", org, name);
}

static int dept_decode(const void *key, size_t key_size, const void *data, size_t size,
                       department *ret) {
        record_reader rd = record_reader_init(data, size);
        const char *slash = memchr(key, '/', key_size);
        department d = {};
        size_t org_len;

        if (!slash || record_get_u8(&rd) != DEPT_RECORD_VERSION)
                return -EBADMSG;
        org_len = (size_t) (slash - (const char *) key);
        if (org_len > ORG_NAME_MAX || key_size - org_len - 1 > DEPT_NAME_MAX)
                return -EBADMSG;
        memcpy(d.org, key, org_len);
        memcpy(d.name, slash + 1, key_size - org_len - 1);
        d.gid = record_get_u32(&rd);
        d.created_at = record_get_u64(&rd);
        if (rd.error)
                return rd.error;
        *ret = d;
        return 0;
}

int dept_load(store_txn *t, const char *org, const char *name, department *ret) {
        char key[ORG_NAME_MAX + DEPT_NAME_MAX + 2];
        const void *v;
        size_t n;
        int r;

        if (validate_org_name(org, NULL) < 0 || validate_dept_name(name, NULL) < 0)
                return -ENOENT;
        dept_key(org, name, key);
        r = store_get(t, TABLE_DEPTS, key, strlen(key), &v, &n);
        if (r < 0)
                return r;
        return dept_decode(key, strlen(key), v, n, ret);
}

int dept_create(op *o, const char *org, const char *name) {
        _cleanup_(record_writer_done) record_writer w = {};
        char key[ORG_NAME_MAX + DEPT_NAME_MAX + 2], group[GROUP_NAME_MAX + 1];
        const char *reason;
        uint32_t gid;
        int r;

        r = org_load(o->txn, org, &(organisation) {});
        if (r == -ENOENT || (r == 0 && !caller_may(&o->caller, PERM_MANAGE_ORG, org)))
                return nx_error_set(o->error, -ENOENT, "no organisation '%s'", org);
        if (r < 0)
                return r;
        if (validate_dept_name(name, &reason) < 0)
                return nx_error_set(o->error, -EINVAL, "%s", reason);
        /* "ORG.DEPT" and "ORG.ROLE" share one namespace of group names. */
        if (role_index(name) >= 0)
                return nx_error_set(o->error, -EINVAL,
                                    "a department cannot be named like the role '%s'", name);

        dept_key(org, name, key);
        r = store_get(o->txn, TABLE_DEPTS, key, strlen(key), NULL, NULL);
        if (r == 0)
                return nx_error_set(o->error, -EEXIST, "department '%s' already exists in organisation '%s'",
                                    name, org);
        if (r != -ENOENT)
                return r;

        r = id_allocate(o, &gid);
        if (r < 0)
                return r;
        r = group_claim(o, org_group_name(org, name, group), gid);
        if (r < 0)
                return r;

        record_put_u8(&w, DEPT_RECORD_VERSION);
        record_put_u32(&w, gid);
        record_put_u64(&w, o->now);
        r = record_writer_error(&w);
        if (r < 0)
                return r;
        r = store_put(o->txn, TABLE_DEPTS, key, strlen(key), w.data, w.size, true);
        if (r < 0)
                return r;
        r = op_group_changed(o, group);
        if (r < 0)
                return r;
        return audit_append(o, "dept.create", org, name, "department created (group %s, gid %u)", group, gid);
}

int dept_delete(op *o, const char *org, const char *name) {
        char key[ORG_NAME_MAX + DEPT_NAME_MAX + 2], group[GROUP_NAME_MAX + 1];
        uint32_t members;
        department d;
        int r;

        if (!caller_may(&o->caller, PERM_MANAGE_ORG, org) ||
            org_load(o->txn, org, &(organisation) {}) < 0)
                return nx_error_set(o->error, -ENOENT, "no organisation '%s'", org);
        r = dept_load(o->txn, org, name, &d);
        if (r == -ENOENT)
                return nx_error_set(o->error, -ENOENT, "no department '%s' in organisation '%s'", name, org);
        if (r < 0)
                return r;

        r = org_count_users(o->txn, org, name, &members);
        if (r < 0)
                return r;
        if (members > 0)
                return nx_error_set(o->error, -EBUSY,
                                    "department '%s' still has %u user%s — move them to another department first",
                                    name, members, members == 1 ? "" : "s");

        dept_key(org, name, key);
        r = store_del(o->txn, TABLE_DEPTS, key, strlen(key));
        if (r < 0)
                return r;
        /* The group name is released; its gid is not: ids are never reused. */
        org_group_name(org, name, group);
        r = store_del(o->txn, TABLE_GROUPS, group, strlen(group));
        if (r < 0 && r != -ENOENT)
                return r;
        r = op_group_changed(o, group);
        if (r < 0)
                return r;
        return audit_append(o, "dept.delete", org, name, "department deleted");
}

typedef struct dept_walk {
        int (*fn)(const department *dept, void *userdata);
        void *userdata;
} dept_walk;

static int dept_visit(const void *key, size_t key_size, const void *value, size_t value_size,
                      void *userdata) {
        dept_walk *walk = userdata;
        department d;
        int r = dept_decode(key, key_size, value, value_size, &d);
        return r < 0 ? r : walk->fn(&d, walk->userdata);
}

int dept_foreach(store_txn *t, const char *org,
                 int (*fn)(const department *dept, void *userdata), void *userdata) {
        char prefix[ORG_NAME_MAX + 2];
        dept_walk walk = { fn, userdata };

        if (!org)
                return store_foreach(t, TABLE_DEPTS, NULL, 0, false, dept_visit, &walk);
        snprintf(prefix, sizeof(prefix), "%s/", org);
        return store_foreach(t, TABLE_DEPTS, prefix, strlen(prefix), false, dept_visit, &walk);
}
