/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Bus glue for the mail outbox: what waits and why, and the administrator's
 * two levers (try again now, drop). uid 0 reaches all of it; an org-admin
 * (manage users) the mail about users of their own organisation. */

#include "audit.h"
#include "bus.h"
#include "outbox.h"
#include "role.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

typedef struct queue_reply {
        op *op;
        DBusMessageIter *array;
} queue_reply;

static int append_mail(const outbox_entry *e, void *userdata) {
        queue_reply *q = userdata;
        const caller *c = &q->op->caller;
        DBusMessageIter d;

        if (!c->superadmin && strcmp(c->org, e->org) != 0)
                return 0;
        if (bus_dict_open(q->array, &d) < 0 ||
            bus_dict_add_uint64(&d, "id", e->id) < 0 ||
            bus_dict_add_string(&d, "to", e->to) < 0 ||
            bus_dict_add_string(&d, "username", e->username) < 0 ||
            bus_dict_add_string(&d, "org", e->org) < 0 ||
            bus_dict_add_string(&d, "kind", mail_kind_to_string(e->kind)) < 0 ||
            bus_dict_add_string(&d, "message_id", e->message_id) < 0 ||
            bus_dict_add_uint64(&d, "size", e->message_size) < 0 ||
            bus_dict_add_uint64(&d, "queued_at", e->queued_at) < 0 ||
            bus_dict_add_uint32(&d, "attempts", e->attempts) < 0 ||
            bus_dict_add_uint64(&d, "last_attempt", e->last_attempt) < 0 ||
            bus_dict_add_uint64(&d, "next_attempt", e->given_up ? 0 : e->next_attempt) < 0 ||
            bus_dict_add_string(&d, "state", e->given_up ? "given-up" : "waiting") < 0 ||
            bus_dict_add_string(&d, "last_error", e->last_error) < 0 ||
            bus_dict_close(q->array, &d) < 0)
                return -ENOMEM;
        return 0;
}

static int fill_queue(DBusMessageIter *array, void *userdata) {
        queue_reply *q = userdata;

        q->array = array;
        return outbox_foreach(q->op->txn, 0, append_mail, q);
}

static int method_list_mail_queue(bus_request *req, DBusMessage **ret_reply) {
        queue_reply q = { &req->op, NULL };
        return bus_reply_build(req, "a{sv}", fill_queue, &q, ret_reply);
}

static int fill_count(DBusMessageIter *it, void *userdata) {
        return dbus_message_iter_append_basic(it, DBUS_TYPE_UINT32, userdata) ? 0 : -ENOMEM;
}

static int method_retry_mail(bus_request *req, DBusMessage **ret_reply) {
        dbus_uint64_t id;
        unsigned count = 0;
        dbus_uint32_t n;
        int r;

        if (!dbus_message_get_args(req->message, NULL, DBUS_TYPE_UINT64, &id, DBUS_TYPE_INVALID))
                return nx_error_set(&req->error, -EINVAL, "expected a mail id");
        r = outbox_retry_for(&req->op, id, &count);
        if (r < 0)
                return r;
        n = count;
        return bus_reply_build(req, NULL, fill_count, &n, ret_reply);
}

static int method_drop_mail(bus_request *req, DBusMessage **ret_reply) {
        dbus_uint64_t id;
        outbox_entry e;
        char to[EMAIL_MAX + 1] = "", username[USERNAME_MAX + 1] = "", org[ORG_NAME_MAX + 1] = "";
        const char *kind = "";
        int r;

        if (!dbus_message_get_args(req->message, NULL, DBUS_TYPE_UINT64, &id, DBUS_TYPE_INVALID))
                return nx_error_set(&req->error, -EINVAL, "expected a mail id");
        r = outbox_get(req->op.txn, id, &e);
        if (r >= 0) {
                /* Copies: the record goes away below. */
                snprintf(to, sizeof(to), "%s", e.to);
                snprintf(username, sizeof(username), "%s", e.username);
                snprintf(org, sizeof(org), "%s", e.org);
                kind = mail_kind_to_string(e.kind);
        }
        r = outbox_drop_for(&req->op, id);
        if (r < 0)
                return r;
        return audit_append(&req->op, "mail.drop", org, username, "mail %" PRIu64 " (%s) to %s, unsent", (uint64_t) id,
                            kind, to);
}

const bus_method mail_methods[] = {
        { BUS_IFACE_ADMIN, "ListMailQueue", "", PERM_MANAGE_USERS, 0, method_list_mail_queue, NULL },
        { BUS_IFACE_ADMIN, "RetryMail", "t", PERM_MANAGE_USERS, BUS_METHOD_WRITE, method_retry_mail, NULL },
        { BUS_IFACE_ADMIN, "DropMail", "t", PERM_MANAGE_USERS, BUS_METHOD_WRITE, method_drop_mail, NULL },
        {}
};
