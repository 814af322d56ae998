# SPDX-License-Identifier: LGPL-2.1-or-later
# shellcheck shell=bash
#
# Shared helpers of the integration tests. Each test script sources this file,
# then starts what it needs itself: a private system-type dbus-daemon with the
# project's bus policy, nexalixd with its store and runtime in a temporary
# directory, and drives the real nexalixctl. Nothing is mocked.
#
# Environment (meson passes these; defaults fit a manual run from the source
# tree with a build directory called build-it):
#   NEXALIXD         path of the built daemon
#   NEXALIXCTL       path of the built CLI
#   NEXALIX_SRCDIR   the source tree (for data/org.nexalix.Identity1.conf)
#   NX_KEEP=1        keep the temporary directory after the test, for debugging
#   NX_VERBOSE=1     echo every command the helpers run
#
# Conventions: assertions never stop the script; they print what was expected
# and what came instead, and count the failure. nx_finish turns the count into
# the exit status. nx_die is for the cases where going on makes no sense (the
# daemon does not start). Exit 77 means "skipped" to meson.

set -u
# With pipefail, `printf … | grep -q` can fail when grep quits before printf
# has written everything (SIGPIPE): match strings with here-strings instead.
set -o pipefail

NX_TEST_NAME=$(basename "$0" .sh)
NX_LIBDIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
NEXALIX_SRCDIR=${NEXALIX_SRCDIR:-$(cd "$NX_LIBDIR/../.." && pwd)}
NEXALIXD=${NEXALIXD:-$NEXALIX_SRCDIR/build-it/daemon/nexalixd}
NEXALIXCTL=${NEXALIXCTL:-$NEXALIX_SRCDIR/build-it/tools/nexalixctl}
NX_POLICY=${NX_POLICY:-$NEXALIX_SRCDIR/data/org.nexalix.Identity1.conf}
NX_CMD_TIMEOUT=${NX_CMD_TIMEOUT:-30}
NX_READY_TIMEOUT=${NX_READY_TIMEOUT:-30}

# Each test gets its own block of 1000 ids (set NX_UID_BASE before sourcing,
# or let the test name pick one) so that tests can run in parallel: a
# deactivation signals every process of a uid, and must never hit a process of
# another test. NX_UNKNOWN_UID is resolvable for dbus-daemon but is no Nexalix
# user in any test.
NX_UNKNOWN_UID=299999
if [ -z "${NX_UID_BASE:-}" ]; then
    case "$NX_TEST_NAME" in
        test-orgs)        NX_UID_BASE=200000 ;;
        test-users)       NX_UID_BASE=201000 ;;
        test-validation)  NX_UID_BASE=202000 ;;
        test-lifecycle)   NX_UID_BASE=203000 ;;
        test-audit)       NX_UID_BASE=204000 ;;
        test-authz)       NX_UID_BASE=205000 ;;
        test-crash)       NX_UID_BASE=206000 ;;
        test-persistence) NX_UID_BASE=207000 ;;
        test-concurrency) NX_UID_BASE=208000 ;;
        test-ids)         NX_UID_BASE=210000 ;;
        test-completion)  NX_UID_BASE=211000 ;;
        test-service)     NX_UID_BASE=213000 ;;
        test-pam)         NX_UID_BASE=214000 ;;
        test-ssh)         NX_UID_BASE=215000 ;;
        test-host-wiring) NX_UID_BASE=216000 ;;
        test-2fa)         NX_UID_BASE=217000 ;;
        test-links)       NX_UID_BASE=222000 ;;
        test-ssh-2fa)     NX_UID_BASE=218000 ;;
        test-mail)        NX_UID_BASE=219000 ;;
        test-sshkeys)     NX_UID_BASE=220000 ;;
        test-ssh-keys)    NX_UID_BASE=221000 ;;
        *)                NX_UID_BASE=209000 ;;
    esac
fi
NX_UID_MAX=$((NX_UID_BASE + 999))

