/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Bus glue for organisations, departments and roles: parse the arguments,
 * call org.c, marshal. */

#include "bus.h"
#include "org.h"
#include "publish.h"
#include "role.h"
#include "sshkey.h"

#include <stdio.h>
#include <string.h>

/* What a listing callback needs: the operation and where to append. */
typedef struct reply_walk {
        op *op;
        DBusMessageIter *array;
        const void *item;
} reply_walk;

/* ---- organisations ---- */

static int count_dept(const department *d, void *userdata) {
        (*(uint32_t *) userdata)++;
        return 0;
}

static int append_org(DBusMessageIter *it, store_txn *t, const organisation *org) {
        uint32_t users = 0, departments = 0;
        /* The accepted SSH key types, every one when unrestricted. */
        char *key_types[_SSHKEY_TYPE_MAX + 1] = {};
        DBusMessageIter d;
        int r;

        for (int i = 0, n = 0; i < _SSHKEY_TYPE_MAX; i++)
                if (!org->ssh_key_types || (org->ssh_key_types & (1u << i)))
                        key_types[n++] = (char *) sshkey_type_to_string((sshkey_type) i);

        r = org_count_users(t, org->name, NULL, &users);
        if (r >= 0)
                r = dept_foreach(t, org->name, count_dept, &departments);
        if (r < 0)
                return r;
        if (bus_dict_open(it, &d) < 0 ||
            bus_dict_add_string(&d, "name", org->name) < 0 ||
            bus_dict_add_bool(&d, "require_2fa", org->require_2fa) < 0 ||
            bus_dict_add_bool(&d, "hint_2fa", org->hint_2fa) < 0 ||
            bus_dict_add_uint64(&d, "created_at", org->created_at) < 0 ||
            bus_dict_add_uint32(&d, "users", users) < 0 ||
            bus_dict_add_uint32(&d, "departments", departments) < 0 ||
            bus_dict_add_strv(&d, "ssh_key_types", key_types) < 0 ||
            bus_dict_add_bool(&d, "ssh_key_types_restricted", org->ssh_key_types != 0) < 0 ||
            bus_dict_close(it, &d) < 0)
                return -ENOMEM;
        return 0;
}

static int method_create_organisation(bus_request *req, DBusMessage **ret_reply) {
        const char *name;

        if (!dbus_message_get_args(req->message, NULL, DBUS_TYPE_STRING, &name, DBUS_TYPE_INVALID))
                return -EINVAL;
        return org_create(&req->op, name);
}

static int list_org(const organisation *org, void *userdata) {
        reply_walk *w = userdata;

        if (!caller_may(&w->op->caller, PERM_MANAGE_ORG, org->name))
                return 0;
        return append_org(w->array, w->op->txn, org);
}

static int fill_organisations(DBusMessageIter *array, void *userdata) {
        reply_walk w = { userdata, array, NULL };
        return org_foreach(w.op->txn, list_org, &w);
}

static int method_list_organisations(bus_request *req, DBusMessage **ret_reply) {
        return bus_reply_build(req, "a{sv}", fill_organisations, &req->op, ret_reply);
}

static int fill_organisation(DBusMessageIter *it, void *userdata) {
        reply_walk *w = userdata;
        return append_org(it, w->op->txn, w->item);
}

static int method_get_organisation(bus_request *req, DBusMessage **ret_reply) {
        organisation org;
        const char *name;
        int r;

        if (!dbus_message_get_args(req->message, NULL, DBUS_TYPE_STRING, &name, DBUS_TYPE_INVALID))
                return -EINVAL;
        r = org_load(req->op.txn, name, &org);
        if (r == -ENOENT || (r == 0 && !caller_may(&req->op.caller, PERM_MANAGE_ORG, name)))
                return nx_error_set(&req->error, -ENOENT, "no organisation '%s'", name);
        if (r < 0)
                return r;
        return bus_reply_build(req, NULL, fill_organisation, &(reply_walk) { &req->op, NULL, &org }, ret_reply);
}

/* SetRequire2FA and Set2FAHint: an organisation and a switch. */
static int org_switch(bus_request *req, int (*set)(op *o, const char *name, bool on)) {
        const char *name;
        dbus_bool_t on;

        if (!dbus_message_get_args(req->message, NULL, DBUS_TYPE_STRING, &name, DBUS_TYPE_BOOLEAN, &on,
                                   DBUS_TYPE_INVALID))
                return -EINVAL;
        return set(&req->op, name, on);
}

static int method_set_require_2fa(bus_request *req, DBusMessage **ret_reply) {
        return org_switch(req, org_set_require_2fa);
}

static int method_set_2fa_hint(bus_request *req, DBusMessage **ret_reply) {
        return org_switch(req, org_set_2fa_hint);
}

/* Whether members without 2FA may log in with a key while nexalixd is down
 * is in the SSH keys snapshot (publish-keys.c): publish it before replying. */
