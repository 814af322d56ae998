/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Login sessions (daemon/accounts/session.c) on a real store: ids are 16
 * hex digits and unique; what was registered reads back (strings absent,
 * empty or long); listing per user (never a user whose name merely starts
 * the same) and for everybody; closing, reaping by a liveness callback (per
 * user and across users) and removing all of a user's sessions; an aborted
 * operation leaves nothing. */

#include "session.h"
#include "store.h"
#include "test-util.h"

#include <errno.h>
#include <stdlib.h>
#include <unistd.h>

static char dir[] = "/tmp/nexalix-test-session-XXXXXX";
static config cfg;
static accounts acc;

static void begin(uint64_t now, op *ret) {
        if (op_begin(&acc, 0, true, NULL, ret) < 0)
                abort();
        ret->now = now;
}

static void commit(op *o) {
        CHECK_INT(op_commit(o), 0);
        op_done(o);
}

/* What a listing saw, copied out of the map. */
typedef struct seen {
        char id[SESSION_ID_LENGTH + 1];
        char username[USERNAME_MAX + 1];
        uint32_t pid;
        uint64_t pid_start, started_at;
        char *service, *tty, *rhost;
} seen;

typedef struct listing {
        seen v[128];
        size_t n;
        int stop_after;         /* > 0: the callback returns 7 after this many */
        int fail_after;         /* > 0: the callback returns -EIO after this many */
} listing;

static int add_seen(const login_session *s, void *userdata) {
        listing *l = userdata;
        seen *e;

        if (l->n >= ELEMENTSOF(l->v))
                return -ENOBUFS;
        e = &l->v[l->n++];
        memcpy(e->id, s->id, sizeof(e->id));
        memcpy(e->username, s->username, sizeof(e->username));
        e->pid = s->pid;
        e->pid_start = s->pid_start;
        e->started_at = s->started_at;
        e->service = strdup(s->service);
        e->tty = strdup(s->tty);
        e->rhost = strdup(s->rhost);
        if (!e->service || !e->tty || !e->rhost)
                abort();
        if (l->stop_after > 0 && (int) l->n == l->stop_after)
                return 7;
        if (l->fail_after > 0 && (int) l->n == l->fail_after)
                return -EIO;
        return 0;
}

static void listing_done(listing *l) {
        for (size_t i = 0; i < l->n; i++) {
                free(l->v[i].service);
                free(l->v[i].tty);
                free(l->v[i].rhost);
        }
        l->n = 0;
}

/* Lists the sessions of username (all when NULL) in a read transaction. */
static int list(const char *username, listing *l) {
        store_txn *t;
        int r;

        listing_done(l);
        if (store_begin(acc.store, false, &t) < 0)
                abort();
        r = session_foreach(t, username, add_seen, l);
        store_abort(t);
        return r;
}

static size_t count(const char *username) {
        listing l = {};
        size_t n;

        CHECK_INT(list(username, &l), 0);
        n = l.n;
        listing_done(&l);
        return n;
}

static const seen *find(const listing *l, const char *id) {
        for (size_t i = 0; i < l->n; i++)
                if (strcmp(l->v[i].id, id) == 0)
                        return &l->v[i];
        return NULL;
}

static bool is_session_id(const char *id) {
        if (strlen(id) != SESSION_ID_LENGTH)
                return false;
        for (size_t i = 0; i < SESSION_ID_LENGTH; i++)
                if (!((id[i] >= '0' && id[i] <= '9') || (id[i] >= 'a' && id[i] <= 'f')))
                        return false;
        return true;
}

/* ---- liveness: a set of (pid, start time) pairs ---- */

static struct { uint32_t pid; uint64_t start; } alive_set[64];
static size_t n_alive;
static unsigned alive_calls;

static bool alive(uint32_t pid, uint64_t pid_start) {
        alive_calls++;
        for (size_t i = 0; i < n_alive; i++)
                if (alive_set[i].pid == pid && alive_set[i].start == pid_start)
                        return true;
        return false;
}

static void set_alive(uint32_t pid, uint64_t start) {
        if (n_alive >= ELEMENTSOF(alive_set))
                abort();
        alive_set[n_alive].pid = pid;
        alive_set[n_alive].start = start;
        n_alive++;
}

/* ---- tests ---- */