NX_FAILS=0
NX_CHECKS=0
NX_TMP=
NX_DAEMON_PID=
NX_DAEMON_CONF=
NX_DAEMON_LOG=
NX_BUS_PIDS=()
NX_BG_PIDS=()
NX_EXTRA_DAEMON_PIDS=()
# Words put before nexalixd when starting it (e.g. a mount namespace wrapper
# that must end by exec'ing its arguments, so that the pid stays the daemon's).
NX_DAEMON_PREFIX=()
# Words put after nexalixd's own options (e.g. --debug).
NX_DAEMON_ARGS=()
# Results of the last nx_run: exit status, standard output, standard error.
RC=0
OUT=
ERR=

# ---------------------------------------------------------------------------
# Reporting

nx_log() { printf '# %s\n' "$*"; }

ok() {
    NX_CHECKS=$((NX_CHECKS + 1))
    printf 'ok %d - %s\n' "$NX_CHECKS" "$1"
}

# fail DESCRIPTION [DETAIL…]: one failed check; details go on indented lines.
fail() {
    NX_CHECKS=$((NX_CHECKS + 1))
    NX_FAILS=$((NX_FAILS + 1))
    printf 'not ok %d - %s\n' "$NX_CHECKS" "$1"
    shift
    local line
    for line in "$@"; do
        printf '%s\n' "$line" | sed 's/^/#     /'
    done
}

nx_die() {
    printf 'FATAL: %s\n' "$*"
    NX_FAILS=$((NX_FAILS + 1))
    exit 1
}

nx_skip() {
    printf 'SKIP: %s\n' "$*"
    NX_SKIPPED=1
    exit 77
}

# Ends the script: 0 when every check passed, 1 otherwise.
nx_finish() {
    if [ "$NX_FAILS" -eq 0 ]; then
        printf '# %s: all %d checks passed\n' "$NX_TEST_NAME" "$NX_CHECKS"
        exit 0
    fi
    printf '# %s: %d of %d checks FAILED\n' "$NX_TEST_NAME" "$NX_FAILS" "$NX_CHECKS"
    exit 1
}

# ---------------------------------------------------------------------------
# Preconditions

nx_require_root() {
    if [ "$(id -u)" -ne 0 ]; then
        nx_skip "$NX_TEST_NAME needs root: it runs a system-type dbus-daemon, nexalixd and the CLI as other uids (setpriv)"
    fi
}

nx_require_tools() {
    local t
    for t in dbus-daemon jq setpriv timeout "$@"; do
        command -v "$t" >/dev/null 2>&1 || nx_skip "$t is not installed"
    done
    [ -x "$NEXALIXD" ] || nx_die "nexalixd not found at $NEXALIXD (set NEXALIXD)"
    [ -x "$NEXALIXCTL" ] || nx_die "nexalixctl not found at $NEXALIXCTL (set NEXALIXCTL)"
    [ -r "$NX_POLICY" ] || nx_die "bus policy not found at $NX_POLICY (set NEXALIX_SRCDIR)"
    NX_NSS_WRAPPER=$(nx_find_nss_wrapper) || nx_skip "libnss_wrapper.so not found (Debian package libnss-wrapper)"
}

