/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "worker.h"
#include "macro.h"

#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <unistd.h>

#define WORKER_NICE 10

typedef struct job {
        worker_fn work, done;
        void *data;
        struct job *next;
} job;

struct worker_pool {
        pthread_mutex_t lock;
        pthread_cond_t wake;
        job *queue, *queue_tail;        /* waiting for a thread */
        job *finished;                  /* waiting for done() on the main loop */
        bool stopping;
        int event_fd;
        pthread_t *threads;
        unsigned n_threads;
};

static void *worker_main(void *userdata) {
        worker_pool *p = userdata;

        /* Below the main loop: with every core hashing passwords for a burst
         * of logins, the loop still answers the bus and the login socket at
         * once. (Linux keeps a nice value per thread.) */
        (void) setpriority(PRIO_PROCESS, (id_t) gettid(), WORKER_NICE);

        pthread_mutex_lock(&p->lock);
        for (;;) {
                job *j;

                while (!p->queue && !p->stopping)
                        pthread_cond_wait(&p->wake, &p->lock);
                if (!p->queue)
                        break;
                j = p->queue;
                p->queue = j->next;
                if (!p->queue)
                        p->queue_tail = NULL;
                pthread_mutex_unlock(&p->lock);

                j->work(j->data);

                pthread_mutex_lock(&p->lock);
                j->next = p->finished;
                p->finished = j;
                (void) eventfd_write(p->event_fd, 1);
        }
        pthread_mutex_unlock(&p->lock);
        return NULL;
}

int worker_pool_new(unsigned n_threads, worker_pool **ret) {
        worker_pool *p;
        sigset_t all, old;
        int r = 0;

        /* Without a thread no job would ever run, and worker_pool_free()
         * could not keep its promise to finish the queued ones. */
        if (n_threads == 0)
                return -EINVAL;
        p = calloc(1, sizeof(*p));
        if (!p)
                return -ENOMEM;
        pthread_mutex_init(&p->lock, NULL);
        pthread_cond_init(&p->wake, NULL);
        p->event_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
        p->threads = calloc(n_threads, sizeof(pthread_t));
        if (p->event_fd < 0 || !p->threads) {
                r = p->event_fd < 0 ? -errno : -ENOMEM;
                goto fail;
        }

        /* Signals belong to the main loop's signalfd, never to a worker. */
        sigfillset(&all);
        pthread_sigmask(SIG_BLOCK, &all, &old);
        for (; p->n_threads < n_threads; p->n_threads++) {
                r = -pthread_create(&p->threads[p->n_threads], NULL, worker_main, p);
                if (r < 0)
                        break;
        }
        pthread_sigmask(SIG_SETMASK, &old, NULL);
        if (r < 0)
                goto fail;
        *ret = p;
        return 0;
fail:
        worker_pool_free(p);
        return r;
}

worker_pool *worker_pool_free(worker_pool *p) {
        if (!p)
                return NULL;
        pthread_mutex_lock(&p->lock);
        p->stopping = true;
        pthread_cond_broadcast(&p->wake);
        pthread_mutex_unlock(&p->lock);
        for (unsigned i = 0; i < p->n_threads; i++)
                pthread_join(p->threads[i], NULL);
        /* The threads only stop once the queue is empty (worker_main), so
         * every job has run; its done() answers the caller and frees it. */
        worker_pool_dispatch(p);
        if (p->event_fd >= 0)
                close(p->event_fd);
        free(p->threads);
        pthread_cond_destroy(&p->wake);
        pthread_mutex_destroy(&p->lock);
        free(p);
        return NULL;
}

int worker_pool_fd(const worker_pool *p) {
        return p->event_fd;
}

int worker_pool_submit(worker_pool *p, worker_fn work, worker_fn done, void *data) {
        job *j;

        /* A missing function would crash a worker thread or the main loop
         * long after the call that queued it. */
        if (!work || !done)
                return -EINVAL;
        j = calloc(1, sizeof(*j));
        if (!j)
                return -ENOMEM;
        *j = (job) { work, done, data, NULL };
        pthread_mutex_lock(&p->lock);
        if (p->queue_tail)
                p->queue_tail->next = j;
        else
                p->queue = j;
        p->queue_tail = j;
        pthread_cond_signal(&p->wake);
        pthread_mutex_unlock(&p->lock);
        return 0;
}

void worker_pool_dispatch(worker_pool *p) {
        eventfd_t v;
        job *list;

        (void) eventfd_read(p->event_fd, &v);
        pthread_mutex_lock(&p->lock);
        list = p->finished;
        p->finished = NULL;
        pthread_mutex_unlock(&p->lock);

        while (list) {
                job *j = list;
                list = j->next;
                j->done(j->data);
                free(j);
        }
}