static void test_open_and_list(void) {
        char ids[40][SESSION_ID_LENGTH + 1];
        char long_service[4097], huge[UINT16_MAX]; /* the most a record's string holds */
        char id[SESSION_ID_LENGTH + 1];
        listing l = {};
        const seen *e;
        op o;

        /* Forty sessions of alice, opened in one operation. */
        begin(1700000000, &o);
        for (size_t i = 0; i < ELEMENTSOF(ids); i++) {
                memset(ids[i], 'X', sizeof(ids[i]));
                CHECK_INT(session_open(&o, "alice", (uint32_t) (1000 + i), 5000 + i, "sshd", "pts/1", "192.0.2.1",
                                       ids[i]), 0);
                CHECK(ids[i][SESSION_ID_LENGTH] == 0);
                CHECK(is_session_id(ids[i]));
                for (size_t k = 0; k < i; k++)
                        CHECK(strcmp(ids[i], ids[k]) != 0);
        }
        commit(&o);

        CHECK_INT(list("alice", &l), 0);
        CHECK_INT(l.n, ELEMENTSOF(ids));
        for (size_t i = 0; i < l.n; i++) {
                CHECK_STR(l.v[i].username, "alice");
                CHECK(is_session_id(l.v[i].id));
                /* In id order. */
                if (i > 0)
                        CHECK(strcmp(l.v[i - 1].id, l.v[i].id) < 0);
        }
        for (size_t i = 0; i < ELEMENTSOF(ids); i++) {
                e = find(&l, ids[i]);
                CHECK(e);
                if (!e)
                        continue;
                CHECK_INT(e->pid, 1000 + i);
                CHECK_INT(e->pid_start, 5000 + i);
                CHECK_INT(e->started_at, 1700000000);
                CHECK_STR(e->service, "sshd");
                CHECK_STR(e->tty, "pts/1");
                CHECK_STR(e->rhost, "192.0.2.1");
        }

        /* Strings: absent ones read as "", long ones whole. */
        memset(long_service, 's', sizeof(long_service) - 1);
        long_service[sizeof(long_service) - 1] = 0;
        memset(huge, 'h', sizeof(huge) - 1);
        huge[sizeof(huge) - 1] = 0;
        begin(1700000100, &o);
        CHECK_INT(session_open(&o, "bob", 2000, UINT64_MAX, NULL, NULL, NULL, id), 0);
        commit(&o);
        CHECK_INT(list("bob", &l), 0);
        CHECK_INT(l.n, 1);
        if (l.n == 1) {
                CHECK_STR(l.v[0].id, id);
                CHECK_STR(l.v[0].username, "bob");
                CHECK_STR(l.v[0].service, "");
                CHECK_STR(l.v[0].tty, "");
                CHECK_STR(l.v[0].rhost, "");
                CHECK_INT(l.v[0].pid, 2000);
                CHECK(l.v[0].pid_start == UINT64_MAX);
                CHECK_INT(l.v[0].started_at, 1700000100);
        }
        begin(1700000200, &o);
        CHECK_INT(session_open(&o, "bob", UINT32_MAX, 0, long_service, "", huge, id), 0);
        commit(&o);
        CHECK_INT(list("bob", &l), 0);
        CHECK_INT(l.n, 2);
        e = find(&l, id);
        CHECK(e);
        if (e) {
                CHECK(strcmp(e->service, long_service) == 0);
                CHECK_STR(e->tty, "");
                CHECK(strcmp(e->rhost, huge) == 0);
                CHECK(e->pid == UINT32_MAX);
                CHECK_INT(e->pid_start, 0);
        }
        /* A string longer than a record holds is refused, nothing stored
         * and the id left alone. */
        {
                static char too_long[UINT16_MAX + 1];
                memset(too_long, 't', sizeof(too_long) - 1);
                memset(id, 0, sizeof(id));
                begin(1700000300, &o);
                CHECK_INT(session_open(&o, "bob", 1, 1, "sshd", too_long, NULL, id), -E2BIG);
                CHECK_STR(id, "");
                commit(&o);
        }
        CHECK_INT(count("bob"), 2);

        /* A name that starts another's is its own user: "al" sees none of
         * alice's sessions, and alice none of "al"'s or "alice2"'s. */
        begin(1700000400, &o);
        CHECK_INT(session_open(&o, "al", 3000, 1, "login", "tty1", NULL, id), 0);
        CHECK_INT(session_open(&o, "alice2", 3001, 1, "login", "tty2", NULL, id), 0);
        commit(&o);
        CHECK_INT(count("al"), 1);
        CHECK_INT(count("alice2"), 1);
        CHECK_INT(count("alice"), ELEMENTSOF(ids));
        CHECK_INT(count("nobody"), 0);
        CHECK_INT(count("a"), 0);

        /* Everybody's, in (user, id) order. */
        CHECK_INT(list(NULL, &l), 0);
        CHECK_INT(l.n, ELEMENTSOF(ids) + 4);
        for (size_t i = 1; i < l.n; i++) {
                int c = strcmp(l.v[i - 1].username, l.v[i].username);
                CHECK(c < 0 || (c == 0 && strcmp(l.v[i - 1].id, l.v[i].id) < 0));
        }
        CHECK_STR(l.v[0].username, "al");
        CHECK_STR(l.v[l.n - 1].username, "bob");

        /* The callback stops the walk (its value comes back) or fails it. */
        listing_done(&l);
        l.stop_after = 3;
        CHECK_INT(list(NULL, &l), 7);
        CHECK_INT(l.n, 3);
        listing_done(&l);
        l.stop_after = 0;
        l.fail_after = 2;
        CHECK_INT(list("alice", &l), -EIO);
        CHECK_INT(l.n, 2);
        l.fail_after = 0;
        listing_done(&l);

        /* An aborted operation registers nothing. */
        begin(1700000500, &o);
        CHECK_INT(session_open(&o, "carol", 4000, 1, "sshd", NULL, NULL, id), 0);
        CHECK(is_session_id(id));
        op_abort(&o);
        CHECK_INT(count("carol"), 0);
}