nx_find_nss_wrapper() {
    local p
    for p in /usr/lib/*/libnss_wrapper.so /usr/lib/libnss_wrapper.so /usr/lib64/libnss_wrapper.so; do
        [ -e "$p" ] && { printf '%s\n' "$p"; return 0; }
    done
    return 1
}

# ---------------------------------------------------------------------------
# Set-up and clean-up

# nx_init: temporary directory, nss_wrapper files, the cleanup trap.
nx_init() {
    nx_require_root
    nx_require_tools "$@"
    NX_TMP=$(mktemp -d "${TMPDIR:-/tmp}/nexalix-$NX_TEST_NAME.XXXXXX") || nx_die "mktemp failed"
    # Other uids (setpriv) must reach the bus sockets inside.
    chmod 0755 "$NX_TMP"
    trap nx_cleanup EXIT
    trap 'exit 130' INT
    trap 'exit 143' TERM
    nx_write_nss_files
    mkdir -p "$NX_TMP/mail"
    NX_DAEMON_LOG=$NX_TMP/nexalixd.log
    : >"$NX_DAEMON_LOG"
    nx_log "$NX_TEST_NAME: temporary directory $NX_TMP, ids $NX_UID_BASE-$NX_UID_MAX"
    nx_log "nexalixd=$NEXALIXD nexalixctl=$NEXALIXCTL"
}

# dbus-daemon refuses connections from uids NSS cannot resolve. Until the
# Nexalix NSS module publishes users, the private bus resolves them through
# nss_wrapper from these files, which cover the whole id block of the test.
nx_write_nss_files() {
    local id
    {
        printf 'root:x:0:0:root:/root:/bin/bash\n'
        printf 'nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n'
        for ((id = NX_UID_BASE; id <= NX_UID_MAX; id++)); do
            printf 'u%d:x:%d:%d::/nonexistent:/usr/sbin/nologin\n' "$id" "$id" "$id"
        done
        printf 'nxunknown:x:%d:%d::/nonexistent:/usr/sbin/nologin\n' "$NX_UNKNOWN_UID" "$NX_UNKNOWN_UID"
    } >"$NX_TMP/passwd"
    {
        printf 'root:x:0:\n'
        printf 'nogroup:x:65534:\n'
        for ((id = NX_UID_BASE; id <= NX_UID_MAX; id++)); do
            printf 'g%d:x:%d:\n' "$id" "$id"
        done
        printf 'nxunknown:x:%d:\n' "$NX_UNKNOWN_UID"
    } >"$NX_TMP/group"
    chmod 0644 "$NX_TMP/passwd" "$NX_TMP/group"
}

nx_pid_gone() {
    local pid=$1 state
    [ -e "/proc/$pid" ] || return 0
    state=$(sed -n 's/^State:[[:space:]]*\([A-Z]\).*/\1/p' "/proc/$pid/status" 2>/dev/null)
    [ -z "$state" ] || [ "$state" = Z ] || [ "$state" = X ]
}

# nx_wait_gone PID SECONDS: true when PID ended (or is a zombie) in time.
nx_wait_gone() {
    local pid=$1 deadline=$((SECONDS + $2))
    while ! nx_pid_gone "$pid"; do
        [ "$SECONDS" -ge "$deadline" ] && return 1
        sleep 0.05
    done
    return 0
}

nx_kill_and_reap() {
    local pid=$1
    [ -n "$pid" ] || return 0
    if ! nx_pid_gone "$pid"; then
        kill -TERM "$pid" 2>/dev/null
        nx_wait_gone "$pid" 5 || kill -KILL "$pid" 2>/dev/null
    fi
    wait "$pid" 2>/dev/null
    return 0
}

nx_cleanup() {
    local rc=$? pid
    trap - EXIT
    for pid in "${NX_BG_PIDS[@]}"; do nx_kill_and_reap "$pid"; done
    for pid in "${NX_EXTRA_DAEMON_PIDS[@]}"; do nx_kill_and_reap "$pid"; done
    nx_kill_and_reap "$NX_DAEMON_PID"
    for pid in "${NX_BUS_PIDS[@]}"; do nx_kill_and_reap "$pid"; done
    if [ "$rc" -ne 0 ] && [ "$rc" -ne 77 ] && [ -n "$NX_TMP" ]; then
        if [ -s "$NX_DAEMON_LOG" ]; then
            printf '# ---- last lines of the nexalixd log (%s) ----\n' "$NX_DAEMON_LOG"
            tail -n 40 "$NX_DAEMON_LOG" | sed 's/^/#   /'
        fi
        for f in "$NX_TMP"/bus-*.log; do
            [ -s "$f" ] || continue
            printf '# ---- %s ----\n' "$f"
            tail -n 10 "$f" | sed 's/^/#   /'
        done
    fi
    if [ -n "$NX_TMP" ] && [ -d "$NX_TMP" ]; then
        if [ "${NX_KEEP:-0}" = 1 ]; then
            printf '# kept %s\n' "$NX_TMP"
        else
            rm -rf "$NX_TMP"
        fi
    fi
    exit "$rc"
}

