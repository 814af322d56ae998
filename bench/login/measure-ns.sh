#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# The measuring half of bench/login/run.sh, run by it as
#
#   unshare --mount --propagation private bash measure-ns.sh
#
# inside a private mount namespace, where private copies of /etc/passwd,
# /etc/shadow and /etc/pam.d are bind-mounted over the real ones: a local
# user with a yescrypt hash for pam_unix and three benchmark services exist
# only here, and the host's files are never written. Programs run unmodified
# (pamtester, libpam, pam_unix reading /etc/shadow as root), with no
# LD_PRELOAD shim: pam_wrapper would add its own start-up cost to every
# pamtester process.
#
# Everything comes from run.sh through the environment (see there). Results
# go to $WORK/results as key=value lines, samples to $WORK/samples/*.
# shellcheck disable=SC2153 # ROUNDS and the rest come from run.sh
set -u -o pipefail

die() {
    printf 'FATAL (namespace): %s\n' "$*" >&2
    exit 1
}
log() { printf '# %s\n' "$*" >&2; }
put() { printf '%s=%s\n' "$1" "$2" >>"$WORK/results"; }

[ -n "${BENCH_HOST_MNTNS:-}" ] || die "BENCH_HOST_MNTNS is not set; run me through run.sh"
for v in WORK HELPERS PASSWORD UNIX_USER UNIX_UID UNIX_HASH PAM_MODULE NSS_DIR RUNTIME DAEMON_PID BUS_PID \
         NEXALIXCTL LOGINS WARMUP ROUNDS BURST CORES COUNT; do
    [ -n "${!v:-}" ] || die "$v is not set; run me through run.sh"
done
[ "$(readlink /proc/self/ns/mnt)" != "$BENCH_HOST_MNTNS" ] ||
    die "not in a private mount namespace; refusing to touch /etc"

# Whatever ends the script ends what it left running: the samplers of
# section 4 and a trace (cleanup, defined below). A signal ends it through
# exit, so that the EXIT trap runs.
PROBE_NSS='' PROBE_DBUS='' PROBE_CTL='' TRACE_PID=''
trap 'cleanup' EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

SAMPLES=$WORK/samples
mkdir -p "$SAMPLES" "$WORK/etc"

# ms_since START: milliseconds since START (an EPOCHREALTIME without its
# dot), 3 decimals, with no subshell.
ms_since() {
    local d=$((${EPOCHREALTIME/[.,]/} - $1))
    printf '%d.%03d\n' $((d / 1000)) $((d % 1000))
}

# ---- how busy the machine was with other work ----
#
# The machine may be shared: for each phase, the CPU time that processes
# other than this benchmark's (this shell and its children, nexalixd,
# dbus-daemon) used, and the time the hypervisor took (steal), as a share
# of what the cores could give in that time. Medians hold up to a little of
# it; a large share means the figures of that phase are not to be trusted.

