/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "ratelimit.h"

#include <string.h>

int ratelimit_hit(op *o, const char *key, unsigned limit, uint64_t window) {
        uint8_t value[12];
        uint64_t start = o->now - o->now % window;
        uint32_t count = 0;
        const void *v;
        size_t n;
        int r;

        r = store_get(o->txn, TABLE_RATE_LIMITS, key, strlen(key), &v, &n);
        if (r < 0 && r != -ENOENT)
                return r;
        if (r >= 0 && n == sizeof(value) && be64_get(v) == start)
                count = be32_get((const uint8_t *) v + 8);
        if (count < UINT32_MAX)
                count++;
        be64_put(value, start);
        be32_put(value + 8, count);
        r = store_put(o->txn, TABLE_RATE_LIMITS, key, strlen(key), value, sizeof(value), false);
        if (r < 0)
                return r;
        return count > limit ? -EAGAIN : 0;
}
