/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "event-loop.h"
#include "keys-snapshot.h"
#include "local-accounts.h"
#include "log.h"
#include "org.h"
#include "publish-keys.h"
#include "sshkey.h"
#include "user.h"

#include <grp.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct keys_publisher {
        const accounts *accounts;
        char *runtime_dir;
        bool queued;
        uint64_t generation;
        char *warned_group;             /* the keys_group last warned about */
};

/* ---- the group that may read the snapshot ---- */

int keys_group_resolve(const char *name, gid_t *ret) {
        _cleanup_fclose_ FILE *f = NULL;
        struct group *g;
        char *end;

        if (isempty(name)) {
                *ret = (gid_t) -1;
                return 0;
        }
        if (name[0] >= '0' && name[0] <= '9') {
                unsigned long v;
                errno = 0;
                v = strtoul(name, &end, 10);
                if (errno || *end || v >= (gid_t) -1)
                        return -EINVAL;
                *ret = (gid_t) v;
                return 0;
        }
        /* /etc/group itself: through NSS a Nexalix user named like the group
         * would answer with its private group, and read everyone's keys. */
        f = fopen("/etc/group", "re");
        if (!f)
                return -errno;
        while ((g = fgetgrent(f)))
                if (strcmp(g->gr_name, name) == 0) {
                        *ret = g->gr_gid;
                        return 0;
                }
        return -ENOENT;
}

/* ---- a whole snapshot, streamed from the store ---- */

typedef struct org_types {
        char name[ORG_NAME_MAX + 1];
        uint32_t types;
        bool require_2fa;
} org_types;

typedef struct keys_walk {
        const accounts *accounts;
        store_txn *txn;
        keys_writer *writer;
        org_types *orgs;
        size_t n_orgs, allocated_orgs;

        char user[USERNAME_MAX + 1];    /* the user whose keys come now */
        bool eligible;                  /* may log in, and is no local account's */
        bool account_ok;                /* may pass the account stage offline */
        uint32_t types;                 /* accepted by the user's organisation (0: all) */
        char *buf;                      /* the user's lines so far */
        size_t size, allocated;
        uint64_t users, keys, left_out;
} keys_walk;

static int collect_org(const organisation *org, void *userdata) {
        keys_walk *w = userdata;

        if (w->n_orgs >= w->allocated_orgs) {
                size_t n = w->allocated_orgs ? 2 * w->allocated_orgs : 16;
                org_types *v = realloc(w->orgs, n * sizeof(*v));
                if (!v)
                        return -ENOMEM;
                w->orgs = v;
                w->allocated_orgs = n;
        }
        snprintf(w->orgs[w->n_orgs].name, sizeof(w->orgs[0].name), "%s", org->name);
        w->orgs[w->n_orgs].require_2fa = org->require_2fa;
        w->orgs[w->n_orgs++].types = org->ssh_key_types;
        return 0;
}

static int cmp_org(const void *key, const void *o) {
        return strcmp(key, ((const org_types *) o)->name);
}

static int flush_user(keys_walk *w) {
        int r = 0;

        if (w->size > 0) {
                r = keys_writer_add(w->writer, w->user, w->buf, w->size, w->account_ok);
                if (r >= 0)
                        w->users++;
        }
        w->size = 0;
        return r;
}

/* Whether the user of the keys that come next may have any in the
 * snapshot: sshd asks the account stage anyway, but a deactivated user's
 * keys must not even be offered, and a local account of the same name must
 * never be given a Nexalix user's keys. */
