/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* The order of the system calls that make a publication durable: the new
 * snapshot's data must be on disk (fsync of the temporary file) before the
 * rename makes it the published one, and the directory is synced after the
 * rename so that the new name survives a crash. A rename before the fsync
 * could publish a file whose blocks are not written yet: after a power loss
 * every process would read a torn or empty snapshot.
 *
 * The test interposes fsync(), rename() and renameat() (the writer is linked
 * statically into this program, so its calls bind to these definitions) and
 * records which file each call touched.
 *
 *     test-snapshot-durability
 */

#include <dlfcn.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "snapshot.h"
#include "snapshot-writer.h"

#define MAX_CALLS 64

static struct {
        char what[16];
        char path[PATH_MAX];
} calls[MAX_CALLS];
static int n_calls;

static void record(const char *what, const char *path) {
        if (n_calls < MAX_CALLS) {
                snprintf(calls[n_calls].what, sizeof(calls[0].what), "%s", what);
                snprintf(calls[n_calls].path, sizeof(calls[0].path), "%s", path);
                n_calls++;
        }
}

int fsync(int fd) {
        static int (*real)(int);
        char link[64], path[PATH_MAX];
        ssize_t n;

        if (!real)
                real = (int (*)(int)) dlsym(RTLD_NEXT, "fsync");
        snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
        n = readlink(link, path, sizeof(path) - 1);
        path[n > 0 ? n : 0] = 0;
        record("fsync", path);
        return real(fd);
}

int renameat(int olddirfd, const char *oldpath, int newdirfd, const char *newpath) {
        static int (*real)(int, const char *, int, const char *);

        if (!real)
                real = (int (*)(int, const char *, int, const char *)) dlsym(RTLD_NEXT, "renameat");
        record("rename", oldpath);
        return real(olddirfd, oldpath, newdirfd, newpath);
}

int rename(const char *oldpath, const char *newpath) {
        static int (*real)(const char *, const char *);

        if (!real)
                real = (int (*)(const char *, const char *)) dlsym(RTLD_NEXT, "rename");
        record("rename", oldpath);
        return real(oldpath, newpath);
}

static int fail(const char *why) {
        fprintf(stderr, "FAIL: %s\ncalls:\n", why);
        for (int i = 0; i < n_calls; i++)
                fprintf(stderr, "  %s %s\n", calls[i].what, calls[i].path);
        return 1;
}

int main(void) {
        char base[] = "/tmp/test-snapshot-durability-XXXXXX", dir[PATH_MAX], cmd[PATH_MAX + 16];
        char *none[] = { NULL };
        snapshot_writer *w;
        int rename_at = -1, file_sync_at = -1, dir_sync_after = -1;
        const char *tmp = NULL;

        if (!mkdtemp(base))
                return 2;
        snprintf(dir, sizeof(dir), "%s/run", base);
        if (snapshot_writer_new(dir, 1, 1, &w) < 0 ||
            snapshot_writer_add_user(w, "alice", 1000, 1000, "Alice", "/home/alice", "/bin/sh") < 0 ||
            snapshot_writer_add_group(w, "alice", 1000, none) < 0)
                return fail("could not build a snapshot");
        n_calls = 0;
        if (snapshot_writer_publish(w, NULL) < 0)
                return fail("could not publish");

        for (int i = 0; i < n_calls; i++)
                if (strcmp(calls[i].what, "rename") == 0 && strstr(calls[i].path, ".nss.mdb.")) {
                        rename_at = i;
                        tmp = calls[i].path;
                        break;
                }
        if (rename_at < 0)
                return fail("the temporary file was never renamed into place");
        for (int i = 0; i < rename_at; i++)
                if (strcmp(calls[i].what, "fsync") == 0 && strstr(calls[i].path, tmp))
                        file_sync_at = i;
        if (file_sync_at < 0)
                return fail("the temporary file was renamed before it was fsynced");
        for (int i = rename_at + 1; i < n_calls; i++)
                if (strcmp(calls[i].what, "fsync") == 0 && strcmp(calls[i].path, dir) == 0)
                        dir_sync_after = i;
        if (dir_sync_after < 0)
                return fail("the directory was not fsynced after the rename");

        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", base);
        if (system(cmd) != 0)
                fprintf(stderr, "could not remove %s\n", base);
        printf("fsync(%s) < rename < fsync(%s): 1 passed, 0 failed\n", tmp, dir);
        return 0;
}
