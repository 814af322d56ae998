/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The daemon's event loop: io, timers and prepare callbacks fire when they
 * should and not otherwise, sources may go away from inside any callback,
 * and the loop ends with the code or error it was given. Timing checks have
 * a generous upper bound so that a loaded machine does not fail them. */

#include "test-util.h"
#include "event-loop.h"
#include "macro.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/timerfd.h>
#include <unistd.h>

#define MSEC 1000ull
#define SLACK (1000 * MSEC)

typedef struct state {
        event_loop *loop;
        event_source *self, *other;
        unsigned calls, other_calls, prepare_calls;
        unsigned prepare_seen[8];       /* prepare_calls at each timer call */
        uint64_t at, deadline, period;
        int exit_code;
        int fail_with;
        int fd;
} state;

static void pipe_or_die(int fds[2]) {
        if (pipe2(fds, O_CLOEXEC | O_NONBLOCK) < 0) {
                perror("pipe2");
                exit(EXIT_FAILURE);
        }
}

/* Ends the loop with st->exit_code: the end of a test step whose sources
 * must fire a given number of times, or never. */
static int on_exit_timer(event_source *s, uint64_t now, void *userdata) {
        state *st = userdata;

        st->calls++;
        event_loop_exit(st->loop, st->exit_code);
        return 0;
}

static int on_fail_timer(event_source *s, uint64_t now, void *userdata) {
        CHECK(!"a timer fired that must not");
        event_loop_exit(userdata, -ETIME);
        return 0;
}

/* Ends a test that would otherwise hang with a failure, not a timeout. */
static event_source *add_watchdog(event_loop *l) {
        event_source *s = NULL;

        CHECK_INT(event_add_time(l, now_usec() + 2 * SLACK, on_fail_timer, l, &s), 0);
        return s;
}

static int on_read_exit(event_source *s, int fd, uint32_t revents, void *userdata) {
        state *st = userdata;
        char c;

        CHECK(revents & POLLIN);
        CHECK_INT(fd, st->fd);
        CHECK_INT(read(fd, &c, 1), 1);
        st->calls++;
        st->at = now_usec();
        event_loop_exit(st->loop, st->exit_code);
        return 0;
}

static int on_write_timer(event_source *s, uint64_t now, void *userdata) {
        state *st = userdata;

        CHECK_INT(write(st->fd, "x", 1), 1);
        return 0;
}

static void test_io(void) {
        event_loop *l = NULL;
        event_source *io = NULL, *w;
        int fds[2];
        state st = { .exit_code = 42 }, writer = {};
        uint64_t t0;

        CHECK_INT(event_loop_new(&l), 0);
        if (!l)
                return;
        pipe_or_die(fds);
        st.loop = l;
        st.fd = fds[0];
        w = add_watchdog(l);

        /* Already readable: fires at once. */
        CHECK_INT(write(fds[1], "x", 1), 1);
        CHECK_INT(event_add_io(l, fds[0], POLLIN, on_read_exit, &st, &io), 0);
        CHECK(io);
        CHECK_INT(event_loop_run(l), 42);
        CHECK_INT(st.calls, 1);

        /* Readable only once a timer writes: fires then, not before. */
        writer.fd = fds[1];
        t0 = now_usec();
        CHECK_INT(event_add_time(l, t0 + 20 * MSEC, on_write_timer, &writer, NULL), 0);
        st.exit_code = 0;
        CHECK_INT(event_loop_run(l), 0);
        CHECK_INT(st.calls, 2);
        CHECK(st.at >= t0 + 20 * MSEC);
        CHECK(st.at < t0 + SLACK);

        /* Not readable, no POLLIN asked: never called. */
        CHECK_INT(event_source_set_io_events(io, 0), 0);
        CHECK_INT(write(fds[1], "x", 1), 1);
        st.exit_code = 5;
        CHECK_INT(event_add_time(l, now_usec() + 30 * MSEC, on_exit_timer, &st, NULL), 0);
        CHECK_INT(event_loop_run(l), 5);
        CHECK_INT(st.calls, 3);         /* the exit timer, not the io source */

        event_source_free(io);
        event_source_free(w);
        event_loop_free(l);
        close(fds[0]);
        close(fds[1]);
}