static int start_user(keys_walk *w, const char *username) {
        _cleanup_(user_done) user u = {};
        const org_types *org;
        int r;

        /* A valid username (sshkey_record_decode() checked its size). */
        memcpy(w->user, username, strlen(username) + 1);
        w->eligible = false;
        r = user_load(w->txn, username, &u);
        if (r == -ENOENT)
                return 0;               /* keys of a deleted user: nobody's */
        if (r < 0)
                return r;
        if (user_login_refusal(&u) != LOGIN_ALLOWED ||
            local_accounts_has_name(w->accounts->local, u.username) ||
            local_accounts_has_id(w->accounts->local, u.uid))
                return 0;
        org = bsearch(u.org, w->orgs, w->n_orgs, sizeof(*w->orgs), cmp_org);
        w->types = org ? org->types : 0;
        w->eligible = true;
        /* Someone who must still set up 2FA is refused at the account stage
         * with the daemon up (their keys are offered, so that sshd shows
         * why); with it down the offline check must refuse them too. */
        w->account_ok = org && !(org->require_2fa && !u.totp_enabled);
        return 0;
}

static int visit_key(const void *key, size_t key_size, const void *value, size_t value_size, void *userdata) {
        keys_walk *w = userdata;
        sshkey_record k;
        size_t len;
        int r;

        r = sshkey_record_decode(key, key_size, value, value_size, &k);
        if (r < 0) {
                /* One damaged record must not take every user's keys away. */
                log_warning("Skipping a damaged SSH key record in the store");
                return 0;
        }
        if (strcmp(k.user, w->user) != 0) {
                r = flush_user(w);
                if (r < 0)
                        return r;
                r = start_user(w, k.user);
                if (r < 0)
                        return r;
        }
        if (!w->eligible)
                return 0;
        if (w->types && !(w->types & (1u << k.type))) {
                w->left_out++;
                return 0;
        }
        len = strlen(k.line);
        if (w->size + len + 2 > w->allocated) {
                size_t n = w->allocated ? w->allocated : 4096;
                char *b;
                while (n < w->size + len + 2)
                        n *= 2;
                b = realloc(w->buf, n);
                if (!b)
                        return -ENOMEM;
                w->buf = b;
                w->allocated = n;
        }
        memcpy(w->buf + w->size, k.line, len);
        w->buf[w->size + len] = '\n';
        w->size += len + 1;
        w->keys++;
        return 0;
}

int keys_publish_whole(const accounts *a, const char *runtime_dir, gid_t gid, uint64_t *ret_generation,
                       uint64_t *ret_users) {
        _cleanup_txn_ store_txn *t = NULL;
        keys_walk w = { .accounts = a };
        uint64_t generation = 0, start = now_usec();
        int r;

        /* Without a trustworthy list of local accounts a local account could
         * be handed a Nexalix user's keys: keep the previous snapshot. */
        r = local_accounts_refresh(a->local);
        if (r < 0)
                return log_error_errno(r, "Cannot read the local accounts; SSH keys snapshot not published: %m");
        r = store_begin(a->store, false, &t);
        if (r < 0)
                return r;
        w.txn = t;
        r = org_foreach(t, collect_org, &w);
        if (r < 0)
                goto finish;
        /* The store walks organisations in name order: ready for bsearch(). */
        r = keys_writer_new(runtime_dir, gid, &w.writer);
        if (r < 0) {
                log_error_errno(r, "Failed to start an SSH keys snapshot in %s: %m", runtime_dir);
                goto finish;
        }
        r = store_foreach(t, TABLE_SSH_KEYS, NULL, 0, false, visit_key, &w);
        if (r >= 0)
                r = flush_user(&w);
        if (r < 0) {
                log_error_errno(r, "Failed to build the SSH keys snapshot: %m");
                goto finish;
        }
        r = keys_writer_publish(TAKE_PTR(w.writer), &generation);
        if (r < 0) {
                log_error_errno(r, "Failed to publish the SSH keys snapshot: %m");
                goto finish;
        }
        log_debug("Published the SSH keys snapshot, generation %" PRIu64 ": %" PRIu64 " users, %" PRIu64
                  " keys, %" PRIu64 " of a type their organisation no longer accepts left out, %.1f ms",
                  generation, w.users, w.keys, w.left_out, (double) (now_usec() - start) / 1000);
        if (ret_generation)
                *ret_generation = generation;
        if (ret_users)
                *ret_users = w.users;
finish:
        keys_writer_free(w.writer);
        free(w.orgs);
        free(w.buf);
        return r;
}

