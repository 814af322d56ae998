/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* libnss_nexalix.so.2: passwd, group and initgroups from the snapshot that
 * nexalixd publishes (common/snapshot.h, docs/nss.md): a base file and the
 * delta of what changed since.
 *
 * This code runs inside every process on the machine, dbus-daemon and
 * nexalixd included, so it talks to nobody: it reads an immutable LMDB file
 * and nothing else. It never prints, exits or aborts, leaves no descriptor
 * behind across exec, and restores errno except where the NSS protocol says
 * to set it (*errnop).
 *
 * Freshness without a system call per lookup: the open snapshot carries the
 * generation it was published as, and RUNTIME/nss.gen, which the writer never
 * replaces, holds the latest generation in a page every reader keeps mapped.
 * A lookup compares the two with one memory load. Because a deleted and
 * recreated nss.gen would leave readers watching a dead page, a lookup also
 * stat()s the files at most once a second (the coarse monotonic clock is
 * read through the vDSO, without entering the kernel). */

#include <errno.h>
#include <grp.h>
#include <limits.h>
#include <nss.h>
#include <pthread.h>
#include <pwd.h>
#include <stdalign.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <time.h>

#include "build-config.h"
#include "macro.h"
#include "snapshot.h"
#include "validate.h"

/* The entry points; nss-nexalix.sym exports exactly these. */
_visible_ enum nss_status _nss_nexalix_getpwnam_r(const char *name, struct passwd *pwd,
                                                  char *buffer, size_t buflen, int *errnop);
_visible_ enum nss_status _nss_nexalix_getpwuid_r(uid_t uid, struct passwd *pwd,
                                                  char *buffer, size_t buflen, int *errnop);
_visible_ enum nss_status _nss_nexalix_getgrnam_r(const char *name, struct group *grp,
                                                  char *buffer, size_t buflen, int *errnop);
_visible_ enum nss_status _nss_nexalix_getgrgid_r(gid_t gid, struct group *grp,
                                                  char *buffer, size_t buflen, int *errnop);
_visible_ enum nss_status _nss_nexalix_initgroups_dyn(const char *user, gid_t group,
                                                      long int *start, long int *size,
                                                      gid_t **groupsp, long int limit,
                                                      int *errnop);
_visible_ enum nss_status _nss_nexalix_setpwent(int stayopen);
_visible_ enum nss_status _nss_nexalix_endpwent(void);
_visible_ enum nss_status _nss_nexalix_getpwent_r(struct passwd *pwd, char *buffer,
                                                  size_t buflen, int *errnop);
_visible_ enum nss_status _nss_nexalix_setgrent(int stayopen);
_visible_ enum nss_status _nss_nexalix_endgrent(void);
_visible_ enum nss_status _nss_nexalix_getgrent_r(struct group *grp, char *buffer,
                                                  size_t buflen, int *errnop);

#define RUNTIME_DIR_ENV "NEXALIX_RUNTIME_DIR"
#define SAFETY_CHECK_INTERVAL_SEC 1

/* An open snapshot shared by the lookups that use it; the last reference
 * closes it, so a replaced snapshot lives on until its readers are done. */
typedef struct shared_snapshot {
        snapshot *snapshot;
        uint64_t generation;
        unsigned long refs;     /* atomic */
} shared_snapshot;

/* The only global state: the current snapshot and how to tell it is stale,
 * guarded by state_lock; and one enumeration cursor per database, each
 * guarded by its own lock so that enumeration never blocks lookups. */
static pthread_mutex_t state_lock = PTHREAD_MUTEX_INITIALIZER;
static struct {
        bool resolved;
        bool paths_ok;
        char snapshot_path[PATH_MAX];
        char delta_path[PATH_MAX];
        char generation_path[PATH_MAX];

        snapshot_generation_map *generation;
        shared_snapshot *current;

        /* The counter value at the last open attempt, successful or not: a
         * counter that has not moved since then is no reason to try again. */
        bool attempted;
        uint64_t attempted_counter;

        bool checked;
        time_t last_check;
} state;

typedef struct enumeration {
        pthread_mutex_t lock;
        snapshot_table table;
        shared_snapshot *snap;
        snapshot_txn txn;
        bool txn_open;
        snapshot_cursor *cursor;
        bool positioned;        /* the cursor sits on the entry last handed out */
        bool retry;             /* ...which did not fit the caller's buffer */
} enumeration;

