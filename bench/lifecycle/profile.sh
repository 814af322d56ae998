#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# Where nexalixd's time and memory go at a given size: the evidence behind
# the analysis in bench/README-lifecycle.md. Run as root; not a test.
#
#   bench/lifecycle/profile.sh [--size 100000] [--creates 10] [--batch 1000] [--keep]
#
# 1. imports SIZE invited users (as run.sh does) with perf recording the
#    daemon, and sums the NSS snapshot publications from its --debug log;
# 2. makes CREATES one-call `user create --invite`, sampling the daemon's
#    memory every few milliseconds, per mapping (heap, the store's data.mdb,
#    the snapshot being written), and records perf again;
# 3. asks glibc, through gdb, to give freed heap back (malloc_trim(0)) and
#    shows VmRSS before and after: memory that is free but still counted.
# perf and gdb are optional; without them those parts are skipped.

set -u -o pipefail

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
SRCDIR=$(cd "$BENCH_DIR/../.." && pwd)
NEXALIXD=${NEXALIXD:-$SRCDIR/build-bench/daemon/nexalixd}
NEXALIXCTL=${NEXALIXCTL:-$SRCDIR/build-bench/tools/nexalixctl}
POLICY=$SRCDIR/data/org.nexalix.Identity1.conf

# shellcheck source=bench/lifecycle/lib.sh
. "$BENCH_DIR/lib.sh"

SIZE=100000
CREATES=10
BATCH=1000
KEEP=0
while [ $# -gt 0 ]; do
    case $1 in
    --size) SIZE=$2; shift 2 ;;
    --creates) CREATES=$2; shift 2 ;;
    --batch) BATCH=$2; shift 2 ;;
    --keep) KEEP=1; shift ;;
    *) printf 'usage: %s [--size N] [--creates N] [--batch N] [--keep]\n' "$0" >&2; exit 2 ;;
    esac
done

[ "$(id -u)" -eq 0 ] || bl_die "run me as root"
[ -x "$NEXALIXD" ] && [ -x "$NEXALIXCTL" ] || bl_die "build build-bench first (or set NEXALIXD, NEXALIXCTL)"
HAVE_PERF=0
command -v perf >/dev/null 2>&1 && perf record -o /dev/null true >/dev/null 2>&1 && HAVE_PERF=1
HAVE_GDB=0
command -v gdb >/dev/null 2>&1 && HAVE_GDB=1

BL_TMP=$(mktemp -d "${TMPDIR:-/tmp}/nexalix-profile.XXXXXX") || bl_die "mktemp failed"
PERF_PID=
SAMPLER_PID=
cleanup() {
    local rc=$?
    trap - EXIT
    [ -n "$SAMPLER_PID" ] && kill "$SAMPLER_PID" 2>/dev/null
    [ -n "$PERF_PID" ] && kill -INT "$PERF_PID" 2>/dev/null && wait "$PERF_PID" 2>/dev/null
    bl_instance_stop
    if [ "$KEEP" = 1 ]; then
        printf '# kept %s\n' "$BL_TMP" >&2
    else
        rm -rf "$BL_TMP"
    fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

status() { grep -E '^(VmHWM|VmRSS|RssAnon|RssFile):' "/proc/$BL_DAEMON_PID/status" | awk '{ printf "%s %.1f MiB  ", $1, $2 / 1024 }'; printf '\n'; }

perf_start() {   # OUTPUT
    [ "$HAVE_PERF" = 1 ] || return 0
    perf record -F 199 --call-graph dwarf,8192 -p "$BL_DAEMON_PID" -o "$1" >"$1.log" 2>&1 &
    PERF_PID=$!
    sleep 1
}
perf_stop() {    # OUTPUT TITLE
    [ -n "$PERF_PID" ] || return 0
    kill -INT "$PERF_PID"
    wait "$PERF_PID" 2>/dev/null
    PERF_PID=
    printf '\n%s: functions by share of the daemon'"'"'s samples (self and callees)\n' "$2"
    perf report -i "$1" --children --sort symbol --stdio -g none 2>/dev/null |
        awk '/%/ && $1 + 0 >= 2.0 && $0 !~ /\[k\]|0x0000|_start|main|__libc|inlined/ { printf "  %s %s\n", $1, $NF == "-" ? $(NF - 2) : $NF }' |
        head -n 30
}

pub_total() {    # MARK: count and ms of the publications logged since MARK
    tail -n +"$(($1 + 1))" "$BL_DAEMON_LOG" |
        awk '/Published NSS snapshot/ && $NF == "ms" { n++; s += $(NF - 1); if ($(NF - 1) > max) max = $(NF - 1) }
             END { printf "%d publications, %.0f ms in all, %.0f ms on average, %.0f ms at most\n", n, s, n ? s / n : 0, max }'
}

# ---------------------------------------------------------------------------

dir=$BL_TMP/nx
mkdir -p "$dir"
chmod 0755 "$dir"
awk -v n="$SIZE" 'BEGIN {
    print "username,first_name,last_name,email,language,department,roles"
    for (i = 1; i <= n; i++)
        printf "bu%06d,Ana,Lopes,bu%06d@bench.example.com,en,support,%s\n", i, i, (i % 50 == 0) ? "member;org-admin" : "member"
}' >"$BL_TMP/import.csv"

