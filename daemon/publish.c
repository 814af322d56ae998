/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "local-accounts.h"
#include "log.h"
#include "org.h"
#include "publish.h"
#include "snapshot.h"
#include "snapshot-writer.h"
#include "user.h"

#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

/* A department or role group and the users in it, collected while the users
 * are walked once. */
typedef struct group_entry {
        char name[GROUP_NAME_MAX + 1];
        char key[ORG_NAME_MAX + DEPT_NAME_MAX + 2];     /* "org/dept" or "org:role" */
        uint32_t gid;
        const char **members;           /* point into the read transaction's map */
        size_t n_members, allocated;
} group_entry;

typedef struct publication {
        manager *manager;
        snapshot_writer *writer;
        group_entry *groups;            /* sorted by key once collected */
        size_t n_groups, allocated;
        unsigned skipped;
} publication;

static int add_group_entry(publication *p, const char *name, const char *key, uint32_t gid) {
        if (p->n_groups == p->allocated) {
                size_t a = p->allocated ? p->allocated * 2 : 16;
                group_entry *g = realloc(p->groups, a * sizeof(*g));
                if (!g)
                        return -ENOMEM;
                p->groups = g;
                p->allocated = a;
        }
        p->groups[p->n_groups] = (group_entry) { .gid = gid };
        snprintf(p->groups[p->n_groups].name, sizeof(p->groups[0].name), "%s", name);
        snprintf(p->groups[p->n_groups].key, sizeof(p->groups[0].key), "%s", key);
        p->n_groups++;
        return 0;
}

static int collect_org(const organisation *org, void *userdata) {
        for (size_t i = 0; i < ROLE_COUNT; i++) {
                char name[GROUP_NAME_MAX + 1], key[ORG_NAME_MAX + DEPT_NAME_MAX + 2];
                int r;

                snprintf(key, sizeof(key), "%s:%s", org->name, ROLES[i].name);
                r = add_group_entry(userdata, org_group_name(org->name, ROLES[i].name, name), key,
                                    org->role_gids[i]);
                if (r < 0)
                        return r;
        }
        return 0;
}

static int collect_dept(const department *d, void *userdata) {
        char name[GROUP_NAME_MAX + 1], key[ORG_NAME_MAX + DEPT_NAME_MAX + 2];

        snprintf(key, sizeof(key), "%s/%s", d->org, d->name);
        return add_group_entry(userdata, org_group_name(d->org, d->name, name), key, d->gid);
}

/* "a" SEP "b" into buf, truncated to fit: the hot path of a publication,
 * called several times per user, where snprintf's parsing showed up. */
static const char *join(char *buf, size_t size, const char *a, char sep, const char *b) {
        size_t la = strnlen(a, size - 1), lb;

        memcpy(buf, a, la);
        if (la + 1 < size)
                buf[la++] = sep;
        lb = strnlen(b, size - 1 - la);
        memcpy(buf + la, b, lb);
        buf[la + lb] = 0;
        return buf;
}

static int cmp_group_key(const void *a, const void *b) {
        return strcmp(((const group_entry *) a)->key, ((const group_entry *) b)->key);
}

static int cmp_key_with_group(const void *key, const void *group) {
        return strcmp(key, ((const group_entry *) group)->key);
}

static int add_member(publication *p, const char *key, const char *username) {
        group_entry *g = bsearch(key, p->groups, p->n_groups, sizeof(group_entry), cmp_key_with_group);

        if (!g)
                return 0;
        if (g->n_members + 1 >= g->allocated) {
                size_t a = g->allocated ? g->allocated * 2 : 8;
                const char **m = realloc(g->members, a * sizeof(char *));
                if (!m)
                        return -ENOMEM;
                g->members = m;
                g->allocated = a;
        }
        /* The publication reads in one read-only transaction, so names in
         * the map stay valid until it ends: no copy per membership. */
        g->members[g->n_members++] = username;
        g->members[g->n_members] = NULL;
        return 0;
}

