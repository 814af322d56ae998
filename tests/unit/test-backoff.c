/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The failed-login counter (daemon/accounts/backoff.c) on a real store, at
 * times the test sets: BACKOFF_FREE_FAILURES failures cost nothing, then
 * each failure backs off for twice as long as the one before, from
 * BACKOFF_FIRST_SECONDS up to BACKOFF_MAX_SECONDS; a pause of
 * BACKOFF_FORGET_SECONDS or a success starts over; users do not affect each
 * other; a failure whose transaction is aborted never happened. */

#include "backoff.h"
#include "store.h"
#include "test-util.h"

#include <errno.h>
#include <stdlib.h>
#include <unistd.h>

static char dir[] = "/tmp/nexalix-test-backoff-XXXXXX";
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

/* One failure at now, committed; the record it returns. */
static backoff fail(const char *user, uint64_t now) {
        backoff b = { 0xdead, 0xdead, 0xdead };
        op o;

        begin(now, &o);
        CHECK_INT(backoff_record_failure(&o, user, &b), 0);
        commit(&o);
        return b;
}

/* n failures at now in one transaction (each commit costs a sync). */
static backoff fail_n(const char *user, uint64_t now, unsigned n) {
        backoff b = { 0xdead, 0xdead, 0xdead };
        op o;

        begin(now, &o);
        for (unsigned i = 0; i < n; i++)
                CHECK_INT(backoff_record_failure(&o, user, &b), 0);
        commit(&o);
        return b;
}

/* The record as a read transaction sees it at now. */
static backoff get(const char *user, uint64_t now) {
        backoff b = { 0xdead, 0xdead, 0xdead };
        store_txn *t;

        if (store_begin(acc.store, false, &t) < 0)
                abort();
        CHECK_INT(backoff_get(t, now, user, &b), 0);
        store_abort(t);
        return b;
}

static void clear(const char *user, uint64_t now) {
        op o;

        begin(now, &o);
        CHECK_INT(backoff_clear(&o, user), 0);
        commit(&o);
}

/* The back-off the n-th failure in a row earns. */
static uint64_t expected_seconds(uint32_t n) {
        uint64_t s = BACKOFF_FIRST_SECONDS;

        if (n <= BACKOFF_FREE_FAILURES)
                return 0;
        for (uint32_t i = BACKOFF_FREE_FAILURES + 1; i < n && s < BACKOFF_MAX_SECONDS; i++)
                s *= 2;
        return s < BACKOFF_MAX_SECONDS ? s : BACKOFF_MAX_SECONDS;
}

static void test_sequence(void) {
        static const uint64_t seconds[] = { 0, 0, 0, 0, 15, 30, 60, 120, 240, 480, 900, 900, 900 };
        uint64_t now = 1000000;
        backoff b;

        b = get("alice", now);
        CHECK_INT(b.failures, 0);
        CHECK_INT(b.last_failure, 0);
        CHECK_INT(b.until, 0);

        /* The free failures, then 15 s doubling to the cap, each failure
         * arriving when the previous back-off has just ended. */
        for (uint32_t i = 1; i <= ELEMENTSOF(seconds); i++) {
                CHECK_INT(expected_seconds(i), seconds[i - 1]);
                b = fail("alice", now);
                CHECK_INT(b.failures, i);
                CHECK_INT(b.last_failure, now);
                CHECK_INT(b.until, seconds[i - 1] ? now + seconds[i - 1] : 0);
                b = get("alice", now);
                CHECK_INT(b.failures, i);
                CHECK_INT(b.last_failure, now);
                CHECK_INT(b.until, seconds[i - 1] ? now + seconds[i - 1] : 0);
                now += seconds[i - 1] + 1;
        }

        /* A failure while backed off (a caller that records it anyway)
         * counts and restarts the clock from now. */
        b = fail("alice", now + 1);
        CHECK_INT(b.failures, ELEMENTSOF(seconds) + 1);
        CHECK_INT(b.until, now + 1 + BACKOFF_MAX_SECONDS);
        CHECK_INT(b.until, now + 1 + 900);

        /* Success: gone. */
        clear("alice", now + 2);
        b = get("alice", now + 2);
        CHECK_INT(b.failures, 0);
        CHECK_INT(b.until, 0);
        b = fail("alice", now + 3);
        CHECK_INT(b.failures, 1);
        CHECK_INT(b.until, 0);
        clear("alice", now + 4);
        /* Clearing a user without failures is no error. */
        clear("alice", now + 5);
        clear("nobody", now + 5);
}

/* Many failures in a row, in quick succession: the back-off stays at the
 * cap (no shift past 64 bits, no wrap to a short back-off). */
static void test_cap(void) {
        uint64_t now = 2000000;
        backoff b;
        op o;

        /* In one transaction: each failure reads what the one before wrote. */
        begin(now, &o);
        for (uint32_t i = 1; i <= 100; i++) {
                o.now = now += 7;
                CHECK_INT(backoff_record_failure(&o, "bob", &b), 0);
                CHECK_INT(b.failures, i);
                CHECK_INT(b.until, i > BACKOFF_FREE_FAILURES ? now + expected_seconds(i) : 0);
                if (i >= BACKOFF_FREE_FAILURES + 7)
                        CHECK_INT(b.until, now + BACKOFF_MAX_SECONDS);
        }
        commit(&o);
        b = get("bob", now);
        CHECK_INT(b.failures, 100);
        CHECK_INT(b.until, now + BACKOFF_MAX_SECONDS);

        /* A huge clock value does not change the arithmetic. */
        now = UINT64_C(1) << 62;
        b = fail("bob", now);
        CHECK_INT(b.failures, 1);       /* the last failure is long forgotten */
        b = fail_n("bob", now, 29);
        CHECK_INT(b.failures, 30);
        CHECK_INT(b.until, now + BACKOFF_MAX_SECONDS);
        clear("bob", now);
}