static int keys_changed(bus_request *req, DBusMessage *reply) {
        publisher_queue_keys(req->services->publisher);
        return 0;
}

/* ---- departments ---- */

static int method_dept_change(bus_request *req, int (*action)(op *o, const char *org, const char *name)) {
        const char *org, *name;

        if (!dbus_message_get_args(req->message, NULL, DBUS_TYPE_STRING, &org, DBUS_TYPE_STRING, &name,
                                   DBUS_TYPE_INVALID))
                return -EINVAL;
        return action(&req->op, org, name);
}

static int method_create_department(bus_request *req, DBusMessage **ret_reply) {
        return method_dept_change(req, dept_create);
}

static int method_delete_department(bus_request *req, DBusMessage **ret_reply) {
        return method_dept_change(req, dept_delete);
}

static int list_dept(const department *dept, void *userdata) {
        reply_walk *w = userdata;
        char group[GROUP_NAME_MAX + 1];
        uint32_t users = 0;
        DBusMessageIter d;
        int r;

        r = org_count_users(w->op->txn, dept->org, dept->name, &users);
        if (r < 0)
                return r;
        org_group_name(dept->org, dept->name, group);
        if (bus_dict_open(w->array, &d) < 0 ||
            bus_dict_add_string(&d, "name", dept->name) < 0 ||
            bus_dict_add_string(&d, "org", dept->org) < 0 ||
            bus_dict_add_string(&d, "group", group) < 0 ||
            bus_dict_add_uint32(&d, "gid", dept->gid) < 0 ||
            bus_dict_add_uint32(&d, "users", users) < 0 ||
            bus_dict_add_uint64(&d, "created_at", dept->created_at) < 0 ||
            bus_dict_close(w->array, &d) < 0)
                return -ENOMEM;
        return 0;
}

static int fill_departments(DBusMessageIter *array, void *userdata) {
        reply_walk *w = userdata;
        w->array = array;
        return dept_foreach(w->op->txn, w->item, list_dept, w);
}

static int method_list_departments(bus_request *req, DBusMessage **ret_reply) {
        const char *org;
        int r;

        if (!dbus_message_get_args(req->message, NULL, DBUS_TYPE_STRING, &org, DBUS_TYPE_INVALID))
                return -EINVAL;
        r = org_load(req->op.txn, org, &(organisation) {});
        if (r == -ENOENT || (r == 0 && !caller_may(&req->op.caller, PERM_MANAGE_ORG, org)))
                return nx_error_set(&req->error, -ENOENT, "no organisation '%s'", org);
        if (r < 0)
                return r;
        return bus_reply_build(req, "a{sv}", fill_departments, &(reply_walk) { &req->op, NULL, org }, ret_reply);
}

/* ---- roles ---- */

static int fill_roles(DBusMessageIter *array, void *userdata) {
        for (size_t i = 0; i < ROLE_COUNT; i++) {
                const char *names[16];
                char *perms[17] = {};
                size_t n = role_permission_names(ROLES[i].permissions, names, 16);
                DBusMessageIter d;

                for (size_t k = 0; k < n; k++)
                        perms[k] = (char *) names[k];
                if (bus_dict_open(array, &d) < 0 ||
                    bus_dict_add_string(&d, "name", ROLES[i].name) < 0 ||
                    bus_dict_add_string(&d, "description", ROLES[i].description) < 0 ||
                    bus_dict_add_strv(&d, "permissions", perms) < 0 ||
                    bus_dict_close(array, &d) < 0)
                        return -ENOMEM;
        }
        return 0;
}

static int method_list_roles(bus_request *req, DBusMessage **ret_reply) {
        return bus_reply_build(req, "a{sv}", fill_roles, NULL, ret_reply);
}

/* Organisations are created by root alone (org_create() checks); the
 * coarse check here lets org-admins reach the methods at all. */
#define W BUS_METHOD_WRITE
const bus_method org_methods[] = {
        { BUS_IFACE_ADMIN, "CreateOrganisation", "s", 0, W, method_create_organisation, NULL },
        { BUS_IFACE_ADMIN, "ListOrganisations", "", PERM_MANAGE_ORG, 0, method_list_organisations, NULL },
        { BUS_IFACE_ADMIN, "GetOrganisation", "s", 0, 0, method_get_organisation, NULL },
        { BUS_IFACE_ADMIN, "SetRequire2FA", "sb", 0, W, method_set_require_2fa, keys_changed },
        { BUS_IFACE_ADMIN, "Set2FAHint", "sb", 0, W, method_set_2fa_hint, NULL },
        { BUS_IFACE_ADMIN, "CreateDepartment", "ss", 0, W, method_create_department, NULL },
        { BUS_IFACE_ADMIN, "ListDepartments", "s", 0, 0, method_list_departments, NULL },
        { BUS_IFACE_ADMIN, "DeleteDepartment", "ss", 0, W, method_delete_department, NULL },
        { BUS_IFACE_ADMIN, "ListRoles", "", 0, 0, method_list_roles, NULL },
        {}
};
