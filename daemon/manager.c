/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "bus.h"
#include "event-loop.h"
#include "local-accounts.h"
#include "log.h"
#include "login-server.h"
#include "manager.h"
#include "migrate.h"
#include "notify.h"
#include "onetime.h"
#include "password.h"
#include "publish.h"
#include "sender.h"
#include "templates.h"
#include "snapshot-writer.h"
#include "worker.h"

#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <time.h>

struct manager {
        config config;
        store *store;
        local_accounts *local;
        accounts accounts;
        worker_pool *workers;
        publisher *publisher;
        event_loop *loop;
        bus_server *bus;
        login_server *login;
        mail_templates *mail_templates;
        mail_sender *mail_sender;
        event_source *signal_source, *worker_source, *watchdog, *forgotten;
        int signal_fd;
        int lock_fd;                    /* held for life: STORE/nexalixd.lock */
        int runtime_lock_fd;            /* and RUNTIME/nexalixd.lock */
        uint64_t watchdog_usec;
        uint64_t started_at;
};

int manager_new(config *c, manager **ret) {
        manager *m = calloc(1, sizeof(*m));

        if (!m)
                return -ENOMEM;
        m->config = *c;
        *c = (config) {};
        m->signal_fd = m->lock_fd = m->runtime_lock_fd = -1;
        m->started_at = (uint64_t) time(NULL);
        *ret = m;
        return 0;
}

