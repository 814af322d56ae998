/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Brings a store written by an older nexalixd to STORE_FORMAT_VERSION, in
 * one write transaction (all or nothing), before the daemon serves anyone. */

#include "store.h"

int store_migrate(store *s);
