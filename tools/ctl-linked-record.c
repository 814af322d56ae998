/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* link commands: operational data of integrated applications. */
#include <stdio.h>

#include "bus-util.h"
#include "ctl.h"
#include "reply.h"

/* AddLink and RemoveLink take the same three strings. */
static int link_change(ctl_context *ctl, const command_args *args, const char *method, const char *done) {
        const char *user = args->pos[0], *kind = args->pos[1], *ref = args->pos[2];
        int r;

        r = ctl_call_simple(ctl, BUS_IFACE_LINKS, method, NULL,
                            DBUS_TYPE_STRING, &user, DBUS_TYPE_STRING, &kind,
                            DBUS_TYPE_STRING, &ref, DBUS_TYPE_INVALID);
        if (r < 0)
                return r;
        printf("%s %s %s %s\n", kind, ref, done, user);
        return 0;
}

int verb_link_add(ctl_context *ctl, const command_args *args) {
        return link_change(ctl, args, "AddLink", "linked to");
}

int verb_link_remove(ctl_context *ctl, const command_args *args) {
        return link_change(ctl, args, "RemoveLink", "unlinked from");
}

int verb_link_list(ctl_context *ctl, const command_args *args) {
        static const table_column columns[] = {
                { "KIND", "kind" },
                { "REF", "ref" },
                { "CREATED", "created_at" },
        };
        _cleanup_message_ DBusMessage *reply = NULL;
        const char *user = args->pos[0];
        int r;

        r = ctl_call_simple(ctl, BUS_IFACE_LINKS, "ListLinks", &reply,
                            DBUS_TYPE_STRING, &user, DBUS_TYPE_INVALID);
        if (r < 0)
                return r;
        return print_reply_list(reply, &SCHEMA_LINK, args->set[OPT_JSON],
                                columns, ELEMENTSOF(columns));
}