static enumeration pw_enum = { .lock = PTHREAD_MUTEX_INITIALIZER, .table = SNAPSHOT_USERS };
static enumeration gr_enum = { .lock = PTHREAD_MUTEX_INITIALIZER, .table = SNAPSHOT_GROUPS };

/* fork() from a threaded program copies the locks as they are at that moment:
 * a lock another thread held would stay locked forever in the child, whose
 * first lookup would then hang (glibc resets its own NSS locks, not ours).
 * So fork() waits, like glibc's own malloc and stdio locks do, until no
 * thread is inside the module: the prepare handler takes every lock (in the
 * order the lookups take them: an enumeration lock, then state_lock), and
 * both sides release them after the fork. The child thus starts with
 * unlocked mutexes and consistent state. The module is linked -z nodelete,
 * so the handlers never outlive their code. */
static void fork_prepare(void) {
        pthread_mutex_lock(&pw_enum.lock);
        pthread_mutex_lock(&gr_enum.lock);
        pthread_mutex_lock(&state_lock);
}

static void fork_release(void) {
        pthread_mutex_unlock(&state_lock);
        pthread_mutex_unlock(&gr_enum.lock);
        pthread_mutex_unlock(&pw_enum.lock);
}

__attribute__((constructor)) static void register_fork_handlers(void) {
        (void) pthread_atfork(fork_prepare, fork_release, fork_release);
}

static void shared_snapshot_unref(shared_snapshot *s) {
        if (s && __atomic_sub_fetch(&s->refs, 1, __ATOMIC_ACQ_REL) == 0) {
                snapshot_close(s->snapshot);
                free(s);
        }
}

static void resolve_paths(void) {
        /* The override exists for tests; secure_getenv() ignores it in
         * setuid and setgid programs, which must only ever trust /run. */
        const char *dir = secure_getenv(RUNTIME_DIR_ENV);
        int a, b, c;

        if (isempty(dir))
                dir = NEXALIX_RUNTIME_DIR;
        a = snprintf(state.snapshot_path, sizeof(state.snapshot_path), "%s/%s",
                     dir, SNAPSHOT_FILE);
        b = snprintf(state.generation_path, sizeof(state.generation_path), "%s/%s",
                     dir, SNAPSHOT_GENERATION_FILE);
        c = snprintf(state.delta_path, sizeof(state.delta_path), "%s/%s",
                     dir, SNAPSHOT_DELTA_FILE);
        state.paths_ok = a > 0 && (size_t) a < sizeof(state.snapshot_path) &&
                         b > 0 && (size_t) b < sizeof(state.generation_path) &&
                         c > 0 && (size_t) c < sizeof(state.delta_path);
        state.resolved = true;
}

static bool same_file(const struct stat *st, dev_t dev, ino_t ino) {
        return st->st_dev == dev && st->st_ino == ino;
}

static void drop_current(void) {
        shared_snapshot_unref(state.current);
        state.current = NULL;
}

static void map_generation_file(void) {
        snapshot_generation_map *m;

        state.generation = snapshot_generation_map_close(state.generation);
        if (snapshot_generation_map_open(state.generation_path, &m) >= 0)
                state.generation = m;
        /* A new counter file means a new sequence of numbers. */
        state.attempted = false;
}

/* Replaces the current snapshot with whatever the path names now. */
static int reopen(uint64_t counter) {
        shared_snapshot *n;
        snapshot *s;
        int r;

        state.attempted = true;
        state.attempted_counter = counter;

        r = snapshot_open(state.snapshot_path, state.delta_path, &s);
        if (r < 0) {
                /* No file: answer as every process started now would. A file
                 * that cannot be read (another format, damage) is most likely
                 * a publication we do not understand; keep the last good one. */
                if (r == -ENOENT)
                        drop_current();
                return r;
        }
        n = malloc(sizeof(*n));
        if (!n) {
                snapshot_close(s);
                return -ENOMEM;
        }
        n->snapshot = s;
        n->generation = snapshot_get_generation(s);
        n->refs = 1;
        drop_current();
        state.current = n;
        return 0;
}

/* Called with state_lock held. Decides whether the current snapshot is
 * still the published one, and reopens if not. */
