#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# Does `nexalixctl forgot-password EMAIL` take as long for an address that
# belongs to nobody as for the verified address of an active account
# (docs/links.md, "Forgot password")? In one run on one machine:
#
#   sudo bench/links/run.sh [--build DIR] [--calls N] [--dir DIR] [--keep-samples FILE]
#                           [--breakdown]
#
# --build  a meson build directory of this tree (ninja is run in it);
#          default: build-bench-links, set up (release) if it is not there
# --calls  calls per series (default 50)
# --dir    where the temporary directory (store, spool) goes; default
#          /var/tmp. It must be a disk: the store's fsyncs are the cost.
# --keep-samples FILE  also write every sample (mode client path ms) to FILE
# --breakdown  also record, with perf (uprobes on nexalixd, syscall
#          tracepoints), where the daemon spends each ForgotPassword call:
#          before the logic (caller, transaction), the logic (rate limits;
#          the link, its mail and the audit), the commit (its fdatasyncs and
#          the bytes LMDB writes), and prints the medians per path. The
#          probes cost some µs a call: compare the paths with each other,
#          not with a run without it.
#
# What it starts (tests/integration/lib.sh): a private system-type
# dbus-daemon with the project's policy, resolving the uids of an id block
# through nss_wrapper, and nexalixd with its store, runtime directory and
# mail spool in the temporary directory. It imports 5N invited users and
# redeems every invitation from the spool (an invitation verifies the
# address), so 5N active accounts have a verified address.
#
# Then, in three modes, N rounds of calls, each by a uid of its own
# (outside Nexalix's id range: no account) and each for an address of its
# own, so that no rate limit (3 per address, 10 per caller and hour) is
# reached and every call does the same first-time work on the counters:
#   existing, cli     setpriv … nexalixctl forgot-password ADDRESS (the
#                     whole client: process start, bus connection, call)
#   missing, cli      the same for an address that is nobody's
#   existing, direct  forgot-call (forgot-call.c): the ForgotPassword call
#                     alone, timed from send to reply on a connection
#                     opened before
#   missing, direct
# Modes:
#   back-to-back  each call starts as soon as the previous one returned, as
#                 a script calling in a loop would; the delivery of the
#                 mail an existing address gets (1-3 ms after the reply:
#                 the spool file and the outbox's deletion, each synced)
#                 overlaps the start of the next call
#   settled       before each call, the spool holds every mail so far and
#                 the outbox is empty (`nexalixctl mail queue`): the call
#                 alone
#   ping-after    settled, direct calls only, and after each reply the
#                 caller pings nexalixd (Peer.Ping, answered by its event
#                 loop) one ping after the other for 10 ms: the longest
#                 round trip ("after") shows how long the daemon was busy
#                 with the call's aftermath (the mail's delivery)
# Interleaving spreads drift over both paths alike. Prints, per mode and
# client, p10 / median / p90 of each path, the difference of the medians
# with a bootstrap 95 % interval, the Mann-Whitney probability that an
# existing call is slower than a missing one (0.5: no difference) with its
# p-value, the fraction of existing calls faster than the missing median,
# and, as the noise floor, the difference of the medians between the
# missing calls of odd and even rounds (A/A).
set -u
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)

BUILD=
BREAKDOWN=no
CALLS=50
DIR=/var/tmp
SAMPLES_OUT=
while [ $# -gt 0 ]; do
    case $1 in
        --build) BUILD=$(cd "$2" && pwd) || { echo "no build directory $2" >&2; exit 1; }; shift 2 ;;
        --calls) CALLS=$2; shift 2 ;;
        --dir) DIR=$2; shift 2 ;;
        --keep-samples) SAMPLES_OUT=$2; shift 2 ;;
        --breakdown) BREAKDOWN=yes; shift ;;
        -h|--help) sed -n '3,58p' "$0"; exit 0 ;;
        *) echo "unknown option $1 (see --help)" >&2; exit 1 ;;
    esac
done
case $CALLS in '' | *[!0-9]*) echo "--calls takes a number" >&2; exit 1 ;; esac
[ "$CALLS" -ge 5 ] || { echo "--calls: at least 5" >&2; exit 1; }

if [ -z "$BUILD" ]; then
    BUILD=$ROOT/build-bench-links
    if [ ! -e "$BUILD/build.ninja" ]; then
        echo "# building (release) into $BUILD" >&2
        meson setup "$BUILD" "$ROOT" --buildtype=release >/dev/null || { echo "meson setup failed" >&2; exit 1; }
    fi
