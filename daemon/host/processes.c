/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "array.h"
#include "log.h"
#include "macro.h"
#include "processes.h"

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/pidfd.h>
#include <sys/syscall.h>
#include <time.h>

/* How long the sweep goes on while processes keep appearing or dying slowly
 * (a process in uninterruptible sleep dies only when its I/O returns). */
#define TERMINATE_DEADLINE_MS 3000
#define TERMINATE_PAUSE_MS 5

/* One process, told apart from a later one with the same pid by its start
 * time (field 22 of /proc/PID/stat, in clock ticks since boot). */
typedef struct process_id {
        pid_t pid;
        unsigned long long start;
} process_id;

typedef struct process_set {
        process_id *v;
        size_t n, allocated;
} process_set;

typedef enum process_match {
        PROCESS_OTHER,          /* gone, a zombie, or not the uid's */
        PROCESS_OF_UID,
} process_match;

static int read_file(int dir_fd, const char *name, char *buf, size_t size) {
        _cleanup_close_ int fd = openat(dir_fd, name, O_RDONLY | O_CLOEXEC);
        ssize_t n;

        if (fd < 0)
                return -errno;
        n = read(fd, buf, size - 1);
        if (n < 0)
                return -errno;
        buf[n] = 0;
        return 0;
}

/* Field 22 of /proc/PID/stat, the start time in clock ticks since boot. The
 * command name may hold spaces and ')': the fields after it start after its
 * last ')'. */
static int parse_start_time(const char *stat, unsigned long long *ret) {
        const char *p = strrchr(stat, ')');

        if (!p)
                return -EBADMSG;
        p++;
        for (int field = 3; p && field < 22; field++)
                p = strchr(p + 1, ' ');
        if (!p)
                return -EBADMSG;
        *ret = strtoull(p + 1, NULL, 10);
        return 0;
}

/* Reads what decides whether /proc/PID belongs to uid. The kernel lets a
 * process of uid signal the processes whose real or saved uid is uid, which
 * is what a user's session consists of (a setuid program the user started
 * included); a root process that only borrowed uid as its effective or
 * filesystem uid is not the user's and is left alone. */