NEXALIXD_ARGS="--debug ${NEXALIXD_ARGS:-}"
bl_bus_start "$dir" "$POLICY"
bl_daemon_start "$dir"
bl_ctl org create bench
bl_ctl dept create bench support
printf 'nexalixd pid %s, %s users, batches of %s\n' "$BL_DAEMON_PID" "$SIZE" "$BATCH"
printf 'idle:           '; status

# 1. The import.
mark=$(wc -l <"$BL_DAEMON_LOG")
perf_start "$BL_TMP/perf-import.data"
t0=$(bl_now)
"$NEXALIXCTL" user import "$BL_TMP/import.csv" --org bench --batch "$BATCH" >/dev/null || bl_die "import failed"
secs=$(bl_elapsed "$t0")
perf_stop "$BL_TMP/perf-import.data" "import"
printf '\nimport: %.2f s (%.0f users/s); daemon: %s\n' "$secs" "$(bl_calc "$SIZE / $secs" "%.0f")" "$(pub_total "$mark")"
printf 'after import:   '; status

# 2. One-call creates, with the memory sampled per mapping.
(
    while [ -e "/proc/$BL_DAEMON_PID" ]; do
        awk '/^[0-9a-f]+-[0-9a-f]+ / { n = $6 ~ /^\// ? $6 : ($6 == "" ? "anon" : $6); sub(/.*\//, "", n); sub(/^\.nss\.mdb\..*/, "snapshot-being-written", n) }
             /^Rss:/ { r[n] += $2; t += $2 }
             END { printf "%d", t; for (k in r) if (r[k] >= 1024) printf " %s=%d", k, r[k]; printf "\n" }' \
            "/proc/$BL_DAEMON_PID/smaps" 2>/dev/null
        sleep 0.002
    done
) >"$BL_TMP/samples" &
SAMPLER_PID=$!
mark=$(wc -l <"$BL_DAEMON_LOG")
perf_start "$BL_TMP/perf-create.data"
t0=$(bl_now)
for ((i = 1; i <= CREATES; i++)); do
    "$NEXALIXCTL" user create "bp$i" --org bench --first Ana --last Lopes --email "bp$i@bench.example.com" \
        --department support --role member --invite >/dev/null || bl_die "user create failed"
done
secs=$(bl_elapsed "$t0")
perf_stop "$BL_TMP/perf-create.data" "one-call creates"
kill "$SAMPLER_PID" 2>/dev/null
wait "$SAMPLER_PID" 2>/dev/null
SAMPLER_PID=
printf '\n%d one-call creates: %.2f s (%.0f ms each); daemon: %s\n' "$CREATES" "$secs" \
    "$(bl_calc "$secs * 1000 / $CREATES" "%.0f")" "$(pub_total "$mark")"
printf 'after creates:  '; status
printf 'largest sampled RSS, by mapping (KiB): %s\n' "$(sort -n "$BL_TMP/samples" | tail -n 1)"

# 3. Free heap still counted in RSS.
if [ "$HAVE_GDB" = 1 ]; then
    gdb -p "$BL_DAEMON_PID" -batch -ex 'call (int) malloc_trim(0)' >/dev/null 2>&1
    printf 'after malloc_trim(0) in the daemon (gdb): '; status
else
    printf 'gdb not installed: malloc_trim experiment skipped\n'
fi
