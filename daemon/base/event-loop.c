/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "event-loop.h"

#include "array.h"
#include "macro.h"

#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <stdlib.h>
#include <time.h>

typedef enum source_type {
        SOURCE_IO,
        SOURCE_TIME,
        SOURCE_PREPARE,
} source_type;

struct event_source {
        event_loop *loop;
        source_type type;
        bool dead;              /* freed by its owner; reclaimed after the iteration */
        int fd;
        uint32_t events;
        uint64_t usec;
        void *fn;
        void *userdata;
};

struct event_loop {
        event_source **sources;
        size_t n_sources, allocated;
        struct pollfd *fds;
        event_source **fd_sources;      /* the source of each entry of fds */
        size_t allocated_fds, allocated_fd_sources;
        bool exiting;
        int exit_code;
        unsigned dispatching;   /* > 0 while callbacks run: free lazily */
};

uint64_t now_usec(void) {
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec * 1000000 + (uint64_t) ts.tv_nsec / 1000;
}

int event_loop_new(event_loop **ret) {
        event_loop *l = calloc(1, sizeof(*l));

        if (!l)
                return -ENOMEM;
        *ret = l;
        return 0;
}

event_loop *event_loop_free(event_loop *l) {
        if (!l)
                return NULL;
        for (size_t i = 0; i < l->n_sources; i++)
                free(l->sources[i]);
        free(l->sources);
        free(l->fds);
        free(l->fd_sources);
        free(l);
        return NULL;
}

static int add_source(event_loop *l, source_type type, void *fn, void *userdata, event_source **ret) {
        event_source *s;

        if (ARRAY_RESERVE(l->sources, l->allocated, l->n_sources + 1) < 0)
                return -ENOMEM;
        s = calloc(1, sizeof(*s));
        if (!s)
                return -ENOMEM;
        *s = (event_source) { .loop = l, .type = type, .fd = -1, .fn = fn, .userdata = userdata };
        l->sources[l->n_sources++] = s;
        if (ret)
                *ret = s;
        return 0;
}

int event_add_io(event_loop *l, int fd, uint32_t events, event_io_fn fn, void *userdata,
                 event_source **ret) {
        event_source *s;
        int r;

        if (fd < 0)
                return -EBADF;
        r = add_source(l, SOURCE_IO, (void *) fn, userdata, &s);
        if (r < 0)
                return r;
        s->fd = fd;
        s->events = events;
        if (ret)
                *ret = s;
        return 0;
}

int event_source_set_io_events(event_source *s, uint32_t events) {
        if (s->type != SOURCE_IO)
                return -EINVAL;
        s->events = events;
        return 0;
}

int event_add_time(event_loop *l, uint64_t usec, event_time_fn fn, void *userdata, event_source **ret) {
        event_source *s;
        int r = add_source(l, SOURCE_TIME, (void *) fn, userdata, &s);

        if (r < 0)
                return r;
        s->usec = usec;
        if (ret)
                *ret = s;
        return 0;
}

int event_source_set_time(event_source *s, uint64_t usec) {
        if (s->type != SOURCE_TIME)
                return -EINVAL;
        s->usec = usec;
        return 0;
}

int event_add_prepare(event_loop *l, event_prepare_fn fn, void *userdata, event_source **ret) {
        return add_source(l, SOURCE_PREPARE, (void *) fn, userdata, ret);
}

/* Removes the dead sources once no callback can be running on them. */
static void reclaim(event_loop *l) {
        size_t k = 0;

        for (size_t i = 0; i < l->n_sources; i++) {
                if (l->sources[i]->dead)
                        free(l->sources[i]);
                else
                        l->sources[k++] = l->sources[i];
        }
        l->n_sources = k;
}

event_source *event_source_free(event_source *s) {
        if (!s)
                return NULL;
        s->dead = true;
        if (s->loop->dispatching == 0)
                reclaim(s->loop);
        return NULL;
}

void event_loop_exit(event_loop *l, int code) {
        l->exiting = true;
        l->exit_code = code;
}

/* One iteration: prepare callbacks, one wait, the callbacks of what is ready. */
static int iterate(event_loop *l) {
        uint64_t next = UINT64_MAX, now;
        size_t n_fds = 0, n = l->n_sources;
        int timeout, r = 0;

        for (size_t i = 0; i < n && !l->exiting; i++) {
                event_source *s = l->sources[i];
                if (s->type == SOURCE_PREPARE && !s->dead) {
                        r = ((event_prepare_fn) s->fn)(s, s->userdata);
                        if (r < 0)
                                return r;
                }
        }
        if (l->exiting)
                return 0;

        n = l->n_sources;
        if (ARRAY_RESERVE(l->fds, l->allocated_fds, n) < 0 ||
            ARRAY_RESERVE(l->fd_sources, l->allocated_fd_sources, n) < 0)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++) {
                event_source *s = l->sources[i];
                if (s->dead)
                        continue;
                if (s->type == SOURCE_IO) {
                        l->fds[n_fds] = (struct pollfd) { .fd = s->fd, .events = (short) s->events };
                        l->fd_sources[n_fds++] = s;
                } else if (s->type == SOURCE_TIME && s->usec > 0 && s->usec < next)
                        next = s->usec;
        }

        now = now_usec();
        if (next == UINT64_MAX)
                timeout = -1;
        else if (next <= now)
                timeout = 0;
        else if ((next - now) / 1000 >= INT_MAX)
                /* poll() takes an int of milliseconds: a deadline some 25
                 * days away or more would wrap around, to a wait forever or
                 * to a short one that spins. Wake up early and look again. */
                timeout = INT_MAX;
        else
                timeout = (int) ((next - now + 999) / 1000);

        if (poll(l->fds, n_fds, timeout) < 0)
                return errno == EINTR ? 0 : -errno;

        for (size_t i = 0; i < n_fds && !l->exiting; i++) {
                event_source *s = l->fd_sources[i];
                if (s->dead || l->fds[i].revents == 0)
                        continue;
                r = ((event_io_fn) s->fn)(s, s->fd, (uint32_t) l->fds[i].revents, s->userdata);
                if (r < 0)
                        return r;
        }

        now = now_usec();
        for (size_t i = 0; i < n && !l->exiting; i++) {
                event_source *s = l->sources[i];
                if (s->type != SOURCE_TIME || s->dead || s->usec == 0 || s->usec > now)
                        continue;
                s->usec = 0;    /* one-shot unless the callback re-arms it */
                r = ((event_time_fn) s->fn)(s, now, s->userdata);
                if (r < 0)
                        return r;
        }
        return 0;
}

int event_loop_run(event_loop *l) {
        int r = 0;

        l->exiting = false;
        while (!l->exiting) {
                l->dispatching++;
                r = iterate(l);
                l->dispatching--;
                reclaim(l);
                if (r < 0)
                        return r;
        }
        return l->exit_code;
}
