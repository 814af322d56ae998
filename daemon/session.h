/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <dbus/dbus.h>
#include <stdint.h>

/* Ends every session of uid at once: asks logind to terminate the user when
 * logind runs, then kills every remaining process whose real, effective,
 * saved or filesystem uid is uid. Returns the number of processes killed. */
int session_terminate_user(DBusConnection *bus, uint32_t uid, unsigned *ret_killed);