static void refresh(void) {
        struct timespec now;
        bool need_open = false, safety_check;
        uint64_t counter = 0;

        if (clock_gettime(CLOCK_MONOTONIC_COARSE, &now) < 0)
                now.tv_sec = 0;
        safety_check = !state.checked || now.tv_sec - state.last_check >= SAFETY_CHECK_INTERVAL_SEC;

        if (safety_check) {
                struct stat st;
                dev_t dev;
                ino_t ino;

                state.checked = true;
                state.last_check = now.tv_sec;

                if (stat(state.generation_path, &st) < 0) {
                        state.generation = snapshot_generation_map_close(state.generation);
                } else {
                        if (state.generation)
                                snapshot_generation_map_get_file_id(state.generation, &dev, &ino);
                        if (!state.generation || !same_file(&st, dev, ino))
                                map_generation_file();
                }

                if (!state.current)
                        need_open = true;
                else if (stat(state.snapshot_path, &st) < 0)
                        need_open = true;       /* reopen() sees ENOENT and drops it */
                else {
                        bool has_delta;

                        snapshot_get_file_id(state.current->snapshot, &dev, &ino);
                        if (!same_file(&st, dev, ino))
                                need_open = true;
                        /* The delta in use must still be the one in place,
                         * and a delta that appeared must be looked at. */
                        has_delta = snapshot_get_delta_file_id(state.current->snapshot, &dev, &ino);
                        if (stat(state.delta_path, &st) < 0) {
                                if (has_delta)
                                        need_open = true;
                        } else if (!has_delta || !same_file(&st, dev, ino))
                                need_open = true;
                }
        }

        /* While there is no snapshot, look for the counter file along with it:
         * the writer creates it before the first rename. */
        if (!state.generation && !state.current)
                map_generation_file();

        if (state.generation) {
                counter = snapshot_generation_map_read(state.generation);
                /* Reopen when the counter has moved past what we hold. A
                 * snapshot renamed into place just before its counter bump
                 * carries a generation ahead of the counter; the second test
                 * keeps us from reopening it again and again until the bump. */
                if (!(state.current && state.current->generation == counter) &&
                    !(state.attempted && state.attempted_counter == counter))
                        need_open = true;
        } else if (!state.current) {
                /* No counter to watch and no snapshot: every lookup looks for
                 * one. (A snapshot without a counter file means a damaged
                 * runtime directory; the safety check carries freshness then.) */
                need_open = true;
        }

        if (need_open)
                (void) reopen(counter);
}

/* Returns a reference to the current snapshot, or -ENOENT when there is none. */
static int acquire(shared_snapshot **ret) {
        shared_snapshot *s;

        pthread_mutex_lock(&state_lock);
        if (!state.resolved)
                resolve_paths();
        if (!state.paths_ok) {
                pthread_mutex_unlock(&state_lock);
                return -ENOENT;
        }
        refresh();
        s = state.current;
        if (s)
                __atomic_add_fetch(&s->refs, 1, __ATOMIC_RELAXED);
        pthread_mutex_unlock(&state_lock);

        if (!s)
                return -ENOENT;
        *ret = s;
        return 0;
}

/* ---- Filling the caller's structures ---- */

static char *put_string(char **p, const char *s, size_t len) {
        char *start = *p;
        memcpy(start, s, len);
        start[len] = '\0';
        *p += len + 1;
        return start;
}

static enum nss_status fill_passwd(const snapshot_user *u, struct passwd *pwd,
                                   char *buffer, size_t buflen, int *err) {
        /* The record's four strings in one copy, then the password field. */
        size_t need = u->strings_size + 2;
        char *p = buffer;

        if (!buffer || buflen < need) {
                *err = ERANGE;
                return NSS_STATUS_TRYAGAIN;
        }
        memcpy(p, u->name, u->strings_size);
        pwd->pw_name = p;
        pwd->pw_gecos = p + (u->gecos - u->name);
        pwd->pw_dir = p + (u->home - u->name);
        pwd->pw_shell = p + (u->shell - u->name);
        pwd->pw_passwd = p + u->strings_size;
        memcpy(pwd->pw_passwd, "x", 2);
        pwd->pw_uid = u->uid;
        pwd->pw_gid = u->gid;
        return NSS_STATUS_SUCCESS;
}

