/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* The service manager's readiness protocol (sd_notify(3)), spoken directly:
 * a datagram to $NOTIFY_SOCKET. Without systemd (NOTIFY_SOCKET unset) every
 * call does nothing, so the same daemon runs in containers and under
 * scripts/setup.sh's fork-and-wait start. */

#include <stdint.h>

#include "macro.h"

/* Sends "KEY=VALUE\n..." lines; returns 0, or a negative errno (nothing is
 * logged: the caller decides whether it matters). */
int notify_send(const char *format, ...) _printf_(1, 2);

/* The watchdog period systemd expects pings within (WatchdogSec=), in
 * microseconds, or 0 when there is no watchdog for this process. */
uint64_t notify_watchdog_usec(void);
