/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* The daemon's state and its main loop: the store, the bus connection, the
 * worker threads, and the NSS publication that every identity change waits
 * for before its caller is answered. */

#include <dbus/dbus.h>
#include <stdbool.h>
#include <stdint.h>

#include "config.h"
#include "op.h"
#include "store.h"

typedef struct local_accounts local_accounts;
typedef struct worker_pool worker_pool;

struct manager {
        config config;
        store *store;
        local_accounts *local;
        worker_pool *workers;
        DBusConnection *bus;
        int signal_fd;
        int lock_fd;                    /* held for life: STORE/nexalixd.lock */
        int runtime_lock_fd;            /* and RUNTIME/nexalixd.lock */
        uint64_t started_at;
        uint64_t snapshot_generation;

        /* Set when a committed change touched what NSS shows. Replies wait in
         * held_replies until the next publication, which serves every change
         * made since the previous one. */
        bool publish_pending;
        bool publish_retry;             /* the last publication failed */
        DBusMessage **held_replies;
        size_t n_held, allocated_held;
        unsigned n_async;               /* requests waiting for a worker */
};

int manager_new(const config *c, manager **ret);
manager *manager_free(manager *m);

/* Takes the store lock and opens the store, then connects to the bus and
 * takes the well-known name. */
int manager_start(manager *m);
/* Runs until SIGTERM or SIGINT. */
int manager_run(manager *m);

/* ---- for the *-dbus.c files ---- */

/* One method call being served. */
typedef struct request {
        manager *manager;
        DBusMessage *message;
        uint32_t uid;
} request;

/* A method returns 0 with *ret_reply set, < 0 with the refusal in e, or
 * REQUEST_ASYNC when it took over req (request_ref) and will call
 * request_finish later from the main loop. */
#define REQUEST_ASYNC 1
typedef int (*method_fn)(request *req, DBusMessage **ret_reply, nx_error *e);

typedef struct bus_method {
        const char *interface, *member, *signature;
        method_fn fn;
} bus_method;

extern const bus_method manager_methods[];
extern const bus_method org_methods[];
extern const bus_method user_methods[];
extern const bus_method link_methods[];

/* Refuses (AccessDenied) a caller who holds `permission` in no organisation:
 * the coarse check that comes before a method reads its arguments. */
int request_check_permission(request *req, unsigned permission, nx_error *e);
/* Begins a transaction on behalf of the caller. */
int request_op_begin(request *req, bool write, op *o, nx_error *e);
/* Commits o's transaction; schedules a publication if identities changed. */
int request_op_commit(request *req, op *o);
void request_op_abort(op *o);
/* Ends a method that only writes: with r < 0 aborts and returns r, otherwise
 * commits and sets an empty reply. */
int request_finish_write(request *req, op *o, int r, DBusMessage **ret_reply);

/* A copy of req that outlives the current dispatch. */
request *request_ref(const request *req);
/* Sends reply (or the error in e when reply is NULL) and frees req. */
void request_finish(request *req, DBusMessage *reply, const nx_error *e, int r);

/* An empty method return; NULL on OOM. */
DBusMessage *request_new_reply(request *req);

/* Builds a method return whose values fill() appends. With array_signature
 * (e.g. "a{sv}") fill() gets the iterator of an array of that element type
 * instead. Frees the message when fill fails. */
typedef int (*reply_fill_fn)(DBusMessageIter *it, void *userdata);
int request_build_reply(request *req, const char *array_signature, reply_fill_fn fill, void *userdata,
                        DBusMessage **ret_reply);
