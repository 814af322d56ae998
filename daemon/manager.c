/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "build-config.h"
#include "bus-util.h"
#include "introspection.h"
#include "local-accounts.h"
#include "log.h"
#include "manager.h"
#include "migrate.h"
#include "notify.h"
#include "publish.h"
#include "snapshot.h"
#include "snapshot-writer.h"
#include "worker.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <time.h>


#define PUBLISH_RETRY_SECONDS 5

static const bus_method *const method_tables[] = {
        manager_methods, org_methods, user_methods, link_methods,
};

int manager_new(const config *c, manager **ret) {
        manager *m = calloc(1, sizeof(*m));

        if (!m)
                return -ENOMEM;
        m->config = *c;
        m->signal_fd = -1;
        m->lock_fd = -1;
        m->runtime_lock_fd = -1;
        m->started_at = (uint64_t) time(NULL);
        *ret = m;
        return 0;
}

manager *manager_free(manager *m) {
        if (!m)
                return NULL;
        /* Workers first: their done() callbacks still use the bus and store. */
        m->workers = worker_pool_free(m->workers);
        for (size_t i = 0; i < m->n_held; i++)
                dbus_message_unref(m->held_replies[i]);
        free(m->held_replies);
        if (m->bus) {
                dbus_connection_close(m->bus);
                dbus_connection_unref(m->bus);
        }
        store_close(m->store);
        local_accounts_free(m->local);
        if (m->signal_fd >= 0)
                close(m->signal_fd);
        if (m->lock_fd >= 0)
                close(m->lock_fd);
        if (m->runtime_lock_fd >= 0)
                close(m->runtime_lock_fd);
        config_done(&m->config);
        free(m);
        return NULL;
}

/* One daemon per store and per runtime directory: LMDB itself would let two
 * processes in, two writers with their own id counters would disagree, and
 * two publishers would overwrite each other's NSS snapshot. The lock lives as
 * long as the daemon (the fd stays open). */
static int take_lock(const char *dir, mode_t mode, const char *what, int *ret_fd) {
        _cleanup_free_ char *path = NULL;
        char pid[32] = "";
        int fd;

        if (mkdir(dir, mode) < 0 && errno != EEXIST)
                return log_error_errno(-errno, "Failed to create %s directory %s: %m", what, dir);
        if (asprintf(&path, "%s/nexalixd.lock", dir) < 0)
                return -ENOMEM;
        fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
        if (fd < 0)
                return log_error_errno(-errno, "Failed to open %s: %m", path);
        if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
                int r = -errno;
                ssize_t n = pread(fd, pid, sizeof(pid) - 1, 0);
                close(fd);
                if (r == -EWOULDBLOCK) {
                        pid[n > 0 ? n : 0] = 0;
                        pid[strcspn(pid, "\n")] = 0;
                        log_error("another nexalixd%s%s%s is already running on %s %s",
                                  pid[0] ? " (pid " : "", pid, pid[0] ? ")" : "", what, dir);
                        return -EBUSY;
                }
                return log_error_errno(r, "Failed to lock %s: %m", path);
        }
        snprintf(pid, sizeof(pid), "%d\n", (int) getpid());
        if (ftruncate(fd, 0) < 0 || pwrite(fd, pid, strlen(pid), 0) < 0)
                log_warning_errno(-errno, "Failed to write pid to %s: %m", path);
        *ret_fd = fd;
        return 0;
}

static DBusHandlerResult message_handler(DBusConnection *bus, DBusMessage *msg, void *userdata);

