/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "array.h"
#include "bus.h"
#include "event-loop.h"
#include "introspection.h"
#include "log.h"
#include "publish.h"
#include "role.h"

#include <poll.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

/* How many callers' uids are remembered (unique bus names are never reused,
 * so an entry can only be stale, never wrong). */
#define CALLER_CACHE_MAX 1024

static const bus_method *const method_tables[] = {
        status_methods, org_methods, audit_methods, user_methods, linked_record_methods, session_methods,
        account_methods, onetime_methods, notify_methods, sshkey_methods, mail_methods,
};

typedef struct caller_entry {
        char *sender;
        uint32_t uid;
} caller_entry;

struct bus_server {
        bus_services services;
        DBusConnection *bus;
        event_source *io, *prepare;

        /* Replies waiting for the NSS publication of their change. */
        DBusMessage **held;
        size_t n_held, allocated_held;
        bool waiting;                   /* registered with the publisher */

        caller_entry *callers;
        size_t n_callers, allocated_callers;
};

/* ---- the caller's uid ---- */

static void forget_caller(bus_server *b, const char *sender) {
        for (size_t i = 0; i < b->n_callers; i++)
                if (strcmp(b->callers[i].sender, sender) == 0) {
                        free(b->callers[i].sender);
                        b->callers[i] = b->callers[--b->n_callers];
                        return;
                }
}

/* The uid the bus vouches for, asked once per connection: every method call
 * would otherwise cost a round trip to the bus. */
static int caller_uid(bus_server *b, const char *sender, uint32_t *ret) {
        unsigned long uid;
        DBusError err;

        if (!sender)
                return -EBADMSG;
        for (size_t i = 0; i < b->n_callers; i++)
                if (strcmp(b->callers[i].sender, sender) == 0) {
                        *ret = b->callers[i].uid;
                        return 0;
                }

        dbus_error_init(&err);
        uid = dbus_bus_get_unix_user(b->bus, sender, &err);
        if (uid == (unsigned long) -1) {
                log_warning("Cannot identify the caller %s: %s", sender, err.message);
                dbus_error_free(&err);
                return -EACCES;
        }
        if (b->n_callers >= CALLER_CACHE_MAX) {
                free(b->callers[0].sender);
                b->callers[0] = b->callers[--b->n_callers];
        }
        if (ARRAY_RESERVE(b->callers, b->allocated_callers, b->n_callers + 1) >= 0) {
                char *copy = strdup(sender);
                if (copy)
                        b->callers[b->n_callers++] = (caller_entry) { copy, (uint32_t) uid };
        }
        *ret = (uint32_t) uid;
        return 0;
}

/* A connection that went away takes its cache entry with it. */
static DBusHandlerResult filter(DBusConnection *bus, DBusMessage *msg, void *userdata) {
        const char *name, *old_owner, *new_owner;

        if (dbus_message_is_signal(msg, DBUS_INTERFACE_DBUS, "NameOwnerChanged") &&
            dbus_message_get_args(msg, NULL, DBUS_TYPE_STRING, &name, DBUS_TYPE_STRING, &old_owner,
                                  DBUS_TYPE_STRING, &new_owner, DBUS_TYPE_INVALID) &&
            name[0] == ':' && new_owner[0] == 0)
                forget_caller(userdata, name);
        return DBUS_HANDLER_RESULT_NOT_YET_HANDLED;
}

/* ---- replies ---- */

static void release_held(int result, void *userdata) {
        bus_server *b = userdata;

        for (size_t i = 0; i < b->n_held; i++) {
                dbus_connection_send(b->bus, b->held[i], NULL);
                dbus_message_unref(b->held[i]);
        }
        b->n_held = 0;
        b->waiting = false;
}

/* Sends reply now, or once the publication of what was committed before it
 * is in place, so that a caller who looks the change up through NSS right
 * after the reply finds it. */
static void send_reply(bus_server *b, DBusMessage *reply) {
        if (!reply)
                return;
        if (publisher_pending(b->services.publisher) &&
            ARRAY_RESERVE(b->held, b->allocated_held, b->n_held + 1) >= 0 &&
            (b->waiting || publisher_wait(b->services.publisher, release_held, b) >= 0)) {
                b->waiting = true;
                b->held[b->n_held++] = reply;
                return;
        }
        /* Nothing to wait for (or out of memory: better early than never). */
        dbus_connection_send(b->bus, reply, NULL);
        dbus_message_unref(reply);
}

static DBusMessage *error_reply(DBusMessage *msg, const nx_error *e, int r) {
        const char *name, *text;

        if (e && e->error) {
                name = nx_error_bus_name(e->error);
                /* Never hand libdbus a string it would abort on. */
                text = dbus_validate_utf8(e->message, NULL) ? e->message : "the request was refused";
        } else if (r == -ENOMEM) {
                name = DBUS_ERROR_NO_MEMORY;
                text = "out of memory";
        } else {
                name = BUS_ERROR_FAILED;
                text = "internal error in nexalixd — see its log";
        }
        return dbus_message_new_error(msg, name, text);
}