TICK=$(getconf CLK_TCK)
# ticks_mine: sets MINE to the CPU ticks used so far by this shell and its
# children, nexalixd and dbus-daemon. Not `times | awk` nor $(ticks_mine):
# in a pipeline or a command substitution the builtin runs in a subshell,
# which has no children of its own.
ticks_mine() {
    local own
    times >"$WORK/times"
    own=$(awk '{ for (i = 1; i <= NF; i++) { v = $i; sub(/s$/, "", v); split(v, a, "m"); s += a[1] * 60 + a[2] } }
               END { printf "%.0f", s * '"$TICK"' }' "$WORK/times")
    MINE=$(awk -v own="$own" '{ s += $14 + $15 + $16 + $17 } END { print own + s }' \
        "/proc/$DAEMON_PID/stat" "/proc/$BUS_PID/stat" 2>/dev/null)
}
ticks_machine() { awk '$1 == "cpu" { print $2 + $3 + $4 + $7 + $8, $9; exit }' /proc/stat; }
phase_begin() {
    PHASE_T0=${EPOCHREALTIME/[.,]/}
    read -r PHASE_BUSY PHASE_STEAL < <(ticks_machine)
    ticks_mine
    PHASE_MINE=$MINE
}
phase_end() {       # phase_end NAME
    local busy steal wall
    read -r busy steal < <(ticks_machine)
    ticks_mine
    wall=$((${EPOCHREALTIME/[.,]/} - PHASE_T0))
    put "others_$1_pct" "$(awk -v b=$((busy - PHASE_BUSY)) -v m=$((MINE - PHASE_MINE)) -v w="$wall" -v c="$CORES" \
        -v t="$TICK" 'BEGIN { o = (b - m) / t; if (o < 0) o = 0; printf "%.1f", 100 * o / (w / 1e6 * c) }')"
    put "steal_$1_pct" "$(awk -v s=$((steal - PHASE_STEAL)) -v w="$wall" -v c="$CORES" -v t="$TICK" \
        'BEGIN { printf "%.1f", 100 * s / t / (w / 1e6 * c) }')"
}
put loadavg_start "$(cut -d' ' -f1-3 /proc/loadavg)"

# ---- the private /etc files ----

cp -a /etc/passwd /etc/shadow "$WORK/etc/" || die "cannot copy /etc/passwd and /etc/shadow"
cp -a /etc/pam.d "$WORK/etc/pam.d" || die "cannot copy /etc/pam.d"
printf '%s:x:%s:%s:Login benchmark:/nonexistent:/usr/sbin/nologin\n' "$UNIX_USER" "$UNIX_UID" "$UNIX_UID" \
    >>"$WORK/etc/passwd"
printf '%s:%s:%s:0:99999:7:::\n' "$UNIX_USER" "$UNIX_HASH" "$(($(date +%s) / 86400))" >>"$WORK/etc/shadow"
# One module each, nothing else on the stack: the difference between two
# services is the module.
printf 'auth required pam_permit.so\n' >"$WORK/etc/pam.d/nx-bench-permit"
printf 'auth required pam_unix.so\n' >"$WORK/etc/pam.d/nx-bench-unix"
printf 'auth required %s runtime=%s\n' "$PAM_MODULE" "$RUNTIME" >"$WORK/etc/pam.d/nx-bench-nexalix"
for f in passwd shadow pam.d; do
    mount --bind "$WORK/etc/$f" "/etc/$f" || die "cannot bind-mount the private /etc/$f"
done
if [ ! -e /etc/pam.d/nx-bench-nexalix ] || ! grep -q "^$UNIX_USER:" /etc/shadow; then
    die "the private /etc files are not in place"
fi

# ---- checks: every service answers as it should ----

pt() {  # pt SERVICE USER PASSWORD: one pamtester authentication, quiet
    pamtester "$1" "$2" authenticate <<<"$3" >/dev/null 2>&1
}
pt nx-bench-permit "$UNIX_USER" "$PASSWORD" || die "pam_permit refused a login"
pt nx-bench-unix "$UNIX_USER" "$PASSWORD" || die "pam_unix refused $UNIX_USER with the right password"
pt nx-bench-unix "$UNIX_USER" "not-the-password" && die "pam_unix accepted a wrong password"
pt nx-bench-nexalix bench0 "$PASSWORD" || die "pam_nexalix refused bench0 with the right password"
pt nx-bench-nexalix bench0 "not-the-password" && die "pam_nexalix accepted a wrong password"
# Clears the failure just counted (a success resets the counter).
pt nx-bench-nexalix bench0 "$PASSWORD" || die "pam_nexalix refused bench0 after one failure"
ARGON2_HASH=$("$HELPERS/hash-time" argon2id-hash <<<"$PASSWORD") || die "hash-time argon2id-hash failed"

# ---- uprobes ----
#
# perf probe puts uprobes at the entry (and return) of the hash functions:
# crypt_r() in libcrypt wherever pamtester runs it, libsodium's argon2id
# entry points in nexalixd, and pam_sm_authenticate in this build's module.
# They count the hashes each login computes, and time the parts of each
# Nexalix login. Without perf (or uprobes), those figures are left out.

SODIUM_FUNCS="crypto_pwhash_str_verify crypto_pwhash_argon2id_str_verify crypto_pwhash_str crypto_pwhash_argon2id_str crypto_pwhash_argon2id"
TRACE_EVENTS=nxbench:module_begin,nxbench:module_end__return,nxbench:crypto_pwhash_str_verify,nxbench:verify_end__return
# shellcheck disable=SC2317 # called by cleanup too
# Ends a trace left running and removes the probes (they are the kernel's,
# not this namespace's). A probe in use by a live perf cannot be removed.
remove_probes() {
    if [ -n "${TRACE_PID:-}" ]; then
        kill -INT "$TRACE_PID" 2>/dev/null
        wait "$TRACE_PID" 2>/dev/null
        TRACE_PID=
    fi
    perf probe -q -d 'nxbench:*' >/dev/null 2>&1
}
# shellcheck disable=SC2317 # called by the EXIT trap
cleanup() {
    local p
    for p in $PROBE_NSS $PROBE_DBUS $PROBE_CTL; do kill -TERM "$p" 2>/dev/null; done
    [ "${PROBES:-no}" = yes ] && remove_probes
}

# add_probe LIBRARY FUNCTION [NAME [%return]]: a uprobe named nxbench:NAME
# (default FUNCTION) at the function's address. By name, perf probe would
# also put one on the library's PLT stub of a function the library calls
# itself, and count such calls twice. A return probe's event is
# nxbench:NAME__return.
add_probe() {
    local addr
    addr=$(nm -D --defined-only "$1" | awk -v f="$2" '$3 == f || index($3, f "@") == 1 { print $1; exit }')
    [ -n "$addr" ] && perf probe -q -x "$1" "nxbench:${3:-$2}=0x$addr${4:-}" >/dev/null 2>&1
}

# perf_count FILE EVENT: the count of EVENT in a `perf stat -x,` output
# (0 when the process never ran: "<not counted>").
perf_count() { awk -F, -v e="$2" '$3 == e { print ($1 ~ /^[0-9.]+$/) ? $1 : 0 }' "$1"; }

PROBES=no
if [ "$COUNT" = yes ] && command -v perf >/dev/null 2>&1 && command -v nm >/dev/null 2>&1; then
    if [ ! -e /sys/kernel/tracing/uprobe_events ]; then
        # Mounted in this namespace only.
        mount -t tracefs nodev /sys/kernel/tracing 2>/dev/null
    fi
    libcrypt=$(ldconfig -p | awk '/libcrypt\.so\.1 .*x86-64/ { print $NF; exit }')
    libsodium=$(ldconfig -p | awk '/libsodium\.so\.[0-9]+ .*x86-64/ { print $NF; exit }')
    remove_probes
    PROBES=yes
    add_probe "$libcrypt" crypt_r || PROBES=no
    for f in $SODIUM_FUNCS; do add_probe "$libsodium" "$f" || PROBES=no; done
    add_probe "$libsodium" crypto_pwhash_str_verify verify_end %return || PROBES=no
    add_probe "$PAM_MODULE" pam_sm_authenticate module_begin || PROBES=no
    add_probe "$PAM_MODULE" pam_sm_authenticate module_end %return || PROBES=no
    [ "$PROBES" = yes ] || log "perf probe failed: no hash counts and no breakdown"
fi
put probes "$PROBES"

# trace_start NAME / trace_stop: record TRACE_EVENTS machine-wide (the
# module's probes are in this build's file only; nexalixd's are told apart
# by its pid) into $SAMPLES/trace-NAME.txt as "pid tid time event" lines.
trace_start() {
    TRACE_NAME=$1
    TRACE_PID=
    [ "$PROBES" = yes ] || return 0
    perf record -q -a -o "$SAMPLES/trace-$1.data" -e "$TRACE_EVENTS" 2>"$SAMPLES/trace-$1.err" &
    TRACE_PID=$!
    sleep 0.5   # recording before what it watches begins
}
trace_stop() {
    [ -n "$TRACE_PID" ] || return 0
    kill -INT "$TRACE_PID"
    wait "$TRACE_PID"
    TRACE_PID=
    perf script -i "$SAMPLES/trace-$TRACE_NAME.data" -F pid,tid,time,event 2>/dev/null |
        awk '{ split($1, id, "/"); t = $2; sub(/:$/, "", t); e = $3; sub(/:$/, "", e); sub(/^nxbench:/, "", e)
               print id[1], id[2], t, e }' \
            >"$SAMPLES/trace-$TRACE_NAME.txt"
}