static int connect_bus(manager *m) {
        static const DBusObjectPathVTable vtable = { .message_function = message_handler };
        DBusError err;
        int r;

        dbus_error_init(&err);
        /* A private connection: nothing else in this process shares it, and
         * we decide what happens on disconnect (we exit cleanly). */
        m->bus = dbus_bus_get_private(DBUS_BUS_SYSTEM, &err);
        if (!m->bus) {
                log_error("Failed to connect to the system bus: %s", err.message);
                dbus_error_free(&err);
                return -ECONNREFUSED;
        }
        dbus_connection_set_exit_on_disconnect(m->bus, FALSE);

        r = dbus_bus_request_name(m->bus, BUS_NAME, DBUS_NAME_FLAG_DO_NOT_QUEUE, &err);
        if (r < 0) {
                log_error("Failed to acquire bus name %s: %s", BUS_NAME, err.message);
                dbus_error_free(&err);
                return -EACCES;
        }
        if (r != DBUS_REQUEST_NAME_REPLY_PRIMARY_OWNER) {
                log_error("Bus name %s is already owned: is another nexalixd running?", BUS_NAME);
                return -EBUSY;
        }
        if (!dbus_connection_register_object_path(m->bus, BUS_PATH, &vtable, m))
                return -ENOMEM;
        return 0;
}

int manager_start(manager *m) {
        sigset_t mask;
        unsigned n_threads;
        long cpus;
        int r;

        r = take_lock(m->config.store_dir, 0700, "store", &m->lock_fd);
        if (r < 0)
                return r;
        r = take_lock(m->config.runtime_dir, 0755, "runtime", &m->runtime_lock_fd);
        if (r < 0)
                return r;
        r = store_open(m->config.store_dir, &m->store);
        if (r < 0)
                return r;
        r = store_migrate(m->store);
        if (r < 0)
                return r;
        r = local_accounts_new(&LOCAL_ACCOUNTS_SYSTEM, &m->local);
        if (r < 0)
                return r;

        cpus = sysconf(_SC_NPROCESSORS_ONLN);
        n_threads = cpus < 2 ? 2 : cpus > 8 ? 8 : (unsigned) cpus;
        r = worker_pool_new(n_threads, &m->workers);
        if (r < 0)
                return log_error_errno(r, "Failed to start worker threads: %m");

        /* Publish at once: the snapshot may be missing (fresh /run) or older
         * than the store after a crash between commit and publication, which
         * may also have left a temporary file behind. */
        r = snapshot_writer_remove_stale(m->config.runtime_dir);
        if (r < 0)
                log_warning_errno(r, "Failed to remove stale snapshot files in %s: %m", m->config.runtime_dir);
        r = publish_snapshot_isolated(m);
        if (r < 0)
                return r;

        sigemptyset(&mask);
        sigaddset(&mask, SIGTERM);
        sigaddset(&mask, SIGINT);
        sigaddset(&mask, SIGHUP);
        sigprocmask(SIG_BLOCK, &mask, NULL);
        m->signal_fd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
        if (m->signal_fd < 0)
                return log_error_errno(-errno, "Failed to create signalfd: %m");
        signal(SIGPIPE, SIG_IGN);

        return connect_bus(m);
}

/* ---- replies and publication ---- */

static void send_or_hold(manager *m, DBusMessage *reply) {
        if (!reply)
                return;
        if (m->publish_pending) {
                if (m->n_held == m->allocated_held) {
                        size_t a = m->allocated_held ? m->allocated_held * 2 : 16;
                        DBusMessage **h = realloc(m->held_replies, a * sizeof(*h));
                        if (h) {
                                m->held_replies = h;
                                m->allocated_held = a;
                        }
                }
                if (m->n_held < m->allocated_held) {
                        m->held_replies[m->n_held++] = reply;
                        return;
                }
                /* Out of memory: better an early answer than none. */
        }
        dbus_connection_send(m->bus, reply, NULL);
        dbus_message_unref(reply);
}