static void test_close(void) {
        char id[SESSION_ID_LENGTH + 1], other[SESSION_ID_LENGTH + 1], bad[SESSION_ID_LENGTH + 1];
        listing l = {};
        op o;

        begin(1700001000, &o);
        CHECK_INT(session_open(&o, "dave", 1, 1, "sshd", NULL, NULL, id), 0);
        CHECK_INT(session_open(&o, "erin", 2, 2, "sshd", NULL, NULL, other), 0);
        commit(&o);

        begin(1700001001, &o);
        /* Unknown ids, an id of another user, ids of the wrong length, an
         * overlong name: -ENOENT, nothing removed. */
        snprintf(bad, sizeof(bad), "%s", id);
        bad[0] = bad[0] == '0' ? '1' : '0';
        CHECK_INT(session_close(&o, "dave", bad), -ENOENT);
        CHECK_INT(session_close(&o, "dave", "0000000000000000"), -ENOENT);
        CHECK_INT(session_close(&o, "dave", other), -ENOENT);
        CHECK_INT(session_close(&o, "erin", id), -ENOENT);
        CHECK_INT(session_close(&o, "nobody", id), -ENOENT);
        CHECK_INT(session_close(&o, "dave", ""), -ENOENT);
        CHECK_INT(session_close(&o, "dave", "0123"), -ENOENT);
        snprintf(bad, sizeof(bad), "%.15s", id);
        CHECK_INT(session_close(&o, "dave", bad), -ENOENT);
        {
                char longer[SESSION_ID_LENGTH + 2];
                snprintf(longer, sizeof(longer), "%s0", id);
                CHECK_INT(session_close(&o, "dave", longer), -ENOENT);
        }
        CHECK_INT(session_close(&o, "dave-with-a-name-longer-than-any-user", id), -ENOENT);
        commit(&o);
        CHECK_INT(count("dave"), 1);
        CHECK_INT(count("erin"), 1);

        begin(1700001002, &o);
        CHECK_INT(session_close(&o, "dave", id), 0);
        CHECK_INT(session_close(&o, "dave", id), -ENOENT);
        commit(&o);
        CHECK_INT(count("dave"), 0);
        CHECK_INT(list("erin", &l), 0);
        CHECK_INT(l.n, 1);
        if (l.n == 1)
                CHECK_STR(l.v[0].id, other);
        listing_done(&l);

        /* An aborted close keeps the session. */
        begin(1700001003, &o);
        CHECK_INT(session_close(&o, "erin", other), 0);
        op_abort(&o);
        CHECK_INT(count("erin"), 1);
        begin(1700001004, &o);
        CHECK_INT(session_close(&o, "erin", other), 0);
        commit(&o);
        CHECK_INT(count("erin"), 0);
}

