/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The account lifecycle at the level of the daemon's logic (org.c, user.c,
 * linked-record.c, audit.c) on a real store, with nothing but what the logic
 * needs (a store, a configuration, a local-account view; no bus, no
 * manager): who may do what, the rules of docs/architecture.md "Users", and
 * that a refused change leaves nothing behind. */

#include "audit.h"
#include "linked-record.h"
#include "local-accounts.h"
#include "migrate.h"
#include "org.h"
#include "store.h"
#include "test-util.h"
#include "user.h"

#include <errno.h>
#include <stdlib.h>
#include <unistd.h>

static char dir[] = "/tmp/nexalix-test-user-XXXXXX";
static config cfg;
static accounts acc;

/* Runs one operation as uid in its own write transaction: commit on
 * success, abort on refusal, exactly like a D-Bus method. */
typedef int (*op_fn)(op *o, void *userdata);

static int run_as(uint32_t uid, op_fn fn, void *userdata, nx_error *e) {
        op o;
        int r;

        if (op_begin(&acc, uid, true, e, &o) < 0)
                abort();
        o.now = 1000;
        r = fn(&o, userdata);
        if (r < 0) {
                op_abort(&o);
                return r;
        }
        r = op_commit(&o);
        op_done(&o);
        return r;
}

static int do_org_create(op *o, void *userdata) { return org_create(o, userdata); }

typedef struct dept_args { const char *org, *name; } dept_args;
static int do_dept_create(op *o, void *userdata) {
        dept_args *a = userdata;
        return dept_create(o, a->org, a->name);
}

typedef struct create_args {
        user_spec spec;
        const char *hash;
        uint32_t uid;
} create_args;
static int do_user_create(op *o, void *userdata) {
        create_args *a = userdata;
        user u;
        int r = user_create(o, &a->spec, a->hash, &u);
        if (r >= 0)
                a->uid = u.uid;
        return r;
}

static int do_user_delete(op *o, void *userdata) {
        return user_delete(o, userdata);
}
static int do_user_activate(op *o, void *userdata) { return user_activate(o, userdata); }
static int do_user_deactivate(op *o, void *userdata) {
        return user_deactivate(o, userdata);
}

typedef struct link_args { const char *user, *kind, *ref; } link_args;
static int do_link_add(op *o, void *userdata) {
        link_args *a = userdata;
        return linked_record_add(o, a->user, a->kind, a->ref);
}
static int do_link_remove(op *o, void *userdata) {
        link_args *a = userdata;
        return linked_record_remove(o, a->user, a->kind, a->ref);
}

static uint32_t create(uint32_t as, const char *name, const char *org, const char *email, const char *dept,
                       const char *role_name, const char *hash, nx_error *e, int *ret_r) {
        char *roles[] = { (char *) role_name, NULL };
        create_args a = { { name, org, "First", "Last", email, "en", dept, roles }, hash, 0 };
        *ret_r = run_as(as, do_user_create, &a, e);
        return a.uid;
}

static uint64_t count_users(void) {
        store_txn *t;
        uint64_t n = 0;
        store_begin(acc.store, false, &t);
        store_count(t, TABLE_USERS, &n);
        store_abort(t);
        return n;
}

static user_state state_of(const char *name) {
        store_txn *t;
        user u = {};
        user_state s = _USER_STATE_MAX;
        store_begin(acc.store, false, &t);
        if (user_load(t, name, &u) == 0)
                s = u.state;
        user_done(&u);
        store_abort(t);
        return s;
}