static process_match inspect(int proc_fd, const char *pid_name, uint32_t uid, unsigned long long *ret_start) {
        _cleanup_close_ int dir_fd = openat(proc_fd, pid_name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        char status[4096], stat[1024];
        unsigned long ruid, euid, suid;
        const char *state, *uids;
        unsigned long long start = 0;

        if (dir_fd < 0 || read_file(dir_fd, "status", status, sizeof(status)) < 0 ||
            read_file(dir_fd, "stat", stat, sizeof(stat)) < 0)
                return PROCESS_OTHER;
        state = strstr(status, "\nState:");
        uids = strstr(status, "\nUid:");
        if (!state || !uids || sscanf(uids + 5, "%lu %lu %lu", &ruid, &euid, &suid) != 3)
                return PROCESS_OTHER;
        state += strspn(state + 7, " \t") + 7;
        if (*state == 'Z' || *state == 'X')
                return PROCESS_OTHER;
        if (ruid != uid && suid != uid)
                return PROCESS_OTHER;
        (void) parse_start_time(stat, &start);
        *ret_start = start;
        return PROCESS_OF_UID;
}

int process_start_time(uint32_t pid, uint64_t *ret) {
        _cleanup_close_ int proc_fd = open("/proc", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        char name[32], stat[1024];
        unsigned long long start;
        int r;

        if (proc_fd < 0)
                return -errno;
        snprintf(name, sizeof(name), "%u/stat", pid);
        r = read_file(proc_fd, name, stat, sizeof(stat));
        if (r < 0)
                return r;
        r = parse_start_time(stat, &start);
        if (r < 0)
                return r;
        *ret = start;
        return 0;
}

bool process_alive(uint32_t pid, uint64_t start) {
        uint64_t now_start;
        return pid > 0 && process_start_time(pid, &now_start) >= 0 && now_start == start;
}

int process_kill(uint32_t pid, uint64_t start) {
        _cleanup_close_ int pidfd = pidfd_open((pid_t) pid, 0);

        if (pidfd < 0)
                return errno == ESRCH ? 0 : -errno;
        /* Checked after pidfd_open(): the pidfd pins the process we read. */
        if (!process_alive(pid, start))
                return 0;
        return pidfd_send_signal(pidfd, SIGKILL, NULL, 0) < 0 ? -errno : 1;
}

static bool process_set_contains(const process_set *s, process_id id) {
        for (size_t i = 0; i < s->n; i++)
                if (s->v[i].pid == id.pid && s->v[i].start == id.start)
                        return true;
        return false;
}

static int process_set_add(process_set *s, process_id id) {
        if (process_set_contains(s, id))
                return 0;
        if (ARRAY_RESERVE(s->v, s->allocated, s->n + 1) < 0)
                return -ENOMEM;
        s->v[s->n++] = id;
        return 0;
}

/* One pass over /proc: every live process of uid gets SIGKILL through a pidfd
 * (the pidfd pins the process, so the signal can never reach a newer process
 * that reused the pid) and is remembered in seen. Returns how many were found. */
static int sweep(uint32_t uid, process_set *seen) {
        _cleanup_close_ int proc_fd = open("/proc", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        struct dirent *de;
        int found = 0, r = 0;
        DIR *d;

        if (proc_fd < 0)
                return -errno;
        d = fdopendir(dup(proc_fd));
        if (!d)
                return -errno;
        while ((de = readdir(d))) {
                unsigned long long start;
                char *end;
                long pid = strtol(de->d_name, &end, 10);
                int pidfd;

                if (pid <= 0 || *end || pid == getpid())
                        continue;
                pidfd = pidfd_open((pid_t) pid, 0);
                if (pidfd < 0)
                        continue;
                /* Read after pidfd_open(): what we read is the process the
                 * pidfd refers to. */
                if (inspect(proc_fd, de->d_name, uid, &start) == PROCESS_OF_UID &&
                    pidfd_send_signal(pidfd, SIGKILL, NULL, 0) == 0) {
                        found++;
                        if (r >= 0)
                                r = process_set_add(seen, (process_id) { (pid_t) pid, start });
                }
                close(pidfd);
        }
        closedir(d);
        return r < 0 ? r : found;
}

static bool process_of_uid_alive(const process_id *id, uint32_t uid) {
        _cleanup_close_ int proc_fd = open("/proc", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        unsigned long long start;
        char name[32];

        snprintf(name, sizeof(name), "%d", (int) id->pid);
        return proc_fd >= 0 && inspect(proc_fd, name, uid, &start) == PROCESS_OF_UID && start == id->start;
}

static uint64_t now_ms(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec * 1000 + (uint64_t) ts.tv_nsec / 1000000;
}

int processes_terminate_uid(uint32_t uid, unsigned *ret_ended) {
        process_set seen = {};
        uint64_t deadline = now_ms() + TERMINATE_DEADLINE_MS;
        unsigned ended = 0, left = 0;
        int r;

        if (uid == 0)
                return -EINVAL;

        /* Sweep until a pass finds nobody: a process may fork between our
         * reading of /proc and its SIGKILL, and a killed process stays
         * visible until the kernel has torn it down. */
        for (;;) {
                r = sweep(uid, &seen);
                if (r <= 0 || now_ms() >= deadline)
                        break;
                (void) nanosleep(&(struct timespec) { 0, TERMINATE_PAUSE_MS * 1000000L }, NULL);
        }
        /* Count by looking, not by return values: what was seen alive and is
         * gone now was ended. */
        for (size_t i = 0; i < seen.n; i++) {
                if (process_of_uid_alive(&seen.v[i], uid))
                        left++;
                else
                        ended++;
        }
        free(seen.v);
        if (r < 0)
                return r;
        if (left > 0)
                log_warning("%u processes of uid %u did not end within %d ms of SIGKILL", left, uid,
                            TERMINATE_DEADLINE_MS);
        *ret_ended = ended;
        return left > 0 ? -ETIMEDOUT : 0;
}
