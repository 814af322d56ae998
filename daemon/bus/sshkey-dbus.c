/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Bus glue for SSH public keys: a user's own (Account.AddSSHKey,
 * ListSSHKeys, RemoveSSHKey), an administrator's for the users of their
 * organisation (Admin.AddUserSSHKey, ListUserSSHKeys, RemoveUserSSHKey), and
 * an organisation's accepted key types (Admin.SetAllowedSSHKeyTypes). Parse,
 * check who may, call sshkey.c / org.c, marshal. Every change queues the
 * keys snapshot after commit, so the reply waits until sshd's command sees
 * the change. */

#include "bus.h"
#include "org.h"
#include "publish.h"
#include "role.h"
#include "sshkey.h"
#include "user.h"

#include <string.h>

static int append_key(DBusMessageIter *it, const sshkey_record *k) {
        DBusMessageIter d;

        if (bus_dict_open(it, &d) < 0 ||
            bus_dict_add_string(&d, "name", k->name) < 0 ||
            bus_dict_add_string(&d, "type", sshkey_type_to_string(k->type)) < 0 ||
            bus_dict_add_string(&d, "fingerprint", k->fingerprint) < 0 ||
            bus_dict_add_uint32(&d, "bits", k->bits) < 0 ||
            bus_dict_add_uint64(&d, "created_at", k->created_at) < 0 ||
            (k->line && bus_dict_add_string(&d, "key", k->line) < 0) ||
            bus_dict_close(it, &d) < 0)
                return -ENOMEM;
        return 0;
}

static int fill_key(DBusMessageIter *it, void *userdata) {
        return append_key(it, userdata);
}

static int list_one(const sshkey_record *k, void *userdata) {
        return append_key(userdata, k);
}

typedef struct list_request {
        store_txn *txn;
        const char *username;
} list_request;

static int fill_keys(DBusMessageIter *array, void *userdata) {
        list_request *l = userdata;
        return sshkey_foreach(l->txn, l->username, list_one, array);
}

/* After a commit that changed keys or accepted types: publish the keys
 * snapshot before the reply goes out. */
static int keys_changed(bus_request *req, DBusMessage *reply) {
        publisher_queue_keys(req->services->publisher);
        return 0;
}

/* ---- whose keys ---- */

/* The caller's own account, for the Account methods. Changing keys needs an
 * active account: an invited one cannot log in yet, a deactivated one not
 * at all. */
static int load_own(bus_request *req, bool change, user *ret) {
        const caller *c = &req->op.caller;
        user u;
        int r;

        if (!c->known)
                return nx_error_set(&req->error, -ENOENT, "uid %u has no Nexalix account", c->uid);
        r = user_load_by_uid(req->op.txn, c->uid, &u);
        if (r == -ENOENT)
                return nx_error_set(&req->error, -ENOENT, "uid %u has no Nexalix account", c->uid);
        if (r < 0)
                return r;
        if (change && u.state != USER_ACTIVE) {
                r = nx_error_set(&req->error, -EBUSY, "your account is %s: SSH keys can be added and removed only while it is active",
                                 user_state_to_string(u.state));
                user_done(&u);
                return r;
        }
        *ret = u;
        return 0;
}

static int add_key(bus_request *req, const char *username, const char *name, const char *key,
                   DBusMessage **ret_reply) {
        _cleanup_free_ char *storage = NULL;
        sshkey_record k;
        int r;

        r = sshkey_add(&req->op, username, name, key, &k, &storage);
        if (r < 0)
                return r;
        return bus_reply_build(req, NULL, fill_key, &k, ret_reply);
}

static int list_keys(bus_request *req, const char *username, DBusMessage **ret_reply) {
        return bus_reply_build(req, "a{sv}", fill_keys, &(list_request) { req->op.txn, username }, ret_reply);
}

/* ---- Account: the caller's own keys ---- */

static int method_add_ssh_key(bus_request *req, DBusMessage **ret_reply) {
        _cleanup_(user_done) user u = {};
        const char *name, *key;
        int r;

        if (!dbus_message_get_args(req->message, NULL, DBUS_TYPE_STRING, &name, DBUS_TYPE_STRING, &key,
                                   DBUS_TYPE_INVALID))
                return -EINVAL;
        r = load_own(req, true, &u);
        if (r < 0)
                return r;
        return add_key(req, u.username, name, key, ret_reply);
}

static int method_list_ssh_keys(bus_request *req, DBusMessage **ret_reply) {
        _cleanup_(user_done) user u = {};
        int r = load_own(req, false, &u);

        if (r < 0)
                return r;
        return list_keys(req, u.username, ret_reply);
}