# ---- 1. one login at a time, the three services interleaved ----
#
# Interleaving (permit, unix, nexalix, then one hash of each kind; again)
# spreads any drift of the machine's speed over all of them alike. Each
# login's time is the whole pamtester process, fork to exit. The hashes
# are timed the way a login meets one: a fresh process verifying a stored
# hash, after the machine did something else (hash-time once).

timed_login() {     # timed_login FILE SERVICE USER
    local s=${EPOCHREALTIME/[.,]/}
    pamtester "$2" "$3" authenticate <<<"$PASSWORD" >/dev/null 2>&1 || die "$2: login of $3 failed"
    ms_since "$s" >>"$1"
}

log "one login at a time: $LOGINS of each, interleaved with one hash of each kind"
for svc in permit unix nexalix; do : >"$SAMPLES/login-$svc.ms"; done
: >"$SAMPLES/hash-argon2id.ms"
: >"$SAMPLES/hash-yescrypt.ms"
trace_start serial
phase_begin
for ((i = -WARMUP; i < LOGINS; i++)); do
    for svc in permit unix nexalix; do
        user=$UNIX_USER
        [ "$svc" = nexalix ] && user=bench$((i < 0 ? 0 : i % BURST))
        out=$SAMPLES/login-$svc.ms
        [ "$i" -lt 0 ] && out=/dev/null
        timed_login "$out" "nx-bench-$svc" "$user"
    done
    [ "$i" -lt 0 ] && continue
    "$HELPERS/hash-time" once "$ARGON2_HASH" <<<"$PASSWORD" >>"$SAMPLES/hash-argon2id.ms" || die "hash-time failed"
    "$HELPERS/hash-time" once "$UNIX_HASH" <<<"$PASSWORD" >>"$SAMPLES/hash-yescrypt.ms" || die "hash-time failed"
