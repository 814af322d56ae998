/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* Test helper: publishes a snapshot with the writer API that nexalixd uses,
 * from files in /etc/passwd and /etc/group format.
 *
 *     nss-publish RUNTIME_DIR PASSWD_FILE GROUP_FILE
 *
 * Prints the published generation. Exit 0 on success, 1 on failure. */

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "macro.h"
#include "snapshot.h"
#include "snapshot-writer.h"

/* Splits `line` at ':' into at most `max` fields, in place. */
static size_t split(char *line, char **fields, size_t max) {
        size_t n = 0;
        char *p = line;

        line[strcspn(line, "\n")] = '\0';
        while (n < max) {
                fields[n++] = p;
                p = strchr(p, ':');
                if (!p)
                        break;
                *p++ = '\0';
        }
        return n;
}

static int add_users(snapshot_writer *w, const char *path) {
        _cleanup_free_ char *line = NULL;
        size_t size = 0;
        FILE *f = fopen(path, "re");
        int r = 0;

        if (!f)
                return -errno;
        while (getline(&line, &size, f) > 0) {
                char *fl[7];

                if (line[0] == '#' || line[0] == '\n')
                        continue;
                if (split(line, fl, 7) != 7) {
                        r = -EINVAL;
                        break;
                }
                r = snapshot_writer_add_user(w, fl[0], (uint32_t) strtoul(fl[2], NULL, 10),
                                             (uint32_t) strtoul(fl[3], NULL, 10), fl[4], fl[5], fl[6]);
                if (r < 0) {
                        fprintf(stderr, "nss-publish: user %s: %s\n", fl[0], strerror(-r));
                        break;
                }
        }
        fclose(f);
        return r;
}

static int add_groups(snapshot_writer *w, const char *path) {
        _cleanup_free_ char *line = NULL;
        size_t size = 0;
        FILE *f = fopen(path, "re");
        int r = 0;

        if (!f)
                return -errno;
        while (getline(&line, &size, f) > 0) {
                char *fl[4], *members[4096], *save = NULL;
                size_t n = 0;

                if (line[0] == '#' || line[0] == '\n')
                        continue;
                if (split(line, fl, 4) != 4) {
                        r = -EINVAL;
                        break;
                }
                for (char *m = strtok_r(fl[3], ",", &save); m && n + 1 < ELEMENTSOF(members);
                     m = strtok_r(NULL, ",", &save))
                        members[n++] = m;
                members[n] = NULL;
                r = snapshot_writer_add_group(w, fl[0], (uint32_t) strtoul(fl[2], NULL, 10), members);
                if (r < 0) {
                        fprintf(stderr, "nss-publish: group %s: %s\n", fl[0], strerror(-r));
                        break;
                }
        }
        fclose(f);
        return r;
}

int main(int argc, char **argv) {
        snapshot_writer *w;
        uint64_t generation;
        int r;

        if (argc != 4) {
                fprintf(stderr, "usage: %s RUNTIME_DIR PASSWD_FILE GROUP_FILE\n", argv[0]);
                return 2;
        }
        r = snapshot_writer_new(argv[1], 0, 0, &w);
        if (r < 0) {
                fprintf(stderr, "nss-publish: %s: %s\n", argv[1], strerror(-r));
                return 1;
        }
        r = add_users(w, argv[2]);
        if (r >= 0)
                r = add_groups(w, argv[3]);
        if (r < 0) {
                snapshot_writer_free(w);
                fprintf(stderr, "nss-publish: reading input failed: %s\n", strerror(-r));
                return 1;
        }
        r = snapshot_writer_publish(w, &generation);
        if (r < 0) {
                fprintf(stderr, "nss-publish: publishing failed: %s\n", strerror(-r));
                return 1;
        }
        printf("%" PRIu64 "\n", generation);
        return 0;
}
