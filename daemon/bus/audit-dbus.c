/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Bus glue for the audit log. */

#include "audit.h"
#include "bus.h"
#include "role.h"

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

static int method_get_audit(bus_request *req, DBusMessage **ret_reply) {
        const char *target = NULL, *bad = NULL;
        uint32_t limit = 50;
        const bus_dict_field fields[] = {
                { "user", 's', &target, NULL, 0 },
                { "limit", 'u', &limit, NULL, 0 },
                {}
        };
        DBusMessageIter it;
        audit_reply a;

        dbus_message_iter_init(req->message, &it);
        if (bus_dict_read(&it, fields, true, &bad) < 0)
                return nx_error_set(&req->error, -EINVAL, "unknown or mistyped filter '%s'", strempty(bad));
        /* An org-admin reads the history of their own organisation only. */
        a = (audit_reply) { &req->op, { isempty(target) ? NULL : target,
                                        req->op.caller.superadmin ? NULL : req->op.caller.org, limit } };
        return bus_reply_build(req, "a{sv}", fill_audit, &a, ret_reply);
}

const bus_method audit_methods[] = {
        { BUS_IFACE_ADMIN, "GetAudit", "a{sv}", PERM_READ_AUDIT, 0, method_get_audit, NULL },
        {}
};
