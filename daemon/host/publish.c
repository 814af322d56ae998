/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "array.h"
#include "event-loop.h"
#include "local-accounts.h"
#include "log.h"
#include "org.h"
#include "publish.h"
#include "publish-keys.h"
#include "snapshot-writer.h"
#include "user.h"

#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>

#define PUBLISH_RETRY_USEC (5ULL * 1000000)

/* The delta holds every entry changed since the base was written, and each
 * update copies it: once it is this large, the next publication is a whole
 * base again (and an empty delta). */
#define DELTA_SIZE_MAX(whole) ((4ULL << 20) + (whole) / 4)

typedef struct waiter {
        publisher_done_fn done;
        void *userdata;
} waiter;

struct publisher {
        const accounts *accounts;
        char *runtime_dir;

        identity_changes queued;
        bool pending;
        waiter *waiters;
        size_t n_waiters, allocated_waiters;

        uint64_t generation;
        uint64_t local_generation;      /* of the local accounts at the last publication */
        uint64_t whole_size;            /* bytes of the last whole snapshot; 0: none yet */
        bool failed;                    /* the last publication failed: retry later */
        keys_publisher *keys;           /* the SSH keys snapshot, published in the same round */

        event_source *prepare, *retry;
};

/* ---- what a user looks like in the snapshot (whole and update alike) ---- */

/* The gid of a department's ("/") or a role's (":") group of an
 * organisation, or -ENOENT when it is not published. */
typedef int (*group_gid_fn)(void *userdata, const char *org, char kind, const char *name, uint32_t *ret_gid);

typedef struct published_user {
        char gecos[2 * PERSON_NAME_MAX * 4 + 2];
        char home[PATH_MAX];
        uint32_t gids[ROLE_COUNT + 1];
        size_t n_gids;
} published_user;

/* A local account or group with this name or id wins: the entry is not
 * published at all. */
static bool shadowed(const accounts *a, const char *name, uint32_t id) {
        return local_accounts_has_name(a->local, name) || local_accounts_has_id(a->local, id);
}

/* "a" SEP "b" into buf, truncated to fit: called several times per user in
 * a whole publication, where snprintf's parsing showed up. */
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

/* What NSS shows of u; -ENOENT when it shows nothing (a local account has
 * its name or uid). A deactivated user stays resolvable but belongs to no
 * supplementary group, so that no group-based access (sudoers, group-owned
 * files, AllowGroups) outlives deactivation. */
static int published_user_of(const accounts *a, const user *u, group_gid_fn gid_of, void *userdata,
                             published_user *ret) {
        int r;

        if (shadowed(a, u->username, u->uid))
                return -ENOENT;
        r = config_home_for(a->config, u->username, ret->home, sizeof(ret->home));
        if (r < 0)
                return r;
        join(ret->gecos, sizeof(ret->gecos), u->first_name, ' ', u->last_name);
        ret->n_gids = 0;
        if (u->state == USER_DEACTIVATED)
                return 0;
        if (!isempty(u->department) && gid_of(userdata, u->org, '/', u->department, &ret->gids[ret->n_gids]) >= 0)
                ret->n_gids++;
        for (size_t i = 0; u->roles[i] && ret->n_gids < ELEMENTSOF(ret->gids); i++)
                if (gid_of(userdata, u->org, ':', u->roles[i], &ret->gids[ret->n_gids]) >= 0)
                        ret->n_gids++;
        return 0;
}

/* ---- a whole snapshot ---- */

/* A department or role group and its members, collected while the users
 * are walked once. */
typedef struct group_entry {
        char name[GROUP_NAME_MAX + 1];
        char key[ORG_NAME_MAX + DEPT_NAME_MAX + 2];     /* "org/dept" or "org:role" */
        uint32_t gid;
        bool shadowed;
        const char **members;           /* point into the read transaction's map */
        size_t n_members, allocated;
} group_entry;

typedef struct whole_snapshot {
        const accounts *accounts;
        snapshot_writer *writer;
        group_entry *groups;            /* sorted by key once collected */
        size_t n_groups, allocated;
        unsigned skipped;
} whole_snapshot;

