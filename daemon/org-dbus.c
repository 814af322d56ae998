/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Bus glue for organisations, departments, roles and the audit log: parse the
 * arguments, check the coarse permission, call org.c / audit.c, marshal. */

#include "audit.h"
#include "bus-util.h"
#include "manager.h"
#include "org.h"
#include "user.h"

#include <stdio.h>
#include <string.h>

/* What a listing callback needs: the operation and where to append. */
typedef struct reply_walk {
        op *op;
        DBusMessageIter *array;
        const void *item;
} reply_walk;

/* ---- organisations ---- */

typedef struct org_counts {
        const char *org;
        uint32_t users, departments;
} org_counts;

static int count_org_user(const user *u, void *userdata) {
        org_counts *c = userdata;
        if (strcmp(u->org, c->org) == 0)
                c->users++;
        return 0;
}

static int count_dept(const department *d, void *userdata) {
        ((org_counts *) userdata)->departments++;
        return 0;
}

static int append_org(DBusMessageIter *it, store_txn *t, const organisation *org) {
        org_counts c = { .org = org->name };
        DBusMessageIter d;
        int r;

        r = user_foreach(t, count_org_user, &c);
        if (r >= 0)
                r = dept_foreach(t, org->name, count_dept, &c);
        if (r < 0)
                return r;
        if (bus_dict_open(it, &d) < 0 ||
            bus_dict_add_string(&d, "name", org->name) < 0 ||
            bus_dict_add_bool(&d, "require_2fa", org->require_2fa) < 0 ||
            bus_dict_add_uint64(&d, "created_at", org->created_at) < 0 ||
            bus_dict_add_uint32(&d, "users", c.users) < 0 ||
            bus_dict_add_uint32(&d, "departments", c.departments) < 0 ||
            bus_dict_close(it, &d) < 0)
                return -ENOMEM;
        return 0;
}