static int on_timer(event_source *s, uint64_t now, void *userdata) {
        state *st = userdata;

        st->calls++;
        st->at = now_usec();
        CHECK(now >= st->deadline);
        CHECK(st->at >= st->deadline);
        if (st->other_calls != 0)
                CHECK(!"the later timer fired first");
        if (st->period && st->calls < 5) {
                st->deadline = now + st->period;
                CHECK_INT(event_source_set_time(s, st->deadline), 0);
        } else if (st->period)
                event_loop_exit(st->loop, 0);
        return 0;
}

static int on_later_timer(event_source *s, uint64_t now, void *userdata) {
        state *st = userdata;

        st->other_calls++;
        event_loop_exit(st->loop, 0);
        return 0;
}

static void test_timer(void) {
        event_loop *l = NULL;
        event_source *early = NULL, *later = NULL, *disarmed = NULL, *w;
        state st = {};
        uint64_t t0;

        CHECK_INT(event_loop_new(&l), 0);
        if (!l)
                return;
        st.loop = l;
        w = add_watchdog(l);

        /* 20 ms, then 60 ms: in order, each after its deadline. */
        t0 = now_usec();
        st.deadline = t0 + 20 * MSEC;
        CHECK_INT(event_add_time(l, t0 + 60 * MSEC, on_later_timer, &st, &later), 0);
        CHECK_INT(event_add_time(l, st.deadline, on_timer, &st, &early), 0);
        /* 0: disarmed, never fires. */
        CHECK_INT(event_add_time(l, 0, on_fail_timer, l, &disarmed), 0);
        CHECK_INT(event_loop_run(l), 0);
        CHECK_INT(st.calls, 1);
        CHECK_INT(st.other_calls, 1);
        CHECK(st.at >= t0 + 20 * MSEC);
        CHECK(now_usec() >= t0 + 60 * MSEC);
        CHECK(now_usec() < t0 + SLACK);
        event_source_free(later);

        /* One-shot: it does not fire again by itself. */
        st.exit_code = 9;
        CHECK_INT(event_add_time(l, now_usec() + 50 * MSEC, on_exit_timer, &st, NULL), 0);
        CHECK_INT(event_loop_run(l), 9);
        CHECK_INT(st.calls, 2);         /* the exit timer's */

        /* Re-armed from its callback, it repeats: 5 times 10 ms. */
        st = (state) { .loop = l, .period = 10 * MSEC };
        t0 = now_usec();
        st.deadline = t0 + 10 * MSEC;
        CHECK_INT(event_source_set_time(early, st.deadline), 0);
        CHECK_INT(event_loop_run(l), 0);
        CHECK_INT(st.calls, 5);
        CHECK(st.at >= t0 + 50 * MSEC);
        CHECK(st.at < t0 + SLACK);

        /* A deadline in the past fires at once. */
        st = (state) { .loop = l, .deadline = 1 };
        CHECK_INT(event_source_set_time(early, 1), 0);
        CHECK_INT(event_add_time(l, now_usec() + 30 * MSEC, on_later_timer, &st, &later), 0);
        CHECK_INT(event_loop_run(l), 0);
        CHECK_INT(st.calls, 1);

        event_source_free(later);
        event_source_free(early);
        event_source_free(disarmed);
        event_source_free(w);
        event_loop_free(l);
}

static int on_prepare(event_source *s, void *userdata) {
        state *st = userdata;

        st->prepare_calls++;
        return 0;
}

