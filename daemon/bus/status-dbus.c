/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* org.nexalix.Identity1.GetStatus: whether the daemon runs, and its store
 * and snapshot. Open to anyone. */

#include "build-config.h"
#include "bus.h"
#include "publish.h"
#include "snapshot.h"

#include <stdio.h>
#include <time.h>

typedef struct status {
        bus_request *req;
        uint64_t users, orgs, bytes;
        char snapshot[4096];
} status;

static int fill_status(DBusMessageIter *it, void *userdata) {
        status *s = userdata;
        bus_request *req = s->req;
        const caller *c = &req->op.caller;
        DBusMessageIter d;

        if (bus_dict_open(it, &d) < 0 ||
            bus_dict_add_string(&d, "version", NEXALIX_VERSION) < 0 ||
            /* How many accounts exist across all organisations is root's
             * business only. */
            (c->superadmin && (bus_dict_add_uint32(&d, "users", (uint32_t) s->users) < 0 ||
                               bus_dict_add_uint32(&d, "organisations", (uint32_t) s->orgs) < 0)) ||
            bus_dict_add_string(&d, "store", req->services->accounts->config->store_dir) < 0 ||
            bus_dict_add_uint64(&d, "store_bytes", s->bytes) < 0 ||
            bus_dict_add_uint64(&d, "uptime_seconds", (uint64_t) time(NULL) - req->services->started_at) < 0 ||
            bus_dict_add_string(&d, "snapshot", s->snapshot) < 0 ||
            bus_dict_add_uint64(&d, "snapshot_generation", publisher_generation(req->services->publisher)) < 0 ||
            bus_dict_add_uint32(&d, "caller_uid", req->uid) < 0 ||
            bus_dict_add_string(&d, "caller", c->name) < 0 ||
            bus_dict_close(it, &d) < 0)
                return -ENOMEM;
        return 0;
}

static int method_get_status(bus_request *req, DBusMessage **ret_reply) {
        status s = { .req = req };

        (void) store_count(req->op.txn, TABLE_USERS, &s.users);
        (void) store_count(req->op.txn, TABLE_ORGS, &s.orgs);
        (void) store_disk_bytes(req->services->accounts->store, &s.bytes);
        snprintf(s.snapshot, sizeof(s.snapshot), "%s/%s", req->services->accounts->config->runtime_dir,
                 SNAPSHOT_FILE);
        return bus_reply_build(req, NULL, fill_status, &s, ret_reply);
}

const bus_method status_methods[] = {
        { BUS_IFACE_BASE, "GetStatus", "", 0, 0, method_get_status, NULL },
        {}
};
