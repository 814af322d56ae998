/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* A few threads for work that must not stall the main loop (argon2id
 * hashing costs ~100 ms and 64 MiB by design). A job's `work` runs on a
 * worker thread and must not touch the store or the bus; its `done` runs
 * afterwards on the main loop, when worker_pool_dispatch() is called because
 * worker_pool_fd() became readable. */

typedef struct worker_pool worker_pool;

typedef void (*worker_fn)(void *data);

int worker_pool_new(unsigned n_threads, worker_pool **ret);
/* Lets the threads finish every running and queued job, then runs their
 * done() callbacks on the calling thread. NULL is fine. */
worker_pool *worker_pool_free(worker_pool *p);

int worker_pool_fd(const worker_pool *p);
int worker_pool_submit(worker_pool *p, worker_fn work, worker_fn done, void *data);
void worker_pool_dispatch(worker_pool *p);
