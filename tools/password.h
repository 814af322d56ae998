/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Reading a password without it ever being on the command line. Both
 * functions fill a caller-provided buffer (PASSWORD_BUF_SIZE bytes, wiped by
 * the caller with _cleanup_password_) and print their own errors. */

#include <stddef.h>
#include <string.h>

#include "macro.h"
#include "validate.h"

/* PASSWORD_MAX bytes, a newline and the terminating NUL. */
#define PASSWORD_BUF_SIZE (PASSWORD_MAX + 2)

/* Reads the first line of standard input, without its "\n" (or "\r\n").
 * Reads byte by byte with read(2), so no copy stays behind in a stdio buffer
 * and nothing after the line is consumed. */
int password_read_stdin(char buf[static PASSWORD_BUF_SIZE]);

/* Asks for a new password twice on /dev/tty with echo off and compares the
 * answers. -EINVAL (a usage error) when there is no terminal. */
int password_prompt_new(char buf[static PASSWORD_BUF_SIZE]);

/* Asks once for the current password on /dev/tty with echo off. */
int password_prompt_current(char buf[static PASSWORD_BUF_SIZE]);

static inline void password_wipe(char (*buf)[PASSWORD_BUF_SIZE]) {
        explicit_bzero(*buf, sizeof *buf);
}
#define _cleanup_password_ _cleanup_(password_wipe)
