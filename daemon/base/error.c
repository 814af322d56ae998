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
        utf8_vsnprintf(e->message, sizeof(e->message), fmt, ap);
        va_end(ap);
        return r;
}

int utf8_vsnprintf(char *buf, size_t size, const char *fmt, va_list ap) {
        int n = vsnprintf(buf, size, fmt, ap);

        /* Truncation may cut a multi-byte character in half; libdbus aborts
         * on a message that is not UTF-8, so drop the partial character. */
        if (n >= 0 && (size_t) n >= size && size > 0) {
                size_t len = size - 1, start = len;

                while (start > 0 && ((unsigned char) buf[start - 1] & 0xC0) == 0x80)
                        start--;
                if (start > 0 && ((unsigned char) buf[start - 1] & 0x80)) {
                        unsigned char lead = (unsigned char) buf[start - 1];
                        size_t need = lead >= 0xF0 ? 4 : lead >= 0xE0 ? 3 : lead >= 0xC0 ? 2 : 1;
                        if (len - (start - 1) < need)
                                buf[start - 1] = 0;
                }
        }
        return n;
}

int utf8_snprintf(char *buf, size_t size, const char *fmt, ...) {
        va_list ap;
        int n;

        va_start(ap, fmt);
        n = utf8_vsnprintf(buf, size, fmt, ap);
        va_end(ap);
        return n;
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
        case -EAGAIN: return BUS_ERROR_LIMIT_EXCEEDED;
        case -ETIME: return BUS_ERROR_EXPIRED;
        default: return BUS_ERROR_FAILED;
        }
}