static int add_group_entry(whole_snapshot *w, const char *name, const char *key, uint32_t gid) {
        group_entry *g;

        if (ARRAY_RESERVE(w->groups, w->allocated, w->n_groups + 1) < 0)
                return -ENOMEM;
        g = &w->groups[w->n_groups++];
        *g = (group_entry) { .gid = gid, .shadowed = shadowed(w->accounts, name, gid) };
        snprintf(g->name, sizeof(g->name), "%s", name);
        snprintf(g->key, sizeof(g->key), "%s", key);
        return 0;
}

static int collect_org(const organisation *org, void *userdata) {
        for (size_t i = 0; i < ROLE_COUNT; i++) {
                char name[GROUP_NAME_MAX + 1], key[ORG_NAME_MAX + DEPT_NAME_MAX + 2];
                int r = add_group_entry(userdata, org_group_name(org->name, ROLES[i].name, name),
                                        join(key, sizeof(key), org->name, ':', ROLES[i].name), org->role_gids[i]);
                if (r < 0)
                        return r;
        }
        return 0;
}

static int collect_dept(const department *d, void *userdata) {
        char name[GROUP_NAME_MAX + 1], key[ORG_NAME_MAX + DEPT_NAME_MAX + 2];
        return add_group_entry(userdata, org_group_name(d->org, d->name, name),
                               join(key, sizeof(key), d->org, '/', d->name), d->gid);
}

static int cmp_group_key(const void *a, const void *b) {
        return strcmp(((const group_entry *) a)->key, ((const group_entry *) b)->key);
}

static int cmp_key_with_group(const void *key, const void *group) {
        return strcmp(key, ((const group_entry *) group)->key);
}

static group_entry *whole_group(whole_snapshot *w, const char *org, char kind, const char *name) {
        char key[ORG_NAME_MAX + DEPT_NAME_MAX + 2];
        group_entry *g = bsearch(join(key, sizeof(key), org, kind, name), w->groups, w->n_groups,
                                 sizeof(group_entry), cmp_key_with_group);
        return g && !g->shadowed ? g : NULL;
}

static int whole_gid_of(void *userdata, const char *org, char kind, const char *name, uint32_t *ret_gid) {
        group_entry *g = whole_group(userdata, org, kind, name);
        if (!g)
                return -ENOENT;
        *ret_gid = g->gid;
        return 0;
}

static int add_member(group_entry *g, const char *username) {
        if (ARRAY_RESERVE(g->members, g->allocated, g->n_members + 2) < 0)
                return -ENOMEM;
        /* The publication reads in one read-only transaction, so names in
         * the map stay valid until it ends: no copy per membership. */
        g->members[g->n_members++] = username;
        g->members[g->n_members] = NULL;
        return 0;
}

static int whole_add_user(const user *u, void *userdata) {
        whole_snapshot *w = userdata;
        char *const no_members[] = { NULL };
        published_user pu;
        int r;

        r = published_user_of(w->accounts, u, whole_gid_of, w, &pu);
        if (r == -ENOENT) {
                w->skipped++;
                return 0;
        }
        if (r < 0)
                return r;
        r = snapshot_writer_add_user(w->writer, u->username, u->uid, u->uid, pu.gecos, pu.home,
                                     w->accounts->config->shell);
        if (r < 0)
                return r;
        /* The private primary group: gid = uid, named after the user. */
        r = snapshot_writer_add_group(w->writer, u->username, u->uid, no_members);
        if (r < 0)
                return r;
        if (u->state == USER_DEACTIVATED)
                return 0;
        if (!isempty(u->department)) {
                group_entry *g = whole_group(w, u->org, '/', u->department);
                if (g && (r = add_member(g, u->username)) < 0)
                        return r;
        }
        for (size_t i = 0; u->roles[i]; i++) {
                group_entry *g = whole_group(w, u->org, ':', u->roles[i]);
                if (g && (r = add_member(g, u->username)) < 0)
                        return r;
        }
        return 0;
}

static void whole_done(whole_snapshot *w) {
        for (size_t i = 0; i < w->n_groups; i++)
                free(w->groups[i].members);
        free(w->groups);
        snapshot_writer_free(w->writer);
}