# ---------------------------------------------------------------------------
# The private bus

# nx_bus_start [NAME]: starts a system-type dbus-daemon listening on
# $NX_TMP/bus-NAME.sock with the default-deny policy of the real system bus
# plus the project's policy file. Sets NX_LAST_BUS_ADDR; the first bus
# ("main") is exported as DBUS_SYSTEM_BUS_ADDRESS.
nx_bus_start() {
    local name=${1:-main}
    local sock=$NX_TMP/bus-$name.sock conf=$NX_TMP/bus-$name.conf log=$NX_TMP/bus-$name.log
    "$(dirname "${BASH_SOURCE[0]}")/../bus-config.sh" "$sock" "$NX_POLICY" >"$conf"
    LD_PRELOAD=$NX_NSS_WRAPPER NSS_WRAPPER_PASSWD=$NX_TMP/passwd NSS_WRAPPER_GROUP=$NX_TMP/group \
        dbus-daemon --config-file="$conf" --nofork --nopidfile --nosyslog \
        >"$log" 2>&1 </dev/null &
    local pid=$!
    NX_BUS_PIDS+=("$pid")
    local deadline=$((SECONDS + 10))
    while [ ! -S "$sock" ]; do
        nx_pid_gone "$pid" && nx_die "dbus-daemon ($name) exited: $(cat "$log")"
        [ "$SECONDS" -ge "$deadline" ] && nx_die "dbus-daemon ($name) did not create $sock"
        sleep 0.05
    done
    # Every uid may connect, as on the real system bus.
    chmod 0666 "$sock"
    NX_LAST_BUS_ADDR="unix:path=$sock"
    if [ "$name" = main ]; then
        export DBUS_SYSTEM_BUS_ADDRESS=$NX_LAST_BUS_ADDR
    fi
    nx_log "dbus-daemon $name (pid $pid) on $NX_LAST_BUS_ADDR"
}

# ---------------------------------------------------------------------------
# The daemon

# nx_write_config FILE [STORE [RUNTIME]]: a nexalixd config for this test.
nx_write_config() {
    local file=$1 store=${2:-$NX_TMP/store} runtime=${3:-$NX_TMP/run}
    cat >"$file" <<EOF
# nexalixd configuration written by $NX_TEST_NAME
[paths]
store = $store
runtime = $runtime

[ids]
uid_min = $NX_UID_BASE
uid_max = $NX_UID_MAX
home = $NX_TMP/home/{user}
shell = /usr/sbin/nologin

[mail]
spool = $NX_TMP/mail
from = nexalix@test.invalid

[links]
url = https://id.test.invalid/redeem?token={token}
EOF
}

# nx_daemon_start: starts nexalixd in the foreground (as a child of this
# shell, so that its exit status can be collected) and waits until
# `nexalixctl status` answers. Dies when it does not come up.
nx_daemon_start() {
    if [ -z "$NX_DAEMON_CONF" ]; then
        NX_DAEMON_CONF=$NX_TMP/nexalixd.conf
        nx_write_config "$NX_DAEMON_CONF"
    fi
    printf -- '---- nexalixd start %s ----\n' "$(date +%T.%N)" >>"$NX_DAEMON_LOG"
    "${NX_DAEMON_PREFIX[@]}" "$NEXALIXD" --config "$NX_DAEMON_CONF" --foreground "${NX_DAEMON_ARGS[@]}" \
        >>"$NX_DAEMON_LOG" 2>&1 </dev/null &
    NX_DAEMON_PID=$!
    nx_wait_ready || nx_die "nexalixd did not answer \`nexalixctl status\` within ${NX_READY_TIMEOUT}s"
}

