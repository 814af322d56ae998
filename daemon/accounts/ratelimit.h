/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Counters for the public methods (docs/links.md, "Rate limits"): how often
 * a key — an address, a caller's uid — was used in the current window, kept
 * in the store and written in the same transaction as the request, so that
 * a refusal costs the same as an answer. */

#include <stdint.h>

#include "op.h"

/* Counts one use of key; -EAGAIN when it is over `limit` uses in the fixed
 * window of `window` seconds that now falls in (the use is counted all the
 * same, so hammering does not reset anything). */
int ratelimit_hit(op *o, const char *key, unsigned limit, uint64_t window);
