/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

static bool log_to_syslog;
static int log_max_level = LOG_INFO;

void log_open(bool use_syslog) {
        log_to_syslog = use_syslog;
        if (use_syslog)
                openlog("nexalixd", LOG_PID | LOG_NDELAY, LOG_DAEMON);
}

bool log_uses_syslog(void) {
        return log_to_syslog;
}

void log_set_max_level(int level) {
        log_max_level = level;
}

int log_get_max_level(void) {
        return log_max_level;
}

int log_internal(int level, int error, const char *func, const char *fmt, ...) {
        int saved = errno;
        va_list ap;

        if (level <= log_max_level) {
                char text[2048];

                errno = error < 0 ? -error : error;
                va_start(ap, fmt);
                vsnprintf(text, sizeof(text), fmt, ap);
                va_end(ap);

                if (log_to_syslog)
                        syslog(level, "%s: %s", func, text);
                else
                        fprintf(stderr, "nexalixd: %s: %s\n", func, text);
        }
        errno = saved;
        return error < 0 ? error : -error;
}