static void test_lifecycle(void) {
        nx_error e = {};
        uint32_t alice, bob, carol, dave;
        int r;

        CHECK_INT(run_as(0, do_org_create, "acme", &e), 0);
        CHECK_INT(run_as(0, do_org_create, "globex", &e), 0);
        CHECK_INT(run_as(0, do_dept_create, &(dept_args) { "acme", "support" }, &e), 0);
        CHECK_INT(run_as(0, do_dept_create, &(dept_args) { "globex", "sales" }, &e), 0);

        alice = create(0, "alice", "acme", "alice@example.com", "support", "org-admin", "$argon2id$x", &e, &r);
        CHECK_INT(r, 0);
        CHECK_INT(state_of("alice"), USER_ACTIVE);
        bob = create(0, "bob", "acme", "bob@example.com", NULL, "member", NULL, &e, &r);
        CHECK_INT(r, 0);
        CHECK_INT(state_of("bob"), USER_INVITED);
        carol = create(0, "carol", "globex", "carol@example.com", "sales", "org-admin", "$argon2id$y", &e, &r);
        CHECK_INT(r, 0);
        CHECK(alice >= 200000 && bob > alice && carol > bob);

        /* Rules: each refused, and the store keeps exactly three users. */
        struct {
                const char *name, *org, *email, *dept, *role;
                int error;
        } bad[] = {
                { "alice", "globex", "x1@example.com", NULL, "member", -EEXIST },      /* taken in another org */
                { "daemon", "acme", "x2@example.com", NULL, "member", -EEXIST },       /* local account */
                { "staff", "acme", "x2@example.com", NULL, "member", -EEXIST },        /* local group */
                { "aLice", "acme", "x3@example.com", NULL, "member", -EINVAL },        /* upper case inside */
                { "Eve", "acme", "x4@example.com", NULL, "member", -EINVAL },
                { "eve", "acme", "ALICE@example.com", NULL, "member", -EEXIST },      /* email, any case */
                { "eve", "acme", "not-an-email", NULL, "member", -EINVAL },
                { "eve", "acme", "x5@example.com", "sales", "member", -EINVAL },       /* globex's department */
                { "eve", "acme", "x6@example.com", NULL, "boss", -EINVAL },
                { "eve", "nowhere", "x7@example.com", NULL, "member", -ENOENT },
        };
        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                nx_error be = {};
                create(0, bad[i].name, bad[i].org, bad[i].email, bad[i].dept, bad[i].role, NULL, &be, &r);
                CHECK_INT(r, bad[i].error);
                CHECK(be.message[0] != 0);
        }
        CHECK_INT(count_users(), 3);

        /* An org-admin manages their own organisation only; other
         * organisations' users look like they do not exist. */
        e = (nx_error) {};
        dave = create(alice, "dave", "acme", "dave@example.com", NULL, "member", NULL, &e, &r);
        CHECK_INT(r, 0);
        e = (nx_error) {};
        create(alice, "erin", "globex", "erin@example.com", NULL, "member", NULL, &e, &r);
        CHECK_INT(r, -ENOENT);
        e = (nx_error) {};
        CHECK_INT(run_as(alice, do_user_deactivate, "carol", &e), -ENOENT);
        CHECK_STR(e.message, "no user 'carol'");
        CHECK_INT(state_of("carol"), USER_ACTIVE);
        /* A member, an invited user and an unknown uid manage nobody. */
        e = (nx_error) {};
        CHECK_INT(run_as(bob, do_user_deactivate, "dave", &e), -ENOENT);
        e = (nx_error) {};
        CHECK_INT(run_as(dave, do_user_deactivate, "bob", &e), -ENOENT);
        e = (nx_error) {};
        CHECK_INT(run_as(299999, do_user_deactivate, "bob", &e), -ENOENT);
        e = (nx_error) {};
        CHECK_INT(run_as(alice, do_org_create, "initech", &e), -EACCES);
        CHECK_INT(state_of("bob"), USER_INVITED);

        /* Deactivation and activation; an invited user goes back to invited. */
        e = (nx_error) {};
        CHECK_INT(run_as(alice, do_user_deactivate, "bob", &e), 0);
        CHECK_INT(state_of("bob"), USER_DEACTIVATED);
        CHECK_INT(run_as(alice, do_user_deactivate, "bob", &e), -EBUSY);
        e = (nx_error) {};
        CHECK_INT(run_as(alice, do_user_activate, "bob", &e), 0);
        CHECK_INT(state_of("bob"), USER_INVITED);
        e = (nx_error) {};
        CHECK_INT(run_as(alice, do_user_deactivate, "alice", &e), -EBUSY);

        /* Deactivated admins lose their rights at once. */
        e = (nx_error) {};
        CHECK_INT(run_as(0, do_user_deactivate, "carol", &e), 0);
        e = (nx_error) {};
        CHECK_INT(run_as(carol, do_dept_create, &(dept_args) { "globex", "hr" }, &e), -ENOENT);

        /* Guarded deletion. */
        e = (nx_error) {};
        CHECK_INT(run_as(alice, do_link_add, &(link_args) { "dave", "incident.registered", "INC-1" }, &e), 0);
        CHECK_INT(run_as(alice, do_link_add, &(link_args) { "dave", "incident.registered", "INC-2" }, &e), 0);
        CHECK_INT(run_as(alice, do_link_add, &(link_args) { "dave", "cost.recorded", "C-1" }, &e), 0);
        CHECK_INT(run_as(alice, do_link_add, &(link_args) { "dave", "cost.recorded", "C-1" }, &e), -EEXIST);
        e = (nx_error) {};
        CHECK_INT(run_as(alice, do_link_add, &(link_args) { "dave", "bogus", "C-1" }, &e), -EINVAL);
        e = (nx_error) {};
        CHECK_INT(run_as(alice, do_user_delete, "dave", &e), -ENOTEMPTY);
        CHECK_STR(e.message, "deletion blocked: 2 registered incidents, 1 cost record — deactivate the user instead");
        CHECK_INT(count_users(), 4);
        e = (nx_error) {};
        CHECK_INT(run_as(alice, do_link_remove, &(link_args) { "dave", "incident.registered", "INC-1" }, &e), 0);
        CHECK_INT(run_as(alice, do_link_remove, &(link_args) { "dave", "incident.registered", "INC-2" }, &e), 0);
        CHECK_INT(run_as(alice, do_link_remove, &(link_args) { "dave", "cost.recorded", "C-1" }, &e), 0);
        CHECK_INT(run_as(alice, do_user_delete, "dave", &e), 0);
        CHECK_INT(count_users(), 3);

        /* The deleted uid is never handed out again; the name and email are free. */
        e = (nx_error) {};
        uint32_t dave2 = create(0, "dave", "acme", "dave@example.com", NULL, "member", NULL, &e, &r);
        CHECK_INT(r, 0);
        CHECK(dave2 > dave);
}

