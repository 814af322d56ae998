/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* nexalixd: the Nexalix identity daemon. */

#include "build-config.h"
#include "config.h"
#include "log.h"
#include "manager.h"
#include "notify.h"
#include "publish.h"

#include <fcntl.h>
#include <getopt.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>

static void help(void) {
        printf("Usage: nexalixd [--config FILE] [--foreground]\n"
               "\n"
               "The Nexalix identity daemon: owns the user store, serves org.nexalix.Identity1\n"
               "on the system bus and publishes the NSS snapshot.\n"
               "\n"
               "  -c, --config FILE   configuration file (default %s)\n"
               "  -f, --foreground    stay in the foreground and log to stderr\n"
               "  -d, --debug         log debug messages too\n"
               "  -h, --help          show this help\n"
               "      --version       show the version\n"
               "\n"
               "See nexalixd(8).\n",
               NEXALIX_CONFIG_PATH);
}

/* Forks; the parent waits until the child reports readiness (or dies) so that
 * "nexalixd && nexalixctl status" works, and exits with its verdict. */
static int daemonize(int *ret_ready_fd) {
        int fds[2];
        pid_t pid;
        char c;

        if (pipe2(fds, O_CLOEXEC) < 0)
                return -errno;
        pid = fork();
        if (pid < 0)
                return -errno;
        if (pid > 0) {
                int status;

                close(fds[1]);
                if (read(fds[0], &c, 1) == 1)
                        _exit(EXIT_SUCCESS);
                (void) waitpid(pid, &status, 0);
                _exit(WIFEXITED(status) && WEXITSTATUS(status) ? WEXITSTATUS(status) : EXIT_FAILURE);
        }
        close(fds[0]);
        if (setsid() < 0)
                return -errno;
        if (chdir("/") < 0)
                return -errno;
        *ret_ready_fd = fds[1];
        return 0;
}

/* Returns the pid file written (to remove at exit), or NULL. */
static char *report_ready(manager *m, int ready_fd) {
        char *pidfile = NULL;
        int null_fd;
        FILE *f;

        if (ready_fd < 0)
                return NULL;
        if (asprintf(&pidfile, "%s/nexalixd.pid", manager_config(m)->runtime_dir) >= 0 &&
            (f = fopen(pidfile, "we"))) {
                fprintf(f, "%d\n", (int) getpid());
                fclose(f);
        }
        /* From here on the terminal is not ours: log to syslog. */
        log_open(true);
        null_fd = open("/dev/null", O_RDWR | O_CLOEXEC);
        if (null_fd >= 0) {
                dup2(null_fd, STDIN_FILENO);
                dup2(null_fd, STDOUT_FILENO);
                dup2(null_fd, STDERR_FILENO);
                close(null_fd);
        }
        (void) write(ready_fd, "R", 1);
        close(ready_fd);
        return pidfile;
}

int main(int argc, char *argv[]) {
        static const struct option options[] = {
                { "config", required_argument, NULL, 'c' },
                { "foreground", no_argument, NULL, 'f' },
                { "debug", no_argument, NULL, 'd' },
                { "help", no_argument, NULL, 'h' },
                { "version", no_argument, NULL, 'V' },
                {}
        };
        _cleanup_free_ char *pidfile = NULL;
        const char *config_path = NULL;
        bool foreground = false;
        manager *m = NULL;
        config cfg;
        int ready_fd = -1, c, r;

        /* Internal: the NSS snapshot publisher the daemon starts. */
        if (argc > 1 && strcmp(argv[1], "--publish-snapshot") == 0)
                return publisher_child_main(argc - 2, argv + 2);

        while ((c = getopt_long(argc, argv, "c:fdh", options, NULL)) >= 0)
                switch (c) {
                case 'c':
                        config_path = optarg;
                        break;
                case 'f':
                        foreground = true;
                        break;
                case 'd':
                        log_set_max_level(LOG_DEBUG);
                        break;
                case 'h':
                        help();
                        return EXIT_SUCCESS;
                case 'V':
                        printf("nexalixd %s\n", NEXALIX_VERSION);
                        return EXIT_SUCCESS;
                default:
                        fprintf(stderr, "Try 'nexalixd --help'.\n");
                        return 2;
                }
        if (optind < argc) {
                fprintf(stderr, "nexalixd: unexpected argument '%s'. Try 'nexalixd --help'.\n", argv[optind]);
                return 2;
        }

        log_open(false);
        umask(0022);
        if (config_load(config_path ?: NEXALIX_CONFIG_PATH, !!config_path, &cfg) < 0)
                return EXIT_FAILURE;
        if (sodium_init() < 0) {
                log_error("Failed to initialise libsodium");
                config_done(&cfg);
                return EXIT_FAILURE;
        }

        /* Fork before anything opens the store or the bus: neither LMDB nor
         * libdbus survive a fork. */
        if (!foreground) {
                r = daemonize(&ready_fd);
                if (r < 0) {
                        log_error_errno(r, "Failed to daemonize: %m");
                        config_done(&cfg);
                        return EXIT_FAILURE;
                }
        }

        r = manager_new(&cfg, &m);
        if (r < 0) {
                config_done(&cfg);
                return EXIT_FAILURE;
        }
        r = manager_start(m);
        if (r >= 0) {
                log_info("nexalixd %s ready: store %s, runtime %s", NEXALIX_VERSION, manager_config(m)->store_dir,
                         manager_config(m)->runtime_dir);
                (void) notify_send("READY=1\nSTATUS=Serving org.nexalix.Identity1; NSS snapshot generation %llu",
                                   (unsigned long long) manager_snapshot_generation(m));
                pidfile = report_ready(m, ready_fd);
                r = manager_run(m);
        }
        if (pidfile)
                (void) unlink(pidfile);
        manager_free(m);
        return r < 0 ? EXIT_FAILURE : EXIT_SUCCESS;
}