fi
ninja -C "$BUILD" daemon/nexalixd tools/nexalixctl >/dev/null || { echo "ninja in $BUILD failed" >&2; exit 1; }
export NEXALIXD=$BUILD/daemon/nexalixd NEXALIXCTL=$BUILD/tools/nexalixctl
export NEXALIX_SRCDIR=$ROOT
export NX_UID_BASE=240000
# The temporary directory of lib.sh (nx_init) goes to DIR.
export TMPDIR=$DIR
. "$ROOT/tests/integration/lib.sh"
NX_CMD_TIMEOUT=120

# The id block: Nexalix's own range (4N users and their groups) at the
# bottom, then the uids that redeem the invitations, then the callers of the
# timed calls. nss_wrapper makes the whole block resolvable for dbus-daemon.
N=$CALLS
USERS_N=$((5 * N))
ID_NEXALIX_MAX=$((NX_UID_BASE + USERS_N + N + 99))
UID_REDEEM=$((ID_NEXALIX_MAX + 1))
UID_CALLERS=$((UID_REDEEM + USERS_N))
NX_UID_MAX=$((UID_CALLERS + 2 * USERS_N - 1))

nx_init python3 cc pkg-config
[ "$BREAKDOWN" = no ] || command -v perf >/dev/null || nx_die "--breakdown needs perf (linux-perf)"
pkg-config --exists dbus-1 || nx_die "libdbus-1-dev is needed for forgot-call"

FSTYPE=$(stat -f -c %T "$NX_TMP")
case $FSTYPE in
    tmpfs | ramfs) nx_die "$NX_TMP is on $FSTYPE: put the store on a disk (--dir)" ;;
esac
FS_DESC=$(findmnt -n -o SOURCE,FSTYPE,OPTIONS -T "$NX_TMP" | awk '{ print $1 " " $2 " (" $3 ")" }')

FORGOT_CALL=$NX_TMP/forgot-call
# shellcheck disable=SC2046 # pkg-config prints several words
cc -O2 -Wall -Wextra -o "$FORGOT_CALL" "$HERE/forgot-call.c" $(pkg-config --cflags --libs dbus-1) ||
    nx_die "cannot build forgot-call"

SPOOL=$NX_TMP/mail
NX_DAEMON_CONF=$NX_TMP/nexalixd.conf
nx_write_config "$NX_DAEMON_CONF"
sed -i "s/^uid_max = .*/uid_max = $ID_NEXALIX_MAX/" "$NX_DAEMON_CONF"
nx_bus_start main
nx_daemon_start

spool_count() { find "$SPOOL" -maxdepth 1 -type f ! -name '.*' | wc -l; }

# settle COUNT: until the spool holds COUNT mails and the outbox is empty
# (the sender's deletion is committed: the daemon answers one request at a
# time).
settle() {
    local deadline=$((SECONDS + 60)) q
    while [ "$(spool_count)" -lt "$1" ]; do
        [ "$SECONDS" -ge "$deadline" ] && nx_die "only $(spool_count) of $1 mails in the spool"
        sleep 0.005
    done
    while :; do
        q=$("$NEXALIXCTL" mail queue --json | jq length) || nx_die "mail queue failed"
        [ "$q" = 0 ] && return 0
        [ "$SECONDS" -ge "$deadline" ] && nx_die "the outbox does not empty ($q left)"
        sleep 0.005
    done
}

# ---- 5N active users with a verified address
MODES="back-to-back settled ping-after"
clients_of() { if [ "$1" = ping-after ]; then echo direct; else echo cli direct; fi; }
# user_name MODE CLIENT I / gone_address MODE CLIENT I: the same length.
user_name() { printf 'u%s%s%03d' "${1:0:1}" "${2:0:1}" "$3"; }
gone_address() { printf 'x%s%s%03d@example.com' "${1:0:1}" "${2:0:1}" "$3"; }

make_org bench
{
    printf 'username,first_name,last_name,email,language\n'
    for mode in $MODES; do
        for client in $(clients_of "$mode"); do
            for ((i = 0; i < N; i++)); do
                u=$(user_name "$mode" "$client" "$i")
                printf '%s,Ana,Tester,%s@example.com,en\n' "$u" "$u"
            done
        done
    done
} >"$NX_TMP/users.csv"
nx_run "$NEXALIXCTL" user import "$NX_TMP/users.csv" --org bench
[ "$RC" -eq 0 ] || nx_die "import failed: $(nx_last)"
settle "$USERS_N"

