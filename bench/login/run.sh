#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# Logins through pam_nexalix.so against pam_unix (yescrypt) and pam_permit,
# in one run on one machine: what a login costs beyond its password hash,
# how many hashes each module computes, how many logins the machine's cores
# get through when 16 arrive at once, and whether NSS lookups and D-Bus
# calls keep answering meanwhile.
#
#   sudo bench/login/run.sh [--logins N] [--rounds R] [--burst P]
#                           [--build DIR] [--no-count] [--wait-idle S]
#
# --logins  one-at-a-time logins per service (default 30; median and p90)
# --rounds  rounds of the concurrent burst (default 5)
# --burst   logins at once in each round (default 16)
# --build   an existing meson build directory of this tree to use (ninja is
#           run in it); default: a fresh release build in a temporary one
# --no-count  no perf uprobes: no hash counts, no breakdown of a login
# --wait-idle before measuring, wait up to S seconds for the machine to be
#           idle (under 10 % of its CPU busy over 2 s), for shared machines
#
# What it starts: a private system-type dbus-daemon with the project's
# policy, nexalixd on a temporary store (disk) with its runtime directory on
# a tmpfs, an organisation and BURST active users (bench0…) with a password.
# Then, in a private mount namespace (measure-ns.sh), private copies of
# /etc/passwd, /etc/shadow and /etc/pam.d with a local user whose shadow hash
# is yescrypt and three services of one module each:
#   nx-bench-permit   auth required pam_permit.so
#   nx-bench-unix     auth required pam_unix.so
#   nx-bench-nexalix  auth required pam_nexalix.so runtime=…
# and measures:
#   1. `pamtester SERVICE USER authenticate` (password on stdin) for each,
#      interleaved with one argon2id and one yescrypt verification in C
#      (hash-time.c);
#   2. with perf uprobes: the hash calls per login (crypt_r, libsodium's
#      argon2id entry points) and, for each Nexalix login, the time before,
#      in and after its hash (pam_sm_authenticate in the module,
#      crypto_pwhash_str_verify in nexalixd);
#   3. BURST logins at once for ROUNDS rounds, against what the cores can
#      hash (cores ÷ one hash, and hash-time on that many threads);
#   4. meanwhile, getpwnam_r through the NSS module and GetStatus over D-Bus
#      every 2 ms (login-probe.c), and `nexalixctl status` every 50 ms.
# Prints a table; bench/README.md ("Logins") explains it.
set -u
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
. "$ROOT/bench/lifecycle/lib.sh"

LOGINS=30
ROUNDS=5
BURST=16
BUILD=
COUNT=yes
WAIT_IDLE=0
while [ $# -gt 0 ]; do
    case $1 in
        --logins) LOGINS=$2; shift 2 ;;
        --rounds) ROUNDS=$2; shift 2 ;;
        --burst) BURST=$2; shift 2 ;;
        --build) BUILD=$(cd "$2" && pwd) || bl_die "no build directory $2"; shift 2 ;;
        --no-count) COUNT=no; shift ;;
        --wait-idle) WAIT_IDLE=$2; shift 2 ;;
        -h|--help) sed -n '3,42p' "$0"; exit 0 ;;
        *) bl_die "unknown option $1 (see --help)" ;;
    esac
done
[ "$(id -u)" -eq 0 ] || bl_die "run as root: it starts a system-type bus and nexalixd, and mounts in a namespace"
for t in pamtester unshare dbus-daemon cc pkg-config; do
    command -v "$t" >/dev/null 2>&1 || bl_die "$t is not installed"
done
pkg-config --exists dbus-1 libsodium || bl_die "libdbus-1-dev and libsodium-dev are needed for the helpers"
[ -e /usr/include/crypt.h ] || bl_die "libcrypt-dev is needed for the helpers"
unshare --mount --propagation private true 2>/dev/null || bl_die "cannot create a mount namespace here"
CORES=$(nproc)
# The part of a round in which its pamtester processes start (section 4).
ROUND_START_MS=50