/* Ids of local accounts and of subordinate ranges are never handed out. */
static void test_id_allocation(void) {
        bool crossed = false;

        for (int i = 0; i < 12; i++) {
                char name[16], email[32];
                nx_error e = {};
                uint32_t uid;
                int r;

                snprintf(name, sizeof(name), "id%d", i);
                snprintf(email, sizeof(email), "id%d@example.com", i);
                uid = create(0, name, "acme", email, NULL, "member", NULL, &e, &r);
                CHECK_INT(r, 0);
                CHECK(uid != 200002);
                CHECK(uid < 200020 || uid >= 200120);
                crossed = crossed || uid == 200120;
        }
        CHECK(crossed);
}

static int count_audit(const audit_entry *a, void *userdata) {
        (*(int *) userdata)++;
        return 0;
}

/* The entries about one-time links (issued with an invitation, voided by a
 * deactivation or a deletion), which come with the changes that cause them. */
static int count_link_audit(const audit_entry *a, void *userdata) {
        if (strncmp(a->action, "link.", 5) == 0)
                (*(int *) userdata)++;
        return 0;
}

/* A store of format 1 named groups "ORG-NAME"; the migration renames them
 * "ORG.NAME", keeping their gids, in one transaction. */
static void test_migration(void) {
        static const char *const names[] = { "mig.org-admin", "mig.member", "mig.sales" };
        uint32_t gids[3];
        dept_args sales = { "mig", "sales" };
        store_txn *t = NULL;
        const void *v;
        size_t n;
        unsigned format = 0;

        CHECK_INT(run_as(0, do_org_create, "mig", NULL), 0);
        CHECK_INT(run_as(0, do_dept_create, &sales, NULL), 0);

        /* Turn the store back into what format 1 wrote. */
        CHECK_INT(store_begin(acc.store, true, &t), 0);
        for (size_t i = 0; i < 3; i++) {
                char old[GROUP_NAME_MAX + 1];

                CHECK_INT(store_get(t, TABLE_GROUPS, names[i], strlen(names[i]), &v, &n), 0);
                CHECK_INT(n, 4);
                gids[i] = be32_get(v);
                snprintf(old, sizeof(old), "%s", names[i]);
                old[3] = '-';
                CHECK_INT(store_del(t, TABLE_GROUPS, names[i], strlen(names[i])), 0);
                CHECK_INT(store_put(t, TABLE_GROUPS, old, strlen(old), v, 4, true), 0);
        }
        CHECK_INT(store_set_format(t, 1), 0);
        CHECK_INT(store_commit(t), 0);

        CHECK_INT(store_migrate(acc.store), 0);

        CHECK_INT(store_begin(acc.store, false, &t), 0);
        CHECK_INT(store_get_format(t, &format), 0);
        CHECK_INT(format, STORE_FORMAT_VERSION);
        for (size_t i = 0; i < 3; i++) {
                char old[GROUP_NAME_MAX + 1];

                CHECK_INT(store_get(t, TABLE_GROUPS, names[i], strlen(names[i]), &v, &n), 0);
                CHECK_INT(n == 4 ? be32_get(v) : 0, gids[i]);
                snprintf(old, sizeof(old), "%s", names[i]);
                old[3] = '-';
                CHECK_INT(store_get(t, TABLE_GROUPS, old, strlen(old), &v, &n), -ENOENT);
        }
        store_abort(t);
        /* Run again on a current store: nothing to do. */
        CHECK_INT(store_migrate(acc.store), 0);
}

typedef struct tally {
        const char *org;
        uint32_t users;
} tally;

static int tally_user(const user *u, void *userdata) {
        tally *t = userdata;
        if (strcmp(u->org, t->org) == 0)
                t->users++;
        return 0;
}

static uint32_t counted(const char *org, const char *dept) {
        store_txn *t;
        uint32_t n = 99999;
        store_begin(acc.store, false, &t);
        CHECK_INT(org_count_users(t, org, dept, &n), 0);
        store_abort(t);
        return n;
}

