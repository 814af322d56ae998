/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include "bus.h"

/* After the commit of an operation that asked for it (req->op.terminate):
 * every session of the user ends — logind's TerminateUser where logind
 * runs, then every remaining process of the uid — unless a local account
 * has the uid now. The number of processes that ended is returned and,
 * when not zero or when some could not be ended, recorded in the audit log
 * (user.terminate) in a transaction of its own. */
unsigned bus_terminate(bus_request *req);
