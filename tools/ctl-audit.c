/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* audit and status. */
#include <errno.h>
#include <stdio.h>

#include "bus-util.h"
#include "ctl.h"
#include "reply.h"

int verb_audit_show(ctl_context *ctl, const command_args *args) {
        static const table_column columns[] = {
                { "TIME", "time" },
                { "ACTOR", "actor" },
                { "ACTION", "action" },
                { "ORG", "org" },
                { "TARGET", "target" },
                { "DETAIL", "detail" },
        };
        _cleanup_message_ DBusMessage *m = NULL, *reply = NULL;
        DBusMessageIter iter, dict;
        uint32_t limit = 0;
        int r;

        if (args->set[OPT_LIMIT]) {
                r = ctl_parse_uint32(args, OPT_LIMIT, "--limit", &limit);
                if (r < 0)
                        return r;
        }

        r = ctl_new_call(BUS_IFACE_ADMIN, "GetAudit", &m);
        if (r < 0)
                return r;
        dbus_message_iter_init_append(m, &iter);
        if (bus_dict_open(&iter, &dict) < 0 ||
            (args->set[OPT_USER] && bus_dict_add_string(&dict, "user", args->value[OPT_USER]) < 0) ||
            (args->set[OPT_LIMIT] && bus_dict_add_uint32(&dict, "limit", limit) < 0) ||
            bus_dict_close(&iter, &dict) < 0)
                return ctl_error(-ENOMEM, "out of memory");

        r = ctl_call(ctl, m, &reply);
        if (r < 0)
                return r;
        return print_reply_list(reply, &SCHEMA_AUDIT, args->set[OPT_JSON],
                                columns, ELEMENTSOF(columns));
}

int verb_status_show(ctl_context *ctl, const command_args *args) {
        _cleanup_message_ DBusMessage *reply = NULL;
        int r;

        r = ctl_call_simple(ctl, BUS_IFACE_BASE, "GetStatus", &reply, DBUS_TYPE_INVALID);
        if (r < 0)
                return r;
        return print_reply_record(reply, &SCHEMA_STATUS, args->set[OPT_JSON]);
}