static int on_counting_timer(event_source *s, uint64_t now, void *userdata) {
        state *st = userdata;

        if (st->calls < ELEMENTSOF(st->prepare_seen))
                st->prepare_seen[st->calls] = st->prepare_calls;
        st->calls++;
        if (st->calls < 4)
                CHECK_INT(event_source_set_time(s, now + 5 * MSEC), 0);
        else
                event_loop_exit(st->loop, 0);
        return 0;
}

static int on_prepare_exit(event_source *s, void *userdata) {
        state *st = userdata;

        st->prepare_calls++;
        event_loop_exit(st->loop, 77);
        return 0;
}

static int on_prepare_free_self(event_source *s, void *userdata) {
        state *st = userdata;

        st->prepare_calls++;
        event_source_free(s);
        return 0;
}

static void test_prepare(void) {
        event_loop *l = NULL;
        event_source *prepare = NULL, *timer = NULL, *w;
        state st = {};

        CHECK_INT(event_loop_new(&l), 0);
        if (!l)
                return;
        st.loop = l;
        w = add_watchdog(l);

        /* Each wait is preceded by the prepare callbacks: before every timer
         * call, at least one more prepare call. */
        CHECK_INT(event_add_prepare(l, on_prepare, &st, &prepare), 0);
        CHECK_INT(event_add_time(l, now_usec() + 5 * MSEC, on_counting_timer, &st, &timer), 0);
        CHECK_INT(event_loop_run(l), 0);
        CHECK_INT(st.calls, 4);
        CHECK(st.prepare_seen[0] >= 1);
        for (unsigned i = 1; i < 4; i++)
                CHECK(st.prepare_seen[i] > st.prepare_seen[i - 1]);
        event_source_free(prepare);

        /* Exiting from a prepare callback ends the loop before it waits:
         * nothing else would wake it before the watchdog. */
        st = (state) { .loop = l };
        CHECK_INT(event_add_prepare(l, on_prepare_exit, &st, &prepare), 0);
        CHECK_INT(event_loop_run(l), 77);
        CHECK_INT(st.prepare_calls, 1);
        CHECK_INT(event_loop_run(l), 77);
        CHECK_INT(st.prepare_calls, 2);
        event_source_free(prepare);

        /* A prepare source that frees itself runs once, though the loop
         * goes round several times. */
        st = (state) { .loop = l };
        CHECK_INT(event_add_prepare(l, on_prepare_free_self, &st, NULL), 0);
        CHECK_INT(event_source_set_time(timer, now_usec() + 5 * MSEC), 0);
        CHECK_INT(event_loop_run(l), 0);
        CHECK_INT(st.calls, 4);
        CHECK_INT(st.prepare_calls, 1);

        event_source_free(timer);
        event_source_free(w);
        event_loop_free(l);
}

/* Two sources, each of which frees the other when it runs first. */
typedef struct pair {
        event_source *src[2];
        unsigned calls[2];
        int fd[2];
} pair;

typedef struct pair_ref {
        pair *p;
        unsigned i;
} pair_ref;

static void pair_fire(pair_ref *ref) {
        pair *p = ref->p;

        p->calls[ref->i]++;
        p->src[!ref->i] = event_source_free(p->src[!ref->i]);
}

static int on_pair_io(event_source *s, int fd, uint32_t revents, void *userdata) {
        char c;

        (void) read(fd, &c, 1);
        pair_fire(userdata);
        return 0;
}

static int on_pair_timer(event_source *s, uint64_t now, void *userdata) {
        pair_fire(userdata);
        return 0;
}

static int on_io_free_self(event_source *s, int fd, uint32_t revents, void *userdata) {
        state *st = userdata;

        /* The byte stays: if the source were still there, it would be
         * called again at once. */
        st->calls++;
        event_source_free(s);
        return 0;
}