WORK=$(mktemp -d /var/tmp/nexalix-login.XXXXXX)
RUNTIME_ROOT=$(mktemp -d /dev/shm/nexalix-login.XXXXXX)
trap 'bl_instance_stop; rm -rf "$WORK" "$RUNTIME_ROOT"' EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
chmod 0755 "$WORK"

# ---- build ----

if [ -z "$BUILD" ]; then
    BUILD=$WORK/build
    bl_log "building a release build of $ROOT"
    meson setup "$BUILD" "$ROOT" --buildtype=release >/dev/null || bl_die "meson setup failed"
fi
ninja -C "$BUILD" daemon/nexalixd tools/nexalixctl nss_module/libnss_nexalix.so.2 pam_module/pam_nexalix.so \
    >/dev/null || bl_die "build failed in $BUILD"
export NEXALIXD=$BUILD/daemon/nexalixd NEXALIXCTL=$BUILD/tools/nexalixctl
HELPERS=$WORK/helpers
mkdir -p "$HELPERS"
# shellcheck disable=SC2046 # pkg-config prints several flags
cc -O2 -Wall -Wextra -Wno-unused-parameter -o "$HELPERS/hash-time" "$HERE/hash-time.c" \
    $(pkg-config --cflags --libs libsodium) -lcrypt -pthread || bl_die "cannot build hash-time"
# shellcheck disable=SC2046 # pkg-config prints several flags
cc -O2 -Wall -Wextra -Wno-unused-parameter -o "$HELPERS/login-probe" "$HERE/login-probe.c" \
    $(pkg-config --cflags --libs dbus-1) || bl_die "cannot build login-probe"

# ---- the daemon and its users ----

PASSWORD='correct horse battery staple'
RUNTIME=$RUNTIME_ROOT/run
bl_log "starting a private bus and nexalixd"
bl_bus_start "$WORK" "$ROOT/data/org.nexalix.Identity1.conf"
BL_RUNTIME_DIR=$RUNTIME bl_daemon_start "$WORK"
bl_ctl org create bench
for ((i = 0; i < BURST; i++)); do
    err=$(printf '%s\n' "$PASSWORD" | "$NEXALIXCTL" user create "bench$i" --org bench --first Bench \
          --last "User$i" --email "bench$i@example.com" --role member --password-stdin 2>&1 >/dev/null) ||
        bl_die "cannot create bench$i: $err"
done

# The local user's hash, as Debian writes one (passwd, chpasswd, mkpasswd:
# yescrypt at libxcrypt's default cost).
if command -v mkpasswd >/dev/null 2>&1; then
    UNIX_HASH=$(mkpasswd -m yescrypt -s <<<"$PASSWORD")
    hash_tool="mkpasswd -m yescrypt"
else
    UNIX_HASH=$("$HELPERS/hash-time" yescrypt-hash <<<"$PASSWORD")
    hash_tool="crypt_gensalt_rn(\"\$y\$\", 0) + crypt_r (mkpasswd not installed)"
fi
# shellcheck disable=SC2016 # a literal $y$
case $UNIX_HASH in '$y$'*) ;; *) bl_die "no yescrypt hash: $UNIX_HASH" ;; esac

# ---- measure, in a private mount namespace ----

# busy_pct: the share of the machine's CPU busy over the next 2 s.
busy_pct() {
    local a b
    a=$(awk '$1 == "cpu" { print $2 + $3 + $4 + $7 + $8 + $9, $2 + $3 + $4 + $5 + $6 + $7 + $8 + $9; exit }' /proc/stat)
    sleep 2
    b=$(awk '$1 == "cpu" { print $2 + $3 + $4 + $7 + $8 + $9, $2 + $3 + $4 + $5 + $6 + $7 + $8 + $9; exit }' /proc/stat)
    awk -v a="$a" -v b="$b" 'BEGIN { split(a, x, " "); split(b, y, " "); printf "%.0f", 100 * (y[1] - x[1]) / (y[2] - x[2]) }'
}
if [ "$WAIT_IDLE" -gt 0 ]; then
    deadline=$((SECONDS + WAIT_IDLE))
    while busy=$(busy_pct) && [ "$busy" -ge 10 ] && [ "$SECONDS" -lt "$deadline" ]; do
        bl_log "the machine is $busy % busy with other work; waiting"
        sleep 8
    done
    [ "$busy" -ge 10 ] && bl_log "still $busy % busy after ${WAIT_IDLE} s; measuring anyway"
