# SPDX-License-Identifier: LGPL-2.1-or-later
# shellcheck shell=bash
#
# Helpers of the account-lifecycle benchmark (bench/lifecycle/run.sh).
#
# tests/integration/lib.sh does the same job for the tests, but it is built
# around them: it needs nss_wrapper, gives each test a block of 1,000 ids and
# turns every step into a TAP check. The benchmark needs 100,000 ids, only
# ever calls as root (whom dbus-daemon resolves without help) and must not
# pay for assertions inside timed loops, so it carries these few helpers.

# The temporary directory of a run; set by the script that sources this file.
# shellcheck disable=SC2034
BL_TMP=
BL_BUS_PID=
BL_DAEMON_PID=
BL_DAEMON_LOG=

bl_log() { printf '# %s\n' "$*" >&2; }

bl_die() {
    printf 'FATAL: %s\n' "$*" >&2
    exit 1
}

# bl_now: wall-clock seconds with microseconds (bash 5's $EPOCHREALTIME,
# independent of the locale's decimal separator).
bl_now() { printf '%s\n' "${EPOCHREALTIME/,/.}"; }

# bl_elapsed START: seconds since START (a bl_now value), 6 decimals.
bl_elapsed() { awk -v a="$1" -v b="$(bl_now)" 'BEGIN { printf "%.6f\n", b - a }'; }

# bl_calc EXPR: floating-point arithmetic through awk ("%.2f" unless FMT).
bl_calc() { awk "BEGIN { printf \"${2:-%.2f}\", $1 }"; }

bl_pid_gone() {
    local pid=$1 state
    [ -e "/proc/$pid" ] || return 0
    state=$(sed -n 's/^State:[[:space:]]*\([A-Z]\).*/\1/p' "/proc/$pid/status" 2>/dev/null)
    [ -z "$state" ] || [ "$state" = Z ] || [ "$state" = X ]
}

# bl_stop PID: SIGTERM, up to 20 s, then SIGKILL; reaps the child.
bl_stop() {
    local pid=$1 i
    [ -n "$pid" ] || return 0
    if ! bl_pid_gone "$pid"; then
        kill -TERM "$pid" 2>/dev/null
        for ((i = 0; i < 400; i++)); do
            bl_pid_gone "$pid" && break
            sleep 0.05
        done
        bl_pid_gone "$pid" || kill -KILL "$pid" 2>/dev/null
    fi
    wait "$pid" 2>/dev/null
    return 0
}

# bl_status_kib PID FIELD: a "kB" field of /proc/PID/status (VmRSS, VmHWM,
# RssAnon, RssFile), in KiB.
bl_status_kib() {
    awk -v f="$2:" '$1 == f { print $2; exit }' "/proc/$1/status" 2>/dev/null
}

# bl_bytes_apparent FILE / bl_bytes_blocks FILE: file size, and the space it
# takes on disk (allocated blocks), in bytes.
bl_bytes_apparent() { du -B1 --apparent-size "$1" | cut -f1; }
bl_bytes_blocks() { du -B1 "$1" | cut -f1; }

# bl_bus_start DIR POLICY: a private system-type dbus-daemon listening on
# DIR/bus.sock, with the default context of /usr/share/dbus-1/system.conf
# and the project's policy file included; exports DBUS_SYSTEM_BUS_ADDRESS.
bl_bus_start() {
    local dir=$1 policy=$2
    local sock=$dir/bus.sock conf=$dir/bus.conf log=$dir/bus.log i
    "$(dirname "${BASH_SOURCE[0]}")/../../tests/bus-config.sh" "$sock" "$policy" >"$conf"
    dbus-daemon --config-file="$conf" --nofork --nopidfile --nosyslog \
        >"$log" 2>&1 </dev/null &
    BL_BUS_PID=$!
    for ((i = 0; i < 200; i++)); do
        [ -S "$sock" ] && break
        bl_pid_gone "$BL_BUS_PID" && bl_die "dbus-daemon exited: $(cat "$log")"
        sleep 0.05
    done
    [ -S "$sock" ] || bl_die "dbus-daemon did not create $sock within 10 s"
    export DBUS_SYSTEM_BUS_ADDRESS="unix:path=$sock"
}

# bl_daemon_start DIR: nexalixd with its store, runtime and mail spool in DIR
# and ids 200000-999999; waits until `nexalixctl status` answers. Extra
# daemon options (e.g. --debug) come from $NEXALIXD_ARGS; $BL_RUNTIME_DIR puts
# the runtime directory elsewhere (a tmpfs, as /run is).
bl_daemon_start() {
    local dir=$1 i
    mkdir -p "$dir/mail" "$dir/home"
    cat >"$dir/nexalixd.conf" <<EOF
# Written by bench/lifecycle/run.sh.
[paths]
store = $dir/store
runtime = ${BL_RUNTIME_DIR:-$dir/run}

[ids]
uid_min = 200000
uid_max = 999999
home = $dir/home/{user}
shell = /usr/sbin/nologin

[mail]
spool = $dir/mail
from = nexalix@bench.invalid

[links]
url = https://id.bench.invalid/redeem?token={token}
EOF
    BL_DAEMON_LOG=$dir/nexalixd.log
    # shellcheck disable=SC2086 # NEXALIXD_ARGS is a list of options
    "$NEXALIXD" --config "$dir/nexalixd.conf" --foreground ${NEXALIXD_ARGS:-} \
        >"$BL_DAEMON_LOG" 2>&1 </dev/null &
    BL_DAEMON_PID=$!
    for ((i = 0; i < 300; i++)); do
        bl_pid_gone "$BL_DAEMON_PID" && bl_die "nexalixd exited before answering: $(tail -n 20 "$BL_DAEMON_LOG")"
        timeout 5 "$NEXALIXCTL" status >/dev/null 2>&1 && return 0
        sleep 0.1
    done
    bl_die "nexalixd did not answer \`nexalixctl status\` within 30 s"
}

bl_instance_stop() {
    bl_stop "$BL_DAEMON_PID"
    BL_DAEMON_PID=
    bl_stop "$BL_BUS_PID"
    BL_BUS_PID=
    unset DBUS_SYSTEM_BUS_ADDRESS
}

# bl_ctl ARGS…: nexalixctl as root; dies with its message when it fails.
bl_ctl() {
    local err
    err=$("$NEXALIXCTL" "$@" 2>&1 >/dev/null) || bl_die "nexalixctl $* failed: $err"
}
