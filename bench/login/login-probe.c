/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* Does the rest of the system keep answering while logins hash? For
 * bench/login/run.sh: samples one kind of request at a steady pace until
 * SIGTERM (or SIGINT), then prints each sample's latency in µs, one a line,
 * followed by the wall-clock time (CLOCK_REALTIME, s) the request was sent
 * at, to line slow answers up with what else happened then.
 *
 *   login-probe nss USER INTERVAL_MS    getpwnam_r(USER) through glibc with
 *                                       passwd resolved by the nexalix module
 *                                       only (__nss_configure_lookup: no
 *                                       nsswitch.conf, no files); the module
 *                                       is found through LD_LIBRARY_PATH and
 *                                       the snapshot through
 *                                       NEXALIX_RUNTIME_DIR
 *   login-probe dbus INTERVAL_MS        org.nexalix.Identity1.GetStatus on
 *                                       the system bus
 *                                       (DBUS_SYSTEM_BUS_ADDRESS), one
 *                                       connection kept open, as a session
 *                                       manager or a panel applet would
 *
 * A request that fails is reported on standard error and counted; the exit
 * status is 1 when any failed. */

#define _GNU_SOURCE
#include <dbus/dbus.h>
#include <errno.h>
#include <nss.h>
#include <pwd.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define SAMPLES_MAX 1000000

static volatile sig_atomic_t stop;
static double *samples, *sent_at;
static long n_samples, n_failed;

static double now(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (double) ts.tv_sec + (double) ts.tv_nsec / 1e9;
}

static void die(const char *what) {
        fprintf(stderr, "login-probe: %s\n", what);
        exit(1);
}

static void on_signal(int sig) {
        stop = 1;
}

/* The pace: the next request INTERVAL after the start of the last one, so
 * a slow answer does not thin out the samples that follow. */
static void pace(double start, double interval) {
        double left = start + interval - now();
        struct timespec ts;

        if (left <= 0)
                return;
        ts.tv_sec = (time_t) left;
        ts.tv_nsec = (long) ((left - (double) ts.tv_sec) * 1e9);
        (void) nanosleep(&ts, NULL);   /* EINTR: SIGTERM, the loop ends */
}

static double wall_now(void) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        return (double) ts.tv_sec + (double) ts.tv_nsec / 1e9;
}

static void record(double seconds, bool ok) {
        if (!ok)
                n_failed++;
        if (n_samples < SAMPLES_MAX) {
                sent_at[n_samples] = wall_now() - seconds;
                samples[n_samples++] = seconds * 1e6;
        }
}

static void probe_nss(const char *user, double interval) {
        char buf[4096];

        if (__nss_configure_lookup("passwd", "nexalix") != 0)
                die("__nss_configure_lookup failed");
        while (!stop) {
                struct passwd pw, *res = NULL;
                double t0 = now();
                int r = getpwnam_r(user, &pw, buf, sizeof(buf), &res);

                record(now() - t0, r == 0 && res);
                if (r != 0 || !res)
                        fprintf(stderr, "login-probe: getpwnam_r(%s) found nothing (%s)\n", user,
                                r ? strerror(r) : "no such user");
                pace(t0, interval);
        }
}

static void probe_dbus(double interval) {
        DBusConnection *bus;
        DBusError e;

        dbus_error_init(&e);
        bus = dbus_bus_get_private(DBUS_BUS_SYSTEM, &e);
        if (!bus)
                die(e.message ? e.message : "cannot connect to the system bus");
        /* A probe ended by SIGTERM must not be ended again by libdbus. */
        dbus_connection_set_exit_on_disconnect(bus, false);
        while (!stop) {
                DBusMessage *m, *reply;
                double t0 = now();

                m = dbus_message_new_method_call("org.nexalix.Identity1", "/org/nexalix/Identity1",
                                                 "org.nexalix.Identity1", "GetStatus");
                if (!m)
                        die("out of memory");
                reply = dbus_connection_send_with_reply_and_block(bus, m, 10000, &e);
                record(now() - t0, reply != NULL);
                if (!reply) {
                        fprintf(stderr, "login-probe: GetStatus failed: %s\n", e.message);
                        dbus_error_free(&e);
                        /* The bus is gone: nothing more to sample. */
                        if (!dbus_connection_get_is_connected(bus)) {
                                dbus_message_unref(m);
                                break;
                        }
                } else
                        dbus_message_unref(reply);
                dbus_message_unref(m);
                pace(t0, interval);
        }
        dbus_connection_close(bus);
        dbus_connection_unref(bus);
}

int main(int argc, char **argv) {
        struct sigaction sa = { .sa_handler = on_signal };

        /* No SA_RESTART: the pause between samples ends at once. */
        sigaction(SIGTERM, &sa, NULL);
        sigaction(SIGINT, &sa, NULL);
        samples = malloc(SAMPLES_MAX * sizeof(double));
        sent_at = malloc(SAMPLES_MAX * sizeof(double));
        if (!samples || !sent_at)
                die("out of memory");

        if (argc == 4 && strcmp(argv[1], "nss") == 0)
                probe_nss(argv[2], atof(argv[3]) / 1e3);
        else if (argc == 3 && strcmp(argv[1], "dbus") == 0)
                probe_dbus(atof(argv[2]) / 1e3);
        else {
                fprintf(stderr, "usage: %s nss USER INTERVAL_MS | dbus INTERVAL_MS\n", argv[0]);
                return 2;
        }
        for (long i = 0; i < n_samples; i++)
                printf("%.1f %.6f\n", samples[i], sent_at[i]);
        if (n_failed)
                fprintf(stderr, "login-probe: %ld of %ld requests failed\n", n_failed, n_samples);
        return n_failed ? 1 : 0;
}
