/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Bus glue for linked records: operational data of other applications
 * (incidents, cost records) that refer to a user. */

#include "bus.h"
#include "linked-record.h"
#include "role.h"

static int method_linked_record_change(bus_request *req, bool add) {
        const char *username, *kind, *ref;

        if (!dbus_message_get_args(req->message, NULL, DBUS_TYPE_STRING, &username, DBUS_TYPE_STRING, &kind,
                                   DBUS_TYPE_STRING, &ref, DBUS_TYPE_INVALID))
                return -EINVAL;
        return add ? linked_record_add(&req->op, username, kind, ref)
                   : linked_record_remove(&req->op, username, kind, ref);
}

static int method_add_link(bus_request *req, DBusMessage **ret_reply) {
        return method_linked_record_change(req, true);
}

static int method_remove_link(bus_request *req, DBusMessage **ret_reply) {
        return method_linked_record_change(req, false);
}

static int append_linked_record(const linked_record *l, void *userdata) {
        DBusMessageIter *array = userdata, d;

        if (bus_dict_open(array, &d) < 0 ||
            bus_dict_add_string(&d, "kind", linked_record_kind_to_string(l->kind)) < 0 ||
            bus_dict_add_string(&d, "ref", l->ref) < 0 ||
            bus_dict_add_uint64(&d, "created_at", l->created_at) < 0 ||
            bus_dict_close(array, &d) < 0)
                return -ENOMEM;
        return 0;
}

typedef struct list_reply {
        op *op;
        const char *username;
} list_reply;

static int fill_linked_records(DBusMessageIter *array, void *userdata) {
        list_reply *l = userdata;
        return linked_record_list(l->op, l->username, append_linked_record, array);
}

static int method_list_links(bus_request *req, DBusMessage **ret_reply) {
        const char *username;

        if (!dbus_message_get_args(req->message, NULL, DBUS_TYPE_STRING, &username, DBUS_TYPE_INVALID))
                return -EINVAL;
        return bus_reply_build(req, "a{sv}", fill_linked_records, &(list_reply) { &req->op, username }, ret_reply);
}

/* The D-Bus names (Links, AddLink) are the published API; in the code and
 * the documentation these are "linked records". */
const bus_method linked_record_methods[] = {
        { BUS_IFACE_LINKS, "AddLink", "sss", PERM_MANAGE_LINKS, BUS_METHOD_WRITE, method_add_link, NULL },
        { BUS_IFACE_LINKS, "RemoveLink", "sss", PERM_MANAGE_LINKS, BUS_METHOD_WRITE, method_remove_link, NULL },
        { BUS_IFACE_LINKS, "ListLinks", "s", PERM_MANAGE_LINKS, 0, method_list_links, NULL },
        {}
};