static int publish_user(const user *u, void *userdata) {
        publication *p = userdata;
        local_accounts *local = p->manager->local;
        char home[PATH_MAX], gecos[2 * PERSON_NAME_MAX * 4 + 2], key[ORG_NAME_MAX + DEPT_NAME_MAX + 2];
        char *const no_members[] = { NULL };
        int r;

        if (local_accounts_has_name(local, u->username) || local_accounts_has_id(local, u->uid)) {
                p->skipped++;
                return 0;
        }
        r = config_home_for(&p->manager->config, u->username, home, sizeof(home));
        if (r < 0)
                return r;
        r = snapshot_writer_add_user(p->writer, u->username, u->uid, u->uid,
                                     join(gecos, sizeof(gecos), u->first_name, ' ', u->last_name),
                                     home, p->manager->config.shell);
        if (r < 0)
                return r;
        /* The private primary group: gid = uid, named after the user. */
        r = snapshot_writer_add_group(p->writer, u->username, u->uid, no_members);
        if (r < 0)
                return r;

        /* A deactivated user stays resolvable (ls -l, the audit trail) but
         * belongs to no supplementary group, so that no group-based access
         * (sudoers, group-owned files, AllowGroups) outlives deactivation. */
        if (u->state == USER_DEACTIVATED)
                return 0;
        if (!isempty(u->department)) {
                join(key, sizeof(key), u->org, '/', u->department);
                r = add_member(p, key, u->username);
                if (r < 0)
                        return r;
        }
        for (size_t i = 0; u->roles[i]; i++) {
                join(key, sizeof(key), u->org, ':', u->roles[i]);
                r = add_member(p, key, u->username);
                if (r < 0)
                        return r;
        }
        return 0;
}

static void publication_done(publication *p) {
        for (size_t i = 0; i < p->n_groups; i++)
                free(p->groups[i].members);
        free(p->groups);
        snapshot_writer_free(p->writer);
}

int publish_snapshot(manager *m) {
        _cleanup_txn_ store_txn *t = NULL;
        publication p = { .manager = m };
        struct timespec start, end;
        uint64_t n_users = 0, n_depts = 0, n_orgs = 0;
        int r;

        clock_gettime(CLOCK_MONOTONIC, &start);
        /* Without a trustworthy list of local accounts we might publish over
         * one: keep the previous snapshot instead. */
        r = local_accounts_refresh(m->local);
        if (r < 0)
                return r;

        r = store_begin(m->store, false, &t);
        if (r < 0)
                return r;
        (void) store_count(t, TABLE_USERS, &n_users);
        (void) store_count(t, TABLE_DEPTS, &n_depts);
        (void) store_count(t, TABLE_ORGS, &n_orgs);

        r = snapshot_writer_new(m->config.runtime_dir, n_users, n_users + n_depts + n_orgs * ROLE_COUNT,
                                &p.writer);
        if (r < 0) {
                log_error_errno(r, "Failed to start a snapshot in %s: %m", m->config.runtime_dir);
                goto finish;
        }

        r = org_foreach(t, collect_org, &p);
        if (r >= 0)
                r = dept_foreach(t, NULL, collect_dept, &p);
        if (r < 0)
                goto fail;
        if (p.n_groups)
                qsort(p.groups, p.n_groups, sizeof(group_entry), cmp_group_key);

        r = user_foreach(t, publish_user, &p);
        if (r < 0)
                goto fail;

        for (size_t i = 0; i < p.n_groups; i++) {
                group_entry *g = &p.groups[i];
                char *const no_members[] = { NULL };

                if (local_accounts_has_name(m->local, g->name) || local_accounts_has_id(m->local, g->gid)) {
                        p.skipped++;
                        continue;
                }
                r = snapshot_writer_add_group(p.writer, g->name, g->gid,
                                              g->members ? (char *const *) g->members : no_members);
                if (r < 0)
                        goto fail;
        }

        r = snapshot_writer_publish(TAKE_PTR(p.writer), &m->snapshot_generation);
        if (r < 0) {
                log_error_errno(r, "Failed to publish the NSS snapshot: %m");
                goto finish;
        }
        clock_gettime(CLOCK_MONOTONIC, &end);
        log_debug("Published NSS snapshot generation %llu: %llu users, %zu groups, %u skipped (local clash), %.1f ms",
                  (unsigned long long) m->snapshot_generation, (unsigned long long) n_users, p.n_groups,
                  p.skipped, (double) (end.tv_sec - start.tv_sec) * 1e3 + (double) (end.tv_nsec - start.tv_nsec) / 1e6);
        if (p.skipped)
                log_warning("%u Nexalix users or groups share a name or id with a local account and are not published",
                            p.skipped);
        goto finish;

fail:
        log_error_errno(r, "Failed to build the NSS snapshot: %m");
finish:
        publication_done(&p);
        return r;
}