static int on_io_free_timer(event_source *s, int fd, uint32_t revents, void *userdata) {
        state *st = userdata;
        char c;

        CHECK_INT(read(fd, &c, 1), 1);
        st->calls++;
        st->other = event_source_free(st->other);
        return 0;
}

static int on_count_timer(event_source *s, uint64_t now, void *userdata) {
        state *st = userdata;

        st->other_calls++;
        return 0;
}

static int on_timer_adds(event_source *s, uint64_t now, void *userdata) {
        state *st = userdata;

        /* Enough new sources that the loop's array must grow while the loop
         * walks it; the source running now goes away too. */
        for (unsigned i = 0; i < 64; i++)
                CHECK_INT(event_add_time(st->loop, now, on_count_timer, st, NULL), 0);
        st->calls++;
        event_source_free(s);
        return 0;
}

static void test_free_from_callbacks(void) {
        event_loop *l = NULL;
        event_source *w, *exit_timer = NULL;
        state st = {}, ex = {};
        pair p = {};
        pair_ref refs[2] = { { &p, 0 }, { &p, 1 } };
        int a[2], b[2];

        CHECK_INT(event_loop_new(&l), 0);
        if (!l)
                return;
        pipe_or_die(a);
        pipe_or_die(b);
        st.loop = ex.loop = l;
        w = add_watchdog(l);
        CHECK_INT(event_add_time(l, 0, on_exit_timer, &ex, &exit_timer), 0);

        /* From its own callback. */
        st.fd = a[0];
        CHECK_INT(write(a[1], "x", 1), 1);
        CHECK_INT(event_add_io(l, a[0], POLLIN, on_io_free_self, &st, NULL), 0);
        CHECK_INT(event_source_set_time(exit_timer, now_usec() + 30 * MSEC), 0);
        CHECK_INT(event_loop_run(l), 0);
        CHECK_INT(st.calls, 1);
        CHECK(read(a[0], (char[1]) {}, 1) == 1);

        /* From the callback of another io source ready in the same wait. */
        CHECK_INT(write(a[1], "x", 1), 1);
        CHECK_INT(write(b[1], "x", 1), 1);
        CHECK_INT(event_add_io(l, a[0], POLLIN, on_pair_io, &refs[0], &p.src[0]), 0);
        CHECK_INT(event_add_io(l, b[0], POLLIN, on_pair_io, &refs[1], &p.src[1]), 0);
        CHECK_INT(event_source_set_time(exit_timer, now_usec() + 30 * MSEC), 0);
        CHECK_INT(event_loop_run(l), 0);
        CHECK_INT(p.calls[0] + p.calls[1], 1);
        CHECK(!p.src[0] != !p.src[1]);
        event_source_free(p.src[0]);
        event_source_free(p.src[1]);
        /* The byte of the one that never ran is still there. */
        CHECK(read(p.calls[0] ? b[0] : a[0], (char[1]) {}, 1) == 1);

        /* Timers due in the same iteration. */
        p = (pair) {};
        CHECK_INT(event_add_time(l, 1, on_pair_timer, &refs[0], &p.src[0]), 0);
        CHECK_INT(event_add_time(l, 1, on_pair_timer, &refs[1], &p.src[1]), 0);
        CHECK_INT(event_source_set_time(exit_timer, now_usec() + 30 * MSEC), 0);
        CHECK_INT(event_loop_run(l), 0);
        CHECK_INT(p.calls[0] + p.calls[1], 1);
        event_source_free(p.src[0]);
        event_source_free(p.src[1]);

        /* An io callback freeing a timer that is already due. */
        st = (state) { .loop = l };
        CHECK_INT(write(a[1], "x", 1), 1);
        CHECK_INT(event_add_time(l, 1, on_count_timer, &st, &st.other), 0);
        CHECK_INT(event_add_io(l, a[0], POLLIN, on_io_free_timer, &st, &st.self), 0);
        CHECK_INT(event_source_set_time(exit_timer, now_usec() + 30 * MSEC), 0);
        CHECK_INT(event_loop_run(l), 0);
        CHECK_INT(st.calls, 1);
        CHECK_INT(st.other_calls, 0);
        CHECK(!st.other);
        event_source_free(st.self);

        /* Adding sources from a callback that frees itself. */
        st = (state) { .loop = l };
        CHECK_INT(event_add_time(l, 1, on_timer_adds, &st, NULL), 0);
        CHECK_INT(event_source_set_time(exit_timer, now_usec() + 30 * MSEC), 0);
        CHECK_INT(event_loop_run(l), 0);
        CHECK_INT(st.calls, 1);
        CHECK_INT(st.other_calls, 64);

        /* Freed outside the loop: gone at once. */
        st = (state) { .loop = l };
        CHECK_INT(event_add_time(l, 1, on_count_timer, &st, &st.other), 0);
        CHECK(!event_source_free(st.other));
        CHECK_INT(event_source_set_time(exit_timer, now_usec() + 10 * MSEC), 0);
        CHECK_INT(event_loop_run(l), 0);
        CHECK_INT(st.other_calls, 0);

        CHECK(!event_source_free(NULL));
        event_source_free(exit_timer);
        event_source_free(w);
        /* The 64 added timers are still attached: the loop frees them. */
        event_loop_free(l);
        CHECK(!event_loop_free(NULL));
        close(a[0]);
        close(a[1]);
        close(b[0]);
        close(b[1]);
}