/* Writes and publishes a whole snapshot of the store. */
static int publish_whole(const accounts *a, const char *runtime_dir, uint64_t *ret_generation) {
        _cleanup_txn_ store_txn *t = NULL;
        whole_snapshot w = { .accounts = a };
        uint64_t n_users = 0, n_depts = 0, n_orgs = 0, start = now_usec();
        int r;

        /* Without a trustworthy list of local accounts we might publish over
         * one: keep the previous snapshot instead. */
        r = local_accounts_refresh(a->local);
        if (r < 0)
                return r;
        r = store_begin(a->store, false, &t);
        if (r < 0)
                return r;
        (void) store_count(t, TABLE_USERS, &n_users);
        (void) store_count(t, TABLE_DEPTS, &n_depts);
        (void) store_count(t, TABLE_ORGS, &n_orgs);

        r = snapshot_writer_new(runtime_dir, n_users, n_users + n_depts + n_orgs * ROLE_COUNT, &w.writer);
        if (r < 0) {
                log_error_errno(r, "Failed to start a snapshot in %s: %m", runtime_dir);
                goto finish;
        }
        r = org_foreach(t, collect_org, &w);
        if (r >= 0)
                r = dept_foreach(t, NULL, collect_dept, &w);
        if (r < 0)
                goto fail;
        if (w.n_groups)
                qsort(w.groups, w.n_groups, sizeof(group_entry), cmp_group_key);

        r = user_foreach(t, whole_add_user, &w);
        if (r < 0)
                goto fail;
        for (size_t i = 0; i < w.n_groups; i++) {
                group_entry *g = &w.groups[i];
                char *const no_members[] = { NULL };

                if (g->shadowed) {
                        w.skipped++;
                        continue;
                }
                r = snapshot_writer_add_group(w.writer, g->name, g->gid,
                                              g->members ? (char *const *) g->members : no_members);
                if (r < 0)
                        goto fail;
        }

        r = snapshot_writer_publish(TAKE_PTR(w.writer), ret_generation);
        if (r < 0) {
                log_error_errno(r, "Failed to publish the NSS snapshot: %m");
                goto finish;
        }
        log_debug("Published a whole NSS snapshot, generation %" PRIu64 ": %" PRIu64 " users, %zu groups, %u not published (local clash), %.1f ms",
                  *ret_generation, n_users, w.n_groups, w.skipped, (double) (now_usec() - start) / 1000);
        if (w.skipped)
                log_warning("%u Nexalix users or groups share a name or id with a local account and are not published",
                            w.skipped);
        goto finish;
fail:
        log_error_errno(r, "Failed to build the NSS snapshot: %m");
finish:
        whole_done(&w);
        return r;
}

/* The daemon waits for the child: publications are rare and serialised,
 * and the replies they release wait for it anyway. */