int bus_reply_build(bus_request *req, const char *array_signature, reply_fill_fn fill, void *userdata,
                    DBusMessage **ret_reply) {
        DBusMessage *reply = dbus_message_new_method_return(req->message);
        DBusMessageIter it, array;
        int r;

        if (!reply)
                return -ENOMEM;
        dbus_message_iter_init_append(reply, &it);
        if (!array_signature)
                r = fill(&it, userdata);
        else if (!dbus_message_iter_open_container(&it, DBUS_TYPE_ARRAY, array_signature, &array))
                r = -ENOMEM;
        else {
                r = fill(&array, userdata);
                if (r >= 0 && !dbus_message_iter_close_container(&it, &array))
                        r = -ENOMEM;
                else if (r < 0)
                        dbus_message_iter_abandon_container(&it, &array);
        }
        if (r < 0) {
                dbus_message_unref(reply);
                return r;
        }
        *ret_reply = reply;
        return 0;
}

int bus_reply_append(DBusMessage *reply, int first_type, ...) {
        va_list ap;
        dbus_bool_t ok;

        va_start(ap, first_type);
        ok = dbus_message_append_args_valist(reply, first_type, ap);
        va_end(ap);
        return ok ? 0 : -ENOMEM;
}

DBusConnection *bus_server_connection(bus_server *b) {
        return b->bus;
}

/* ---- requests ---- */

static void request_free(bus_request *req) {
        if (req->message)
                dbus_message_unref(req->message);
        free(req);
}

/* The end of every request: commit or abort, the effects of the commit,
 * the reply, the publication it waits for. */
static void request_finish(bus_request *req, bool write, int r, DBusMessage *reply) {
        bus_server *b = req->server;

        if (r >= 0 && !reply) {
                reply = dbus_message_new_method_return(req->message);
                if (!reply)
                        r = -ENOMEM;
        }
        if (r < 0 || !write)
                op_abort(&req->op);
        else {
                r = op_commit(&req->op);
                if (r >= 0) {
                        (void) publisher_queue(b->services.publisher, &req->op.changes);
                        if (req->method && req->method->after_commit)
                                r = req->method->after_commit(req, reply);
                }
        }
        op_done(&req->op);

        if (r < 0) {
                if (!req->error.error && r != -ENOMEM)
                        log_error_errno(r, "%s failed: %m", dbus_message_get_member(req->message));
                if (reply)
                        dbus_message_unref(reply);
                reply = error_reply(req->message, &req->error, r);
        }
        send_reply(b, reply);
        request_free(req);
}

void bus_request_resume(bus_request *req, bool write, bus_method_fn fn) {
        DBusMessage *reply = NULL;
        int r;

        req->error = (nx_error) {};
        r = op_begin(req->services->accounts, req->uid, write, &req->error, &req->op);
        if (r < 0) {
                request_finish(req, false, r, NULL);
                return;
        }
        r = fn(req, &reply);
        request_finish(req, write, r, reply);
}

void bus_request_fail(bus_request *req, int r) {
        req->op = (op) {};
        request_finish(req, false, r, NULL);
}

static const bus_method *find_method(DBusMessage *msg) {
        const char *iface = dbus_message_get_interface(msg), *member = dbus_message_get_member(msg);

        for (size_t t = 0; t < ELEMENTSOF(method_tables); t++)
                for (const bus_method *m = method_tables[t]; m->member; m++)
                        if (strcmp(member, m->member) == 0 && (!iface || strcmp(iface, m->interface) == 0))
                                return m;
        return NULL;
}

static DBusHandlerResult message_handler(DBusConnection *bus, DBusMessage *msg, void *userdata) {
        bus_server *b = userdata;
        const bus_method *method;
        DBusMessage *reply = NULL;
        bus_request *req;
        bool write;
        int r;

        if (dbus_message_get_type(msg) != DBUS_MESSAGE_TYPE_METHOD_CALL)
                return DBUS_HANDLER_RESULT_NOT_YET_HANDLED;

        if (dbus_message_is_method_call(msg, DBUS_INTERFACE_INTROSPECTABLE, "Introspect")) {
                reply = dbus_message_new_method_return(msg);
                if (reply && bus_reply_append(reply, DBUS_TYPE_STRING, &(const char *) { introspection_xml },
                                              DBUS_TYPE_INVALID) < 0) {
                        dbus_message_unref(reply);
                        reply = NULL;
                }
                send_reply(b, reply);
                return DBUS_HANDLER_RESULT_HANDLED;
        }

        method = find_method(msg);
        if (!method)
                return DBUS_HANDLER_RESULT_NOT_YET_HANDLED;
        if (!dbus_message_has_signature(msg, method->signature)) {
                send_reply(b, dbus_message_new_error_printf(msg, DBUS_ERROR_INVALID_ARGS,
                                                            "%s expects arguments of type (%s)",
                                                            method->member, method->signature));
                return DBUS_HANDLER_RESULT_HANDLED;
        }

        req = calloc(1, sizeof(*req));
        if (!req)
                return DBUS_HANDLER_RESULT_NEED_MEMORY;
        *req = (bus_request) { .server = b, .services = &b->services, .message = dbus_message_ref(msg),
                               .method = method };

        /* Authorisation starts from the uid the bus vouches for, and comes
         * before anything of the request is read. */
        r = caller_uid(b, dbus_message_get_sender(msg), &req->uid);
        if (r < 0) {
                send_reply(b, dbus_message_new_error(msg, BUS_ERROR_ACCESS_DENIED, "cannot identify the caller"));
                request_free(req);
                return DBUS_HANDLER_RESULT_HANDLED;
        }
        write = method->flags & BUS_METHOD_WRITE;
        r = op_begin(b->services.accounts, req->uid, write, &req->error, &req->op);
        if (r < 0) {
                request_finish(req, false, r, NULL);
                return DBUS_HANDLER_RESULT_HANDLED;
        }
        if (method->permission && !caller_may_any(&req->op.caller, method->permission)) {
                r = nx_error_set(&req->error, -EACCES, "permission denied: you may not %s",
                                 permission_purpose(method->permission));
                request_finish(req, false, r, NULL);
                return DBUS_HANDLER_RESULT_HANDLED;
        }

        r = method->fn(req, &reply);
        if (r == BUS_ASYNC) {
                /* The job resumes the request later, in an operation of its own. */
                op_abort(&req->op);
                return DBUS_HANDLER_RESULT_HANDLED;
        }
        request_finish(req, write, r, reply);
        return DBUS_HANDLER_RESULT_HANDLED;
}

