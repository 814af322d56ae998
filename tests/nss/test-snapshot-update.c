/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* An update (a delta beside the published base) must read exactly as the
 * snapshot that a whole publication of the same data gives: the same users
 * with the same fields and supplementary groups, the same groups with the
 * same members, by id, by name and in enumeration order. Random changes are applied to
 * a model and, in turns, to the published snapshot through updates; after
 * each turn the published snapshot is compared with a whole one written
 * from the model, entry by entry, through the reader's API.
 *
 *     test-snapshot-update [ROUNDS]
 */

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "nss-test.h"
#include "snapshot.h"
#include "snapshot-writer.h"

#define N_USERS 60
#define N_GROUPS 8
#define UID_BASE 70000
#define GID_BASE 80000

typedef struct model_user {
        bool present;
        char gecos[32];
        bool member[N_GROUPS];
} model_user;

typedef struct model {
        model_user users[N_USERS];
        bool group_present[N_GROUPS];
} model;

static void user_name(int i, char buf[16]) { snprintf(buf, 16, "u%02d", i); }
static void group_name(int g, char buf[32]) { snprintf(buf, 32, "org.g%d", g); }

static void publish_whole(const char *dir, const model *m) {
        snapshot_writer *w;
        char *none[] = { NULL };

        CHECK(snapshot_writer_new(dir, N_USERS, N_USERS + N_GROUPS, &w) == 0);
        for (int i = 0; i < N_USERS; i++) {
                char name[16];
                if (!m->users[i].present)
                        continue;
                user_name(i, name);
                CHECK(snapshot_writer_add_user(w, name, UID_BASE + (uint32_t) i, UID_BASE + (uint32_t) i,
                                               m->users[i].gecos, "/home/x", "/bin/sh") == 0);
                CHECK(snapshot_writer_add_group(w, name, UID_BASE + (uint32_t) i, none) == 0);
        }
        for (int g = 0; g < N_GROUPS; g++) {
                char gname[32], names[N_USERS][16];
                char *members[N_USERS + 1];
                size_t n = 0;

                if (!m->group_present[g])
                        continue;
                group_name(g, gname);
                for (int i = 0; i < N_USERS; i++)
                        if (m->users[i].present && m->users[i].member[g]) {
                                user_name(i, names[n]);
                                members[n] = names[n];
                                n++;
                        }
                members[n] = NULL;
                CHECK(snapshot_writer_add_group(w, gname, GID_BASE + (uint32_t) g, members) == 0);
        }
        CHECK(snapshot_writer_publish(w, NULL) == 0);
}

static void update_user(snapshot_update *u, const model *m, int i) {
        char name[16];
        uint32_t gids[N_GROUPS];
        size_t n = 0;

        user_name(i, name);
        if (!m->users[i].present) {
                CHECK_EQ_INT(snapshot_update_remove_user(u, name), 0);
                return;
        }
        for (int g = 0; g < N_GROUPS; g++)
                if (m->users[i].member[g])
                        gids[n++] = GID_BASE + (uint32_t) g;
        CHECK_EQ_INT(snapshot_update_set_user(u, name, UID_BASE + (uint32_t) i, UID_BASE + (uint32_t) i,
                                              m->users[i].gecos, "/home/x", "/bin/sh", gids, n), 0);
}

/* Every user and group, as text, in id order: what getent would print. */
static char *dump(const char *path, const char *delta_path) {
        snapshot *s;
        snapshot_txn t;
        snapshot_cursor *c;
        snapshot_user u;
        snapshot_group g;
        size_t size = 0;
        char *out = NULL;
        FILE *f = open_memstream(&out, &size);
        int r;

        CHECK(f);
        CHECK_EQ_INT(snapshot_open(path, delta_path, &s), 0);
        CHECK_EQ_INT(snapshot_txn_begin(s, &t), 0);
        CHECK_EQ_INT(snapshot_cursor_open(&t, SNAPSHOT_USERS, &c), 0);
        for (r = snapshot_cursor_get_user(c, SNAPSHOT_FIRST, &u); r == 0;
             r = snapshot_cursor_get_user(c, SNAPSHOT_NEXT, &u)) {
                snapshot_user by_name;
                fprintf(f, "user %s %u %u %s %s %s gids", u.name, u.uid, u.gid, u.gecos, u.home, u.shell);
                for (size_t i = 0; i < u.n_gids; i++)
                        fprintf(f, " %u", snapshot_gid_at(u.gids, i));
                fprintf(f, " private %d\n", u.private_group);
                /* Both indexes must agree. */
                CHECK_EQ_INT(snapshot_get_user_by_name(&t, u.name, &by_name), 0);
                CHECK_EQ_INT(by_name.uid, u.uid);
        }
        CHECK_EQ_INT(r, -ENOENT);
        snapshot_cursor_close(c);
        CHECK_EQ_INT(snapshot_cursor_open(&t, SNAPSHOT_GROUPS, &c), 0);
        for (r = snapshot_cursor_get_group(c, SNAPSHOT_FIRST, &g); r == 0;
             r = snapshot_cursor_get_group(c, SNAPSHOT_NEXT, &g)) {
                snapshot_group by_name;
                const char *m = g.members;
                fprintf(f, "group %s %u:", g.name, g.gid);
                for (size_t i = 0; i < g.n_members; i++, m += strlen(m) + 1)
                        fprintf(f, " %s", m);
                fputc('\n', f);
                CHECK_EQ_INT(snapshot_get_group_by_name(&t, g.name, &by_name), 0);
                CHECK_EQ_INT(by_name.gid, g.gid);
        }
        CHECK_EQ_INT(r, -ENOENT);
        snapshot_cursor_close(c);
        snapshot_txn_end(&t);
        snapshot_close(s);
        fclose(f);
        return out;
}

