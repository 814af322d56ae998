/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "password.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <termios.h>
#include <unistd.h>

#include "ctl.h"

/* Reads one line from fd into buf. Returns its length (without the line
 * ending), -ENODATA at end of input before any byte, -E2BIG if it is too long,
 * -EBADMSG if it contains a NUL byte (which D-Bus strings cannot carry), or
 * -EINTR when a signal interrupted the read. */
static ssize_t read_line(int fd, char buf[static PASSWORD_BUF_SIZE]) {
        size_t n = 0;
        bool nul = false;

        for (;;) {
                char c;
                ssize_t k = read(fd, &c, 1);

                if (k < 0)
                        return -errno;
                if (k == 0) {
                        if (n == 0)
                                return -ENODATA;
                        break;
                }
                if (c == '\n')
                        break;
                if (c == '\0')
                        nul = true;
                if (n >= PASSWORD_MAX + 1) {
                        /* Keep reading to the end of the line, storing nothing. */
                        n = PASSWORD_MAX + 1;
                        continue;
                }
                buf[n++] = c;
        }
        if (n > 0 && buf[n - 1] == '\r')
                n--;
        buf[n] = '\0';
        if (n > PASSWORD_MAX)
                return -E2BIG;
        if (nul)
                return -EBADMSG;
        return (ssize_t) n;
}

/* Turns read_line()'s result into 0 or a reported error. */
static int read_line_result(ssize_t n, const char *source) {
        switch (n) {
        case -ENODATA:
                return ctl_error(-ENODATA, "no password on %s", source);
        case -E2BIG:
                return ctl_error(-E2BIG, "password must be at most %d characters", PASSWORD_MAX);
        case -EBADMSG:
                return ctl_error(-EBADMSG, "password must not contain a NUL byte");
        default:
                if (n < 0)
                        return ctl_error((int) n, "cannot read the password from %s: %m", source);
                return 0;
        }
}

int password_read_stdin(char buf[static PASSWORD_BUF_SIZE]) {
        ssize_t n;

        do
                n = read_line(STDIN_FILENO, buf);
        while (n == -EINTR);

        return read_line_result(n, "standard input");
}

/* The signal that interrupted a prompt. Global because a signal handler can
 * reach nothing else; it only records the signal, and the prompt restores
 * the terminal before dying of it. */
static volatile sig_atomic_t prompt_signal;

static void prompt_signal_handler(int sig) {
        prompt_signal = sig;
}

static const int prompt_signals[] = { SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGTSTP };

static int prompt_once(int tty, const char *prompt, char buf[static PASSWORD_BUF_SIZE]) {
        struct sigaction sa = { .sa_handler = prompt_signal_handler }, old_sa[ELEMENTSOF(prompt_signals)];
        struct termios old, quiet;
        ssize_t n;

        if (tcgetattr(tty, &old) < 0)
                return ctl_error(-errno, "cannot use the terminal: %m");
        quiet = old;
        /* ECHONL still echoes the final newline, so the next output starts on
         * a fresh line. */
        quiet.c_lflag &= ~(tcflag_t) ECHO;
        quiet.c_lflag |= ECHONL;

        /* No SA_RESTART: a signal must interrupt read() so that echo can be
         * switched back on before the signal takes its default effect. */
        prompt_signal = 0;
        sigemptyset(&sa.sa_mask);
        for (size_t i = 0; i < ELEMENTSOF(prompt_signals); i++) {
                sigaction(prompt_signals[i], NULL, &old_sa[i]);
                /* A signal our parent told us to ignore stays ignored. */
                if (old_sa[i].sa_handler != SIG_IGN)
                        sigaction(prompt_signals[i], &sa, NULL);
        }

        if (tcsetattr(tty, TCSAFLUSH, &quiet) < 0) {
                n = -errno;
                goto restore;
        }
        if (write(tty, prompt, strlen(prompt)) < 0) {
                n = -errno;
                goto restore;
        }
        n = read_line(tty, buf);

restore:
        tcsetattr(tty, TCSAFLUSH, &old);
        for (size_t i = 0; i < ELEMENTSOF(prompt_signals); i++)
                sigaction(prompt_signals[i], &old_sa[i], NULL);
        if (prompt_signal != 0) {
                explicit_bzero(buf, PASSWORD_BUF_SIZE);
                raise(prompt_signal);
                return ctl_error(-EINTR, "interrupted");
        }

        return read_line_result(n, "the terminal");
}

static int open_tty(const char *hint, int *ret) {
        int tty = open("/dev/tty", O_RDWR | O_NOCTTY | O_CLOEXEC);

        if (tty < 0)
                return ctl_error(-EINVAL, "no terminal to ask for the password: %s", hint);
        *ret = tty;
        return 0;
}

int password_prompt_current(char buf[static PASSWORD_BUF_SIZE]) {
        _cleanup_close_ int tty = -1;
        int r;

        r = open_tty("use --password-stdin", &tty);
        if (r < 0)
                return r;
        return prompt_once(tty, "Current password: ", buf);
}

int password_prompt_new(char buf[static PASSWORD_BUF_SIZE]) {
        _cleanup_password_ char again[PASSWORD_BUF_SIZE];
        _cleanup_close_ int tty = -1;
        int r;

        r = open_tty("use --password-stdin", &tty);
        if (r < 0)
                return r;

        r = prompt_once(tty, "New password: ", buf);
        if (r < 0)
                return r;
        r = prompt_once(tty, "Retype new password: ", again);
        if (r < 0) {
                explicit_bzero(buf, PASSWORD_BUF_SIZE);
                return r;
        }
        if (strcmp(buf, again) != 0) {
                explicit_bzero(buf, PASSWORD_BUF_SIZE);
                return ctl_error(-EKEYREJECTED, "the passwords do not match");
        }
        return 0;
}
