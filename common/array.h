/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* The one way Nexalix grows an array: geometrically, so that appending n
 * elements one at a time costs O(n) copies in all. Safe in the PAM and NSS
 * modules (it only calls realloc). */

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>

/* Makes room for `need` elements in *array, whose capacity is *allocated
 * elements of elem_size bytes: at least doubles it when it must grow.
 * Returns 0 or -ENOMEM (the array is unchanged then). */
static inline int array_reserve(void **array, size_t *allocated, size_t need, size_t elem_size) {
        size_t n;
        void *p;

        if (need <= *allocated)
                return 0;
        n = *allocated > 8 ? *allocated : 8;
        while (n < need) {
                if (n > SIZE_MAX / 2)
                        return -ENOMEM;
                n *= 2;
        }
        if (n > SIZE_MAX / elem_size)
                return -ENOMEM;
        p = realloc(*array, n * elem_size);
        if (!p)
                return -ENOMEM;
        *array = p;
        *allocated = n;
        return 0;
}

#define ARRAY_RESERVE(array, allocated, need) \
        array_reserve((void **) &(array), &(allocated), (need), sizeof(*(array)))
