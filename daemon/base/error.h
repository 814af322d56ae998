/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* A refusal a user will read: a negative errno that picks the D-Bus error
 * name (-EINVAL InvalidArgument, -ENOENT NotFound, -EEXIST AlreadyExists,
 * -EACCES AccessDenied, -ENOTEMPTY DeletionBlocked, -EBUSY InvalidState,
 * anything else Failed) and a message that says what happened and what to do. */

#include <stdarg.h>
#include <stddef.h>

#include "macro.h"

typedef struct nx_error {
        int error;
        char message[512];
} nx_error;

/* Records the first refusal and returns r, so `return nx_error_set(e, -EINVAL, ...)`. */
int nx_error_set(nx_error *e, int r, const char *fmt, ...) _printf_(3, 4);
const char *nx_error_bus_name(int r);

/* vsnprintf that never leaves half a UTF-8 character at a truncation. */
int utf8_vsnprintf(char *buf, size_t size, const char *fmt, va_list ap) _printf_(3, 0);
int utf8_snprintf(char *buf, size_t size, const char *fmt, ...) _printf_(3, 4);
