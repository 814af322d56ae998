/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* One org.nexalix.Identity1.Public.ForgotPassword call, timed without the
 * cost of starting a client, for bench/links/run.sh:
 *
 *   forgot-call UID EMAIL [AFTER_MS]
 *
 * Started as root, it becomes UID (groups cleared, gid = UID, as setpriv
 * --reuid=UID --regid=UID --clear-groups does), connects to the system bus
 * (DBUS_SYSTEM_BUS_ADDRESS) and only then takes the time: from just before
 * the call is sent until its reply is in, so the figure is the daemon's
 * work plus two hops through dbus-daemon. Prints the time in ms and "ok",
 * or the error's name and text; exits 0 only when the call succeeded.
 *
 * With AFTER_MS, it then pings the daemon (org.freedesktop.DBus.Peer.Ping,
 * answered by its event loop like any request) one ping after the other for
 * AFTER_MS ms and adds the longest round trip in ms: how long the daemon
 * was busy with something else (the delivery of a mail) after the reply. */

#define _GNU_SOURCE
#include <dbus/dbus.h>
#include <errno.h>
#include <grp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static double now_ms(void) {
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (double) ts.tv_sec * 1e3 + (double) ts.tv_nsec / 1e6;
}

static int die(const char *what, const char *detail) {
        fprintf(stderr, "forgot-call: %s%s%s\n", what, detail ? ": " : "", detail ? detail : "");
        return 2;
}

int main(int argc, char **argv) {
        DBusConnection *bus;
        DBusMessage *call, *reply;
        DBusError err;
        const char *email;
        double after_ms = 0, longest = 0;
        unsigned long uid;
        char *end;
        double t0, t1;

        if (argc != 3 && argc != 4)
                return die("usage: forgot-call UID EMAIL [AFTER_MS]", NULL);
        errno = 0;
        uid = strtoul(argv[1], &end, 10);
        if (errno || *end || end == argv[1] || uid == 0 || uid > 0xfffffffeUL)
                return die("not a uid other than root", argv[1]);
        email = argv[2];
        if (argc == 4) {
                after_ms = strtod(argv[3], &end);
                if (*end || end == argv[3] || after_ms < 0 || after_ms > 10000)
                        return die("not a time in ms (0-10000)", argv[3]);
        }

        if (setgroups(0, NULL) < 0 || setresgid((gid_t) uid, (gid_t) uid, (gid_t) uid) < 0 ||
            setresuid((uid_t) uid, (uid_t) uid, (uid_t) uid) < 0)
                return die("cannot become the caller", strerror(errno));

        dbus_error_init(&err);
        bus = dbus_bus_get_private(DBUS_BUS_SYSTEM, &err);
        if (!bus)
                return die("cannot connect to the system bus", err.message);
        call = dbus_message_new_method_call("org.nexalix.Identity1", "/org/nexalix/Identity1",
                                            "org.nexalix.Identity1.Public", "ForgotPassword");
        if (!call || !dbus_message_append_args(call, DBUS_TYPE_STRING, &email, DBUS_TYPE_INVALID))
                return die("out of memory", NULL);

        t0 = now_ms();
        reply = dbus_connection_send_with_reply_and_block(bus, call, 30000, &err);
        t1 = now_ms();

        if (!reply) {
                printf("%.3f error %s: %s\n", t1 - t0, err.name, err.message);
                return 1;
        }
        dbus_message_unref(reply);
        for (double t = t1; t - t1 < after_ms; t = now_ms()) {
                DBusMessage *ping = dbus_message_new_method_call("org.nexalix.Identity1", "/org/nexalix/Identity1",
                                                                 "org.freedesktop.DBus.Peer", "Ping");
                double p0;

                if (!ping)
                        return die("out of memory", NULL);
                p0 = now_ms();
                reply = dbus_connection_send_with_reply_and_block(bus, ping, 30000, &err);
                p0 = now_ms() - p0;
                if (p0 > longest)
                        longest = p0;
                dbus_message_unref(ping);
                if (!reply)
                        return die("Ping failed", err.message);
                dbus_message_unref(reply);
        }
        if (argc == 4)
                printf("%.3f ok %.3f\n", t1 - t0, longest);
        else
                printf("%.3f ok\n", t1 - t0);
        dbus_message_unref(call);
        dbus_connection_close(bus);
        dbus_connection_unref(bus);
        return 0;
}