static int method_remove_ssh_key(bus_request *req, DBusMessage **ret_reply) {
        _cleanup_(user_done) user u = {};
        const char *which;
        int r;

        if (!dbus_message_get_args(req->message, NULL, DBUS_TYPE_STRING, &which, DBUS_TYPE_INVALID))
                return -EINVAL;
        r = load_own(req, true, &u);
        if (r < 0)
                return r;
        return sshkey_remove(&req->op, u.username, which, NULL);
}

/* ---- Admin: keys of a user of the caller's organisation ---- */

static int method_add_user_ssh_key(bus_request *req, DBusMessage **ret_reply) {
        _cleanup_(user_done) user u = {};
        const char *username, *name, *key;
        int r;

        if (!dbus_message_get_args(req->message, NULL, DBUS_TYPE_STRING, &username, DBUS_TYPE_STRING, &name,
                                   DBUS_TYPE_STRING, &key, DBUS_TYPE_INVALID))
                return -EINVAL;
        /* Another organisation's user reads as missing. */
        r = user_load_for(&req->op, username, PERM_MANAGE_USERS, &u);
        if (r < 0)
                return r;
        return add_key(req, u.username, name, key, ret_reply);
}

static int method_list_user_ssh_keys(bus_request *req, DBusMessage **ret_reply) {
        _cleanup_(user_done) user u = {};
        const char *username;
        int r;

        if (!dbus_message_get_args(req->message, NULL, DBUS_TYPE_STRING, &username, DBUS_TYPE_INVALID))
                return -EINVAL;
        r = user_load_for(&req->op, username, PERM_MANAGE_USERS, &u);
        if (r < 0)
                return r;
        return list_keys(req, u.username, ret_reply);
}

static int method_remove_user_ssh_key(bus_request *req, DBusMessage **ret_reply) {
        _cleanup_(user_done) user u = {};
        const char *username, *which;
        int r;

        if (!dbus_message_get_args(req->message, NULL, DBUS_TYPE_STRING, &username, DBUS_TYPE_STRING, &which,
                                   DBUS_TYPE_INVALID))
                return -EINVAL;
        r = user_load_for(&req->op, username, PERM_MANAGE_USERS, &u);
        if (r < 0)
                return r;
        return sshkey_remove(&req->op, u.username, which, NULL);
}

/* ---- Admin: an organisation's accepted key types ---- */

static int method_set_allowed_ssh_key_types(bus_request *req, DBusMessage **ret_reply) {
        _cleanup_strv_free_ char **types = NULL;
        DBusMessageIter it;
        const char *org;
        uint32_t mask = 0;
        int r;

        dbus_message_iter_init(req->message, &it);
        dbus_message_iter_get_basic(&it, &org);
        dbus_message_iter_next(&it);
        r = bus_read_strv(&it, 64, &types);
        if (r == -E2BIG)
                return nx_error_set(&req->error, -EINVAL, "too many key types");
        if (r < 0)
                return r;
        for (char **t = types; *t; t++) {
                int i = sshkey_type_from_string(*t);
                if (i < 0) {
                        char list[256];
                        if (strcmp(*t, "ssh-dss") == 0)
                                return nx_error_set(&req->error, -EINVAL,
                                                    "DSA (ssh-dss) keys are never accepted; accepted types: %s",
                                                    sshkey_types_to_text(0, list, sizeof(list)));
                        return nx_error_set(&req->error, -EINVAL, "'%s' is no SSH key type Nexalix accepts; accepted types: %s",
                                            *t, sshkey_types_to_text(0, list, sizeof(list)));
                }
                mask |= 1u << i;
        }
        return org_set_ssh_key_types(&req->op, org, mask);
}

#define W BUS_METHOD_WRITE
const bus_method sshkey_methods[] = {
        { BUS_IFACE_ACCOUNT, "AddSSHKey", "ss", 0, W, method_add_ssh_key, keys_changed },
        { BUS_IFACE_ACCOUNT, "ListSSHKeys", "", 0, 0, method_list_ssh_keys, NULL },
        { BUS_IFACE_ACCOUNT, "RemoveSSHKey", "s", 0, W, method_remove_ssh_key, keys_changed },
        { BUS_IFACE_ADMIN, "AddUserSSHKey", "sss", PERM_MANAGE_USERS, W, method_add_user_ssh_key, keys_changed },
        { BUS_IFACE_ADMIN, "ListUserSSHKeys", "s", PERM_MANAGE_USERS, 0, method_list_user_ssh_keys, NULL },
        { BUS_IFACE_ADMIN, "RemoveUserSSHKey", "ss", PERM_MANAGE_USERS, W, method_remove_user_ssh_key, keys_changed },
        /* org_set_ssh_key_types() checks PERM_MANAGE_ORG within the organisation. */
        { BUS_IFACE_ADMIN, "SetAllowedSSHKeyTypes", "sas", PERM_MANAGE_ORG, W, method_set_allowed_ssh_key_types,
          keys_changed },
        {}
};