static void publish_and_release(manager *m) {
        int r = publish_snapshot_isolated(m);
        /* The changes are committed either way and their callers are
         * answered; a failed publication (full /run, say) is retried. */
        m->publish_retry = r < 0;
        if (r < 0)
                log_error_errno(r, "NSS snapshot not updated, retrying in %d s: %m", PUBLISH_RETRY_SECONDS);
        m->publish_pending = false;
        for (size_t i = 0; i < m->n_held; i++) {
                dbus_connection_send(m->bus, m->held_replies[i], NULL);
                dbus_message_unref(m->held_replies[i]);
        }
        m->n_held = 0;
}

DBusMessage *request_new_reply(request *req) {
        return dbus_message_new_method_return(req->message);
}

int request_build_reply(request *req, const char *array_signature, reply_fill_fn fill, void *userdata,
                        DBusMessage **ret_reply) {
        DBusMessage *reply = request_new_reply(req);
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

static DBusMessage *error_reply(request *req, const nx_error *e, int r) {
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
        return dbus_message_new_error(req->message, name, text);
}

request *request_ref(const request *req) {
        request *copy = malloc(sizeof(*copy));
        if (!copy)
                return NULL;
        *copy = *req;
        dbus_message_ref(copy->message);
        copy->manager->n_async++;
        return copy;
}

void request_finish(request *req, DBusMessage *reply, const nx_error *e, int r) {
        if (!reply)
                reply = error_reply(req, e, r);
        send_or_hold(req->manager, reply);
        req->manager->n_async--;
        dbus_message_unref(req->message);
        free(req);
}

int request_op_begin(request *req, bool write, op *o, nx_error *e) {
        int r;

        *o = (op) { .manager = req->manager, .now = (uint64_t) time(NULL), .error = e };
        r = store_begin(req->manager->store, write, &o->txn);
        if (r < 0)
                return r;
        r = caller_load(o->txn, req->manager->local, req->uid, &o->caller);
        if (r < 0) {
                o->txn = store_abort(o->txn);
                return log_error_errno(r, "Failed to look up caller uid %u: %m", req->uid);
        }
        return 0;
}

int request_check_permission(request *req, unsigned permission, nx_error *e) {
        op o;
        int r;

        r = request_op_begin(req, false, &o, e);
        if (r < 0)
                return r;
        if (!caller_may_any(&o.caller, permission))
                r = nx_error_set(e, -EACCES, "permission denied: you may not manage users");
        request_op_abort(&o);
        return r;
}

int request_op_commit(request *req, op *o) {
        int r = store_commit(o->txn);
        o->txn = NULL;
        if (r < 0)
                return r;
        if (o->identity_changed)
                req->manager->publish_pending = true;
        return 0;
}

void request_op_abort(op *o) {
        o->txn = store_abort(o->txn);
}

int request_finish_write(request *req, op *o, int r, DBusMessage **ret_reply) {
        if (r < 0) {
                request_op_abort(o);
                return r;
        }
        r = request_op_commit(req, o);
        if (r < 0)
                return r;
        *ret_reply = request_new_reply(req);
        return *ret_reply ? 0 : -ENOMEM;
}

/* ---- dispatch ---- */

static const bus_method *find_method(DBusMessage *msg) {
        const char *iface = dbus_message_get_interface(msg), *member = dbus_message_get_member(msg);

        for (size_t t = 0; t < ELEMENTSOF(method_tables); t++)
                for (const bus_method *mt = method_tables[t]; mt->member; mt++)
                        if (strcmp(member, mt->member) == 0 && (!iface || strcmp(iface, mt->interface) == 0))
                                return mt;
        return NULL;
}

static DBusHandlerResult message_handler(DBusConnection *bus, DBusMessage *msg, void *userdata) {
        manager *m = userdata;
        const bus_method *method;
        DBusMessage *reply = NULL;
        nx_error e = {};
        request req = { .manager = m, .message = msg };
        unsigned long uid;
        DBusError err;
        int r;

        if (dbus_message_get_type(msg) != DBUS_MESSAGE_TYPE_METHOD_CALL)
                return DBUS_HANDLER_RESULT_NOT_YET_HANDLED;

        if (dbus_message_is_method_call(msg, DBUS_INTERFACE_INTROSPECTABLE, "Introspect")) {
                reply = dbus_message_new_method_return(msg);
                if (reply && !dbus_message_append_args(reply, DBUS_TYPE_STRING,
                                                       &(const char *) { introspection_xml },
                                                       DBUS_TYPE_INVALID)) {
                        dbus_message_unref(reply);
                        reply = NULL;
                }
                send_or_hold(m, reply);
                return DBUS_HANDLER_RESULT_HANDLED;
        }

        method = find_method(msg);
        if (!method)
                return DBUS_HANDLER_RESULT_NOT_YET_HANDLED;
        if (!dbus_message_has_signature(msg, method->signature)) {
                send_or_hold(m, dbus_message_new_error_printf(msg, DBUS_ERROR_INVALID_ARGS,
                                                              "%s expects arguments of type (%s)",
                                                              method->member, method->signature));
                return DBUS_HANDLER_RESULT_HANDLED;
        }

        /* Authorisation starts from the uid the bus vouches for. */
        dbus_error_init(&err);
        uid = dbus_bus_get_unix_user(bus, dbus_message_get_sender(msg), &err);
        if (uid == (unsigned long) -1) {
                log_warning("Cannot identify the caller %s: %s", strempty(dbus_message_get_sender(msg)),
                            err.message);
                dbus_error_free(&err);
                send_or_hold(m, dbus_message_new_error(msg, BUS_ERROR_ACCESS_DENIED, "cannot identify the caller"));
                return DBUS_HANDLER_RESULT_HANDLED;
        }
        req.uid = (uint32_t) uid;

        r = method->fn(&req, &reply, &e);
        if (r == REQUEST_ASYNC)
                return DBUS_HANDLER_RESULT_HANDLED;
        if (r < 0) {
                if (!e.error && r != -ENOMEM)
                        log_error_errno(r, "%s failed: %m", method->member);
                reply = error_reply(&req, &e, r);
        }
        send_or_hold(m, reply);
        return DBUS_HANDLER_RESULT_HANDLED;
}

/* ---- the loop ---- */

static bool handle_signal(manager *m) {
        struct signalfd_siginfo si;

        while (read(m->signal_fd, &si, sizeof(si)) == sizeof(si)) {
                if (si.ssi_signo == SIGHUP) {
                        log_info("SIGHUP: republishing the NSS snapshot");
                        m->publish_pending = true;
                        continue;
                }
                log_info("Received %s, shutting down", strsignal((int) si.ssi_signo));
                return true;
        }
        return false;
}

static uint64_t now_usec(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec * 1000000 + (uint64_t) ts.tv_nsec / 1000;
}

int manager_run(manager *m) {
        /* Ping the service manager's watchdog twice per period, from the
         * loop itself: a loop that hangs stops pinging and gets restarted. */
        uint64_t watchdog = notify_watchdog_usec() / 2, last_ping = now_usec();
        int bus_fd, r;

        if (!dbus_connection_get_unix_fd(m->bus, &bus_fd))
                return log_error_errno(-EBADF, "The bus connection has no file descriptor");

        for (;;) {
                int timeout = m->publish_retry ? PUBLISH_RETRY_SECONDS * 1000 : -1;
                struct pollfd fds[3] = {
                        { .fd = bus_fd, .events = POLLIN },
                        { .fd = m->signal_fd, .events = POLLIN },
                        { .fd = worker_pool_fd(m->workers), .events = POLLIN },
                };

                /* Serve everything already read, then publish once for all the
                 * changes it made, then answer their callers. */
                while (dbus_connection_dispatch(m->bus) == DBUS_DISPATCH_DATA_REMAINS)
                        ;
                if (m->publish_pending)
                        publish_and_release(m);
                if (!dbus_connection_get_is_connected(m->bus))
                        return log_error_errno(-ECONNRESET, "Lost the connection to the system bus");
                if (dbus_connection_has_messages_to_send(m->bus))
                        fds[0].events |= POLLOUT;

                if (watchdog > 0) {
                        uint64_t now = now_usec();
                        if (now - last_ping >= watchdog) {
                                (void) notify_send("WATCHDOG=1");
                                last_ping = now;
                        }
                        int until = (int) ((last_ping + watchdog - now) / 1000) + 1;
                        if (timeout < 0 || until < timeout)
                                timeout = until;
                }

                r = poll(fds, ELEMENTSOF(fds), timeout);
                if (r < 0) {
                        if (errno == EINTR)
                                continue;
                        return log_error_errno(-errno, "poll() failed: %m");
                }
                if (r == 0 && m->publish_retry)
                        m->publish_pending = true;
                if (fds[1].revents && handle_signal(m))
                        break;
                if (fds[2].revents)
                        worker_pool_dispatch(m->workers);
                if (fds[0].revents)
                        dbus_connection_read_write(m->bus, 0);
        }

        (void) notify_send("STOPPING=1\nSTATUS=Finishing accepted requests");
        /* Finish what was accepted: hashing jobs still run to their commit
         * and reply, then one last publication covers every change and
         * releases the replies waiting for it. */
        m->workers = worker_pool_free(m->workers);
        if (m->publish_pending)
                publish_and_release(m);
        dbus_connection_flush(m->bus);
        return 0;
}

/* ---- org.nexalix.Identity1 ---- */

static int method_get_status(request *req, DBusMessage **ret_reply, nx_error *e) {
        manager *m = req->manager;
        DBusMessage *reply = NULL;
        DBusMessageIter it, d;
        uint64_t users = 0, orgs = 0, bytes = 0;
        _cleanup_free_ char *snapshot_path = NULL;
        op o;
        int r;

        r = request_op_begin(req, false, &o, e);
        if (r < 0)
                return r;
        (void) store_count(o.txn, TABLE_USERS, &users);
        (void) store_count(o.txn, TABLE_ORGS, &orgs);
        request_op_abort(&o);
        (void) store_disk_bytes(m->store, &bytes);
        if (asprintf(&snapshot_path, "%s/%s", m->config.runtime_dir, SNAPSHOT_FILE) < 0)
                return -ENOMEM;

        reply = request_new_reply(req);
        if (!reply)
                return -ENOMEM;
        dbus_message_iter_init_append(reply, &it);
        if (bus_dict_open(&it, &d) < 0 ||
            bus_dict_add_string(&d, "version", NEXALIX_VERSION) < 0 ||
            /* How many accounts exist across all organisations is root's
             * business only. */
            (o.caller.superadmin && (bus_dict_add_uint32(&d, "users", (uint32_t) users) < 0 ||
                                     bus_dict_add_uint32(&d, "organisations", (uint32_t) orgs) < 0)) ||
            bus_dict_add_string(&d, "store", m->config.store_dir) < 0 ||
            bus_dict_add_uint64(&d, "store_bytes", bytes) < 0 ||
            bus_dict_add_uint64(&d, "uptime_seconds", (uint64_t) time(NULL) - m->started_at) < 0 ||
            bus_dict_add_string(&d, "snapshot", snapshot_path) < 0 ||
            bus_dict_add_uint64(&d, "snapshot_generation", m->snapshot_generation) < 0 ||
            bus_dict_add_uint32(&d, "caller_uid", req->uid) < 0 ||
            bus_dict_add_string(&d, "caller", o.caller.name) < 0 ||
            bus_dict_close(&it, &d) < 0) {
                dbus_message_unref(reply);
                return -ENOMEM;
        }
        *ret_reply = reply;
        return 0;
}

const bus_method manager_methods[] = {
        { BUS_IFACE_BASE, "GetStatus", "", method_get_status },
        {}
};