int main(int argc, char **argv) {
        int rounds = argc > 1 ? atoi(argv[1]) : 200;
        char base[] = "/tmp/test-snapshot-update-XXXXXX", live[256], ref[256], live_file[300], ref_file[300];
        char live_delta[300];
        char cmd[300];
        model m = {};
        unsigned seed = 12345;

        CHECK(mkdtemp(base));
        snprintf(live, sizeof(live), "%s/live", base);
        snprintf(ref, sizeof(ref), "%s/ref", base);
        snprintf(live_file, sizeof(live_file), "%s/" SNAPSHOT_FILE, live);
        snprintf(ref_file, sizeof(ref_file), "%s/" SNAPSHOT_FILE, ref);
        snprintf(live_delta, sizeof(live_delta), "%s/" SNAPSHOT_DELTA_FILE, live);

        /* Without a published snapshot there is nothing to update. */
        {
                snapshot_update *u;
                CHECK_EQ_INT(snapshot_update_begin(live, &u), -ENOENT);
        }

        for (int g = 0; g < N_GROUPS / 2; g++)
                m.group_present[g] = true;
        for (int i = 0; i < N_USERS / 2; i++) {
                m.users[i].present = true;
                snprintf(m.users[i].gecos, sizeof(m.users[i].gecos), "User %d", i);
                m.users[i].member[i % (N_GROUPS / 2)] = true;
        }
        publish_whole(live, &m);

        for (int round = 0; round < rounds; round++) {
                snapshot_update *u;
                int changes = 1 + (int) (rand_r(&seed) % 5);
                char *a, *b;

                CHECK_EQ_INT(snapshot_update_begin(live, &u), 0);
                for (int k = 0; k < changes; k++) {
                        int what = (int) (rand_r(&seed) % 10), i = (int) (rand_r(&seed) % N_USERS);
                        int g = (int) (rand_r(&seed) % N_GROUPS);
                        char gname[32];

                        group_name(g, gname);
                        if (what == 0 && !m.group_present[g]) {
                                m.group_present[g] = true;
                                CHECK_EQ_INT(snapshot_update_set_group(u, gname, GID_BASE + (uint32_t) g), 0);
                        } else if (what == 1 && m.group_present[g]) {
                                bool used = false;
                                for (int j = 0; j < N_USERS; j++)
                                        used = used || (m.users[j].present && m.users[j].member[g]);
                                if (used) {
                                        /* A group with members cannot go by an update. */
                                        CHECK_EQ_INT(snapshot_update_remove_group(u, gname), -ENOTEMPTY);
                                } else {
                                        m.group_present[g] = false;
                                        CHECK_EQ_INT(snapshot_update_remove_group(u, gname), 0);
                                }
                        } else if (what <= 3) {
                                m.users[i].present = !m.users[i].present;
                                snprintf(m.users[i].gecos, sizeof(m.users[i].gecos), "User %d r%d", i, round);
                                for (int h = 0; h < N_GROUPS; h++)
                                        m.users[i].member[h] = false;
                                update_user(u, &m, i);
                        } else if (m.users[i].present) {
                                /* A membership, or the name, of a present user. */
                                if (what <= 6 && m.group_present[g])
                                        m.users[i].member[g] = !m.users[i].member[g];
                                else
                                        snprintf(m.users[i].gecos, sizeof(m.users[i].gecos), "Renamed %d", round);
                                update_user(u, &m, i);
                        }
                }
                CHECK_EQ_INT(snapshot_update_publish(u, NULL), 0);
                /* Now and then a whole publication, as the daemon does when
                 * the delta grows: the delta beside it is superseded. */
                if (round % 37 == 36) {
                        publish_whole(live, &m);
                        CHECK(access(live_delta, F_OK) < 0);
                }

                publish_whole(ref, &m);
                a = dump(live_file, live_delta);
                b = dump(ref_file, NULL);
                if (strcmp(a, b) != 0) {
                        fprintf(stderr, "round %d: the updated snapshot differs from a whole one\n--- updated\n%s--- whole\n%s",
                                round, a, b);
                        exit(1);
                }
                free(a);
                free(b);
        }

        /* A membership in a group the snapshot does not have is refused. */
        {
                snapshot_update *u;
                uint32_t nogid = GID_BASE + 999;
                CHECK_EQ_INT(snapshot_update_begin(live, &u), 0);
                CHECK_EQ_INT(snapshot_update_set_user(u, "zz", 79999, 79999, "", "/", "/bin/sh", &nogid, 1), -EINVAL);
                snapshot_update_free(u);
        }
        /* An update that is dropped leaves no file behind and the snapshot as
         * it was. */
        {
                char *before = dump(live_file, live_delta), *after;
                snapshot_update *u;
                CHECK_EQ_INT(snapshot_update_begin(live, &u), 0);
                CHECK_EQ_INT(snapshot_update_remove_user(u, "u00"), 0);
                snapshot_update_free(u);
                after = dump(live_file, live_delta);
                CHECK(strcmp(before, after) == 0);
                CHECK_EQ_INT(snapshot_writer_remove_stale(live), 0);
                free(before);
                free(after);
        }

        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", base);
        if (system(cmd) != 0)
                fprintf(stderr, "could not remove %s\n", base);
        printf("%d rounds of updates equal whole snapshots: 1 passed, 0 failed\n", rounds);
        return 0;
}