# Every invitation's address and token, from the spool.
python3 - "$SPOOL" >"$NX_TMP/invitations" <<'EOF' || nx_die "cannot read the spool"
import email, email.policy, os, re, sys
d = sys.argv[1]
for name in sorted(os.listdir(d)):
    if name.startswith('.'):
        continue
    with open(os.path.join(d, name), 'rb') as f:
        m = email.message_from_binary_file(f, policy=email.policy.default)
    token = re.search(r'token=([A-Za-z0-9_-]{43})', m.get_body(preferencelist=('plain',)).get_content())
    print(m['To'].addresses[0].addr_spec, token.group(1))
EOF
[ "$(wc -l <"$NX_TMP/invitations")" -eq "$USERS_N" ] || nx_die "expected $USERS_N invitations in the spool"

# Redeemed by uids of their own (CheckLink is limited to 60 a uid and hour),
# a few at a time: each hashes a password on the daemon's workers.
nx_log "redeeming $USERS_N invitations"
k=0
jobs=()
while read -r address token; do
    printf 'bench password %s\n' "$address" |
        setpriv --reuid=$((UID_REDEEM + k)) --regid=$((UID_REDEEM + k)) --clear-groups \
            "$NEXALIXCTL" redeem --password-stdin -- "$token" >/dev/null 2>>"$NX_TMP/redeem.err" &
    jobs+=("$!")
    k=$((k + 1))
    if [ "${#jobs[@]}" -eq 8 ]; then
        wait "${jobs[@]}"
        jobs=()
    fi
done <"$NX_TMP/invitations"
[ "${#jobs[@]}" -eq 0 ] || wait "${jobs[@]}"
USERS=$(users_json) || nx_die "cannot list the users"
[ "$(jq '[.[] | select(.state == "active" and .email_verified == true)] | length' <<<"$USERS")" -eq "$USERS_N" ] ||
    nx_die "not every invitation was redeemed: $(head -c 500 "$NX_TMP/redeem.err")"
[ "$(jq --argjson lo "$UID_REDEEM" '[.[] | select(.uid >= $lo)] | length' <<<"$USERS")" -eq 0 ] ||
    nx_die "a Nexalix user has a uid of the callers' range"

# ---- the measure
MAILS=$(spool_count)
SAMPLES=$NX_TMP/samples
: >"$SAMPLES"
caller=$UID_CALLERS

# call MODE CLIENT PATH ADDRESS: one timed call by a fresh uid; appends
# "MODE CLIENT PATH MS" to the samples (and, in ping-after, "MODE after
# PATH MS" with the longest ping).
call() {
    local mode=$1 client=$2 path=$3 address=$4 uid=$caller s e out
    caller=$((caller + 1))
    if [ "$mode" != back-to-back ]; then
        settle "$MAILS"
    fi
    if [ "$client" = cli ]; then
        # $EPOCHREALTIME read in this shell: a $(…) would time its fork too.
        s=${EPOCHREALTIME/,/.}
        setpriv --reuid="$uid" --regid="$uid" --clear-groups "$NEXALIXCTL" forgot-password "$address" \
            >/dev/null 2>"$NX_TMP/.err" </dev/null || nx_die "forgot-password $address as $uid: $(cat "$NX_TMP/.err")"
        e=${EPOCHREALTIME/,/.}
        printf '%s %s %s %s\n' "$mode" "$client" "$path" "$(awk -v s="$s" -v e="$e" 'BEGIN { printf "%.3f", (e - s) * 1000 }')" >>"$SAMPLES"
    elif [ "$mode" = ping-after ]; then
        out=$("$FORGOT_CALL" "$uid" "$address" 10) || nx_die "ForgotPassword $address as $uid: $out"
        printf '%s %s %s %s\n' "$mode" "$client" "$path" "${out%% *}" "$mode" after "$path" "${out##* }" >>"$SAMPLES"
    else
        out=$("$FORGOT_CALL" "$uid" "$address") || nx_die "ForgotPassword $address as $uid: $out"
        printf '%s %s %s %s\n' "$mode" "$client" "$path" "${out%% *}" >>"$SAMPLES"
    fi
    [ "$path" = existing ] && MAILS=$((MAILS + 1))
    return 0
}