fi

bl_log "measuring (about $((LOGINS * 500 / 1000 + ROUNDS * 2 + 25)) s)"
: >"$WORK/results"
BENCH_HOST_MNTNS=$(readlink /proc/self/ns/mnt) WORK=$WORK HELPERS=$HELPERS PASSWORD=$PASSWORD \
    UNIX_USER=nxbenchunix UNIX_UID=64990 UNIX_HASH=$UNIX_HASH \
    PAM_MODULE=$BUILD/pam_module/pam_nexalix.so NSS_DIR=$BUILD/nss_module RUNTIME=$RUNTIME \
    DAEMON_PID=$BL_DAEMON_PID BUS_PID=$BL_BUS_PID NEXALIXCTL=$NEXALIXCTL \
    LOGINS=$LOGINS WARMUP=3 ROUNDS=$ROUNDS BURST=$BURST CORES=$CORES COUNT=$COUNT \
    unshare --mount --propagation private bash "$HERE/measure-ns.sh" ||
    bl_die "the measurement failed; nexalixd log: $(tail -n 5 "$BL_DAEMON_LOG")"

# ---- the table ----

S=$WORK/samples
declare -A R
while IFS='=' read -r k v; do R[$k]=$v; done <"$WORK/results"

# pct FILE P: the P-th percentile (nearest rank; 50 = median, 100 = max)
# of the numbers in FILE.
pct() { sort -n "$1" | awk -v p="$2" '{ v[NR] = $1 } END { i = int(NR * p / 100 + 0.999999); if (i < 1) i = 1; print v[i] }'; }
calc() { bl_calc "$@"; }
verdict() { if [ "$1" = 1 ]; then echo met; else echo MISSED; fi; }
per_login() { calc "${R[$1]:-0} / ${R[count_logins]}" %.1f; }
total() { awk '{ s += $1 } END { print s }' "$1"; }

declare -A med p90
for svc in permit unix nexalix; do
    med[$svc]=$(pct "$S/login-$svc.ms" 50)
    p90[$svc]=$(pct "$S/login-$svc.ms" 90)
done
argon=$(pct "$S/hash-argon2id.ms" 50) argon90=$(pct "$S/hash-argon2id.ms" 90)
yes=$(pct "$S/hash-yescrypt.ms" 50) yes90=$(pct "$S/hash-yescrypt.ms" 90)
argon_b2b=$(pct "$S/hash-argon2id-b2b.ms" 50) yes_b2b=$(pct "$S/hash-yescrypt-b2b.ms" 50)
declare -A hash=([unix]=$yes [nexalix]=$argon) hashname=([unix]=yescrypt [nexalix]=argon2id)
# The same difference taken iteration by iteration (they were
# interleaved): the median of (module − permit − hash).
paired() {
    paste "$S/login-$1.ms" "$S/login-permit.ms" "$S/hash-$2.ms" | awk '{ print $1 - $2 - $3 }' >"$S/paired-$1.ms"
    pct "$S/paired-$1.ms" 50
}

printf '\nLogins through PAM, %s cores (Linux %s), %s, tree %s\n' "$CORES" "$(uname -r)" "$(date -u '+%F %H:%M UTC')" \
    "$(git -C "$ROOT" describe --always --dirty 2>/dev/null || echo unknown)"
printf 'CPU used by other processes on the machine: %s %% one at a time, %s %% burst, %s %% burst with probes, %s %% threads hashing (steal %s/%s/%s/%s %%); load average at the start %s\n' \
    "${R[others_serial_pct]}" "${R[others_burst_pct]}" "${R[others_probed_pct]}" "${R[others_ceiling_pct]}" \
    "${R[steal_serial_pct]}" "${R[steal_burst_pct]}" "${R[steal_probed_pct]}" "${R[steal_ceiling_pct]}" \
    "${R[loadavg_start]}"

