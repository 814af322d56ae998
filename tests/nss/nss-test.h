/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Shared by the NSS module tests: loading the module with dlopen(), checks
 * that stop the test at the first failure, and running each case in its own
 * process so that every case starts with the module's global state fresh. */

#include <dlfcn.h>
#include <stdbool.h>
#include <grp.h>
#include <nss.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "macro.h"

#define CHECK(cond)                                                                     \
        do {                                                                            \
                if (!(cond)) {                                                          \
                        fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, \
                                #cond);                                                 \
                        exit(1);                                                        \
                }                                                                       \
        } while (0)

#define CHECK_EQ_INT(a, b)                                                              \
        do {                                                                            \
                long long _a = (long long) (a), _b = (long long) (b);                   \
                if (_a != _b) {                                                         \
                        fprintf(stderr, "%s:%d: check failed: %s == %s (%lld != %lld)\n", \
                                __FILE__, __LINE__, #a, #b, _a, _b);                    \
                        exit(1);                                                        \
                }                                                                       \
        } while (0)

#define CHECK_STREQ(a, b)                                                               \
        do {                                                                            \
                const char *_a = (a), *_b = (b);                                        \
                if (!_a || !_b || strcmp(_a, _b) != 0) {                                \
                        fprintf(stderr, "%s:%d: check failed: %s == \"%s\" (got \"%s\")\n", \
                                __FILE__, __LINE__, #a, _b ? _b : "(null)",             \
                                _a ? _a : "(null)");                                    \
                        exit(1);                                                        \
                }                                                                       \
        } while (0)

typedef enum nss_status (*getpwnam_r_fn)(const char *, struct passwd *, char *, size_t, int *);
typedef enum nss_status (*getpwuid_r_fn)(uid_t, struct passwd *, char *, size_t, int *);
typedef enum nss_status (*getgrnam_r_fn)(const char *, struct group *, char *, size_t, int *);
typedef enum nss_status (*getgrgid_r_fn)(gid_t, struct group *, char *, size_t, int *);
typedef enum nss_status (*initgroups_dyn_fn)(const char *, gid_t, long int *, long int *,
                                             gid_t **, long int, int *);
typedef enum nss_status (*setent_fn)(int);
typedef enum nss_status (*endent_fn)(void);
typedef enum nss_status (*getpwent_r_fn)(struct passwd *, char *, size_t, int *);
typedef enum nss_status (*getgrent_r_fn)(struct group *, char *, size_t, int *);

typedef struct nss_module {
        void *dl;
        getpwnam_r_fn getpwnam_r;
        getpwuid_r_fn getpwuid_r;
        getgrnam_r_fn getgrnam_r;
        getgrgid_r_fn getgrgid_r;
        initgroups_dyn_fn initgroups_dyn;
        setent_fn setpwent;
        getpwent_r_fn getpwent_r;
        endent_fn endpwent;
        setent_fn setgrent;
        getgrent_r_fn getgrent_r;
        endent_fn endgrent;
} nss_module;

static inline void *nss_sym(void *dl, const char *name) {
        void *p = dlsym(dl, name);
        if (!p) {
                fprintf(stderr, "module does not export %s\n", name);
                exit(1);
        }
        return p;
}

/* Loads the module the way glibc does (RTLD_NOW, private namespace). */
static inline void nss_module_load(const char *path, nss_module *m) {
        m->dl = dlopen(path, RTLD_NOW | RTLD_LOCAL);
        if (!m->dl) {
                fprintf(stderr, "dlopen %s: %s\n", path, dlerror());
                exit(1);
        }
        m->getpwnam_r = (getpwnam_r_fn) nss_sym(m->dl, "_nss_nexalix_getpwnam_r");
        m->getpwuid_r = (getpwuid_r_fn) nss_sym(m->dl, "_nss_nexalix_getpwuid_r");
        m->getgrnam_r = (getgrnam_r_fn) nss_sym(m->dl, "_nss_nexalix_getgrnam_r");
        m->getgrgid_r = (getgrgid_r_fn) nss_sym(m->dl, "_nss_nexalix_getgrgid_r");
        m->initgroups_dyn = (initgroups_dyn_fn) nss_sym(m->dl, "_nss_nexalix_initgroups_dyn");
        m->setpwent = (setent_fn) nss_sym(m->dl, "_nss_nexalix_setpwent");
        m->getpwent_r = (getpwent_r_fn) nss_sym(m->dl, "_nss_nexalix_getpwent_r");
        m->endpwent = (endent_fn) nss_sym(m->dl, "_nss_nexalix_endpwent");
        m->setgrent = (setent_fn) nss_sym(m->dl, "_nss_nexalix_setgrent");
        m->getgrent_r = (getgrent_r_fn) nss_sym(m->dl, "_nss_nexalix_getgrent_r");
        m->endgrent = (endent_fn) nss_sym(m->dl, "_nss_nexalix_endgrent");
}

/* Runs fn in a child process; returns true when it exited 0. */
static inline bool nss_run_case(const char *name, void (*fn)(void)) {
        int status;
        pid_t pid;

        fflush(NULL);
        pid = fork();
        if (pid < 0) {
                perror("fork");
                return false;
        }
        if (pid == 0) {
                fn();
                fflush(NULL);
                _exit(0);
        }
        if (waitpid(pid, &status, 0) < 0) {
                perror("waitpid");
                return false;
        }
        if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
                printf("ok     %s\n", name);
                return true;
        }
        if (WIFSIGNALED(status))
                printf("FAIL   %s (killed by signal %d)\n", name, WTERMSIG(status));
        else
                printf("FAIL   %s (exit %d)\n", name, WEXITSTATUS(status));
        return false;
}
