/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "log.h"
#include "macro.h"
#include "session.h"

#include <dirent.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static bool process_has_uid(const char *pid, uint32_t uid) {
        char path[64], line[256];
        bool match = false;
        FILE *f;

        snprintf(path, sizeof(path), "/proc/%s/status", pid);
        f = fopen(path, "re");
        if (!f)
                return false;
        while (fgets(line, sizeof(line), f)) {
                unsigned long ids[4];

                if (strncmp(line, "Uid:", 4) != 0)
                        continue;
                if (sscanf(line + 4, "%lu %lu %lu %lu", &ids[0], &ids[1], &ids[2], &ids[3]) == 4)
                        for (size_t i = 0; i < 4; i++)
                                match = match || ids[i] == uid;
                break;
        }
        fclose(f);
        return match;
}

static unsigned kill_pass(uint32_t uid) {
        unsigned killed = 0;
        struct dirent *de;
        DIR *d = opendir("/proc");

        if (!d)
                return 0;
        while ((de = readdir(d))) {
                char *end;
                long pid = strtol(de->d_name, &end, 10);

                if (*end || pid <= 1 || pid == getpid())
                        continue;
                if (process_has_uid(de->d_name, uid) && kill((pid_t) pid, SIGKILL) == 0)
                        killed++;
        }
        closedir(d);
        return killed;
}

static void logind_terminate_user(DBusConnection *bus, uint32_t uid) {
        DBusMessage *m, *reply;
        DBusError err;
        dbus_uint32_t u = uid;

        if (!bus || !dbus_bus_name_has_owner(bus, "org.freedesktop.login1", NULL))
                return;
        m = dbus_message_new_method_call("org.freedesktop.login1", "/org/freedesktop/login1",
                                         "org.freedesktop.login1.Manager", "TerminateUser");
        if (!m || !dbus_message_append_args(m, DBUS_TYPE_UINT32, &u, DBUS_TYPE_INVALID)) {
                if (m)
                        dbus_message_unref(m);
                return;
        }
        dbus_error_init(&err);
        reply = dbus_connection_send_with_reply_and_block(bus, m, 5000, &err);
        dbus_message_unref(m);
        if (reply)
                dbus_message_unref(reply);
        else if (!dbus_error_has_name(&err, "org.freedesktop.login1.NoSuchUser"))
                log_warning("logind could not terminate uid %u: %s", uid, err.message);
        dbus_error_free(&err);
}

int session_terminate_user(DBusConnection *bus, uint32_t uid, unsigned *ret_killed) {
        unsigned total = 0, n;

        if (uid == 0)
                return -EINVAL;
        logind_terminate_user(bus, uid);
        /* A process may fork while we scan; repeat until a pass finds none. */
        for (int pass = 0; pass < 10; pass++) {
                n = kill_pass(uid);
                total += n;
                if (n == 0)
                        break;
        }
        *ret_killed = total;
        return 0;
}