/* ---- the publisher ---- */

int keys_publisher_new(const accounts *a, const char *runtime_dir, keys_publisher **ret) {
        keys_publisher *k = calloc(1, sizeof(*k));
        int r;

        if (!k)
                return -ENOMEM;
        k->accounts = a;
        k->runtime_dir = strdup(runtime_dir);
        if (!k->runtime_dir) {
                free(k);
                return -ENOMEM;
        }
        /* Left by a daemon killed while publishing; nothing else writes here
         * (the runtime directory is locked by this daemon). */
        r = keys_writer_remove_stale(runtime_dir);
        if (r < 0)
                log_warning_errno(r, "Failed to remove stale SSH keys snapshot files in %s: %m", runtime_dir);
        /* What is published may be older than the store: start whole. */
        k->queued = true;
        *ret = k;
        return 0;
}

keys_publisher *keys_publisher_free(keys_publisher *k) {
        if (!k)
                return NULL;
        free(k->runtime_dir);
        free(k->warned_group);
        free(k);
        return NULL;
}

void keys_publisher_queue(keys_publisher *k) {
        k->queued = true;
}

uint64_t keys_publisher_generation(const keys_publisher *k) {
        return k->generation;
}

/* Whether a change of these users can change what the snapshot shows: only
 * if one of them has keys, in the store or still in the published file (a
 * deleted user's). Most changes (an import of invited users) have none. */
static int changes_concern_keys(keys_publisher *k, const identity_changes *c) {
        _cleanup_txn_ store_txn *t = NULL;
        keys_snapshot *published = NULL;
        char path[PATH_MAX];
        int r = 0;

        if (c->n_users == 0)
                return 0;
        r = store_begin(k->accounts->store, false, &t);
        if (r < 0)
                return r;
        snprintf(path, sizeof(path), "%s/%s", k->runtime_dir, KEYS_SNAPSHOT_FILE);
        (void) keys_snapshot_open(path, &published);
        for (size_t i = 0; i < c->n_users; i++) {
                char *lines = NULL;

                r = sshkey_user_has_keys(t, c->users[i]);
                if (r != 0)
                        break;
                if (published && keys_snapshot_get(published, c->users[i], &lines, NULL) >= 0) {
                        free(lines);
                        r = 1;
                        break;
                }
        }
        keys_snapshot_close(published);
        return r;
}

int keys_publisher_run(keys_publisher *k, const identity_changes *c, bool everything) {
        const char *group = k->accounts->config->ssh_keys_group;
        gid_t gid = (gid_t) -1;
        int r;

        if (!k->queued && !everything) {
                r = changes_concern_keys(k, c);
                if (r <= 0) {
                        if (r < 0)
                                k->queued = true;       /* could not tell: publish to be sure */
                        else
                                return 0;
                }
        }
        k->queued = true;

        r = keys_group_resolve(group, &gid);
        if (r < 0) {
                /* Fail closed: root alone reads the keys, and sshd's command
                 * (running as the keys group's user) finds none. Said once
                 * per group name, not at every publication. */
                if (!streq_ptr(k->warned_group, group)) {
                        char why[128] = "";
                        if (r != -ENOENT)
                                snprintf(why, sizeof(why), " (%s)", strerror(-r));
                        log_warning("[ssh] keys_group '%s' is no group of /etc/group%s: the SSH keys snapshot is readable by root only, and key logins through nexalix-authorized-keys find no keys; create the group (scripts/setup.sh does) or change the setting",
                                    strempty(group), why);
                        free(k->warned_group);
                        k->warned_group = strdup(strempty(group));
                }
                gid = (gid_t) -1;
        } else {
                free(k->warned_group);
                k->warned_group = NULL;
        }

        r = keys_publish_whole(k->accounts, k->runtime_dir, gid, &k->generation, NULL);
        if (r >= 0)
                k->queued = false;
        return r;
}