static void test_forget(void) {
        uint64_t t = 3000000;
        backoff b;

        b = fail_n("carol", t, 6);
        CHECK_INT(b.failures, 6);
        CHECK_INT(b.until, t + 30);

        /* Still there one second before the hour is up, and while the
         * back-off runs. */
        b = get("carol", t + 10);
        CHECK_INT(b.failures, 6);
        CHECK_INT(b.until, t + 30);
        b = get("carol", t + BACKOFF_FORGET_SECONDS - 1);
        CHECK_INT(b.failures, 6);
        CHECK_INT(b.last_failure, t);
        CHECK_INT(b.until, t + 30);
        /* An earlier clock (set back) forgets nothing. */
        b = get("carol", t - 5000);
        CHECK_INT(b.failures, 6);

        /* Forgotten after an hour without failures. */
        b = get("carol", t + BACKOFF_FORGET_SECONDS);
        CHECK_INT(b.failures, 0);
        CHECK_INT(b.last_failure, 0);
        CHECK_INT(b.until, 0);

        /* The next failure starts over at one, free, with no back-off left
         * over from before. */
        b = fail("carol", t + BACKOFF_FORGET_SECONDS);
        CHECK_INT(b.failures, 1);
        CHECK_INT(b.last_failure, t + BACKOFF_FORGET_SECONDS);
        CHECK_INT(b.until, 0);

        /* A failure within the hour keeps the count going: the hour runs
         * from the last failure, not the first. */
        t += BACKOFF_FORGET_SECONDS;
        for (int i = 2; i <= 5; i++) {
                t += BACKOFF_FORGET_SECONDS - 1;
                b = fail("carol", t);
                CHECK_INT(b.failures, i);
        }
        CHECK_INT(b.until, t + BACKOFF_FIRST_SECONDS);
        /* Once forgotten after the cap was reached, the count starts at 1. */
        b = fail_n("carol", t, 15);
        CHECK_INT(b.until, t + BACKOFF_MAX_SECONDS);
        b = get("carol", t + BACKOFF_MAX_SECONDS);
        CHECK_INT(b.failures, 20);
        b = get("carol", t + BACKOFF_FORGET_SECONDS);
        CHECK_INT(b.failures, 0);
        b = fail("carol", t + BACKOFF_FORGET_SECONDS + 1);
        CHECK_INT(b.failures, 1);
        CHECK_INT(b.until, 0);
        clear("carol", t);
}

static void test_independent(void) {
        uint64_t t = 4000000;
        backoff b;

        fail_n("dave", t, 8);
        b = get("dave", t);
        CHECK_INT(b.failures, 8);
        CHECK_INT(b.until, t + 120);

        /* Other users, including names that share a prefix, are untouched. */
        b = get("erin", t);
        CHECK_INT(b.failures, 0);
        CHECK_INT(b.until, 0);
        b = get("dav", t);
        CHECK_INT(b.failures, 0);
        b = get("dave2", t);
        CHECK_INT(b.failures, 0);
        b = fail("erin", t);
        CHECK_INT(b.failures, 1);
        CHECK_INT(b.until, 0);
        b = fail("dave2", t);
        CHECK_INT(b.failures, 1);

        /* Clearing one leaves the others. */
        clear("erin", t);
        b = get("dave", t);
        CHECK_INT(b.failures, 8);
        b = get("dave2", t);
        CHECK_INT(b.failures, 1);
        clear("dave", t);
        b = get("dave", t);
        CHECK_INT(b.failures, 0);
        b = get("dave2", t);
        CHECK_INT(b.failures, 1);
        clear("dave2", t);
}

/* A failure counts only once its transaction commits; within the
 * transaction, later reads see it. */
static void test_transactions(void) {
        uint64_t t = 5000000;
        backoff b;
        op o;

        fail_n("frank", t, 4);

        begin(t, &o);
        CHECK_INT(backoff_record_failure(&o, "frank", &b), 0);
        CHECK_INT(b.failures, 5);
        CHECK_INT(b.until, t + 15);
        CHECK_INT(backoff_get(o.txn, o.now, "frank", &b), 0);
        CHECK_INT(b.failures, 5);
        CHECK_INT(backoff_record_failure(&o, "frank", NULL), 0);
        CHECK_INT(backoff_get(o.txn, o.now, "frank", &b), 0);
        CHECK_INT(b.failures, 6);
        op_abort(&o);

        b = get("frank", t);
        CHECK_INT(b.failures, 4);
        CHECK_INT(b.until, 0);

        /* An aborted clear does not forgive either. */
        begin(t, &o);
        CHECK_INT(backoff_clear(&o, "frank"), 0);
        CHECK_INT(backoff_get(o.txn, o.now, "frank", &b), 0);
        CHECK_INT(b.failures, 0);
        op_abort(&o);
        b = get("frank", t);
        CHECK_INT(b.failures, 4);

        /* Committed with a NULL record pointer. */
        begin(t + 1, &o);
        CHECK_INT(backoff_record_failure(&o, "frank", NULL), 0);
        commit(&o);
        b = get("frank", t + 1);
        CHECK_INT(b.failures, 5);
        CHECK_INT(b.last_failure, t + 1);
        CHECK_INT(b.until, t + 1 + 15);
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

        test_sequence();
        test_cap();
        test_forget();
        test_independent();
        test_transactions();

        store_close(acc.store);
        config_done(&cfg);
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
        if (system(cmd) != 0)
                fprintf(stderr, "could not remove %s\n", dir);
        return test_result("test-backoff");
}
