/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

static enum {
        LOG_TARGET_TERMINAL,    /* "nexalixd: message" on stderr */
        LOG_TARGET_JOURNAL,     /* "<priority>message" on stderr, which journald reads */
        LOG_TARGET_SYSLOG,
} log_target;
static int log_max_level = LOG_INFO;

/* systemd connects a service's stderr to the journal and says so in
 * $JOURNAL_STREAM ("DEVICE:INODE" of that stream): then a "<N>" prefix gives
 * each line its priority, so that `journalctl -p err` shows only errors. */
static bool stderr_is_journal(void) {
        const char *e = getenv("JOURNAL_STREAM");
        unsigned long long dev, ino;
        struct stat st;

        return e && sscanf(e, "%llu:%llu", &dev, &ino) == 2 && fstat(STDERR_FILENO, &st) == 0 &&
               st.st_dev == dev && st.st_ino == ino;
}

void log_open(bool use_syslog) {
        if (use_syslog) {
                log_target = LOG_TARGET_SYSLOG;
                openlog("nexalixd", LOG_PID | LOG_NDELAY, LOG_DAEMON);
        } else
                log_target = stderr_is_journal() ? LOG_TARGET_JOURNAL : LOG_TARGET_TERMINAL;
}

bool log_uses_syslog(void) {
        return log_target == LOG_TARGET_SYSLOG;
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

                /* The function name helps whoever debugs, and only them. */
                if (log_max_level < LOG_DEBUG)
                        func = NULL;
                switch (log_target) {
                case LOG_TARGET_SYSLOG:
                        syslog(level, "%s%s%s", func ?: "", func ? ": " : "", text);
                        break;
                case LOG_TARGET_JOURNAL:
                        fprintf(stderr, "<%d>%s%s%s\n", level, func ?: "", func ? ": " : "", text);
                        break;
                case LOG_TARGET_TERMINAL:
                        fprintf(stderr, "nexalixd: %s%s%s%s\n", level <= LOG_ERR ? "error: " :
                                level == LOG_WARNING ? "warning: " : "", func ?: "", func ? ": " : "", text);
                        break;
                }
        }
        errno = saved;
        return error < 0 ? error : -error;
}
