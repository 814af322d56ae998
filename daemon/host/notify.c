/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "notify.h"

#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

int notify_send(const char *format, ...) {
        const char *path = getenv("NOTIFY_SOCKET");
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        _cleanup_close_ int fd = -1;
        char text[1024];
        socklen_t len;
        va_list ap;
        int n;

        if (!path || (path[0] != '/' && path[0] != '@') || strlen(path) >= sizeof(sa.sun_path))
                return 0;
        va_start(ap, format);
        n = vsnprintf(text, sizeof(text), format, ap);
        va_end(ap);
        if (n < 0 || (size_t) n >= sizeof(text))
                return -EINVAL;

        memcpy(sa.sun_path, path, strlen(path));
        if (sa.sun_path[0] == '@')
                sa.sun_path[0] = 0;     /* an abstract socket */
        len = (socklen_t) (offsetof(struct sockaddr_un, sun_path) + strlen(path));

        fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return -errno;
        if (sendto(fd, text, (size_t) n, MSG_NOSIGNAL, (struct sockaddr *) &sa, len) < 0)
                return -errno;
        return 0;
}

uint64_t notify_watchdog_usec(void) {
        const char *usec = getenv("WATCHDOG_USEC"), *pid = getenv("WATCHDOG_PID");
        unsigned long long v;
        char *end;

        /* The watchdog is for the main process only; a child that inherited
         * the variables must not ping on its parent's behalf. */
        if (!usec || (pid && strtol(pid, NULL, 10) != getpid()))
                return 0;
        errno = 0;
        v = strtoull(usec, &end, 10);
        if (errno || *end || v == 0)
                return 0;
        return v;
}
