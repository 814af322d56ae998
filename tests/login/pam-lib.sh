# SPDX-License-Identifier: LGPL-2.1-or-later
# shellcheck shell=bash
#
# What the libpam tests share (test-pam, test-2fa, test-links), on top of
# tests/integration/lib.sh: libpam_wrapper (libpam reads service files from
# $PAMD instead of /etc/pam.d), libfaketime (the daemon's clock, moved by
# writing an offset or a time to $CLOCK), the pam-driver, and assertions on
# the PAM codes it prints.
#
#   . "$(dirname "$0")/pam-lib.sh"
#   pam_init TOOLS...       nx_init, the libraries, $PAMD, $CLOCK, and the
#                           daemon's prefix; the test then starts the bus and
#                           the daemon
#   pam OPTS... SERVICE USER OPS...          the driver as root
#   pam_as UID OPTS... SERVICE USER OPS...   as another uid
#   result OP CODE DESCRIPTION               the last run's OP returned CODE

. "$(dirname "${BASH_SOURCE[0]}")/../integration/lib.sh"

# nx_find_lib PATTERN...: the first file of the globs that exists.
nx_find_lib() {
    local f
    for f in "$@"; do
        [ -e "$f" ] && { printf '%s\n' "$f"; return 0; }
    done
    return 1
}

pam_init() {
    nx_init "$@"
    PAM_WRAPPER_LIB=$(nx_find_lib /usr/lib/x86_64-linux-gnu/libpam_wrapper.so /usr/lib/*/libpam_wrapper.so) ||
        nx_skip "libpam_wrapper.so not found (Debian package libpam-wrapper)"
    FAKETIME_LIB=$(nx_find_lib /usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1 /usr/lib/*/faketime/libfaketime.so.1) ||
        nx_skip "libfaketime.so.1 not found (Debian package faketime)"
    [ -x "${NX_PAM_DRIVER:-}" ] || nx_skip "NX_PAM_DRIVER (tests/login/pam-driver) not built"
    [ -e "${NEXALIX_PAM_MODULE:-}" ] || nx_skip "NEXALIX_PAM_MODULE (pam_nexalix.so) not built"
    PAMD=$NX_TMP/pam.d
    mkdir -p "$PAMD"
    # The daemon's clock (time(), not the monotonic clock of its timers):
    # "+0", "+16s", "@2026-12-01 12:00:10", re-read at every call.
    CLOCK=$NX_TMP/clock
    printf '+0\n' >"$CLOCK"
    NX_DAEMON_PREFIX=(env LD_PRELOAD="$FAKETIME_LIB" FAKETIME_TIMESTAMP_FILE="$CLOCK" FAKETIME_NO_CACHE=1
        DONT_FAKE_MONOTONIC=1)
}

# pam_service NAME LINE...: a service file in $PAMD.
pam_service() {
    local name=$1
    shift
    printf '%s\n' "$@" >"$PAMD/$name"
    chmod a+r "$PAMD/$name"
}

pam() {
    nx_run env LD_PRELOAD="$PAM_WRAPPER_LIB" PAM_WRAPPER=1 PAM_WRAPPER_SERVICE_DIR="$PAMD" "$NX_PAM_DRIVER" "$@"
}

pam_as() {
    local uid=$1
    shift
    nx_run setpriv --reuid="$uid" --regid="$uid" --clear-groups \
        env LD_PRELOAD="$PAM_WRAPPER_LIB" PAM_WRAPPER=1 PAM_WRAPPER_SERVICE_DIR="$PAMD" "$NX_PAM_DRIVER" "$@"
}

result() {
    local got
    got=$(sed -n "s/^RESULT $1 //p" <<<"$OUT" | tail -n 1)
    if [ "$got" = "$2" ]; then
        ok "$3"
    else
        fail "$3" "expected $1 to return $2, got '${got:-nothing}'" "$(nx_last)"
    fi
}