done
phase_end serial
trace_stop

# Each traced Nexalix login, in ms: module begin → hash begin, the hash,
# hash end → module end, the module's whole time. Lined up with the timed
# Nexalix logins (the warm-up ones come first and are dropped).
if [ "$PROBES" = yes ]; then
    awk -v daemon="$DAEMON_PID" '
        $4 == "module_begin" { m0 = $3; d1 = d2 = "" }
        $4 == "crypto_pwhash_str_verify" && $1 == daemon { d1 = $3 }
        $4 == "verify_end__return" && $1 == daemon { d2 = $3 }
        $4 == "module_end__return" && m0 != "" && d1 != "" && d2 != "" {
            printf "%.3f %.3f %.3f %.3f\n", (d1 - m0) * 1e3, (d2 - d1) * 1e3, ($3 - d2) * 1e3, ($3 - m0) * 1e3
            m0 = ""
        }' "$SAMPLES/trace-serial.txt" | tail -n "$LOGINS" >"$SAMPLES/phases.txt"
    [ "$(wc -l <"$SAMPLES/phases.txt")" -eq "$LOGINS" ] ||
        die "traced $(wc -l <"$SAMPLES/phases.txt") Nexalix logins, timed $LOGINS"
    paste -d' ' "$SAMPLES/phases.txt" "$SAMPLES/login-nexalix.ms" | awk -v dir="$SAMPLES" '{
        print $1 > (dir "/phase-before.ms"); print $2 > (dir "/phase-hash.ms"); print $3 > (dir "/phase-after.ms")
        print $5 - $4 > (dir "/phase-process.ms"); print $5 - $2 > (dir "/phase-nonhash.ms") }'
fi

# ---- 2. hashes per login, counted; nexalixd's CPU time per login ----