manager *manager_free(manager *m) {
        if (!m)
                return NULL;
        /* Workers first: their done() callbacks still answer on the bus and
         * the login socket. */
        m->workers = worker_pool_free(m->workers);
        m->mail_sender = mail_sender_free(m->mail_sender);
        m->login = login_server_free(m->login);
        m->bus = bus_server_free(m->bus);
        m->publisher = publisher_free(m->publisher);
        event_source_free(m->signal_source);
        event_source_free(m->worker_source);
        event_source_free(m->watchdog);
        event_source_free(m->forgotten);
        m->loop = event_loop_free(m->loop);
        store_close(m->store);
        local_accounts_free(m->local);
        mail_templates_free(m->mail_templates);
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

uint64_t manager_snapshot_generation(const manager *m) {
        return publisher_generation(m->publisher);
}

const config *manager_config(const manager *m) {
        return &m->config;
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

static int on_signal(event_source *s, int fd, uint32_t revents, void *userdata) {
        manager *m = userdata;
        struct signalfd_siginfo si;

        while (read(fd, &si, sizeof(si)) == sizeof(si)) {
                if (si.ssi_signo == SIGHUP) {
                        log_info("SIGHUP: republishing the NSS snapshot, reloading the mail templates, "
                                 "retrying waiting mail");
                        publisher_queue_everything(m->publisher);
                        (void) mail_templates_reload(m->mail_templates);
                        (void) mail_sender_retry_now(m->mail_sender);
                        continue;
                }
                log_info("Received %s, shutting down", strsignal((int) si.ssi_signo));
                event_loop_exit(m->loop, 0);
        }
        return 0;
}

static int on_workers(event_source *s, int fd, uint32_t revents, void *userdata) {
        worker_pool_dispatch(userdata);
        return 0;
}

/* Pings the service manager's watchdog twice per period, from the loop
 * itself: a loop that hangs stops pinging and gets restarted. */
static int on_watchdog(event_source *s, uint64_t now, void *userdata) {
        manager *m = userdata;

        (void) notify_send("WATCHDOG=1");
        return event_source_set_time(s, now + m->watchdog_usec / 2);
}

static void prepare_dummy_password(void *userdata) {
        password_prepare_dummy();
}

static void nothing_to_do(void *userdata) {
}

/* "Forgot password" requests wait a moment in the store and are answered
 * here, apart from the request, so that the request itself costs the same
 * for any address (onetime.h). Once a second is soon enough for a mail. */
#define FORGOTTEN_INTERVAL_USEC (1000ULL * 1000)

/* One request in one transaction: a request that fails (a broken record,
 * a mail that cannot be rendered) is dropped with a warning and never
 * holds up the others. */
static bool answer_one_forgotten(manager *m) {
        bool more = false;
        op o;
        int r;

        r = op_begin(&m->accounts, 0, true, NULL, &o);
        if (r < 0)
                return false;
        r = onetime_process_forgotten(&o, true, &more);
        if (r >= 0 && more)
                r = op_commit(&o);
        else
                op_abort(&o);
        if (r >= 0) {
                op_done(&o);
                return more;
        }
        log_warning_errno(r, "Failed to answer a \"forgot password\" request, dropped: %m");
        if (op_begin(&m->accounts, 0, true, NULL, &o) < 0)
                return false;
        if (onetime_process_forgotten(&o, false, &more) >= 0 && op_commit(&o) >= 0)
                op_done(&o);
        else {
                op_abort(&o);
                return false;
        }
        return more;
}

static int on_forgotten(event_source *s, uint64_t now, void *userdata) {
        manager *m = userdata;
        uint64_t queued = 0;
        store_txn *t;

        if (store_begin(m->store, false, &t) >= 0) {
                (void) store_count(t, TABLE_FORGOT_QUEUE, &queued);
                store_abort(t);
        }
        /* At most what was queued when the tick began (and never more than
         * a few hundred), so that a flood cannot hold the loop. */
        for (uint64_t i = 0; i < queued && i < 256; i++)
                if (!answer_one_forgotten(m))
                        break;
        return event_source_set_time(s, now + FORGOTTEN_INTERVAL_USEC);
}

int manager_start(manager *m) {
        bus_services services;
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
        r = mail_templates_load(m->config.mail_templates, NULL, &m->mail_templates);
        if (r < 0)
                return r;
        m->accounts = (accounts) {
                .store = m->store,
                .config = &m->config,
                .local = m->local,
                .mail_templates = m->mail_templates,
        };

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
        r = publisher_new(&m->accounts, m->config.runtime_dir, &m->publisher);
        if (r < 0)
                return r;
        r = publisher_run(m->publisher);
        if (r < 0)
                return r;

        r = event_loop_new(&m->loop);
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
        r = event_add_io(m->loop, m->signal_fd, POLLIN, on_signal, m, &m->signal_source);
        if (r >= 0)
                r = event_add_io(m->loop, worker_pool_fd(m->workers), POLLIN, on_workers, m->workers,
                                 &m->worker_source);
        m->watchdog_usec = notify_watchdog_usec();
        if (r >= 0 && m->watchdog_usec > 0)
                r = event_add_time(m->loop, now_usec() + m->watchdog_usec / 2, on_watchdog, m, &m->watchdog);
        if (r < 0)
                return r;

        /* Mail queued from now on wakes the sender; what the outbox holds
         * from before (a crash, a stop) is tried on the loop's first turn. */
        r = mail_sender_new(&m->accounts, m->loop, m->workers, &m->mail_sender);
        if (r < 0)
                return r;
        m->accounts.mail_queued = mail_sender_kick;
        m->accounts.mail_userdata = m->mail_sender;
        r = event_add_time(m->loop, now_usec() + FORGOTTEN_INTERVAL_USEC, on_forgotten, m, &m->forgotten);
        if (r < 0)
                return r;

        /* The bus before the publisher in the loop: each iteration first
         * serves what the bus read, then publishes once for all of it. */
        services = (bus_services) {
                .accounts = &m->accounts,
                .publisher = m->publisher,
                .workers = m->workers,
                .started_at = m->started_at,
        };
        r = bus_server_new(m->loop, &services, &m->bus);
        if (r < 0)
                return r;
        r = login_server_new(m->loop, &(login_services) {
                        .accounts = &m->accounts,
                        .workers = m->workers,
                        .runtime_dir = m->config.runtime_dir,
                }, &m->login);
        if (r < 0)
                return r;
        /* The stand-in hash that unknown names are checked against, made
         * before the first login needs it (it costs one hash). */
        r = worker_pool_submit(m->workers, prepare_dummy_password, nothing_to_do, NULL);
        if (r < 0)
                return r;
        return publisher_attach(m->publisher, m->loop);
}

int manager_run(manager *m) {
        int r = event_loop_run(m->loop);

        (void) notify_send("STOPPING=1\nSTATUS=Finishing accepted requests");
        /* Finish what was accepted: hashing jobs still run to their commit
         * and reply, then one last publication covers every change and
         * releases the replies waiting for it. */
        /* A delivery under way gets a second to finish; its outcome is
         * recorded when the workers are done. */
        mail_sender_stop(m->mail_sender);
        m->workers = worker_pool_free(m->workers);
        (void) publisher_run(m->publisher);
        m->login = login_server_free(m->login);
        m->bus = bus_server_free(m->bus);
        return r;
}