static int spawn_whole(publisher *p) {
        const config *c = p->accounts->config;
        const char *argv[] = {
                "nexalixd", "--publish-snapshot", c->store_dir, p->runtime_dir, c->home_template, c->shell,
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
        if (sscanf(out, "%" SCNu64, &p->generation) != 1)
                return log_error_errno(-EBADMSG, "The snapshot publisher reported no generation");
        return 0;
}

int publisher_child_main(int argc, char *argv[]) {
        _cleanup_(config_done) config c = {};
        local_accounts *local = NULL;
        store *s = NULL;
        uint64_t generation = 0;
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
        if (!c.store_dir || !c.runtime_dir || !c.home_template || !c.shell)
                return EXIT_FAILURE;

        r = store_open_readonly(c.store_dir, &s);
        if (r >= 0)
                r = local_accounts_new(&LOCAL_ACCOUNTS_SYSTEM, &local);
        if (r >= 0)
                r = publish_whole(&(accounts) { .store = s, .config = &c, .local = local }, c.runtime_dir, &generation);
        if (r >= 0)
                printf("%" PRIu64 "\n", generation);
        local_accounts_free(local);
        store_close(s);
        return r < 0 ? EXIT_FAILURE : EXIT_SUCCESS;
}

/* ---- an update ---- */

typedef struct update_lookup {
        store_txn *txn;
        const accounts *accounts;
} update_lookup;

static int update_gid_of(void *userdata, const char *org, char kind, const char *name, uint32_t *ret_gid) {
        update_lookup *l = userdata;
        char group[GROUP_NAME_MAX + 1];
        uint32_t gid;

        if (kind == '/') {
                department d;
                int r = dept_load(l->txn, org, name, &d);
                if (r < 0)
                        return r;
                gid = d.gid;
        } else {
                organisation o;
                int i = role_index(name), r = org_load(l->txn, org, &o);
                if (r < 0)
                        return r;
                if (i < 0)
                        return -ENOENT;
                gid = o.role_gids[i];
        }
        if (shadowed(l->accounts, org_group_name(org, name, group), gid))
                return -ENOENT;
        *ret_gid = gid;
        return 0;
}

static int update_group(snapshot_update *su, update_lookup *l, const char *name) {
        const void *v;
        size_t n;
        uint32_t gid;
        int r;

        r = store_get(l->txn, TABLE_GROUPS, name, strlen(name), &v, &n);
        if (r == -ENOENT)
                return snapshot_update_remove_group(su, name);
        if (r < 0)
                return r;
        if (n != 4)
                return -EBADMSG;
        gid = be32_get(v);
        if (shadowed(l->accounts, name, gid))
                return snapshot_update_remove_group(su, name);
        return snapshot_update_set_group(su, name, gid);
}

static int update_user(snapshot_update *su, update_lookup *l, const char *name) {
        _cleanup_(user_done) user u = {};
        published_user pu;
        int r;

        r = user_load(l->txn, name, &u);
        if (r == -ENOENT)
                return snapshot_update_remove_user(su, name);
        if (r < 0)
                return r;
        r = published_user_of(l->accounts, &u, update_gid_of, l, &pu);
        if (r == -ENOENT)
                return snapshot_update_remove_user(su, name);
        if (r < 0)
                return r;
        return snapshot_update_set_user(su, u.username, u.uid, u.uid, pu.gecos, pu.home,
                                        l->accounts->config->shell, pu.gids, pu.n_gids);
}

/* A new delta with the changed entries. Groups first: a user may have
 * joined a group created by the same operation. */
static int publish_update(publisher *p, const identity_changes *c, uint64_t *ret_size) {
        _cleanup_txn_ store_txn *t = NULL;
        snapshot_update *su = NULL;
        update_lookup l = { .accounts = p->accounts };
        int r;

        r = store_begin(p->accounts->store, false, &t);
        if (r < 0)
                return r;
        l.txn = t;
        r = snapshot_update_begin(p->runtime_dir, &su);
        if (r < 0)
                return r;
        for (size_t i = 0; r >= 0 && i < c->n_groups; i++)
                r = update_group(su, &l, c->groups[i]);
        for (size_t i = 0; r >= 0 && i < c->n_users; i++)
                r = update_user(su, &l, c->users[i]);
        if (r < 0) {
                snapshot_update_free(su);
                return r;
        }
        *ret_size = snapshot_update_size(su);
        return snapshot_update_publish(su, &p->generation);
}

/* ---- the publisher ---- */

int publisher_new(const accounts *a, const char *runtime_dir, publisher **ret) {
        publisher *p = calloc(1, sizeof(*p));

        if (!p)
                return -ENOMEM;
        p->accounts = a;
        p->runtime_dir = strdup(runtime_dir);
        if (!p->runtime_dir || keys_publisher_new(a, runtime_dir, &p->keys) < 0) {
                free(p->runtime_dir);
                free(p);
                return -ENOMEM;
        }
        /* Whatever is published now may be older than the store (a crash
         * between a commit and its publication): start with a whole one. */
        publisher_queue_everything(p);
        *ret = p;
        return 0;
}

publisher *publisher_free(publisher *p) {
        if (!p)
                return NULL;
        event_source_free(p->prepare);
        event_source_free(p->retry);
        keys_publisher_free(p->keys);
        identity_changes_done(&p->queued);
        free(p->waiters);
        free(p->runtime_dir);
        free(p);
        return NULL;
}

int publisher_queue(publisher *p, identity_changes *c) {
        if (identity_changes_empty(c)) {
                identity_changes_done(c);
                return 0;
        }
        p->pending = true;
        return identity_changes_merge(&p->queued, c);
}

void publisher_queue_keys(publisher *p) {
        keys_publisher_queue(p->keys);
        p->pending = true;
}

void publisher_queue_everything(publisher *p) {
        identity_changes everything = { .everything = true };
        p->pending = true;
        (void) identity_changes_merge(&p->queued, &everything);
}

bool publisher_pending(const publisher *p) {
        return p->pending;
}

int publisher_wait(publisher *p, publisher_done_fn done, void *userdata) {
        if (ARRAY_RESERVE(p->waiters, p->allocated_waiters, p->n_waiters + 1) < 0)
                return -ENOMEM;
        p->waiters[p->n_waiters++] = (waiter) { done, userdata };
        return 0;
}

uint64_t publisher_generation(const publisher *p) {
        return p->generation;
}

int publisher_run(publisher *p) {
        identity_changes c = p->queued;
        waiter *waiters = p->waiters;
        size_t n_waiters = p->n_waiters;
        uint64_t start = now_usec(), size = 0;
        bool whole;
        int r;

        if (!p->pending)
                return 0;
        p->queued = (identity_changes) {};
        p->waiters = NULL;
        p->n_waiters = p->allocated_waiters = 0;
        p->pending = false;

        r = local_accounts_refresh(p->accounts->local);
        whole = c.everything || p->whole_size == 0 ||
                (r >= 0 && local_accounts_generation(p->accounts->local) != p->local_generation);
        if (r < 0)
                log_error_errno(r, "Cannot read the local accounts; not publishing: %m");
        else if (!whole && !identity_changes_empty(&c)) {
                /* (Empty: only the keys snapshot has something to publish.) */
                r = publish_update(p, &c, &size);
                if (r >= 0)
                        log_debug("Published an update of the NSS snapshot, generation %" PRIu64 ": %zu users, %zu groups, %.1f ms",
                                  p->generation, c.n_users, c.n_groups, (double) (now_usec() - start) / 1000);
                else {
                        log_debug("An update of the NSS snapshot failed (%s); publishing a whole one", strerror(-r));
                        whole = true;
                }
                if (r >= 0 && size > DELTA_SIZE_MAX(p->whole_size))
                        publisher_queue_everything(p);  /* a new base, right after */
        }
        if (r >= 0 && whole) {
                uint64_t local_generation = local_accounts_generation(p->accounts->local);
                struct stat st;
                char path[PATH_MAX];

                r = spawn_whole(p);
                if (r >= 0) {
                        p->local_generation = local_generation;
                        snprintf(path, sizeof(path), "%s/%s", p->runtime_dir, SNAPSHOT_FILE);
                        p->whole_size = stat(path, &st) == 0 ? (uint64_t) st.st_size : 1;
                }
        }
        {
                /* The keys snapshot in the same round, whatever became of the
                 * NSS one: a deactivation drops the user's keys in the
                 * publication its reply waits for. */
                int k = keys_publisher_run(p->keys, &c, c.everything || whole);
                if (r >= 0)
                        r = k;
        }
        identity_changes_done(&c);

        /* Changes are committed and their callers are told either way; a
         * failed publication (a full /run, say) is retried whole. */
        p->failed = r < 0;
        if (r < 0) {
                log_error_errno(r, "NSS snapshot not updated, retrying in %llu s: %m",
                                PUBLISH_RETRY_USEC / 1000000);
                publisher_queue_everything(p);
                if (p->retry)
                        event_source_set_time(p->retry, now_usec() + PUBLISH_RETRY_USEC);
        }
        for (size_t i = 0; i < n_waiters; i++)
                waiters[i].done(r, waiters[i].userdata);
        free(waiters);
        return r;
}

/* Before the loop sleeps: everything dispatched so far is committed, so one
 * publication serves it all. After a failure, only the retry timer runs it. */
static int on_prepare(event_source *s, void *userdata) {
        publisher *p = userdata;

        if (p->pending && !p->failed)
                (void) publisher_run(p);
        else if (p->failed && p->n_waiters > 0) {
                /* Until the retry succeeds, nobody waits for it: their
                 * changes are committed, only not visible through NSS yet. */
                waiter *waiters = p->waiters;
                size_t n = p->n_waiters;

                p->waiters = NULL;
                p->n_waiters = p->allocated_waiters = 0;
                for (size_t i = 0; i < n; i++)
                        waiters[i].done(-EAGAIN, waiters[i].userdata);
                free(waiters);
        }
        return 0;
}

static int on_retry(event_source *s, uint64_t now, void *userdata) {
        publisher *p = userdata;

        p->failed = false;
        (void) publisher_run(p);
        return 0;
}

int publisher_attach(publisher *p, event_loop *loop) {
        int r = event_add_prepare(loop, on_prepare, p, &p->prepare);
        if (r >= 0)
                r = event_add_time(loop, 0, on_retry, p, &p->retry);
        return r;
}