if [ "$PROBES" = yes ]; then
    n=$((LOGINS < 10 ? LOGINS : 10))
    log "counting hash calls over $n logins of each"
    # shellcheck disable=SC2086 # one event a function
    events=nxbench:crypt_r,$(printf 'nxbench:%s,' $SODIUM_FUNCS)task-clock
    for svc in unix nexalix; do
        user=$UNIX_USER
        [ "$svc" = nexalix ] && user=bench1
        # Outer: every thread of nexalixd while the inner one runs; inner:
        # the pamtester processes and their children.
        # shellcheck disable=SC2016 # the loop's own arguments
        perf stat -x, -o "$SAMPLES/perf-daemon-$svc.csv" -p "$DAEMON_PID" -e "$events" -- \
            perf stat -x, -o "$SAMPLES/perf-client-$svc.csv" -e "$events" -- \
            bash -c 'for ((i = 0; i < $1; i++)); do pamtester "$2" "$3" authenticate <<<"$4" >/dev/null 2>&1 || exit 1; done' \
            _ "$n" "nx-bench-$svc" "$user" "$PASSWORD" 2>"$SAMPLES/perf-$svc.err" ||
            die "counted $svc logins failed: $(tail -n 3 "$SAMPLES/perf-$svc.err")"
        for e in crypt_r $SODIUM_FUNCS task-clock; do
            ev=nxbench:$e
            [ "$e" = task-clock ] && ev=task-clock
            put "count_${svc}_client_$e" "$(perf_count "$SAMPLES/perf-client-$svc.csv" "$ev")"
            put "count_${svc}_daemon_$e" "$(perf_count "$SAMPLES/perf-daemon-$svc.csv" "$ev")"
        done
    done
    put count_logins "$n"
    # CPU of one verification: the helper with n and with 0 timed ones.
    for k in 0 "$n"; do
        perf stat -x, -o "$SAMPLES/perf-hash-$k.csv" -e task-clock -- \
            "$HELPERS/hash-time" argon2id "$k" <<<"$PASSWORD" >/dev/null || die "hash-time failed"
    done
    put cpu_hash_argon2id_ms "$(awk -v a="$(perf_count "$SAMPLES/perf-hash-$n.csv" task-clock)" \
        -v b="$(perf_count "$SAMPLES/perf-hash-0.csv" task-clock)" -v n="$n" 'BEGIN { print (a - b) / n }')"
fi

# ---- 3. bursts of logins at once ----

# burst SERVICE PREFIX|- NAME ROUNDS: ROUNDS rounds of BURST logins at once,
# users PREFIX0, PREFIX1, … (one login each) or "-": the local user; the
# wall time of each round (first fork to last exit) to a sample file, and
# the wall-clock time each began to another.
burst() {
    local svc=$1 prefix=$2 name=$3 rounds=$4 r i s pids failed=0 user
    : >"$SAMPLES/burst-$name.ms"
    : >"$SAMPLES/rounds-$name.txt"
    for ((r = 0; r < rounds; r++)); do
        pids=()
        s=${EPOCHREALTIME/[.,]/}
        echo "${s:0:-6}.${s: -6}" >>"$SAMPLES/rounds-$name.txt"
        for ((i = 0; i < BURST; i++)); do
            user=$prefix$i
            [ "$prefix" = - ] && user=$UNIX_USER
            pamtester "$svc" "$user" authenticate <<<"$PASSWORD" >/dev/null 2>&1 &
            pids+=($!)
        done
        for i in "${pids[@]}"; do wait "$i" || failed=$((failed + 1)); done
        ms_since "$s" >>"$SAMPLES/burst-$name.ms"
    done
    put "burst_${name}_failed" "$failed"
}

# One hash back to back in one process (what a worker does through a
# burst), just before and just after the burst: the machine's speed drifts.
b2b() {     # b2b KIND N: N verifications, appended to hash-KIND-b2b.ms
    "$HELPERS/hash-time" "$1" "$2" <<<"$PASSWORD" >>"$SAMPLES/hash-$1-b2b.ms" || die "hash-time failed"
}

: >"$SAMPLES/hash-argon2id-b2b.ms"
: >"$SAMPLES/hash-yescrypt-b2b.ms"
log "$ROUNDS rounds of $BURST pam_nexalix logins at once"
burst nx-bench-nexalix bench warmup 1     # not reported
b2b argon2id 10
trace_start burst
phase_begin
burst nx-bench-nexalix bench nexalix "$ROUNDS"
phase_end burst
trace_stop