printf '\n1. One login at a time: pamtester SERVICE USER authenticate, password on stdin; %d of each, interleaved; ms, whole process\n\n' "$LOGINS"
printf '%-12s %8s %8s %9s %14s %16s %24s\n' module median p90 "− permit" "hashes/login" "hashes/login" "− permit − one hash"
printf '%-12s %8s %8s %9s %14s %16s %24s\n' "" "" "" "" "(timing)" "(counted)" "(medians; paired)"
printf '%-12s %8s %8s %9s %14s %16s %24s\n' pam_permit "${med[permit]}" "${p90[permit]}" — — — —
for svc in unix nexalix; do
    d=$(calc "${med[$svc]} - ${med[permit]}")
    counted=—
    if [ "${R[probes]}" = yes ]; then
        case $svc in
            unix) counted="$(per_login count_unix_client_crypt_r) crypt_r" ;;
            nexalix) counted="$(per_login count_nexalix_daemon_crypto_pwhash_argon2id_str_verify) argon2id" ;;
        esac
    fi
    printf '%-12s %8s %8s %9s %14s %16s %24s\n' "pam_$svc" "${med[$svc]}" "${p90[$svc]}" "$d" \
        "$(calc "$d / ${hash[$svc]}" %.2f)" "$counted" \
        "$(calc "${med[$svc]} - ${med[permit]} - ${hash[$svc]}"); $(calc "$(paired "$svc" "${hashname[$svc]}")")"
done
printf '\none hash, as a login meets it (a fresh process verifying a stored hash; %d of each, interleaved with the logins):\n' "$LOGINS"
printf '  argon2id at libsodium'"'"'s interactive limits (t=2, 64 MiB): %s ms (p90 %s); yescrypt %s (libxcrypt'"'"'s default cost): %s ms (p90 %s)\n' \
    "$argon" "$argon90" "${UNIX_HASH:0:7}" "$yes" "$yes90"
nx_extra=$(calc "${med[nexalix]} - ${med[permit]} - $argon")

if [ "${R[probes]}" = yes ]; then
    printf '\n2. Where the time of those pam_nexalix logins goes (uprobes on pam_sm_authenticate in the module and crypto_pwhash_str_verify in nexalixd); medians, ms\n\n'
    printf '  %-72s %8s\n' "process start and exit around the module (pamtester, libpam, dlopen)" "$(pct "$S/phase-process.ms" 50)"
    printf '  %-72s %8s\n' "  the same for pam_permit: its whole login" "${med[permit]}"
    printf '  %-72s %8s\n' "module → hash begins (connect, START, prompt, answer, worker queue)" "$(pct "$S/phase-before.ms" 50)"
    printf '  %-72s %8s\n' "the hash in nexalixd (worker thread, nice 10)" "$(pct "$S/phase-hash.ms" 50)"
    printf '  %-72s %8s\n' "hash ends → module returns (result on the main loop, store, reply)" "$(pct "$S/phase-after.ms" 50)"
    traced_extra=$(calc "$(pct "$S/phase-nonhash.ms" 50) - ${med[permit]}")
    printf '  %-72s %8s\n' "login − its own hash − pam_permit" "$traced_extra"
    n=${R[count_logins]}
    printf '\n  nexalixd CPU per login %s ms; one argon2id verification %s ms of CPU (back to back): ratio %s\n' \
        "$(per_login count_nexalix_daemon_task-clock)" "$(calc "${R[cpu_hash_argon2id_ms]}")" \
        "$(calc "${R[count_nexalix_daemon_task-clock]} / $n / ${R[cpu_hash_argon2id_ms]}")"
    printf '  hash calls per login, counted with uprobes over %d logins each:\n' "$n"
    printf '    pam_nexalix: nexalixd crypto_pwhash_str_verify %s, crypto_pwhash_argon2id_str_verify %s, crypto_pwhash_str %s, crypto_pwhash_argon2id_str %s, crypto_pwhash_argon2id %s; pamtester crypt_r %s, crypto_pwhash_str_verify %s\n' \
        "$(per_login count_nexalix_daemon_crypto_pwhash_str_verify)" \
        "$(per_login count_nexalix_daemon_crypto_pwhash_argon2id_str_verify)" \
        "$(per_login count_nexalix_daemon_crypto_pwhash_str)" "$(per_login count_nexalix_daemon_crypto_pwhash_argon2id_str)" \
        "$(per_login count_nexalix_daemon_crypto_pwhash_argon2id)" "$(per_login count_nexalix_client_crypt_r)" \
        "$(per_login count_nexalix_client_crypto_pwhash_str_verify)"
    printf '    pam_unix: pamtester crypt_r %s; nexalixd argon2id %s\n' \
        "$(per_login count_unix_client_crypt_r)" "$(per_login count_unix_daemon_crypto_pwhash_argon2id_str_verify)"