static int on_io_fail(event_source *s, int fd, uint32_t revents, void *userdata) {
        state *st = userdata;

        st->calls++;
        return st->fail_with;
}

static int on_timer_fail(event_source *s, uint64_t now, void *userdata) {
        state *st = userdata;

        st->calls++;
        return st->fail_with;
}

static int on_prepare_fail(event_source *s, void *userdata) {
        state *st = userdata;

        st->prepare_calls++;
        return st->fail_with;
}

static void test_exit_and_errors(void) {
        event_loop *l = NULL;
        event_source *s = NULL, *w;
        state st = {};
        int fds[2];

        CHECK_INT(event_loop_new(&l), 0);
        if (!l)
                return;
        pipe_or_die(fds);
        st.loop = l;
        w = add_watchdog(l);

        /* The exit code, whatever it is. */
        st.exit_code = 3;
        CHECK_INT(event_add_time(l, 1, on_exit_timer, &st, &s), 0);
        CHECK_INT(event_loop_run(l), 3);
        st.exit_code = 0;
        CHECK_INT(event_source_set_time(s, 1), 0);
        CHECK_INT(event_loop_run(l), 0);
        st.exit_code = 255;
        CHECK_INT(event_source_set_time(s, 1), 0);
        CHECK_INT(event_loop_run(l), 255);
        event_source_free(s);

        /* A callback's error ends the loop with it, the first time. */
        st = (state) { .loop = l, .fail_with = -EIO };
        CHECK_INT(write(fds[1], "x", 1), 1);
        CHECK_INT(event_add_io(l, fds[0], POLLIN, on_io_fail, &st, &s), 0);
        CHECK_INT(event_loop_run(l), -EIO);
        CHECK_INT(st.calls, 1);
        event_source_free(s);

        st = (state) { .loop = l, .fail_with = -ETIMEDOUT };
        CHECK_INT(event_add_time(l, now_usec() + 10 * MSEC, on_timer_fail, &st, &s), 0);
        CHECK_INT(event_loop_run(l), -ETIMEDOUT);
        CHECK_INT(st.calls, 1);
        event_source_free(s);

        st = (state) { .loop = l, .fail_with = -EBADMSG };
        CHECK_INT(event_add_prepare(l, on_prepare_fail, &st, &s), 0);
        CHECK_INT(event_loop_run(l), -EBADMSG);
        CHECK_INT(st.prepare_calls, 1);
        event_source_free(s);

        /* Bad arguments. */
        s = NULL;
        CHECK_INT(event_add_io(l, -1, POLLIN, on_io_fail, &st, &s), -EBADF);
        CHECK(!s);
        CHECK_INT(event_add_io(l, fds[0], POLLIN, on_io_fail, &st, &s), 0);
        CHECK_INT(event_source_set_time(s, 1), -EINVAL);
        event_source_free(s);
        CHECK_INT(event_add_time(l, 0, on_timer_fail, &st, &s), 0);
        CHECK_INT(event_source_set_io_events(s, POLLIN), -EINVAL);
        event_source_free(s);
        CHECK_INT(event_add_prepare(l, on_prepare_fail, &st, &s), 0);
        CHECK_INT(event_source_set_time(s, 1), -EINVAL);
        CHECK_INT(event_source_set_io_events(s, POLLIN), -EINVAL);
        event_source_free(s);

        event_source_free(w);
        event_loop_free(l);
        close(fds[0]);
        close(fds[1]);
}