# How the workers spent the burst: each hash's duration (begin and end
# paired by thread), and the share of the time (first hash begins to last
# one ends) with 0, 1, 2, … hashes in progress.
if [ "$PROBES" = yes ]; then
    awk -v daemon="$DAEMON_PID" '$1 != daemon { next }
        $4 == "crypto_pwhash_str_verify" { begin[$2] = $3 }
        $4 == "verify_end__return" && ($2 in begin) { printf "%.3f\n", ($3 - begin[$2]) * 1e3; delete begin[$2] }' \
        "$SAMPLES/trace-burst.txt" >"$SAMPLES/burst-hash.ms"
    awk -v daemon="$DAEMON_PID" '$1 == daemon && $4 == "crypto_pwhash_str_verify" { print $3, 1 }
                                 $1 == daemon && $4 == "verify_end__return" { print $3, -1 }' \
        "$SAMPLES/trace-burst.txt" | sort -n |
        awk -v cores="$CORES" 'NR == 1 { t0 = $1 } { if (NR > 1) busy[k] += $1 - prev; k += $2; prev = $1 }
            END { for (i = 0; i <= cores; i++) printf "inflight_%d_pct=%.1f\n", i, 100 * busy[i] / (prev - t0) }' \
        >>"$WORK/results"
fi

b2b argon2id 10

# What the machine's cores can hash at once: threads of one process (as
# nexalixd's workers), separate processes, and one thread, 3 s each.
log "argon2id verifications on $CORES threads, on $CORES processes and on one thread"
phase_begin
put par_argon2id_per_s "$("$HELPERS/hash-time" argon2id-par "$CORES" 3 <<<"$PASSWORD")"
put procs_argon2id_per_s "$("$HELPERS/hash-time" argon2id-procs "$CORES" 3 <<<"$PASSWORD")"
put one_thread_argon2id_per_s "$("$HELPERS/hash-time" argon2id-par 1 3 <<<"$PASSWORD")"
phase_end ceiling

# ---- 4. the same burst with probes: who still answers meanwhile ----

probe_start() {     # probe_start NAME: the NSS and D-Bus probes, every 2 ms
    LD_LIBRARY_PATH=$NSS_DIR NEXALIX_RUNTIME_DIR=$RUNTIME \
        "$HELPERS/login-probe" nss bench3 2 >"$SAMPLES/probe-nss-$1.us" 2>>"$SAMPLES/probe.err" &
    PROBE_NSS=$!
    "$HELPERS/login-probe" dbus 2 >"$SAMPLES/probe-dbus-$1.us" 2>>"$SAMPLES/probe.err" &
    PROBE_DBUS=$!
    # The CLI as a user runs it: a whole process, every 50 ms.
    (
        trap 'exit 0' TERM
        while :; do
            s=${EPOCHREALTIME/[.,]/}
            "$NEXALIXCTL" status >/dev/null 2>&1 || echo "nexalixctl status failed" >>"$SAMPLES/probe.err"
            echo $((${EPOCHREALTIME/[.,]/} - s)) >>"$SAMPLES/probe-ctl-$1.us"
            sleep 0.05
        done
    ) &
    PROBE_CTL=$!
    sleep 0.2   # connected and sampling before what they watch begins
}

probe_stop() {
    kill -TERM "$PROBE_NSS" "$PROBE_DBUS" "$PROBE_CTL" 2>/dev/null
    wait "$PROBE_NSS" || die "the NSS probe failed: $(tail -n 3 "$SAMPLES/probe.err")"
    wait "$PROBE_DBUS" || die "the D-Bus probe failed: $(tail -n 3 "$SAMPLES/probe.err")"
    wait "$PROBE_CTL"
    PROBE_NSS='' PROBE_DBUS='' PROBE_CTL=''
}

log "probes on an idle machine (2 s)"
probe_start idle
sleep 2
probe_stop

log "$ROUNDS rounds of $BURST pam_nexalix logins at once, probes sampling"
phase_begin
probe_start burst
burst nx-bench-nexalix bench probed "$ROUNDS"
probe_stop
phase_end probed

log "$ROUNDS rounds of $BURST pam_unix logins at once (for comparison)"
b2b yescrypt 10
burst nx-bench-unix - unix "$ROUNDS"
b2b yescrypt 10
put par_yescrypt_per_s "$("$HELPERS/hash-time" yescrypt-par "$CORES" 2 <<<"$PASSWORD")"


put loadavg_end "$(cut -d' ' -f1-3 /proc/loadavg)"
exit 0
