/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* The D-Bus front end: org.nexalix.Identity1 on the system bus. This layer
 * only identifies the caller, parses arguments, calls the account logic and
 * marshals the answer; everything it needs from the rest of the daemon is
 * handed in (bus_services). The dispatch table of each file says, per
 * method, whether it writes and which permission the caller must hold in
 * some organisation; the dispatcher checks that before the method reads its
 * arguments, runs the method in one transaction, commits or aborts it,
 * carries out what the operation asked for after commit, and holds the
 * reply until the NSS publication that contains the change is in place. */

#include <dbus/dbus.h>
#include <stdbool.h>
#include <stdint.h>

#include "bus-util.h"
#include "error.h"
#include "op.h"

typedef struct event_loop event_loop;
typedef struct publisher publisher;
typedef struct worker_pool worker_pool;
typedef struct bus_server bus_server;

typedef struct bus_services {
        const accounts *accounts;
        publisher *publisher;
        worker_pool *workers;
        uint64_t started_at;            /* seconds since the epoch */
} bus_services;

/* Connects to the system bus, takes the name and serves it from loop. */
int bus_server_new(event_loop *loop, const bus_services *services, bus_server **ret);
/* Sends what is still queued (replies of finished requests) and closes. */
bus_server *bus_server_free(bus_server *b);

/* ---- for the *-dbus.c files ---- */

/* One method call being served. */
typedef struct bus_request {
        bus_server *server;
        const bus_services *services;
        DBusMessage *message;
        uint32_t uid;
        const struct bus_method *method;
        op op;                          /* begun by the dispatcher */
        nx_error error;
        void *job;                      /* what an asynchronous method resumes with */
        uint32_t notified_uid;          /* NotifyUser: whom the signal after commit is for */
} bus_request;

/* A method returns 0 with *ret_reply set (NULL: an empty reply), < 0 with
 * the refusal in req->error, or BUS_ASYNC when it handed the request to a
 * worker and will call bus_request_resume() later. */
#define BUS_ASYNC 1
typedef int (*bus_method_fn)(bus_request *req, DBusMessage **ret_reply);

enum {
        BUS_METHOD_WRITE = 1 << 0,      /* runs in a write transaction, committed on success */
};

typedef struct bus_method {
        const char *interface, *member, *signature;
        unsigned permission;            /* held in some organisation; 0: anyone may call */
        unsigned flags;
        bus_method_fn fn;
        /* After a successful commit, before the reply is sent (ending the
         * sessions of a deactivated user); may append to the reply. */
        int (*after_commit)(bus_request *req, DBusMessage *reply);
} bus_method;

extern const bus_method status_methods[];
extern const bus_method org_methods[];
extern const bus_method audit_methods[];
extern const bus_method user_methods[];
extern const bus_method linked_record_methods[];
extern const bus_method session_methods[];
extern const bus_method account_methods[];
extern const bus_method mail_methods[];
extern const bus_method onetime_methods[];
extern const bus_method notify_methods[];
extern const bus_method sshkey_methods[];

/* A user as an a{sv} (docs/dbus-api.md, "User"); b adds the failed-login
 * counter and back-off (GetUser, GetAccount), NULL leaves them out. */
typedef struct backoff backoff;
typedef struct user user;
int bus_append_user(DBusMessageIter *it, const config *cfg, const user *u, const backoff *b);

/* Runs fn on req in a fresh operation (write or not) and answers, as the
 * dispatcher does: for a method that went BUS_ASYNC, from its job's done
 * callback on the main loop. */
void bus_request_resume(bus_request *req, bool write, bus_method_fn fn);
/* Answers req with an error (a job that failed before it could resume). */
void bus_request_fail(bus_request *req, int r);

/* Builds a method return whose values fill() appends. With array_signature
 * (e.g. "a{sv}") fill() gets the iterator of an array of that element type
 * instead. */
typedef int (*reply_fill_fn)(DBusMessageIter *it, void *userdata);
int bus_reply_build(bus_request *req, const char *array_signature, reply_fill_fn fill, void *userdata,
                    DBusMessage **ret_reply);
/* Appends basic values to a reply (as dbus_message_append_args). */
int bus_reply_append(DBusMessage *reply, int first_type, ...);

/* The system bus connection, for calls to other services (logind). */
DBusConnection *bus_server_connection(bus_server *b);
