#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# Mail throughput of nexalixd's outbox (docs/mail.md): how fast invitations
# leave the outbox, to a spool directory and through a real mail transfer
# agent (exim4 on 127.0.0.1, run privately as tests/integration/test-mail.sh
# does). Root only; uses the integration tests' helpers (a private bus, the
# daemon with its store in a temporary directory).
#
#   sudo bench/mail/run.sh [BUILD_DIR] [N]      (defaults: build-test, 1000)
#
# Measures, for N invited users created by one `nexalixctl user import
# --batch 500`:
#   A  spool, live: from the start of the import until N files are in the spool
#   B  spool, drain: N mails already queued, from the daemon's start until the
#      outbox is empty
#   C  SMTP to exim, drain: the same through [mail] smtp, until the outbox is
#      empty, and until exim has put all N into its maildir

set -u
BUILD=${1:-build-test}
N=${2:-1000}
SRC=$(cd "$(dirname "$0")/../.." && pwd)
case $BUILD in /*) ;; *) BUILD=$SRC/$BUILD ;; esac
export NEXALIXD=$BUILD/daemon/nexalixd NEXALIXCTL=$BUILD/tools/nexalixctl NEXALIX_SRCDIR=$SRC
export NX_UID_BASE=230000
. "$SRC/tests/integration/lib.sh"
NX_UID_MAX=$((NX_UID_BASE + 4 * N + 999))
NX_CMD_TIMEOUT=600

now() { date +%s.%N; }
elapsed() { python3 -c "print(f'{$2 - $1:.2f}')"; }
rate() { python3 -c "print(f'{$1 / ($3 - $2):.0f}')"; }
count_files() { find "$1" -type f ! -name '.*' 2>/dev/null | wc -l; }
queue_length() { "$NEXALIXCTL" mail queue --json 2>/dev/null | jq length; }

# wait_count DIR N: until DIR holds N files (10 minutes at most).
wait_count() {
    local deadline=$((SECONDS + 600))
    while [ "$(count_files "$1")" -lt "$2" ]; do
        [ "$SECONDS" -ge "$deadline" ] && nx_die "only $(count_files "$1") of $2 in $1"
        sleep 0.05
    done
}
wait_queue_empty() {
    local deadline=$((SECONDS + 600))
    while [ "$(queue_length)" != 0 ]; do
        [ "$SECONDS" -ge "$deadline" ] && nx_die "the outbox did not empty"
        sleep 0.2
    done
}

# config_with KEY=VALUE…: the daemon's configuration with [mail] keys set.
config_with() {
    nx_write_config "$NX_DAEMON_CONF"
    local kv key
    for kv in "$@"; do
        key=${kv%%=*}
        sed -i "/^\[mail\]/,/^\[/{/^$key = /d}" "$NX_DAEMON_CONF"
        sed -i "s|^\[mail\]|[mail]\n$key = ${kv#*=}|" "$NX_DAEMON_CONF"
    done
}

csv() {
    local prefix=$1 i
    printf 'username,first_name,last_name,email,language\n'
    for ((i = 0; i < N; i++)); do
        printf '%s%05d,Ana,Núñez,%s%05d@example.com,%s\n' "$prefix" "$i" "$prefix" "$i" \
            "$(case $((i % 3)) in 0) echo en ;; 1) echo es ;; *) echo pt ;; esac)"
    done
}

import_users() {
    csv "$1" >"$NX_TMP/$1.csv"
    nx_run "$NEXALIXCTL" user import "$NX_TMP/$1.csv" --org "$2" --batch 500
    [ "$RC" -eq 0 ] || nx_die "import failed: $(nx_last)"
}

nx_init python3
nx_bus_start main
NX_DAEMON_CONF=$NX_TMP/nexalixd.conf
printf '# mail throughput, N=%d, %s, %s cores\n' "$N" "$(uname -r)" "$(nproc)"

# ---- A: spool, live
config_with "spool=$NX_TMP/spool-a"
mkdir -p "$NX_TMP/spool-a"
nx_daemon_start
make_org bench-a
t0=$(now)
import_users a bench-a
t1=$(now)
wait_count "$NX_TMP/spool-a" "$N"
t2=$(now)
printf 'A spool, live: import %s s; all %d mails written %s s after the import began (%s mails/s end to end)\n' \
    "$(elapsed "$t0" "$t1")" "$N" "$(elapsed "$t0" "$t2")" "$(rate "$N" "$t0" "$t2")"
printf '  outbox store size: %s\n' "$(du -sh "$NX_TMP/store" | cut -f1)"

# ---- B: spool, drain
nx_daemon_stop
config_with "spool=$NX_TMP/spool-b"     # not there yet: every attempt fails
nx_daemon_start
make_org bench-b
import_users b bench-b
nx_daemon_stop
mkdir -p "$NX_TMP/spool-b"
t0=$(now)
nx_daemon_start
wait_count "$NX_TMP/spool-b" "$N"
t1=$(now)
wait_queue_empty
printf 'B spool, drain: %d queued mails written in %s s from the start: %s mails/s\n' \
    "$N" "$(elapsed "$t0" "$t1")" "$(rate "$N" "$t0" "$t1")"

# ---- C: SMTP to exim
EXIM=$(command -v exim4 || true)
if [ -z "$EXIM" ] || ! id Debian-exim >/dev/null 2>&1; then
    printf 'C skipped: exim4 is not installed\n'
else
    MTA=$NX_TMP/mta
    PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    mkdir -p "$MTA/spool" "$MTA/log" "$MTA/maildir"
    chown Debian-exim "$MTA/spool" "$MTA/log" "$MTA/maildir"
    cat >"$MTA/exim.conf" <<EOF
primary_hostname = mta.bench.invalid
spool_directory = $MTA/spool
log_file_path = $MTA/log/%slog
pid_file_path = $MTA/exim.pid
daemon_smtp_ports = $PORT
local_interfaces = 127.0.0.1
keep_environment =
tls_advertise_hosts =
host_lookup =
rfc1413_hosts =
never_users =
smtp_accept_max = 50
acl_smtp_rcpt = accept_all
begin acl
accept_all:
  accept
begin routers
everything:
  driver = accept
  transport = to_maildir
begin transports
to_maildir:
  driver = appendfile
  directory = $MTA/maildir
  maildir_format
  create_directory
  user = Debian-exim
EOF
    nx_daemon_stop
    config_with "spool=" "smtp=127.0.0.1:$PORT"
    nx_daemon_start                     # exim is not up: every attempt fails
    make_org bench-c
    import_users c bench-c
    nx_daemon_stop
    "$EXIM" -C "$MTA/exim.conf" -bdf -odi >"$MTA/exim.out" 2>&1 </dev/null &
    NX_BG_PIDS+=("$!")
    until (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null; do sleep 0.05; done
    t0=$(now)
    nx_daemon_start
    wait_queue_empty
    t1=$(now)
    wait_count "$MTA/maildir/new" "$N"
    t2=$(now)
    printf 'C SMTP to exim, drain: outbox empty after %s s: %s mails/s; all %d in the maildir after %s s\n' \
        "$(elapsed "$t0" "$t1")" "$(rate "$N" "$t0" "$t1")" "$N" "$(elapsed "$t0" "$t2")"
fi
nx_daemon_stop
exit 0
