/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include "manager.h"

/* Writes the public identity data (users, their private groups, department
 * and role groups) as a new NSS snapshot and publishes it. Entries whose
 * name or id a local account or group has are left out, so Nexalix never
 * shadows a local account. */
int publish_snapshot(manager *m);