fi
printf '\ntarget: pam_nexalix − pam_permit − one hash ≤ 1 ms: %s from the medians (%s ms)' \
    "$(verdict "$(calc "($nx_extra <= 1)" %d)")" "$nx_extra"
[ "${R[probes]}" = yes ] && printf '; %s login by login against its own hash (%s ms)' \
    "$(verdict "$(calc "($traced_extra <= 1)" %d)")" "$traced_extra"
printf '\n'

printf '\n3. %d logins at once, %d rounds each (a round: first fork to last exit)\n\n' "$BURST" "$ROUNDS"
printf '%-30s %9s %13s %18s %6s %20s %6s\n' run "logins/s" "round median" "cores ÷ one hash" "%" "$CORES threads hashing" "%"
row_burst() {   # row_burst LABEL FILE HASH_MS CEILING
    local rate ideal
    rate=$(calc "$BURST * $ROUNDS * 1000 / $(total "$2")" %.1f)
    ideal=$(calc "$CORES * 1000 / $3" %.1f)
    printf '%-30s %9s %13s %18s %6s %20s %6s\n' "$1" "$rate" "$(pct "$2" 50) ms" "$ideal" \
        "$(calc "100 * $rate / $ideal" %.0f)" "$4" "$(calc "100 * $rate / $4" %.0f)"
}
row_burst pam_nexalix "$S/burst-nexalix.ms" "$argon_b2b" "${R[par_argon2id_per_s]}"
row_burst "pam_nexalix, probes running" "$S/burst-probed.ms" "$argon_b2b" "${R[par_argon2id_per_s]}"
row_burst "pam_unix (2 hashes a login)" "$S/burst-unix.ms" "$yes_b2b" "${R[par_yescrypt_per_s]}"
nx_rate=$(calc "$BURST * $ROUNDS * 1000 / $(total "$S/burst-nexalix.ms")" %.1f)
nx_ideal=$(calc "$CORES * 1000 / $argon_b2b" %.1f)
printf '\n(one hash: back to back in one process, as a worker hashes through a burst, measured just before and after it: %s ms argon2id, %s ms yescrypt. %d threads hashing: hash-time'"'"'s argon2id verifications/s on %d threads of one process, %s × one thread'"'"'s %s/s; on %d separate processes: %s/s, %s ×)\n' \
    "$argon_b2b" "$yes_b2b" "$CORES" "$CORES" "$(calc "${R[par_argon2id_per_s]} / ${R[one_thread_argon2id_per_s]}")" \
    "${R[one_thread_argon2id_per_s]}" "$CORES" "${R[procs_argon2id_per_s]}" \
    "$(calc "${R[procs_argon2id_per_s]} / ${R[one_thread_argon2id_per_s]}")"
printf 'failed logins in the bursts: pam_nexalix %s and %s, pam_unix %s\n' "${R[burst_nexalix_failed]}" \
    "${R[burst_probed_failed]}" "${R[burst_unix_failed]}"