int publish_snapshot_isolated(manager *m) {
        const char *argv[] = {
                "nexalixd", "--publish-snapshot", m->config.store_dir, m->config.runtime_dir,
                m->config.home_template, m->config.shell,
                log_get_max_level() >= LOG_DEBUG ? "--debug" : "--quiet",
                log_uses_syslog() ? "--syslog" : "--stderr",
                NULL
        };
        posix_spawn_file_actions_t actions;
        posix_spawnattr_t attr;
        sigset_t none, defaults;
        char out[64] = "";
        size_t got = 0;
        int fds[2], status, r;
        pid_t pid;

        if (pipe2(fds, O_CLOEXEC) < 0)
                return log_error_errno(-errno, "Failed to create a pipe: %m");

        /* The child starts with no signal blocked and default dispositions:
         * the daemon blocks SIGTERM and friends for its signalfd. */
        sigemptyset(&none);
        sigemptyset(&defaults);
        sigaddset(&defaults, SIGTERM);
        sigaddset(&defaults, SIGINT);
        sigaddset(&defaults, SIGHUP);
        sigaddset(&defaults, SIGPIPE);
        posix_spawnattr_init(&attr);
        posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
        posix_spawnattr_setsigmask(&attr, &none);
        posix_spawnattr_setsigdefault(&attr, &defaults);
        posix_spawn_file_actions_init(&actions);
        posix_spawn_file_actions_adddup2(&actions, fds[1], STDOUT_FILENO);

        /* /proc/self/exe is this very binary even if a package upgrade has
         * replaced the file since the daemon started. */
        r = -posix_spawn(&pid, "/proc/self/exe", &actions, &attr, (char *const *) argv, environ);
        posix_spawn_file_actions_destroy(&actions);
        posix_spawnattr_destroy(&attr);
        close(fds[1]);
        if (r < 0) {
                close(fds[0]);
                return log_error_errno(r, "Failed to start the snapshot publisher: %m");
        }

        for (;;) {
                ssize_t n = read(fds[0], out + got, sizeof(out) - 1 - got);
                if (n > 0 && (got += (size_t) n) < sizeof(out) - 1)
                        continue;
                if (n < 0 && errno == EINTR)
                        continue;
                break;
        }
        close(fds[0]);
        while (waitpid(pid, &status, 0) < 0)
                if (errno != EINTR)
                        return log_error_errno(-errno, "Failed to wait for the snapshot publisher: %m");

        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
                if (WIFSIGNALED(status))
                        log_error("The snapshot publisher died of signal %d", WTERMSIG(status));
                return -EIO;
        }
        out[got] = 0;
        if (sscanf(out, "%" SCNu64, &m->snapshot_generation) != 1)
                return log_error_errno(-EBADMSG, "The snapshot publisher reported no generation");
        return 0;
}

int publish_snapshot_main(int argc, char *argv[]) {
        manager *m = NULL;
        config c = {};
        int r;

        if (argc < 4)
                return EXIT_FAILURE;
        log_open(argc > 5 && strcmp(argv[5], "--syslog") == 0);
        if (argc > 4 && strcmp(argv[4], "--debug") == 0)
                log_set_max_level(LOG_DEBUG);

        c.store_dir = strdup(argv[0]);
        c.runtime_dir = strdup(argv[1]);
        c.home_template = strdup(argv[2]);
        c.shell = strdup(argv[3]);
        if (!c.store_dir || !c.runtime_dir || !c.home_template || !c.shell || manager_new(&c, &m) < 0) {
                config_done(&c);
                return EXIT_FAILURE;
        }
        r = store_open_readonly(m->config.store_dir, &m->store);
        if (r >= 0)
                r = local_accounts_new(&LOCAL_ACCOUNTS_SYSTEM, &m->local);
        if (r >= 0)
                r = publish_snapshot(m);
        if (r >= 0)
                printf("%" PRIu64 "\n", m->snapshot_generation);
        manager_free(m);
        return r < 0 ? EXIT_FAILURE : EXIT_SUCCESS;
}
