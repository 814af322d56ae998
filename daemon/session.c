/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "log.h"
#include "macro.h"
#include "session.h"

#include <dirent.h>
#include <grp.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <limits.h>
#include <sys/wait.h>

/* Counts the live (not zombie) processes whose real uid is uid: what the
 * administrator is told was ended. */
static unsigned count_processes(uint32_t uid) {
        unsigned n = 0;
        struct dirent *de;
        DIR *d = opendir("/proc");

        if (!d)
                return 0;
        while ((de = readdir(d))) {
                char path[300], line[256];
                unsigned long real_uid = ULONG_MAX;
                bool zombie = false;
                FILE *f;

                if (de->d_name[0] < '1' || de->d_name[0] > '9')
                        continue;
                snprintf(path, sizeof(path), "/proc/%s/status", de->d_name);
                f = fopen(path, "re");
                if (!f)
                        continue;
                while (fgets(line, sizeof(line), f)) {
                        if (strncmp(line, "State:", 6) == 0)
                                zombie = strchr(line, 'Z') != NULL;
                        else if (strncmp(line, "Uid:", 4) == 0) {
                                (void) sscanf(line + 4, "%lu", &real_uid);
                                break;
                        }
                }
                fclose(f);
                if (real_uid == uid && !zombie)
                        n++;
        }
        closedir(d);
        return n;
}

/* kill(-1) from a child that has become uid: the kernel then signals exactly
 * the processes uid may signal — those whose real or saved uid is uid — in
 * one atomic sweep each, with no pid that could be reused between a check
 * and the kill, and never a root process that only borrowed uid as its
 * effective or filesystem uid. */
static int kill_all_as(uint32_t uid) {
        pid_t pid = fork();
        int status;

        if (pid < 0)
                return -errno;
        if (pid == 0) {
                /* Only async-signal-safe calls: the parent has threads. */
                if (setgroups(0, NULL) < 0 || setresgid(uid, uid, uid) < 0 || setresuid(uid, uid, uid) < 0)
                        _exit(2);
                /* Processes may fork while we sweep; repeat until none is left. */
                for (int i = 0; i < 100; i++)
                        if (kill(-1, SIGKILL) < 0 && errno == ESRCH)
                                _exit(0);
                _exit(1);
        }
        while (waitpid(pid, &status, 0) < 0)
                if (errno != EINTR)
                        return -errno;
        if (!WIFEXITED(status) || WEXITSTATUS(status) == 2)
                return -EPERM;
        return WEXITSTATUS(status) == 0 ? 0 : -EAGAIN;
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
        unsigned before;
        int r;

        if (uid == 0)
                return -EINVAL;
        before = count_processes(uid);
        logind_terminate_user(bus, uid);
        r = kill_all_as(uid);
        if (r < 0)
                return r;
        *ret_killed = before;
        return 0;
}
