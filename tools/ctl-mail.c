/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* mail commands: the outbox of nexalixd (docs/mail.md). */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

#include "bus-util.h"
#include "ctl.h"
#include "reply.h"

int verb_mail_queue(ctl_context *ctl, const command_args *args) {
        static const table_column columns[] = {
                { "ID", "id" },
                { "TO", "to" },
                { "KIND", "kind" },
                { "QUEUED", "queued_at" },
                { "ATTEMPTS", "attempts" },
                { "NEXT", "next_attempt" },
                { "STATE", "state" },
                { "LAST ERROR", "last_error" },
        };
        _cleanup_message_ DBusMessage *reply = NULL;
        DBusMessageIter it, array;
        int r;

        r = ctl_call_simple(ctl, BUS_IFACE_ADMIN, "ListMailQueue", &reply, DBUS_TYPE_INVALID);
        if (r < 0)
                return r;
        /* An empty table would print its header alone: say it in words. */
        if (!args->set[OPT_JSON] && dbus_message_iter_init(reply, &it) &&
            dbus_message_iter_get_arg_type(&it) == DBUS_TYPE_ARRAY) {
                dbus_message_iter_recurse(&it, &array);
                if (dbus_message_iter_get_arg_type(&array) == DBUS_TYPE_INVALID) {
                        printf("No mail is waiting.\n");
                        return 0;
                }
        }
        return print_reply_list(reply, &SCHEMA_MAIL, args->set[OPT_JSON], columns, ELEMENTSOF(columns));
}

static int parse_id(const command_args *args, const char *s, uint64_t *ret) {
        char *end;
        unsigned long long v;

        errno = 0;
        v = strtoull(s, &end, 10);
        if (errno || *end || s[0] < '0' || s[0] > '9' || v == 0)
                return ctl_usage_error(args, "'%s' is not a mail id (a number from 'nexalixctl mail queue')", s);
        *ret = v;
        return 0;
}

int verb_mail_retry(ctl_context *ctl, const command_args *args) {
        _cleanup_message_ DBusMessage *reply = NULL;
        dbus_uint64_t id = 0;
        dbus_uint32_t n = 0;
        int r;

        if (args->n_pos > 0) {
                uint64_t v;
                r = parse_id(args, args->pos[0], &v);
                if (r < 0)
                        return r;
                id = v;
        }
        r = ctl_call_simple(ctl, BUS_IFACE_ADMIN, "RetryMail", &reply, DBUS_TYPE_UINT64, &id, DBUS_TYPE_INVALID);
        if (r < 0)
                return r;
        r = ctl_reply_get(reply, DBUS_TYPE_UINT32, &n, DBUS_TYPE_INVALID);
        if (r < 0)
                return r;
        if (id)
                printf("mail %" PRIu64 " is being tried again now\n", (uint64_t) id);
        else
                printf("%u waiting mail(s) are being tried again now\n", n);
        return 0;
}

int verb_mail_drop(ctl_context *ctl, const command_args *args) {
        dbus_uint64_t id;
        uint64_t v;
        int r;

        r = parse_id(args, args->pos[0], &v);
        if (r < 0)
                return r;
        id = v;
        r = ctl_call_simple(ctl, BUS_IFACE_ADMIN, "DropMail", NULL, DBUS_TYPE_UINT64, &id, DBUS_TYPE_INVALID);
        if (r < 0)
                return r;
        printf("mail %" PRIu64 " dropped, unsent\n", v);
        return 0;
}