static enum nss_status fill_group(const snapshot_group *g, struct group *grp,
                                  char *buffer, size_t buflen, int *err) {
        /* The member array goes first, aligned for char *, then the strings. */
        size_t pad = (alignof(char *) - (uintptr_t) buffer % alignof(char *)) % alignof(char *);
        size_t need, ptrs;
        char **mem, *p;
        const char *m, *end;

        ptrs = (g->n_members + 1) * sizeof(char *);
        need = pad + ptrs + g->name_len + 1 + 2 + g->members_size;
        if (!buffer || buflen < need) {
                *err = ERANGE;
                return NSS_STATUS_TRYAGAIN;
        }

        mem = (char **) (void *) (buffer + pad);
        p = buffer + pad + ptrs;
        grp->gr_name = put_string(&p, g->name, g->name_len);
        grp->gr_passwd = put_string(&p, "x", 1);
        grp->gr_gid = g->gid;
        if (g->members_size > 0)
                memcpy(p, g->members, g->members_size);
        /* snapshot_get_group_*() checked that the block holds exactly
         * n_members NUL-terminated names. */
        m = p;
        end = p + g->members_size;
        for (size_t i = 0; i < g->n_members && m < end; i++) {
                mem[i] = (char *) m;
                m += strlen(m) + 1;
        }
        mem[g->n_members] = NULL;
        grp->gr_mem = mem;
        return NSS_STATUS_SUCCESS;
}

/* Maps a lookup failure to the NSS answer. */
static enum nss_status status_from_error(int r, int *err) {
        switch (r) {
        case -ENOENT:
                return NSS_STATUS_NOTFOUND;
        case -ENOMEM:
                *err = ENOMEM;
                return NSS_STATUS_TRYAGAIN;
        default:
                *err = -r;
                return NSS_STATUS_UNAVAIL;
        }
}

/* No snapshot at all: the service is not there. ENOENT is what libnss_db
 * answers when its file is missing, and what callers take for "no such
 * entry". */
static enum nss_status unavailable(int r, int *err) {
        *err = r == -ENOENT ? ENOENT : -r;
        return r == -ENOMEM ? NSS_STATUS_TRYAGAIN : NSS_STATUS_UNAVAIL;
}

/* ---- passwd ---- */

static enum nss_status nss_getpw(const char *name, uid_t uid, struct passwd *pwd,
                             char *buffer, size_t buflen, int *err) {
        shared_snapshot *s;
        snapshot_txn t;
        snapshot_user u;
        enum nss_status status;
        int r;

        r = acquire(&s);
        if (r < 0)
                return unavailable(r, err);
        r = snapshot_txn_begin(s->snapshot, &t);
        if (r < 0) {
                shared_snapshot_unref(s);
                return status_from_error(r == -ENOENT ? -EBADMSG : r, err);
        }
        if (name)
                r = snapshot_get_user_by_name(&t, name, &u);
        else
                r = snapshot_get_user_by_uid(&t, (uint32_t) uid, &u);
        status = r < 0 ? status_from_error(r, err) : fill_passwd(&u, pwd, buffer, buflen, err);
        snapshot_txn_end(&t);
        shared_snapshot_unref(s);
        return status;
}

/* Each entry point saves errno and restores it before it writes *errnop,
 * which glibc passes as &errno. */
#define NSS_RETURN(status, err, errnop)                 \
        do {                                            \
                errno = saved_errno;                    \
                if ((err) != 0)                         \
                        *(errnop) = (err);              \
                return (status);                        \
        } while (0)

enum nss_status _nss_nexalix_getpwnam_r(const char *name, struct passwd *pwd,
                                                  char *buffer, size_t buflen, int *errnop) {
        int saved_errno = errno, err = 0;
        enum nss_status status;

        /* Not a name we could have published: answer without opening anything. */
        if (validate_username(name, NULL) < 0)
                NSS_RETURN(NSS_STATUS_NOTFOUND, 0, errnop);
        status = nss_getpw(name, 0, pwd, buffer, buflen, &err);
        NSS_RETURN(status, err, errnop);
}

enum nss_status _nss_nexalix_getpwuid_r(uid_t uid, struct passwd *pwd,
                                                  char *buffer, size_t buflen, int *errnop) {
        int saved_errno = errno, err = 0;
        enum nss_status status;

        if (uid == (uid_t) -1)
                NSS_RETURN(NSS_STATUS_NOTFOUND, 0, errnop);
        status = nss_getpw(NULL, uid, pwd, buffer, buflen, &err);
        NSS_RETURN(status, err, errnop);
}

/* ---- group ---- */

