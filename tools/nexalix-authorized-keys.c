/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* nexalix-authorized-keys USER: prints the SSH public keys sshd may accept
 * for USER, one authorized_keys line each, from the keys snapshot nexalixd
 * publishes (RUNTIME/keys.mdb, keys-snapshot.h). sshd runs it as its
 * AuthorizedKeysCommand, as the unprivileged AuthorizedKeysCommandUser:
 *
 *   AuthorizedKeysCommand /usr/libexec/nexalix/nexalix-authorized-keys %u
 *   AuthorizedKeysCommandUser nexalix-keys
 *
 * No IPC: it opens one immutable file read-only, so it answers in well under
 * a millisecond, process start included, and keeps answering while nexalixd
 * restarts. It prints nothing for a user without keys, an unknown, invited
 * or deactivated user, and exits 0 then as on success, so that sshd goes on
 * with the user's own authorized_keys files; only a usage error exits 2.
 *
 * (pam_nexalix.so reads the same snapshot for the account stage while the
 * daemon cannot be asked, so that key logins go on working then.)
 *
 * The runtime directory is compiled in and never taken from the environment
 * (sshd gives the command its own). --runtime DIR exists for tests; the
 * program is not setuid, so it can read nothing its caller could not. See
 * nexalix-authorized-keys(8). */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "build-config.h"
#include "keys-snapshot.h"
#include "macro.h"

#define PROGRAM "nexalix-authorized-keys"

static int usage(FILE *f) {
        fputs("Usage: " PROGRAM " [--runtime DIR] USER\n"
              "Print USER's SSH public keys from the Nexalix keys snapshot, for sshd's\n"
              "AuthorizedKeysCommand. Prints nothing (and exits 0) when USER has none.\n"
              "\n"
              "  --runtime DIR   read DIR/" KEYS_SNAPSHOT_FILE " (default " NEXALIX_RUNTIME_DIR "; for tests)\n"
              "  -h, --help      show this help\n"
              "      --version   show the version\n"
              "See nexalix-authorized-keys(8).\n", f);
        return f == stdout ? 0 : 2;
}

static int write_all(int fd, const char *p, size_t n) {
        while (n > 0) {
                ssize_t k = write(fd, p, n);
                if (k < 0 && errno == EINTR)
                        continue;
                if (k <= 0)
                        return -1;
                p += k;
                n -= (size_t) k;
        }
        return 0;
}

int main(int argc, char *argv[]) {
        const char *runtime = NEXALIX_RUNTIME_DIR, *user = NULL;
        _cleanup_free_ char *lines = NULL;
        char path[PATH_MAX];
        keys_snapshot *s = NULL;
        size_t size = 0;
        int r;

        for (int i = 1; i < argc; i++) {
                if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0)
                        return usage(stdout);
                if (strcmp(argv[i], "--version") == 0) {
                        puts(PROGRAM " " NEXALIX_VERSION);
                        return 0;
                }
                if (strcmp(argv[i], "--runtime") == 0 && i + 1 < argc) {
                        runtime = argv[++i];
                        continue;
                }
                if (strcmp(argv[i], "--") == 0 && i + 2 == argc) {
                        user = argv[++i];
                        continue;
                }
                if (argv[i][0] == '-' || user) {
                        fprintf(stderr, PROGRAM ": unexpected argument '%s'\n", argv[i]);
                        return usage(stderr);
                }
                user = argv[i];
        }
        if (!user) {
                fputs(PROGRAM ": missing USER\n", stderr);
                return usage(stderr);
        }
        if ((size_t) snprintf(path, sizeof(path), "%s/%s", runtime, KEYS_SNAPSHOT_FILE) >= sizeof(path)) {
                fputs(PROGRAM ": --runtime is too long\n", stderr);
                return 2;
        }

        r = keys_snapshot_open(path, &s);
        if (r < 0) {
                /* sshd goes on with the other key sources; an administrator
                 * running this by hand learns why nothing came. */
                if (r != -ENOENT) {
                        errno = -r;
                        fprintf(stderr, PROGRAM ": cannot read %s: %m\n", path);
                }
                return 0;
        }
        r = keys_snapshot_get(s, user, &lines, &size);
        if (r < 0 && r != -ENOENT) {
                errno = -r;
                fprintf(stderr, PROGRAM ": cannot read the keys of '%s' from %s: %m\n", user, path);
        }
        keys_snapshot_close(s);
        if (r >= 0 && write_all(STDOUT_FILENO, lines, size) < 0) {
                fprintf(stderr, PROGRAM ": cannot write: %m\n");
                return 1;
        }
        return 0;
}
