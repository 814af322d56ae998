#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# One change, end to end, at 1,000 and 100,000 users: what an administrator
# waits for from `nexalixctl` until the change is visible to every process
# through NSS, against the same measures of an earlier build (by default the
# last commit before the NSS snapshot was published by deltas), in one run.
#
#   sudo bench/changes/run.sh [--baseline REF] [--sizes "1000 100000"] [--calls N]
#
# For each build and size: a private system bus, nexalixd (store in a
# temporary directory on disk, runtime directory on a tmpfs as /run is), an
# organisation with one department, N users imported (the import's rate is
# measured), then --calls one-user changes of each kind timed one by one
# (create --invite, update, deactivate), each followed by a getent through
# the real NSS module checking that the change is visible, and pages of
# `user list` (100 users, --json) at the start, the middle and the end, with
# and without --org. Prints a table of medians and the ratios.
set -u
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
. "$ROOT/bench/lifecycle/lib.sh"

BASELINE=8a5667d
SIZES="1000 100000"
CALLS=30
while [ $# -gt 0 ]; do
    case $1 in
        --baseline) BASELINE=$2; shift 2 ;;
        --sizes) SIZES=$2; shift 2 ;;
        --calls) CALLS=$2; shift 2 ;;
        -h|--help) sed -n '3,18p' "$0"; exit 0 ;;
        *) bl_die "unknown option $1 (see --help)" ;;
    esac
done
[ "$(id -u)" -eq 0 ] || bl_die "run as root: it starts a system-type bus and nexalixd"

WORK=$(mktemp -d /var/tmp/nexalix-changes.XXXXXX)
RUNTIME_ROOT=$(mktemp -d /dev/shm/nexalix-changes.XXXXXX)
trap 'bl_instance_stop; rm -rf "$WORK" "$RUNTIME_ROOT"; git -C "$ROOT" worktree remove --force "$WORK/baseline-src" 2>/dev/null' EXIT

build() {       # build NAME SRC: a release build of SRC into $WORK/NAME
    meson setup "$WORK/$1" "$2" --buildtype=release >/dev/null ||
        bl_die "meson setup of $1 failed"
    ninja -C "$WORK/$1" daemon/nexalixd tools/nexalixctl nss_module/libnss_nexalix.so.2 >/dev/null ||
        bl_die "build of $1 failed"
}
bl_log "building the baseline ($BASELINE) and the current tree"
git -C "$ROOT" worktree add -q --detach "$WORK/baseline-src" "$BASELINE" || bl_die "no such ref $BASELINE"
build baseline "$WORK/baseline-src"
build current "$ROOT"

