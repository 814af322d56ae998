/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The worker pool's promises: work on another thread, done on the caller's
 * and only from worker_pool_dispatch(), each exactly once, the eventfd as
 * the signal, and nothing lost when the pool is freed. */

#include "test-util.h"
#include "worker.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <time.h>
#include <unistd.h>

#include "event-loop.h"

typedef struct counters {
        atomic_uint work_runs;
        unsigned done_runs;             /* only ever touched on the main thread */
        unsigned done_off_thread;       /* done() calls not on the main thread */
        unsigned done_before_work;      /* done() calls before their work() */
} counters;

typedef struct job_data {
        counters *c;
        pthread_t work_thread;
        atomic_bool worked;
        unsigned done_calls;
        unsigned sleep_usec;
} job_data;

static pthread_t main_thread;

static void job_work(void *userdata) {
        job_data *d = userdata;

        if (d->sleep_usec)
                usleep(d->sleep_usec);
        d->work_thread = pthread_self();
        atomic_store(&d->worked, true);
        atomic_fetch_add(&d->c->work_runs, 1);
}

static void job_done(void *userdata) {
        job_data *d = userdata;

        if (!pthread_equal(pthread_self(), main_thread))
                d->c->done_off_thread++;
        if (!atomic_load(&d->worked))
                d->c->done_before_work++;
        d->done_calls++;
        d->c->done_runs++;
}

/* Waits for the pool's fd to become readable; false on timeout. */
static bool wait_readable(worker_pool *p, int timeout_msec) {
        struct pollfd pfd = { .fd = worker_pool_fd(p), .events = POLLIN };

        return poll(&pfd, 1, timeout_msec) == 1 && (pfd.revents & POLLIN);
}

static void test_bad_input(void) {
        worker_pool *p = NULL;
        counters c = {};
        job_data d = { .c = &c };

        /* With no thread a job would never run. */
        CHECK_INT(worker_pool_new(0, &p), -EINVAL);
        CHECK(!p);

        CHECK_INT(worker_pool_new(1, &p), 0);
        if (!p)
                return;
        CHECK_INT(worker_pool_submit(p, NULL, job_done, &d), -EINVAL);
        CHECK_INT(worker_pool_submit(p, job_work, NULL, &d), -EINVAL);
        /* Nothing was queued: nothing runs, not even at free. */
        CHECK(!wait_readable(p, 50));
        worker_pool_dispatch(p);
        worker_pool_free(p);
        CHECK_INT(atomic_load(&c.work_runs), 0);
        CHECK_INT(c.done_runs, 0);

        CHECK(!worker_pool_free(NULL));
}

static void test_one_job(void) {
        worker_pool *p = NULL;
        counters c = {};
        job_data d = { .c = &c };

        CHECK_INT(worker_pool_new(2, &p), 0);
        if (!p)
                return;
        CHECK(worker_pool_fd(p) >= 0);
        /* Nothing to report yet. */
        CHECK(!wait_readable(p, 0));

        CHECK_INT(worker_pool_submit(p, job_work, job_done, &d), 0);
        CHECK(wait_readable(p, 2000));
        /* The work ran, on a worker; done waits for dispatch. */
        CHECK(atomic_load(&d.worked));
        CHECK(!pthread_equal(d.work_thread, main_thread));
        CHECK_INT(d.done_calls, 0);

        worker_pool_dispatch(p);
        CHECK_INT(d.done_calls, 1);
        CHECK_INT(c.done_off_thread, 0);
        CHECK_INT(c.done_before_work, 0);

        /* Dispatched once; the fd is quiet again and a second dispatch runs
         * nothing twice. */
        CHECK(!wait_readable(p, 0));
        worker_pool_dispatch(p);
        CHECK_INT(d.done_calls, 1);

        worker_pool_free(p);
        CHECK_INT(d.done_calls, 1);
        CHECK_INT(atomic_load(&c.work_runs), 1);
}

static void test_many_jobs(void) {
        enum { N = 1000 };
        static job_data d[N];
        worker_pool *p = NULL;
        counters c = {};
        uint64_t deadline;
        bool ok = true;

        CHECK_INT(worker_pool_new(4, &p), 0);
        if (!p)
                return;
        for (size_t i = 0; i < N; i++) {
                d[i] = (job_data) { .c = &c };
                CHECK_INT(worker_pool_submit(p, job_work, job_done, &d[i]), 0);
        }

        deadline = now_usec() + 2000000;
        while (c.done_runs < N && now_usec() < deadline)
                if (wait_readable(p, 100))
                        worker_pool_dispatch(p);
        CHECK_INT(c.done_runs, N);
        CHECK_INT(atomic_load(&c.work_runs), N);
        CHECK_INT(c.done_off_thread, 0);
        CHECK_INT(c.done_before_work, 0);
        for (size_t i = 0; i < N; i++)
                if (d[i].done_calls != 1 || pthread_equal(d[i].work_thread, main_thread))
                        ok = false;
        CHECK(ok);

        worker_pool_free(p);
        CHECK_INT(c.done_runs, N);
}

static void test_free_with_queued_jobs(void) {
        enum { N = 100 };
        static job_data d[N];
        worker_pool *p = NULL;
        counters c = {};
        bool ok = true;

        /* One thread and slow jobs: most are still queued at free. */
        CHECK_INT(worker_pool_new(1, &p), 0);
        if (!p)
                return;
        for (size_t i = 0; i < N; i++) {
                d[i] = (job_data) { .c = &c, .sleep_usec = 500 };
                CHECK_INT(worker_pool_submit(p, job_work, job_done, &d[i]), 0);
        }
        CHECK(atomic_load(&c.work_runs) < N);
        CHECK_INT(c.done_runs, 0);

        worker_pool_free(p);
        CHECK_INT(atomic_load(&c.work_runs), N);
        CHECK_INT(c.done_runs, N);
        CHECK_INT(c.done_off_thread, 0);
        CHECK_INT(c.done_before_work, 0);
        for (size_t i = 0; i < N; i++)
                if (d[i].done_calls != 1)
                        ok = false;
        CHECK(ok);
}

int main(void) {
        main_thread = pthread_self();

        test_bad_input();
        test_one_job();
        test_many_jobs();
        test_free_with_queued_jobs();
        return test_result("test-worker");
}
