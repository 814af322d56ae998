/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* The daemon's one event loop: any number of file descriptors, timers and
 * "prepare" callbacks (run before each wait, to finish work that must happen
 * before the loop sleeps: dispatching what the bus already read, publishing
 * the snapshot that held replies wait for). Single-threaded: every callback
 * runs on the loop's thread. Worker threads reach it through an eventfd. */

#include <stdbool.h>
#include <stdint.h>

typedef struct event_loop event_loop;
typedef struct event_source event_source;

/* A callback returns 0, or a negative errno that ends the loop with that
 * error (event_loop_run() returns it). */
typedef int (*event_io_fn)(event_source *s, int fd, uint32_t revents, void *userdata);
typedef int (*event_time_fn)(event_source *s, uint64_t now_usec, void *userdata);
typedef int (*event_prepare_fn)(event_source *s, void *userdata);

int event_loop_new(event_loop **ret);
/* Frees the loop and every source still attached. NULL is fine. */
event_loop *event_loop_free(event_loop *l);

/* events: POLLIN, POLLOUT, ... The fd stays the caller's. */
int event_add_io(event_loop *l, int fd, uint32_t events, event_io_fn fn, void *userdata,
                 event_source **ret);
int event_source_set_io_events(event_source *s, uint32_t events);

/* A one-shot timer at usec on CLOCK_MONOTONIC (0: disarmed); re-arm it from
 * its callback with event_source_set_time() to repeat. */
int event_add_time(event_loop *l, uint64_t usec, event_time_fn fn, void *userdata, event_source **ret);
int event_source_set_time(event_source *s, uint64_t usec);

int event_add_prepare(event_loop *l, event_prepare_fn fn, void *userdata, event_source **ret);

/* Detaches and frees a source; safe from inside any callback, its own
 * included. NULL is fine. */
event_source *event_source_free(event_source *s);

/* Runs until event_loop_exit() or a callback fails. Returns the exit code
 * or the callback's error. */
int event_loop_run(event_loop *l);
void event_loop_exit(event_loop *l, int code);

/* CLOCK_MONOTONIC in microseconds. */
uint64_t now_usec(void);
