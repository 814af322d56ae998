/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* bus-many-roles N: calls CreateUser on the system bus with a record that
 * holds N empty roles, far more than argv could carry through busctl, and
 * prints the error name and message of the answer (or "success"). Used to
 * check that nexalixd refuses such a call without reading it through. */

#include <dbus/dbus.h>
#include <stdio.h>
#include <stdlib.h>

int main(int argc, char **argv) {
        DBusMessageIter it, dict, entry, variant, array;
        const char *key = "roles", *empty = "", *username_key = "username", *username = "busbig";
        DBusMessage *m, *reply;
        DBusConnection *bus;
        DBusError err;
        long n = argc > 1 ? atol(argv[1]) : 0;

        if (n < 0) {
                fprintf(stderr, "usage: %s N\n", argv[0]);
                return 2;
        }
        dbus_error_init(&err);
        bus = dbus_bus_get(DBUS_BUS_SYSTEM, &err);
        if (!bus) {
                fprintf(stderr, "cannot connect: %s\n", err.message);
                return 2;
        }
        m = dbus_message_new_method_call("org.nexalix.Identity1", "/org/nexalix/Identity1",
                                         "org.nexalix.Identity1.Admin", "CreateUser");
        if (!m)
                return 2;
        dbus_message_iter_init_append(m, &it);
        if (!dbus_message_iter_open_container(&it, DBUS_TYPE_ARRAY, "{sv}", &dict) ||
            !dbus_message_iter_open_container(&dict, DBUS_TYPE_DICT_ENTRY, NULL, &entry) ||
            !dbus_message_iter_append_basic(&entry, DBUS_TYPE_STRING, &username_key) ||
            !dbus_message_iter_open_container(&entry, DBUS_TYPE_VARIANT, "s", &variant) ||
            !dbus_message_iter_append_basic(&variant, DBUS_TYPE_STRING, &username) ||
            !dbus_message_iter_close_container(&entry, &variant) ||
            !dbus_message_iter_close_container(&dict, &entry) ||
            !dbus_message_iter_open_container(&dict, DBUS_TYPE_DICT_ENTRY, NULL, &entry) ||
            !dbus_message_iter_append_basic(&entry, DBUS_TYPE_STRING, &key) ||
            !dbus_message_iter_open_container(&entry, DBUS_TYPE_VARIANT, "as", &variant) ||
            !dbus_message_iter_open_container(&variant, DBUS_TYPE_ARRAY, "s", &array))
                return 2;
        for (long i = 0; i < n; i++)
                if (!dbus_message_iter_append_basic(&array, DBUS_TYPE_STRING, &empty))
                        return 2;
        if (!dbus_message_iter_close_container(&variant, &array) ||
            !dbus_message_iter_close_container(&entry, &variant) ||
            !dbus_message_iter_close_container(&dict, &entry) ||
            !dbus_message_iter_close_container(&it, &dict) ||
            !dbus_message_iter_append_basic(&it, DBUS_TYPE_STRING, &empty))
                return 2;

        reply = dbus_connection_send_with_reply_and_block(bus, m, 60000, &err);
        if (reply) {
                printf("success\n");
                return 1;
        }
        printf("%s %s\n", err.name, err.message);
        return 0;
}
