/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <dbus/dbus.h>
#include <stdint.h>

/* Ends every session of uid at once: asks logind to terminate the user when
 * logind runs, then kills every remaining process whose real or saved uid is
 * uid. *ret_killed is the number of live processes the user had. uid 0 is
 * refused; the caller must also never pass a uid a local account has. */
int session_terminate_user(DBusConnection *bus, uint32_t uid, unsigned *ret_killed);