# nx_wait_ready: polls `nexalixctl status` until it answers, the daemon dies
# or NX_READY_TIMEOUT passes.
nx_wait_ready() {
    local deadline=$((SECONDS + NX_READY_TIMEOUT))
    while :; do
        if nx_pid_gone "$NX_DAEMON_PID"; then
            wait "$NX_DAEMON_PID" 2>/dev/null
            printf '# nexalixd exited with status %s before answering; log:\n' "$?"
            sed 's/^/#   /' "$NX_DAEMON_LOG" | tail -n 30
            NX_DAEMON_PID=
            return 1
        fi
        if timeout 5 "$NEXALIXCTL" status >/dev/null 2>&1; then
            return 0
        fi
        [ "$SECONDS" -ge "$deadline" ] && return 1
        sleep 0.1
    done
}

# nx_daemon_stop: SIGTERM, wait (15 s at most); sets NX_DAEMON_RC.
nx_daemon_stop() {
    local pid=$NX_DAEMON_PID
    NX_DAEMON_RC=
    [ -n "$pid" ] || return 0
    kill -TERM "$pid" 2>/dev/null
    if ! nx_wait_gone "$pid" 15; then
        fail "nexalixd exits within 15 s of SIGTERM" "still running; killing it"
        kill -KILL "$pid" 2>/dev/null
    fi
    wait "$pid" 2>/dev/null
    NX_DAEMON_RC=$?
    NX_DAEMON_PID=
}

# nx_daemon_kill9: SIGKILL, reap.
nx_daemon_kill9() {
    local pid=$NX_DAEMON_PID
    [ -n "$pid" ] || return 0
    kill -KILL "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
    NX_DAEMON_PID=
}

nx_daemon_alive() {
    [ -n "$NX_DAEMON_PID" ] && ! nx_pid_gone "$NX_DAEMON_PID"
}

# assert_daemon_alive DESCRIPTION: the daemon did not crash.
assert_daemon_alive() {
    if nx_daemon_alive; then
        ok "nexalixd still running: $1"
    else
        wait "$NX_DAEMON_PID" 2>/dev/null
        fail "nexalixd still running: $1" "nexalixd exited with status $?" \
            "$(tail -n 20 "$NX_DAEMON_LOG")"
        NX_DAEMON_PID=
        nx_daemon_start
    fi
}

# nx_setup: the usual start of a test: temporary directory, bus, daemon.
nx_setup() {
    nx_init "$@"
    nx_bus_start main
    nx_daemon_start
}

# ---------------------------------------------------------------------------
# Running commands

# nx_run CMD…: runs CMD with a timeout and no standard input; sets RC, OUT
# (standard output) and ERR (standard error).
nx_run() {
    [ "${NX_VERBOSE:-0}" = 1 ] && printf '# $ %s\n' "$*"
    timeout -k 5 "$NX_CMD_TIMEOUT" "$@" >"$NX_TMP/.out" 2>"$NX_TMP/.err" </dev/null
    RC=$?
    OUT=$(cat "$NX_TMP/.out")
    ERR=$(cat "$NX_TMP/.err")
    NX_LAST_CMD="$*"
    [ "$RC" -eq 124 ] && printf '# timed out after %ss: %s\n' "$NX_CMD_TIMEOUT" "$*"
    return 0
}

# nx_run_input INPUT CMD…: as nx_run, with INPUT and a newline on stdin.
nx_run_input() {
    local input=$1
    shift
    [ "${NX_VERBOSE:-0}" = 1 ] && printf '# $ %s  (with input)\n' "$*"
    printf '%s\n' "$input" | timeout -k 5 "$NX_CMD_TIMEOUT" "$@" >"$NX_TMP/.out" 2>"$NX_TMP/.err"
    RC=$?
    OUT=$(cat "$NX_TMP/.out")
    ERR=$(cat "$NX_TMP/.err")
    NX_LAST_CMD="$*"
    return 0
}

# ctl ARGS…: nexalixctl as root. ctl_as UID GID ARGS…: as another uid.
ctl() { nx_run "$NEXALIXCTL" "$@"; }
ctl_input() { local input=$1; shift; nx_run_input "$input" "$NEXALIXCTL" "$@"; }
ctl_as() {
    local uid=$1 gid=$2
    shift 2
    nx_run setpriv --reuid="$uid" --regid="$gid" --clear-groups "$NEXALIXCTL" "$@"
}