static int on_read_timerfd(event_source *s, int fd, uint32_t revents, void *userdata) {
        state *st = userdata;
        uint64_t expirations;

        CHECK_INT(read(fd, &expirations, sizeof(expirations)), sizeof(expirations));
        st->calls++;
        event_loop_exit(st->loop, 0);
        return 0;
}

/* A timer weeks away must not turn into a short or a busy wait: the wait is
 * in milliseconds in an int. */
static void test_far_timer(void) {
        static const uint64_t far[] = {
                (UINT64_C(1) << 32) * MSEC + 2 * MSEC,  /* 49.7 days, 2^32 ms and a bit */
                UINT64_C(30) * 24 * 3600 * 1000 * MSEC, /* 30 days: over INT_MAX ms */
                0,                                      /* the end of time */
        };
        struct itimerspec its = { .it_value = { .tv_nsec = 50 * 1000 * 1000 } };

        /* No watchdog timer here: it would be the nearest deadline and hide
         * the far one. The timerfd ends each run. */
        for (size_t i = 0; i < ELEMENTSOF(far); i++) {
                event_loop *l = NULL;
                event_source *timer = NULL, *io = NULL, *prepare = NULL;
                state st = {}, never = {};
                uint64_t t0;
                int tfd;

                CHECK_INT(event_loop_new(&l), 0);
                if (!l)
                        return;
                tfd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
                CHECK(tfd >= 0);
                if (tfd < 0) {
                        event_loop_free(l);
                        return;
                }
                st.loop = l;
                st.fd = tfd;
                t0 = now_usec();
                CHECK_INT(event_add_time(l, far[i] ? t0 + far[i] : UINT64_MAX - 1, on_count_timer, &never,
                                         &timer), 0);
                CHECK_INT(event_add_prepare(l, on_prepare, &st, &prepare), 0);
                CHECK_INT(event_add_io(l, tfd, POLLIN, on_read_timerfd, &st, &io), 0);
                CHECK_INT(timerfd_settime(tfd, 0, &its, NULL), 0);

                CHECK_INT(event_loop_run(l), 0);
                CHECK_INT(st.calls, 1);
                CHECK_INT(never.other_calls, 0);
                /* One wait until the timerfd fires: one prepare call before
                 * it, none in a loop that spins. */
                CHECK(st.prepare_calls <= 2);
                if (st.prepare_calls > 2)
                        fprintf(stderr, "  far timer %zu: %u waits in 50 ms\n", i, st.prepare_calls);
                CHECK(now_usec() < t0 + SLACK);

                event_source_free(timer);
                event_source_free(prepare);
                event_source_free(io);
                event_loop_free(l);
                close(tfd);
        }
}

int main(void) {
        test_io();
        test_timer();
        test_prepare();
        test_free_from_callbacks();
        test_exit_and_errors();
        test_far_timer();
        return test_result("test-event-loop");
}