static void test_reap(void) {
        char id[SESSION_ID_LENGTH + 1];
        listing l = {};
        unsigned reaped;
        size_t before;
        op o;

        /* frank: pids 10..15, of which 10, 12, 14 alive; 11 alive with
         * another start time (a reused pid). grace: pids 20..23, 21 alive. */
        n_alive = 0;
        set_alive(10, 100);
        set_alive(12, 120);
        set_alive(14, 140);
        set_alive(11, 999);
        set_alive(21, 210);
        begin(1700002000, &o);
        for (uint32_t pid = 10; pid <= 15; pid++)
                CHECK_INT(session_open(&o, "frank", pid, pid * 10, "sshd", NULL, NULL, id), 0);
        for (uint32_t pid = 20; pid <= 23; pid++)
                CHECK_INT(session_open(&o, "grace", pid, pid * 10, "login", NULL, NULL, id), 0);
        commit(&o);

        /* Per user: only frank's dead ones go. */
        begin(1700002001, &o);
        reaped = 12345;
        alive_calls = 0;
        CHECK_INT(session_reap(&o, "frank", alive, &reaped), 0);
        CHECK_INT(reaped, 3);
        CHECK_INT(alive_calls, 6);
        commit(&o);
        CHECK_INT(list("frank", &l), 0);
        CHECK_INT(l.n, 3);
        for (size_t i = 0; i < l.n; i++)
                CHECK(alive(l.v[i].pid, l.v[i].pid_start));
        listing_done(&l);
        CHECK_INT(count("grace"), 4);

        /* Nothing to reap: 0. */
        begin(1700002002, &o);
        reaped = 12345;
        CHECK_INT(session_reap(&o, "frank", alive, &reaped), 0);
        CHECK_INT(reaped, 0);
        CHECK_INT(session_reap(&o, "nobody", alive, &reaped), 0);
        CHECK_INT(reaped, 0);
        commit(&o);

        /* An aborted reap removes nothing. */
        n_alive = 0;
        begin(1700002003, &o);
        CHECK_INT(session_reap(&o, "frank", alive, &reaped), 0);
        CHECK_INT(reaped, 3);
        op_abort(&o);
        CHECK_INT(count("frank"), 3);

        /* Across users (NULL): every dead session of everybody. frank's 12
         * has died meanwhile. */
        set_alive(10, 100);
        set_alive(14, 140);
        set_alive(21, 210);
        before = count(NULL);
        CHECK(before > 7);      /* the earlier tests' sessions, all dead */
        begin(1700002004, &o);
        CHECK_INT(session_reap(&o, NULL, alive, &reaped), 0);
        CHECK_INT(reaped, before - 3);
        commit(&o);
        CHECK_INT(list(NULL, &l), 0);
        CHECK_INT(l.n, 3);
        for (size_t i = 0; i < l.n; i++)
                CHECK(alive(l.v[i].pid, l.v[i].pid_start));
        listing_done(&l);
        CHECK_INT(count("frank"), 2);
        CHECK_INT(count("grace"), 1);

        /* ret_reaped may be NULL. */
        n_alive = 0;
        begin(1700002005, &o);
        CHECK_INT(session_reap(&o, "grace", alive, NULL), 0);
        commit(&o);
        CHECK_INT(count("grace"), 0);
        CHECK_INT(count("frank"), 2);
}

static void test_remove_all(void) {
        char id[SESSION_ID_LENGTH + 1];
        op o;

        begin(1700003000, &o);
        for (uint32_t i = 0; i < 5; i++) {
                CHECK_INT(session_open(&o, "heidi", 100 + i, 1, "sshd", NULL, NULL, id), 0);
                CHECK_INT(session_open(&o, "ivan", 200 + i, 1, "sshd", NULL, NULL, id), 0);
        }
        commit(&o);
        CHECK_INT(count("heidi"), 5);
        CHECK_INT(count("ivan"), 5);

        /* Alive or not, every session of heidi goes; ivan's stay. */
        n_alive = 0;
        for (uint32_t i = 0; i < 5; i++)
                set_alive(100 + i, 1);
        alive_calls = 0;
        begin(1700003001, &o);
        CHECK_INT(session_remove_all(&o, "heidi"), 0);
        commit(&o);
        CHECK_INT(alive_calls, 0);
        CHECK_INT(count("heidi"), 0);
        CHECK_INT(count("ivan"), 5);

        /* A user without sessions: no error. */
        begin(1700003002, &o);
        CHECK_INT(session_remove_all(&o, "heidi"), 0);
        CHECK_INT(session_remove_all(&o, "nobody"), 0);
        CHECK_INT(session_remove_all(&o, "ivan"), 0);
        commit(&o);
        CHECK_INT(count("ivan"), 0);
}

int main(void) {
        char path[256], cmd[300];

        if (!mkdtemp(dir))
                return EXIT_FAILURE;
        cfg.store_dir = strdup(dir);
        cfg.runtime_dir = strdup(dir);
        acc.config = &cfg;
        snprintf(path, sizeof(path), "%s/store", dir);
        if (store_open(path, &acc.store) < 0)
                return EXIT_FAILURE;

        test_open_and_list();
        test_close();
        test_reap();
        test_remove_all();

        store_close(acc.store);
        config_done(&cfg);
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
        if (system(cmd) != 0)
                fprintf(stderr, "could not remove %s\n", dir);
        return test_result("test-session");
}