# as_uid UID GID CMD…: the setpriv prefix for commands run by hand.
as_uid() {
    local uid=$1 gid=$2
    shift 2
    setpriv --reuid="$uid" --regid="$gid" --clear-groups "$@"
}

# ---------------------------------------------------------------------------
# Assertions (each prints expected and actual on failure)

nx_last() {
    printf 'command: %s\nexit: %s\nstdout: %s\nstderr: %s' "${NX_LAST_CMD:-}" "$RC" \
        "$(printf '%s' "$OUT" | head -c 1500)" "$(printf '%s' "$ERR" | head -c 1500)"
}

# assert_eq DESCRIPTION EXPECTED ACTUAL
assert_eq() {
    if [ "$2" == "$3" ]; then
        ok "$1"
    else
        fail "$1" "expected: $2" "actual:   $3"
    fi
}

assert_ne() {
    if [ "$2" != "$3" ]; then
        ok "$1"
    else
        fail "$1" "expected anything but: $2" "actual: $3"
    fi
}

# assert_contains DESCRIPTION HAYSTACK NEEDLE (fixed string)
assert_contains() {
    if [[ "$2" == *"$3"* ]]; then
        ok "$1"
    else
        fail "$1" "expected to contain: $3" "actual: $2"
    fi
}

assert_not_contains() {
    if [[ "$2" != *"$3"* ]]; then
        ok "$1"
    else
        fail "$1" "expected NOT to contain: $3" "actual: $2"
    fi
}

# assert_match DESCRIPTION HAYSTACK ERE (case-insensitive extended regex)
assert_match() {
    if grep -Eiq -- "$3" <<<"$2"; then
        ok "$1"
    else
        fail "$1" "expected to match (case-insensitive): $3" "actual: $2"
    fi
}

assert_not_match() {
    if ! grep -Eiq -- "$3" <<<"$2"; then
        ok "$1"
    else
        fail "$1" "expected NOT to match: $3" "actual: $2"
    fi
}

# assert_exit CODE CMD…: runs CMD (nx_run) and checks its exit status; RC,
# OUT and ERR stay available for further checks.
assert_exit() {
    local code=$1
    shift
    nx_run "$@"
    if [ "$RC" -eq "$code" ]; then
        ok "exit $code: ${*##*/}"
    else
        fail "exit $code: $*" "expected exit: $code" "$(nx_last)"
    fi
}

# check_rc DESCRIPTION CODE: checks the status of the last nx_run/ctl.
# A usage error (2) or an unreachable daemon (3) must also be explained on
# stderr.
check_rc() {
    if [ "$RC" -ne "$2" ]; then
        fail "$1" "expected exit: $2" "$(nx_last)"
    elif [ "$2" -ge 2 ] && [ -z "$ERR" ]; then
        fail "$1: explained on stderr" "stderr is empty" "$(nx_last)"
    else
        ok "$1 (exit $2)"
    fi
}

# check_refused DESCRIPTION ERE: the last command was refused by the daemon:
# exit 1, nothing meaningful on stdout, and a message on stderr matching ERE.
check_refused() {
    local desc=$1 re=$2
    if [ "$RC" -ne 1 ]; then
        fail "$desc: refused with exit 1" "expected exit: 1" "$(nx_last)"
        return
    fi
    if [ -z "$ERR" ]; then
        fail "$desc: refusal explained on stderr" "stderr is empty" "$(nx_last)"
        return
    fi
    if ! grep -Eiq -- "$re" <<<"$ERR"; then
        fail "$desc: message says why" "expected stderr to match (case-insensitive): $re" "$(nx_last)"
        return
    fi
    ok "$desc: exit 1, \"$(printf '%s' "$ERR" | head -n 1 | head -c 160)\""
}