median() { sort -n | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

# timed CMD...: milliseconds of one run of CMD (its output dropped).
timed() {
    local s
    s=$(bl_now)
    "$@" >/dev/null 2>&1 || return 1
    bl_calc "($(bl_now) - $s) * 1000" "%.3f"
}

# visible NAME FIELD-RE: getent through this build's module finds NAME with
# a line matching FIELD-RE (the change is published).
visible() {
    LD_LIBRARY_PATH="$NSS_DIR" NEXALIX_RUNTIME_DIR="$RUNTIME" getent -s nexalix passwd "$1" | grep -Eq "$2"
}

declare -A RESULT

measure() {     # measure BUILD N
    local name=$1 n=$2 dir=$WORK/run-$1-$2 i t op
    export NEXALIXD=$WORK/$name/daemon/nexalixd NEXALIXCTL=$WORK/$name/tools/nexalixctl
    NSS_DIR=$WORK/$name/nss_module
    RUNTIME=$RUNTIME_ROOT/$name-$n
    mkdir -p "$dir"
    bl_bus_start "$dir" "$ROOT/data/org.nexalix.Identity1.conf"
    BL_RUNTIME_DIR=$RUNTIME bl_daemon_start "$dir"
    bl_ctl org create bench
    bl_ctl dept create bench support
    {
        echo username,first_name,last_name,email,language,department,roles
        for ((i = 0; i < n; i++)); do echo "u$i,First,Last$i,u$i@example.com,en,support,member"; done
    } >"$dir/users.csv"
    t=$(timed "$NEXALIXCTL" user import "$dir/users.csv" --org bench) || bl_die "$name: import failed"
    RESULT[$name,$n,import]=$(bl_calc "$n / ($t / 1000)" "%.0f")
    # A build that mails invitations has N of them to deliver after the
    # import: the changes are timed once the outbox is empty, not while the
    # disk is busy with the spool (the mail benchmark, bench/mail, times that).
    if [ -x "$WORK/$name/tools/nexalixctl" ] && "$NEXALIXCTL" mail queue --help >/dev/null 2>&1; then
        local deadline=$((SECONDS + 1200)) before=$SECONDS
        while [ "$(find "$dir/mail" -name '*.eml' 2>/dev/null | wc -l)" -lt "$n" ]; do
            [ "$SECONDS" -ge "$deadline" ] && bl_die "$name: the invitations were not delivered in 20 min"
            sleep 2
        done
        bl_log "$name: $n invitations delivered to the spool in $((SECONDS - before)) s"
    fi

    for op in create update deactivate; do
        : >"$dir/$op.ms"
        for ((i = 0; i < CALLS; i++)); do
            case $op in
                create) t=$(timed "$NEXALIXCTL" user create "x$i" --org bench --first X --last "Y$i" \
                               --email "x$i@example.com" --role member --department support --invite) &&
                        visible "x$i" ":X Y$i:" ;;
                update) t=$(timed "$NEXALIXCTL" user update "x$i" --first Changed) &&
                        visible "x$i" ":Changed Y$i:" ;;
                deactivate) t=$(timed "$NEXALIXCTL" user deactivate "x$i") &&
                        ! LD_LIBRARY_PATH="$NSS_DIR" NEXALIX_RUNTIME_DIR="$RUNTIME" getent -s nexalix group bench.member bench-member |
                          grep -q "[:,]x$i\(,\|$\)" ;;
            esac || bl_die "$name: $op x$i failed or was not visible through NSS at once"
            echo "$t" >>"$dir/$op.ms"
        done
        RESULT[$name,$n,$op]=$(median <"$dir/$op.ms")
    done

    for where in 0 mid end; do
        local off org
        case $where in 0) off=0 ;; mid) off=$((n / 2)) ;; end) off=$((n - 100)) ;; esac
        for org in "" "--org bench"; do
            : >"$dir/list.ms"
            # shellcheck disable=SC2086 # $org is one option and its value
            for ((i = 0; i < 10; i++)); do
                t=$(timed "$NEXALIXCTL" user list $org --limit 100 --offset "$off" --json) || bl_die "$name: user list failed"
                echo "$t" >>"$dir/list.ms"
            done
            RESULT[$name,$n,list-$where${org:+-org}]=$(median <"$dir/list.ms")
        done
    done
    bl_instance_stop
}

for n in $SIZES; do
    for name in baseline current; do
        bl_log "$name, $n users"
        measure "$name" "$n"
    done
done

printf '\n%-34s' "measure (median of $CALLS; ms)"
for n in $SIZES; do printf '%14s %14s %8s' "base $n" "now $n" "ratio"; done
printf '\n'
for key in import create update deactivate list-0 list-mid list-end list-0-org list-mid-org list-end-org; do
    case $key in import) label="user import (users/s)" ;; *) label=$key ;; esac
    printf '%-34s' "$label"
    for n in $SIZES; do
        b=${RESULT[baseline,$n,$key]} c=${RESULT[current,$n,$key]}
        printf '%14s %14s %8s' "$b" "$c" "$(bl_calc "$b / $c" "%.1fx")"
    done
    printf '\n'
done
first=${SIZES%% *} last=${SIZES##* }
printf '\nnow: time at %s users / time at %s users:' "$last" "$first"
for key in create update deactivate list-end list-end-org; do
    printf ' %s %s' "$key" "$(bl_calc "${RESULT[current,$last,$key]} / ${RESULT[current,$first,$key]}" "%.2fx")"
done
printf '\n'