static uint32_t walked(const char *org) {
        store_txn *t;
        tally y = { org, 0 };
        store_begin(acc.store, false, &t);
        CHECK_INT(user_foreach(t, tally_user, &y), 0);
        store_abort(t);
        return y.users;
}

static int drop_index(store_txn *t) {
        const void *k;
        size_t n;
        int r;

        while ((r = store_last_key(t, TABLE_USER_INDEX, &k, &n)) == 0) {
                char copy[128];
                memcpy(copy, k, n);
                if ((r = store_del(t, TABLE_USER_INDEX, copy, n)) < 0)
                        return r;
        }
        while ((r = store_last_key(t, TABLE_COUNTS, &k, &n)) == 0) {
                char copy[128];
                memcpy(copy, k, n);
                if ((r = store_del(t, TABLE_COUNTS, copy, n)) < 0)
                        return r;
        }
        return r == -ENOENT ? 0 : r;
}

/* The per-organisation counts follow every create, department change and
 * deletion, and a store of format 2 (without them) gets them rebuilt. */
static void test_counts(void) {
        store_txn *t;
        uint32_t acme = walked("acme"), globex = walked("globex"), support = counted("acme", "support");

        CHECK(acme > 0);
        CHECK_INT(counted("acme", NULL), acme);
        CHECK_INT(counted("globex", NULL), globex);

        CHECK_INT(store_begin(acc.store, true, &t), 0);
        CHECK_INT(drop_index(t), 0);
        CHECK_INT(store_set_format(t, 2), 0);
        CHECK_INT(store_commit(t), 0);
        CHECK_INT(counted("acme", NULL), 0);

        CHECK_INT(store_migrate(acc.store), 0);
        CHECK_INT(counted("acme", NULL), acme);
        CHECK_INT(counted("globex", NULL), globex);
        CHECK_INT(counted("acme", "support"), support);
}

static void test_audit(void) {
        store_txn *t;
        int all = 0, dave = 0, globex = 0, links = 0, dave_links = 0;

        store_begin(acc.store, false, &t);
        audit_list(t, &(audit_filter) {}, count_audit, &all);
        audit_list(t, &(audit_filter) { .target = "dave" }, count_audit, &dave);
        audit_list(t, &(audit_filter) { .org = "globex" }, count_audit, &globex);
        audit_list(t, &(audit_filter) {}, count_link_audit, &links);
        audit_list(t, &(audit_filter) { .target = "dave" }, count_link_audit, &dave_links);
        store_abort(t);
        /* Every successful change above wrote one entry, refusals none;
         * and every link issued or voided one more. */
        CHECK(links > 0);
        CHECK_INT(all - links, 19);
        CHECK_INT(dave - dave_links, 9);
        CHECK_INT(globex, 4);
}

int main(void) {
        char path[256], cmd[300];
        FILE *f;

        if (!mkdtemp(dir))
                return EXIT_FAILURE;
        snprintf(path, sizeof(path), "%s/passwd", dir);
        f = fopen(path, "w");
        fprintf(f, "root:x:0:0::/root:/bin/sh\ndaemon:x:1:1::/:/bin/false\nlocal:x:200002:200002::/:/bin/false\n");
        fclose(f);
        snprintf(path, sizeof(path), "%s/group", dir);
        f = fopen(path, "w");
        fprintf(f, "root:x:0:\nstaff:x:50:\n");
        fclose(f);

        cfg.store_dir = strdup(dir);
        cfg.runtime_dir = strdup(dir);
        cfg.home_template = strdup("/home/{user}");
        cfg.shell = strdup("/bin/sh");
        cfg.uid_min = 200000;
        cfg.uid_max = 299999;
        acc.config = &cfg;
        snprintf(path, sizeof(path), "%s/store", dir);
        if (store_open(path, &acc.store) < 0)
                return EXIT_FAILURE;
        {
                char passwd[256], group[256], subuid[256];
                local_accounts *local;

                snprintf(passwd, sizeof(passwd), "%s/passwd", dir);
                snprintf(group, sizeof(group), "%s/group", dir);
                snprintf(subuid, sizeof(subuid), "%s/subuid", dir);
                f = fopen(subuid, "w");
                /* A rootless container range right after the first ids. */
                fprintf(f, "someone:200020:100\n");
                fclose(f);
                if (local_accounts_new(&(local_accounts_paths) { passwd, group, subuid, NULL }, &local) < 0)
                        return EXIT_FAILURE;
                acc.local = local;
        }

        test_lifecycle();
        test_audit();
        test_id_allocation();
        test_counts();
        test_migration();

        store_close(acc.store);
        local_accounts_free(acc.local);
        config_done(&cfg);
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
        if (system(cmd) != 0)
                fprintf(stderr, "could not remove %s\n", dir);
        return test_result("test-user");
}