/* ---- the connection in the event loop ---- */

static int on_io(event_source *s, int fd, uint32_t revents, void *userdata) {
        bus_server *b = userdata;

        dbus_connection_read_write(b->bus, 0);
        return 0;
}

/* Serve everything already read before the loop sleeps (the publisher's
 * prepare callback runs after this one, once for all of it). */
static int on_prepare(event_source *s, void *userdata) {
        bus_server *b = userdata;

        while (dbus_connection_dispatch(b->bus) == DBUS_DISPATCH_DATA_REMAINS)
                ;
        if (!dbus_connection_get_is_connected(b->bus))
                return log_error_errno(-ECONNRESET, "Lost the connection to the system bus");
        event_source_set_io_events(b->io, POLLIN | (dbus_connection_has_messages_to_send(b->bus) ? POLLOUT : 0));
        return 0;
}

int bus_server_new(event_loop *loop, const bus_services *services, bus_server **ret) {
        static const DBusObjectPathVTable vtable = { .message_function = message_handler };
        bus_server *b;
        DBusError err;
        int fd, r;

        b = calloc(1, sizeof(*b));
        if (!b)
                return -ENOMEM;
        b->services = *services;

        dbus_error_init(&err);
        /* A private connection: nothing else in this process shares it, and
         * we decide what happens on disconnect (we exit cleanly). */
        b->bus = dbus_bus_get_private(DBUS_BUS_SYSTEM, &err);
        if (!b->bus) {
                log_error("Failed to connect to the system bus: %s", err.message);
                dbus_error_free(&err);
                r = -ECONNREFUSED;
                goto fail;
        }
        dbus_connection_set_exit_on_disconnect(b->bus, FALSE);

        r = dbus_bus_request_name(b->bus, BUS_NAME, DBUS_NAME_FLAG_DO_NOT_QUEUE, &err);
        if (r < 0) {
                log_error("Failed to acquire bus name %s: %s", BUS_NAME, err.message);
                dbus_error_free(&err);
                r = -EACCES;
                goto fail;
        }
        if (r != DBUS_REQUEST_NAME_REPLY_PRIMARY_OWNER) {
                log_error("Bus name %s is already owned: is another nexalixd running?", BUS_NAME);
                r = -EBUSY;
                goto fail;
        }
        dbus_bus_add_match(b->bus, "type='signal',sender='" DBUS_SERVICE_DBUS "',interface='" DBUS_INTERFACE_DBUS
                                   "',member='NameOwnerChanged'", NULL);
        if (!dbus_connection_add_filter(b->bus, filter, b, NULL) ||
            !dbus_connection_register_object_path(b->bus, BUS_PATH, &vtable, b)) {
                r = -ENOMEM;
                goto fail;
        }
        if (!dbus_connection_get_unix_fd(b->bus, &fd)) {
                r = log_error_errno(-EBADF, "The bus connection has no file descriptor");
                goto fail;
        }
        r = event_add_io(loop, fd, POLLIN, on_io, b, &b->io);
        if (r >= 0)
                r = event_add_prepare(loop, on_prepare, b, &b->prepare);
        if (r < 0)
                goto fail;
        *ret = b;
        return 0;
fail:
        bus_server_free(b);
        return r;
}

bus_server *bus_server_free(bus_server *b) {
        if (!b)
                return NULL;
        event_source_free(b->io);
        event_source_free(b->prepare);
        if (b->bus) {
                release_held(0, b);
                dbus_connection_flush(b->bus);
                dbus_connection_close(b->bus);
                dbus_connection_unref(b->bus);
        }
        for (size_t i = 0; i < b->n_callers; i++)
                free(b->callers[i].sender);
        free(b->callers);
        free(b->held);
        free(b);
        return NULL;
}
