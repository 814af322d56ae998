/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Bus glue for linked operational records. */

#include "bus-util.h"
#include "link.h"
#include "manager.h"

static int method_link_change(request *req, DBusMessage **ret_reply, nx_error *e, bool add) {
        const char *username, *kind, *ref;
        op o;
        int r;

        if (!dbus_message_get_args(req->message, NULL, DBUS_TYPE_STRING, &username, DBUS_TYPE_STRING, &kind,
                                   DBUS_TYPE_STRING, &ref, DBUS_TYPE_INVALID))
                return -EINVAL;
        r = request_op_begin(req, true, &o, e);
        if (r < 0)
                return r;
        r = add ? link_add(&o, username, kind, ref) : link_remove(&o, username, kind, ref);
        return request_finish_write(req, &o, r, ret_reply);
}

static int method_add_link(request *req, DBusMessage **ret_reply, nx_error *e) {
        return method_link_change(req, ret_reply, e, true);
}

static int method_remove_link(request *req, DBusMessage **ret_reply, nx_error *e) {
        return method_link_change(req, ret_reply, e, false);
}

static int append_link(const linked_record *l, void *userdata) {
        DBusMessageIter *array = userdata, d;

        if (bus_dict_open(array, &d) < 0 ||
            bus_dict_add_string(&d, "kind", link_kind_to_string(l->kind)) < 0 ||
            bus_dict_add_string(&d, "ref", l->ref) < 0 ||
            bus_dict_add_uint64(&d, "created_at", l->created_at) < 0 ||
            bus_dict_close(array, &d) < 0)
                return -ENOMEM;
        return 0;
}

typedef struct link_reply {
        op *op;
        const char *username;
} link_reply;

static int fill_links(DBusMessageIter *array, void *userdata) {
        link_reply *l = userdata;
        return link_list(l->op, l->username, append_link, array);
}

static int method_list_links(request *req, DBusMessage **ret_reply, nx_error *e) {
        const char *username;
        op o;
        int r;

        if (!dbus_message_get_args(req->message, NULL, DBUS_TYPE_STRING, &username, DBUS_TYPE_INVALID))
                return -EINVAL;
        r = request_op_begin(req, false, &o, e);
        if (r < 0)
                return r;
        r = request_build_reply(req, "a{sv}", fill_links, &(link_reply) { &o, username }, ret_reply);
        request_op_abort(&o);
        return r;
}

const bus_method link_methods[] = {
        { BUS_IFACE_LINKS, "AddLink", "sss", method_add_link },
        { BUS_IFACE_LINKS, "RemoveLink", "sss", method_remove_link },
        { BUS_IFACE_LINKS, "ListLinks", "s", method_list_links },
        {}
};
