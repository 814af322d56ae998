/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Daemon logging: to stderr in the foreground (journald captures it under
 * systemd), to syslog once daemonised. Log once, where an error is handled. */

#include <errno.h>
#include <stdbool.h>
#include <syslog.h>

#include "macro.h"

void log_open(bool use_syslog);
bool log_uses_syslog(void);
void log_set_max_level(int level);
int log_get_max_level(void);
int log_internal(int level, int error, const char *func, const char *fmt, ...) _printf_(4, 5);

/* The *_errno variants set errno for %m and return the (negative) error so
 * that `return log_error_errno(r, "...: %m");` works. */
#define log_debug(...) log_internal(LOG_DEBUG, 0, __func__, __VA_ARGS__)
#define log_info(...) log_internal(LOG_INFO, 0, __func__, __VA_ARGS__)
#define log_notice(...) log_internal(LOG_NOTICE, 0, __func__, __VA_ARGS__)
#define log_warning(...) log_internal(LOG_WARNING, 0, __func__, __VA_ARGS__)
#define log_error(...) log_internal(LOG_ERR, 0, __func__, __VA_ARGS__)
#define log_warning_errno(e, ...) log_internal(LOG_WARNING, (e), __func__, __VA_ARGS__)
#define log_error_errno(e, ...) log_internal(LOG_ERR, (e), __func__, __VA_ARGS__)
