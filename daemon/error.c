/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "error.h"
#include "bus-util.h"

#include <stdarg.h>
#include <stdio.h>

int nx_error_set(nx_error *e, int r, const char *fmt, ...) {
        va_list ap;

        if (!e || e->error)
                return r;
        e->error = r;
        va_start(ap, fmt);
        vsnprintf(e->message, sizeof(e->message), fmt, ap);
        va_end(ap);
        return r;
}

const char *nx_error_bus_name(int r) {
        switch (r) {
        case -EINVAL: return BUS_ERROR_INVALID_ARGUMENT;
        case -ENOENT: return BUS_ERROR_NOT_FOUND;
        case -EEXIST: return BUS_ERROR_ALREADY_EXISTS;
        case -EACCES:
        case -EPERM: return BUS_ERROR_ACCESS_DENIED;
        case -ENOTEMPTY: return BUS_ERROR_DELETION_BLOCKED;
        case -EBUSY: return BUS_ERROR_INVALID_STATE;
        default: return BUS_ERROR_FAILED;
        }
}