# --breakdown: uprobes of a group of this run's own (probes are global),
# removed at the exit.
PROBES=nxlinks$$
PERF_PID=
if [ "$BREAKDOWN" = yes ]; then
    # shellcheck disable=SC2154 # rc is assigned in the trap itself
    trap 'rc=$?; perf probe -q -d "$PROBES:*" 2>/dev/null; (exit $rc); nx_cleanup' EXIT
    for f in message_handler onetime_forgot_password onetime_issue outbox_queue audit_append store_commit; do
        perf probe -q -x "$NEXALIXD" -a "$PROBES:${f}_in=$f" -a "$PROBES:${f}_out=$f%return" ||
            nx_die "perf probe on $f failed"
    done
    # LMDB writes pages through one descriptor of data.mdb and fdatasyncs
    # it, then the meta page through another, opened O_DSYNC.
    DATA_FD='' META_FD=''
    for link in "/proc/$NX_DAEMON_PID"/fd/*; do
        [ "$(readlink "$link")" = "$NX_TMP/store/data.mdb" ] || continue
        fd=${link##*/}
        flags=$(awk '$1 == "flags:" { print $2 }' "/proc/$NX_DAEMON_PID/fdinfo/$fd")
        if (( 8#$flags & 8#10000 )); then META_FD=$fd; else DATA_FD=$fd; fi
    done
    if [ -z "$DATA_FD" ] || [ -z "$META_FD" ]; then
        nx_die "cannot find the store's file descriptors in nexalixd"
    fi
    perf record -q -o "$NX_TMP/perf.data" -p "$NX_DAEMON_PID" -e "$PROBES:*" \
        -e syscalls:sys_enter_pwrite64,syscalls:sys_exit_pwrite64,syscalls:sys_enter_writev,syscalls:sys_exit_writev \
        -e syscalls:sys_enter_fdatasync,syscalls:sys_exit_fdatasync 2>"$NX_TMP/perf.err" &
    PERF_PID=$!
    NX_BG_PIDS+=("$PERF_PID")
    sleep 1
fi

for mode in $MODES; do
    nx_log "measuring: $mode, $N rounds"
    for ((i = 0; i < N; i++)); do
        for client in $(clients_of "$mode"); do
            call "$mode" "$client" existing "$(user_name "$mode" "$client" "$i")@example.com"
            call "$mode" "$client" missing "$(gone_address "$mode" "$client" "$i")"
        done
    done
done
settle "$MAILS"

# Every existing address got one reset mail, no missing one any.
python3 - "$SPOOL" <<'EOF' >"$NX_TMP/resets" || nx_die "cannot read the spool"
import email, email.policy, os, sys
d = sys.argv[1]
for name in os.listdir(d):
    if name.startswith('.'):
        continue
    with open(os.path.join(d, name), 'rb') as f:
        m = email.message_from_binary_file(f, policy=email.policy.default)
    print(m['To'].addresses[0].addr_spec)
EOF
[ "$(grep -c '^x' "$NX_TMP/resets")" -eq 0 ] || nx_die "a missing address got mail"
[ "$(sort "$NX_TMP/resets" | uniq -c | awk '$1 != 2' | wc -l)" -eq 0 ] ||
    nx_die "not every existing address got exactly one invitation and one reset mail"
[ -n "$SAMPLES_OUT" ] && cp "$SAMPLES" "$SAMPLES_OUT"

printf '# forgot-password, %d calls per series; %s, %s cores, kernel %s\n' "$N" \
    "$(. /etc/os-release && echo "$PRETTY_NAME")" "$(nproc)" "$(uname -r)"
printf '# store and spool: %s on %s\n' "$NX_TMP" "$FS_DESC"
printf '# store after the run: %s\n' "$(du -sh "$NX_TMP/store" | cut -f1)"
python3 - "$SAMPLES" <<'EOF'
import math, random, statistics, sys

samples = {}
for line in open(sys.argv[1]):
    mode, client, path, ms = line.split()
    samples.setdefault((mode, client, path), []).append(float(ms))

def q(v, p):
    """Percentile by linear interpolation between order statistics."""
    v = sorted(v)
    x = (len(v) - 1) * p
    lo = math.floor(x)
    hi = min(lo + 1, len(v) - 1)
    return v[lo] + (v[hi] - v[lo]) * (x - lo)

def mann_whitney(a, b):
    """P(a > b) + P(a = b)/2, and the two-sided p-value (normal
    approximation with the tie correction)."""
    n1, n2 = len(a), len(b)
    allv = sorted([(x, 0) for x in a] + [(x, 1) for x in b])
    ranks, i, ties = [0.0] * len(allv), 0, 0.0
    while i < len(allv):
        j = i
        while j + 1 < len(allv) and allv[j + 1][0] == allv[i][0]:
            j += 1
        for k in range(i, j + 1):
            ranks[k] = (i + j) / 2 + 1
        t = j - i + 1
        ties += t ** 3 - t
        i = j + 1
    r1 = sum(r for r, (_, g) in zip(ranks, allv) if g == 0)
    u1 = r1 - n1 * (n1 + 1) / 2
    n = n1 + n2
    sigma = math.sqrt(n1 * n2 / 12 * ((n + 1) - ties / (n * (n - 1))))
    z = (u1 - n1 * n2 / 2) / sigma if sigma else 0.0
    return u1 / (n1 * n2), math.erfc(abs(z) / math.sqrt(2))

def boot_ci(a, b, rounds=5000):
    rnd = random.Random(1)
    d = sorted(statistics.median(rnd.choices(a, k=len(a))) - statistics.median(rnd.choices(b, k=len(b)))
               for _ in range(rounds))
    return d[int(0.025 * rounds)], d[int(0.975 * rounds) - 1]

series = [(m, c) for m in ("back-to-back", "settled", "ping-after") for c in ("cli", "direct", "after")
          if (m, c, "existing") in samples]
print()
print(f"{'mode':<13} {'client':<7} {'path':<9} {'n':>3} {'p10 ms':>8} {'median':>8} {'p90 ms':>8}")
for mode, client in series:
    for path in ("existing", "missing"):
        v = samples[(mode, client, path)]
        print(f"{mode:<13} {client:<7} {path:<9} {len(v):>3} {q(v, .1):8.2f} {statistics.median(v):8.2f} {q(v, .9):8.2f}")
print()
print(f"{'mode':<13} {'client':<7} {'Δ median ms (95% CI)':<26} {'P(exist > miss)':>15} {'MW p':>8} {'exist < miss median':>20}"
      f" {'A/A Δ ms':>9}")
for mode, client in series:
    a, b = samples[(mode, client, "existing")], samples[(mode, client, "missing")]
    d = statistics.median(a) - statistics.median(b)
    lo, hi = boot_ci(a, b)
    p_gt, p = mann_whitney(a, b)
    below = sum(x < statistics.median(b) for x in a) / len(a)
    # The noise floor: the same difference between the missing calls of odd
    # and even rounds, which differ in nothing.
    aa = statistics.median(b[0::2]) - statistics.median(b[1::2])
    ci = f"{d:+.2f} ({lo:+.2f} … {hi:+.2f})"
    print(f"{mode:<13} {client:<7} {ci:<26} {p_gt:>15.2f} {p:>8.3f} {below:>20.2f} {aa:>+9.2f}")
print("\ncli: the whole nexalixctl; direct: the call alone; after: the longest Peer.Ping round trip in the 10 ms after the reply")
EOF

if [ -n "$PERF_PID" ]; then
    kill -INT "$PERF_PID"
    wait "$PERF_PID"
    perf script -i "$NX_TMP/perf.data" -F tid,time,event,trace 2>/dev/null >"$NX_TMP/perf.txt" ||
        nx_die "perf script failed: $(cat "$NX_TMP/perf.err")"
    printf '\n# --breakdown: nexalixd per ForgotPassword call (main thread; perf uprobes and syscall tracepoints)\n'
    python3 - "$NX_TMP/perf.txt" "$NX_DAEMON_PID" "$DATA_FD" "$META_FD" "$N" <<'EOF'
import re, statistics, sys

path, main_tid, data_fd, meta_fd, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
line_re = re.compile(r'^\s*(\d+)\s+([\d.]+):\s+(\S+):\s*(.*)$')
calls, cur, pending = [], None, {}
# Commits outside any request: the sender's deletion of a delivered mail
# from the outbox. Mail leaves in order, so each belongs to the latest
# existing call before it.
aftermath, commit_start = {}, None
for line in open(path):
    m = line_re.match(line)
    if not m:
        continue
    tid, t, event, rest = int(m.group(1)), float(m.group(2)) * 1e6, m.group(3), m.group(4)
    if tid != main_tid:
        continue
    name = event.split(':', 1)[1]
    if name.endswith('__return'):
        name = name[:-len('__return')]
    if name == 'message_handler_in':
        cur = {'start': t, 'marks': {}, 'fsyncs': 0, 'sync_us': 0.0, 'bytes': 0, 'writes': 0}
        continue
    if cur is None:
        if name == 'store_commit_in':
            commit_start = t
        elif name == 'store_commit_out' and commit_start is not None:
            owner = next((c for c in reversed(calls) if 'onetime_issue_in' in c['marks']), None)
            if owner is not None:
                a = aftermath.setdefault(id(owner), [0, 0.0])
                a[0] += 1
                a[1] += t - commit_start
            commit_start = None
        continue
    if name == 'message_handler_out':
        cur['end'] = t
        if 'onetime_forgot_password_in' in cur['marks']:
            calls.append(cur)
        cur = None
    elif name.endswith('_in') or name.endswith('_out'):
        # The first entry and the last return of each function.
        if name.endswith('_in'):
            cur['marks'].setdefault(name, t)
        else:
            cur['marks'][name] = t
    elif name in ('sys_enter_pwrite64', 'sys_enter_writev', 'sys_enter_fdatasync'):
        fd = int(re.search(r'fd: (0x[0-9a-f]+)', rest).group(1), 16)
        pending[name[len('sys_enter_'):]] = (fd, t)
    elif name in ('sys_exit_pwrite64', 'sys_exit_writev', 'sys_exit_fdatasync'):
        call = name[len('sys_exit_'):]
        fd, t0 = pending.pop(call, (None, None))
        if fd == meta_fd:
            # The meta page: written O_DSYNC, its write is its sync.
            cur['fsyncs'] += 1
            cur['sync_us'] += t - t0
        elif fd == data_fd and call == 'fdatasync':
            cur['fsyncs'] += 1
            cur['sync_us'] += t - t0
        elif fd == data_fd:
            cur['writes'] += 1
            cur['bytes'] += max(int(rest.strip(), 16), 0)

if len(calls) != 10 * n:
    print(f"expected {10 * n} ForgotPassword calls in the trace, found {len(calls)}: the breakdown is incomplete")

def span(c, f):
    m = c['marks']
    return m[f + '_out'] - m[f + '_in'] if f + '_in' in m and f + '_out' in m else 0.0

rows = [
    ('whole call in nexalixd (message_handler)', lambda c: c['end'] - c['start']),
    ('  before the logic: caller, write transaction', lambda c: c['marks']['onetime_forgot_password_in'] - c['start']),
    ('  logic (onetime_forgot_password)', lambda c: span(c, 'onetime_forgot_password')),
    ('    of which the link (onetime_issue)', lambda c: span(c, 'onetime_issue')),
    ('      of which the mail (outbox_queue)', lambda c: span(c, 'outbox_queue')),
    ('      of which the audit (audit_append)', lambda c: span(c, 'audit_append')),
    ('  commit (store_commit)', lambda c: span(c, 'store_commit')),
    ('    of which syncing (fdatasync, O_DSYNC meta page)', lambda c: c['sync_us']),
    ('  after the commit: reply', lambda c: c['end'] - c['marks'].get('store_commit_out', c['end'])),
    ('after the reply: the mail leaves the outbox (commit)', lambda c: aftermath.get(id(c), [0, 0.0])[1]),
]
modes = (('back-to-back', calls[:4 * n]), ('settled', calls[4 * n:8 * n]), ('ping-after', calls[8 * n:]))
for mode, cs in modes:
    ex = [c for c in cs if 'onetime_issue_in' in c['marks']]
    mi = [c for c in cs if 'onetime_issue_in' not in c['marks']]
    if not ex or not mi:
        continue
    print(f"\n{mode} ({len(ex)} existing, {len(mi)} missing), medians{'':<6} {'existing':>10} {'missing':>10} {'Δ':>9}")
    for label, fn in rows:
        a, b = statistics.median(fn(c) for c in ex), statistics.median(fn(c) for c in mi)
        print(f"{label:<50} {a:8.1f} µs {b:7.1f} µs {a - b:+8.1f}")
    for label, fn in (('syncs in the commit (fdatasync, meta page)', lambda c: c['fsyncs']),
                      ('writes of pages in the commit', lambda c: c['writes']),
                      ('bytes of pages written (4 KiB each)', lambda c: c['bytes']),
                      ('commits after the reply (outbox deletion)', lambda c: aftermath.get(id(c), [0, 0.0])[0])):
        a, b = statistics.median(fn(c) for c in ex), statistics.median(fn(c) for c in mi)
        print(f"{label:<50} {a:>11.0f} {b:>10.0f} {a - b:+9.0f}")
EOF
fi
nx_daemon_stop
exit 0