static enum nss_status nss_getgr(const char *name, gid_t gid, struct group *grp,
                             char *buffer, size_t buflen, int *err) {
        shared_snapshot *s;
        snapshot_txn t;
        snapshot_group g;
        enum nss_status status;
        int r;

        r = acquire(&s);
        if (r < 0)
                return unavailable(r, err);
        r = snapshot_txn_begin(s->snapshot, &t);
        if (r < 0) {
                shared_snapshot_unref(s);
                return status_from_error(r == -ENOENT ? -EBADMSG : r, err);
        }
        if (name)
                r = snapshot_get_group_by_name(&t, name, &g);
        else
                r = snapshot_get_group_by_gid(&t, (uint32_t) gid, &g);
        status = r < 0 ? status_from_error(r, err) : fill_group(&g, grp, buffer, buflen, err);
        snapshot_txn_end(&t);
        shared_snapshot_unref(s);
        return status;
}

enum nss_status _nss_nexalix_getgrnam_r(const char *name, struct group *grp,
                                                  char *buffer, size_t buflen, int *errnop) {
        int saved_errno = errno, err = 0;
        enum nss_status status;

        /* Not a name we could have published (common/validate.h). */
        if (validate_group_name(name, NULL) < 0)
                NSS_RETURN(NSS_STATUS_NOTFOUND, 0, errnop);
        status = nss_getgr(name, 0, grp, buffer, buflen, &err);
        NSS_RETURN(status, err, errnop);
}

enum nss_status _nss_nexalix_getgrgid_r(gid_t gid, struct group *grp,
                                                  char *buffer, size_t buflen, int *errnop) {
        int saved_errno = errno, err = 0;
        enum nss_status status;

        if (gid == (gid_t) -1)
                NSS_RETURN(NSS_STATUS_NOTFOUND, 0, errnop);
        status = nss_getgr(NULL, gid, grp, buffer, buflen, &err);
        NSS_RETURN(status, err, errnop);
}

/* ---- initgroups ---- */

static enum nss_status nss_initgroups(const char *user, gid_t skip, long int *start, long int *size,
                                  gid_t **groupsp, long int limit, int *err) {
        shared_snapshot *s;
        snapshot_txn t;
        const void *gids;
        size_t n;
        enum nss_status status = NSS_STATUS_SUCCESS;
        int r;

        r = acquire(&s);
        if (r < 0)
                return unavailable(r, err);
        r = snapshot_txn_begin(s->snapshot, &t);
        if (r < 0) {
                shared_snapshot_unref(s);
                return status_from_error(r == -ENOENT ? -EBADMSG : r, err);
        }
        r = snapshot_get_user_groups(&t, user, &gids, &n);
        if (r < 0)
                status = status_from_error(r, err);

        for (size_t i = 0; r >= 0 && i < n; i++) {
                gid_t gid = snapshot_gid_at(gids, i);
                gid_t *groups = *groupsp;
                bool seen = gid == skip;

                /* glibc collects from every service into one array: the
                 * primary group and anything another service added stay once. */
                for (long int j = 0; !seen && j < *start; j++)
                        seen = groups[j] == gid;
                if (seen)
                        continue;

                if (*start >= *size) {
                        long int nsize;

                        if (limit > 0 && *size >= limit)
                                break;          /* the caller asked for no more */
                        nsize = *size > 0 ? 2 * *size : 16;
                        if (limit > 0 && nsize > limit)
                                nsize = limit;
                        groups = realloc(groups, (size_t) nsize * sizeof(gid_t));
                        if (!groups) {
                                *err = ENOMEM;
                                status = NSS_STATUS_TRYAGAIN;
                                break;
                        }
                        *groupsp = groups;
                        *size = nsize;
                }
                groups[(*start)++] = gid;
        }

        snapshot_txn_end(&t);
        shared_snapshot_unref(s);
        return status;
}

enum nss_status _nss_nexalix_initgroups_dyn(const char *user, gid_t group,
                                                      long int *start, long int *size,
                                                      gid_t **groupsp, long int limit,
                                                      int *errnop) {
        int saved_errno = errno, err = 0;
        enum nss_status status;

        if (validate_username(user, NULL) < 0)
                NSS_RETURN(NSS_STATUS_NOTFOUND, 0, errnop);
        if (!start || !size || !groupsp || *start < 0 || *size < *start)
                NSS_RETURN(NSS_STATUS_UNAVAIL, EINVAL, errnop);
        status = nss_initgroups(user, group, start, size, groupsp, limit, &err);
        NSS_RETURN(status, err, errnop);
}

/* ---- Enumeration ---- */

/* Called with e->lock held. */
static void enumeration_reset(enumeration *e) {
        e->cursor = snapshot_cursor_close(e->cursor);
        if (e->txn_open)
                snapshot_txn_end(&e->txn);
        e->txn_open = false;
        shared_snapshot_unref(e->snap);
        e->snap = NULL;
        e->positioned = false;
        e->retry = false;
}