if [ "${R[probes]}" = yes ]; then
    printf 'nexalixd'"'"'s workers through the pam_nexalix burst: a hash took %s ms (median; p90 %s); hashes in progress 0 / 1 / 2: %s / %s / %s %% of the time\n' \
        "$(pct "$S/burst-hash.ms" 50)" "$(pct "$S/burst-hash.ms" 90)" \
        "${R[inflight_0_pct]}" "${R[inflight_1_pct]}" "${R[inflight_2_pct]:-—}"
fi
printf 'target: ≥ 90 %% of cores ÷ one hash time: %s (%s %%)\n' "$(verdict "$(calc "($nx_rate >= 0.9 * $nx_ideal)" %d)")" \
    "$(calc "100 * $nx_rate / $nx_ideal" %.0f)"

printf '\n4. Answering while pam_nexalix logins burst (ms; idle: the 2 s before; steady: the burst less the first %d ms of each round, while its %d pamtester processes start)\n\n' "$ROUND_START_MS" "$BURST"
printf '%-42s %8s %8s %9s %9s %9s %10s %10s %8s\n' request "idle p99" "idle max" "burst p50" "burst p99" "burst max" "steady p99" "steady max" "> 5 ms"
worst=0 worst_steady=0
for p in nss dbus ctl; do
    case $p in
        nss) label="getpwnam_r via the NSS module, every 2 ms" ;;
        dbus) label="GetStatus on D-Bus, every 2 ms" ;;
        ctl) label="nexalixctl status (a whole process)" ;;
    esac
    f=$S/probe-$p-burst.us
    if [ "$p" = ctl ]; then
        : >"$S/probe-$p-steady.us"
        slow=$(awk '$1 > 5000' "$f" | wc -l)
    else
        # Samples sent in the first ROUND_START_MS of a round, and the rest.
        awk -v ms="$ROUND_START_MS" -v dir="$S" -v p="$p" 'FNR == NR { st[++n] = $1; next }
            { start = 0; for (i = 1; i <= n; i++) if ($2 >= st[i] && $2 < st[i] + ms / 1000) start = 1
              print $1 > (dir "/probe-" p (start ? "-start" : "-steady") ".us") }' "$S/rounds-probed.txt" "$f"
        slow="$(awk '$1 > 5000' "$f" | wc -l) ($(awk '$1 > 5000' "$S/probe-$p-start.us" 2>/dev/null | wc -l) at a round's start)"
    fi
    row=()
    for q in 99 100; do row+=("$(calc "$(pct "$S/probe-$p-idle.us" "$q") / 1000" %.3f)"); done
    for q in 50 99 100; do row+=("$(calc "$(pct "$f" "$q") / 1000" %.3f)"); done
    for q in 99 100; do
        if [ -s "$S/probe-$p-steady.us" ]; then row+=("$(calc "$(pct "$S/probe-$p-steady.us" "$q") / 1000" %.3f)"); else row+=(—); fi
    done
    printf '%-42s %8s %8s %9s %9s %9s %10s %10s %8s\n' "$label" "${row[@]}" "$slow"
    if [ "$p" != ctl ]; then
        worst=$(calc "(${row[4]} > $worst) ? ${row[4]} : $worst" %.3f)
        worst_steady=$(calc "(${row[6]} > $worst_steady) ? ${row[6]} : $worst_steady" %.3f)
    fi
done
printf '(samples in the burst: NSS %s, D-Bus %s, nexalixctl %s)\n' "$(wc -l <"$S/probe-nss-burst.us")" \
    "$(wc -l <"$S/probe-dbus-burst.us")" "$(wc -l <"$S/probe-ctl-burst.us")"
printf 'target: NSS and D-Bus answer in < 5 ms during the burst: %s (slowest %s ms; %s ms outside the rounds'"'"' starts)\n' \
    "$(verdict "$(calc "($worst < 5)" %d)")" "$worst" "$worst_steady"
printf '\nlocal user'"'"'s hash made with %s\n' "$hash_tool"