static int method_create_organisation(request *req, DBusMessage **ret_reply, nx_error *e) {
        const char *name;
        op o;
        int r;

        if (!dbus_message_get_args(req->message, NULL, DBUS_TYPE_STRING, &name, DBUS_TYPE_INVALID))
                return -EINVAL;
        r = request_op_begin(req, true, &o, e);
        if (r < 0)
                return r;
        return request_finish_write(req, &o, org_create(&o, name), ret_reply);
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

static int fill_organisation(DBusMessageIter *it, void *userdata) {
        reply_walk *w = userdata;
        return append_org(it, w->op->txn, w->item);
}

static int method_list_organisations(request *req, DBusMessage **ret_reply, nx_error *e) {
        op o;
        int r;

        r = request_op_begin(req, false, &o, e);
        if (r < 0)
                return r;
        if (!caller_may_any(&o.caller, PERM_MANAGE_ORG))
                r = nx_error_set(e, -EACCES, "permission denied: only administrators may list organisations");
        else
                r = request_build_reply(req, "a{sv}", fill_organisations, &o, ret_reply);
        request_op_abort(&o);
        return r;
}

static int method_get_organisation(request *req, DBusMessage **ret_reply, nx_error *e) {
        organisation org;
        const char *name;
        op o;
        int r;

        if (!dbus_message_get_args(req->message, NULL, DBUS_TYPE_STRING, &name, DBUS_TYPE_INVALID))
                return -EINVAL;
        r = request_op_begin(req, false, &o, e);
        if (r < 0)
                return r;
        r = org_load(o.txn, name, &org);
        if (r == -ENOENT || (r == 0 && !caller_may(&o.caller, PERM_MANAGE_ORG, name)))
                r = nx_error_set(e, -ENOENT, "no organisation '%s'", name);
        if (r >= 0)
                r = request_build_reply(req, NULL, fill_organisation, &(reply_walk) { &o, NULL, &org },
                                        ret_reply);
        request_op_abort(&o);
        return r;
}

static int method_set_require_2fa(request *req, DBusMessage **ret_reply, nx_error *e) {
        const char *name;
        dbus_bool_t on;
        op o;
        int r;

        if (!dbus_message_get_args(req->message, NULL, DBUS_TYPE_STRING, &name, DBUS_TYPE_BOOLEAN, &on,
                                   DBUS_TYPE_INVALID))
                return -EINVAL;
        r = request_op_begin(req, true, &o, e);
        if (r < 0)
                return r;
        return request_finish_write(req, &o, org_set_require_2fa(&o, name, on), ret_reply);
}

/* ---- departments ---- */

static int method_dept_change(request *req, DBusMessage **ret_reply, nx_error *e,
                              int (*action)(op *o, const char *org, const char *name)) {
        const char *org, *name;
        op o;
        int r;

        if (!dbus_message_get_args(req->message, NULL, DBUS_TYPE_STRING, &org, DBUS_TYPE_STRING, &name,
                                   DBUS_TYPE_INVALID))
                return -EINVAL;
        r = request_op_begin(req, true, &o, e);
        if (r < 0)
                return r;
        return request_finish_write(req, &o, action(&o, org, name), ret_reply);
}

static int method_create_department(request *req, DBusMessage **ret_reply, nx_error *e) {
        return method_dept_change(req, ret_reply, e, dept_create);
}

static int method_delete_department(request *req, DBusMessage **ret_reply, nx_error *e) {
        return method_dept_change(req, ret_reply, e, dept_delete);
}

typedef struct dept_count {
        const department *dept;
        uint32_t users;
} dept_count;

static int count_in_dept(const user *u, void *userdata) {
        dept_count *c = userdata;
        if (strcmp(u->org, c->dept->org) == 0 && strcmp(u->department, c->dept->name) == 0)
                c->users++;
        return 0;
}

static int list_dept(const department *dept, void *userdata) {
        reply_walk *w = userdata;
        dept_count c = { dept, 0 };
        char group[GROUP_NAME_MAX + 1];
        DBusMessageIter d;
        int r;

        r = user_foreach(w->op->txn, count_in_dept, &c);
        if (r < 0)
                return r;
        org_group_name(dept->org, dept->name, group);
        if (bus_dict_open(w->array, &d) < 0 ||
            bus_dict_add_string(&d, "name", dept->name) < 0 ||
            bus_dict_add_string(&d, "org", dept->org) < 0 ||
            bus_dict_add_string(&d, "group", group) < 0 ||
            bus_dict_add_uint32(&d, "gid", dept->gid) < 0 ||
            bus_dict_add_uint32(&d, "users", c.users) < 0 ||
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

static int method_list_departments(request *req, DBusMessage **ret_reply, nx_error *e) {
        const char *org;
        op o;
        int r;

        if (!dbus_message_get_args(req->message, NULL, DBUS_TYPE_STRING, &org, DBUS_TYPE_INVALID))
                return -EINVAL;
        r = request_op_begin(req, false, &o, e);
        if (r < 0)
                return r;
        r = org_load(o.txn, org, &(organisation) {});
        if (r == -ENOENT || (r == 0 && !caller_may(&o.caller, PERM_MANAGE_ORG, org)))
                r = nx_error_set(e, -ENOENT, "no organisation '%s'", org);
        if (r >= 0)
                r = request_build_reply(req, "a{sv}", fill_departments, &(reply_walk) { &o, NULL, org },
                                        ret_reply);
        request_op_abort(&o);
        return r;
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

static int method_list_roles(request *req, DBusMessage **ret_reply, nx_error *e) {
        return request_build_reply(req, "a{sv}", fill_roles, NULL, ret_reply);
}

/* ---- audit ---- */

static int append_audit(const audit_entry *a, void *userdata) {
        DBusMessageIter *array = userdata, d;

        if (bus_dict_open(array, &d) < 0 ||
            bus_dict_add_uint64(&d, "id", a->id) < 0 ||
            bus_dict_add_uint64(&d, "time", a->time) < 0 ||
            bus_dict_add_string(&d, "actor", a->actor) < 0 ||
            bus_dict_add_uint32(&d, "actor_uid", a->actor_uid) < 0 ||
            bus_dict_add_string(&d, "action", a->action) < 0 ||
            bus_dict_add_string(&d, "org", a->org) < 0 ||
            bus_dict_add_string(&d, "target", a->target) < 0 ||
            bus_dict_add_string(&d, "detail", a->detail) < 0 ||
            bus_dict_close(array, &d) < 0)
                return -ENOMEM;
        return 0;
}

typedef struct audit_reply {
        op *op;
        audit_filter filter;
} audit_reply;

static int fill_audit(DBusMessageIter *array, void *userdata) {
        audit_reply *a = userdata;
        return audit_list(a->op->txn, &a->filter, append_audit, array);
}

static int method_get_audit(request *req, DBusMessage **ret_reply, nx_error *e) {
        const char *target = NULL, *bad = NULL;
        uint32_t limit = 50;
        const BusDictField fields[] = {
                { "user", 's', &target, NULL, 0 },
                { "limit", 'u', &limit, NULL, 0 },
                {}
        };
        DBusMessageIter it;
        audit_reply a;
        op o;
        int r;

        dbus_message_iter_init(req->message, &it);
        if (bus_dict_read(&it, fields, true, &bad) < 0)
                return nx_error_set(e, -EINVAL, "unknown or mistyped filter '%s'", strempty(bad));

        r = request_op_begin(req, false, &o, e);
        if (r < 0)
                return r;
        if (!caller_may_any(&o.caller, PERM_READ_AUDIT))
                r = nx_error_set(e, -EACCES, "permission denied: only administrators may read the audit log");
        else {
                /* An org-admin reads the history of their own organisation only. */
                a = (audit_reply) { &o, { isempty(target) ? NULL : target, o.caller.superadmin ? NULL : o.caller.org,
                                          limit } };
                r = request_build_reply(req, "a{sv}", fill_audit, &a, ret_reply);
        }
        request_op_abort(&o);
        return r;
}

const bus_method org_methods[] = {
        { BUS_IFACE_ADMIN, "CreateOrganisation", "s", method_create_organisation },
        { BUS_IFACE_ADMIN, "ListOrganisations", "", method_list_organisations },
        { BUS_IFACE_ADMIN, "GetOrganisation", "s", method_get_organisation },
        { BUS_IFACE_ADMIN, "SetRequire2FA", "sb", method_set_require_2fa },
        { BUS_IFACE_ADMIN, "CreateDepartment", "ss", method_create_department },
        { BUS_IFACE_ADMIN, "ListDepartments", "s", method_list_departments },
        { BUS_IFACE_ADMIN, "DeleteDepartment", "ss", method_delete_department },
        { BUS_IFACE_ADMIN, "ListRoles", "", method_list_roles },
        { BUS_IFACE_ADMIN, "GetAudit", "a{sv}", method_get_audit },
        {}
};