/* Called with e->lock held. The enumeration keeps its snapshot and read
 * transaction to the end, so a publication in the middle of `getent passwd`
 * neither repeats nor skips entries. */
static int enumeration_start(enumeration *e) {
        int r;

        enumeration_reset(e);
        r = acquire(&e->snap);
        if (r < 0) {
                e->snap = NULL;
                return r;
        }
        r = snapshot_txn_begin(e->snap->snapshot, &e->txn);
        if (r >= 0) {
                e->txn_open = true;
                r = snapshot_cursor_open(&e->txn, e->table, &e->cursor);
        }
        if (r < 0) {
                enumeration_reset(e);
                return r == -ENOENT ? -EBADMSG : r;
        }
        return 0;
}

static enum nss_status setent(enumeration *e, int *err) {
        int r;

        pthread_mutex_lock(&e->lock);
        r = enumeration_start(e);
        pthread_mutex_unlock(&e->lock);
        return r < 0 ? unavailable(r, err) : NSS_STATUS_SUCCESS;
}

static enum nss_status endent(enumeration *e) {
        pthread_mutex_lock(&e->lock);
        enumeration_reset(e);
        pthread_mutex_unlock(&e->lock);
        return NSS_STATUS_SUCCESS;
}

/* Called with e->lock held: moves to the entry to hand out. */
static snapshot_move enumeration_move(enumeration *e) {
        if (e->retry)
                return SNAPSHOT_CURRENT;
        return e->positioned ? SNAPSHOT_NEXT : SNAPSHOT_FIRST;
}

static void enumeration_record(enumeration *e, int r, enum nss_status status) {
        if (r < 0)
                return;
        e->positioned = true;
        /* A buffer too small: hand out the same entry on the next call. */
        e->retry = status == NSS_STATUS_TRYAGAIN;
}

enum nss_status _nss_nexalix_setpwent(int stayopen) {
        int saved_errno = errno, err = 0;
        enum nss_status status = setent(&pw_enum, &err);
        errno = saved_errno;
        return status;
}

enum nss_status _nss_nexalix_endpwent(void) {
        int saved_errno = errno;
        enum nss_status status = endent(&pw_enum);
        errno = saved_errno;
        return status;
}

enum nss_status _nss_nexalix_getpwent_r(struct passwd *pwd, char *buffer,
                                                  size_t buflen, int *errnop) {
        int saved_errno = errno, err = 0, r = 0;
        enum nss_status status;
        snapshot_user u;

        pthread_mutex_lock(&pw_enum.lock);
        if (!pw_enum.cursor)
                r = enumeration_start(&pw_enum);
        if (r < 0)
                status = unavailable(r, &err);
        else {
                r = snapshot_cursor_get_user(pw_enum.cursor, enumeration_move(&pw_enum), &u);
                status = r < 0 ? status_from_error(r, &err) : fill_passwd(&u, pwd, buffer, buflen, &err);
                enumeration_record(&pw_enum, r, status);
        }
        pthread_mutex_unlock(&pw_enum.lock);
        NSS_RETURN(status, err, errnop);
}

enum nss_status _nss_nexalix_setgrent(int stayopen) {
        int saved_errno = errno, err = 0;
        enum nss_status status = setent(&gr_enum, &err);
        errno = saved_errno;
        return status;
}

enum nss_status _nss_nexalix_endgrent(void) {
        int saved_errno = errno;
        enum nss_status status = endent(&gr_enum);
        errno = saved_errno;
        return status;
}

enum nss_status _nss_nexalix_getgrent_r(struct group *grp, char *buffer,
                                                  size_t buflen, int *errnop) {
        int saved_errno = errno, err = 0, r = 0;
        enum nss_status status;
        snapshot_group g;

        pthread_mutex_lock(&gr_enum.lock);
        if (!gr_enum.cursor)
                r = enumeration_start(&gr_enum);
        if (r < 0)
                status = unavailable(r, &err);
        else {
                r = snapshot_cursor_get_group(gr_enum.cursor, enumeration_move(&gr_enum), &g);
                status = r < 0 ? status_from_error(r, &err) : fill_group(&g, grp, buffer, buflen, &err);
                enumeration_record(&gr_enum, r, status);
        }
        pthread_mutex_unlock(&gr_enum.lock);
        NSS_RETURN(status, err, errnop);
}