# check_rejected DESCRIPTION ERE: like check_refused, but a usage error
# (exit 2) is accepted too: for input the CLI may reject before calling.
check_rejected() {
    local desc=$1 re=$2
    if [ "$RC" -ne 1 ] && [ "$RC" -ne 2 ]; then
        fail "$desc: rejected with exit 1 or 2" "$(nx_last)"
        return
    fi
    if ! grep -Eiq -- "$re" <<<"$ERR"; then
        fail "$desc: message says why" "expected stderr to match (case-insensitive): $re" "$(nx_last)"
        return
    fi
    ok "$desc: exit $RC, \"$(printf '%s' "$ERR" | head -n 1 | head -c 160)\""
}

# check_ok DESCRIPTION: the last command succeeded.
check_ok() {
    if [ "$RC" -eq 0 ]; then
        ok "$1"
    else
        fail "$1" "expected exit: 0" "$(nx_last)"
    fi
}

# ---------------------------------------------------------------------------
# JSON

# jget JSON FILTER: jq -r FILTER on JSON (empty output on bad JSON).
jget() { printf '%s' "$1" | jq -r "$2" 2>/dev/null; }

# assert_json DESCRIPTION JSON FILTER EXPECTED: jq -r FILTER gives EXPECTED.
assert_json() {
    local actual
    if ! printf '%s' "$2" | jq -e . >/dev/null 2>&1; then
        fail "$1" "not valid JSON: $(printf '%s' "$2" | head -c 400)"
        return
    fi
    actual=$(jget "$2" "$3")
    if [ "$actual" == "$4" ]; then
        ok "$1"
    else
        fail "$1" "jq filter: $3" "expected: $4" "actual:   $actual"
    fi
}

# assert_valid_json DESCRIPTION JSON
assert_valid_json() {
    if printf '%s' "$2" | jq -e . >/dev/null 2>&1; then
        ok "$1"
    else
        fail "$1" "not valid JSON: $(printf '%s' "$2" | head -c 400)"
    fi
}

# ---------------------------------------------------------------------------
# Domain helpers (root)

# users_json: every user, as the JSON array of `user list --json` (paged).
# Pages go through a file: a page can exceed the 128 KiB limit of a single
# command-line argument.
users_json() {
    local offset=0 n pages
    pages=$(mktemp -p "$NX_TMP" pages.XXXXXX) || return 1
    while :; do
        "$NEXALIXCTL" user list --json --limit 500 --offset "$offset" >"$pages.page" 2>/dev/null ||
            { rm -f "$pages" "$pages.page"; return 1; }
        n=$(jq -r 'length' <"$pages.page" 2>/dev/null)
        [ -n "$n" ] || { rm -f "$pages" "$pages.page"; return 1; }
        cat "$pages.page" >>"$pages"
        [ "$n" -lt 500 ] && break
        offset=$((offset + 500))
    done
    jq -s -c 'add // []' <"$pages"
    rm -f "$pages" "$pages.page"
}

# user_field USER FIELD: one field of `user show USER --json` (as root).
user_field() {
    "$NEXALIXCTL" user show "$1" --json 2>/dev/null | jq -r ".$2" 2>/dev/null
}

# make_user USER ORG [ROLE] [EXTRA ARGS…]: an invited user; dies on failure.
make_user() {
    local user=$1 org=$2 role=${3:-member}
    shift 3 2>/dev/null || shift $#
    ctl user create "$user" --org "$org" --first "${user^}" --last Tester \
        --email "$user@example.com" --role "$role" --invite "$@"
    [ "$RC" -eq 0 ] || nx_die "could not create user $user: $(nx_last)"
}

# make_active_user USER ORG ROLE PASSWORD [EXTRA ARGS…]
make_active_user() {
    local user=$1 org=$2 role=$3 password=$4
    shift 4
    ctl_input "$password" user create "$user" --org "$org" --first "${user^}" --last Tester \
        --email "$user@example.com" --role "$role" --password-stdin "$@"
    [ "$RC" -eq 0 ] || nx_die "could not create user $user: $(nx_last)"
}

make_org() {
    ctl org create "$1"
    [ "$RC" -eq 0 ] || nx_die "could not create organisation $1: $(nx_last)"
}

make_dept() {
    ctl dept create "$1" "$2"
    [ "$RC" -eq 0 ] || nx_die "could not create department $1/$2: $(nx_last)"
}
