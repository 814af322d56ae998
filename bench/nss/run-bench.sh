#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# NSS benchmark: files vs db (libnss-db) vs nexalix, through glibc, in one run
# on one machine. Each service is measured in its own private mount namespace
# whose /etc/nsswitch.conf names only that service ("passwd: SERVICE",
# "group: SERVICE"), with the generated /etc/passwd and /etc/group (files)
# or /var/lib/misc/*.db (db) bind-mounted in; nexalix reads a snapshot
# published with the writer API. Needs root (mount namespaces).
#
#   bench/nss/run-bench.sh [--sizes "1000 10000 100000"] [--budget SECONDS]
#                          [--reps N] [--out FILE] BUILD_DIR
#
# Prints a Markdown table (also written to FILE, default
# BUILD_DIR/bench-nss.md); bench/README-nss.md explains it.
set -euo pipefail

SIZES="1000 10000 100000"
BUDGET=0.5
REPS=7
OUT=
while [ $# -gt 1 ]; do
    case "$1" in
        --sizes) SIZES=$2; shift 2 ;;
        --budget) BUDGET=$2; shift 2 ;;
        --reps) REPS=$2; shift 2 ;;
        --out) OUT=$2; shift 2 ;;
        *) echo "unknown option $1" >&2; exit 2 ;;
    esac
done
BUILD=$(cd "${1:?usage: run-bench.sh [options] BUILD_DIR}" && pwd)
OUT=${OUT:-$BUILD/bench-nss.md}
BENCH="$BUILD/bench/nss/nss-bench"
MODULE_DIR="$BUILD/nss_module"

[ "$(id -u)" = 0 ] || { echo "run-bench.sh needs root (mount namespaces)" >&2; exit 1; }
[ -x "$BENCH" ] || { echo "build first: ninja -C $BUILD bench/nss/nss-bench nss_module/libnss_nexalix.so.2" >&2; exit 1; }
[ -e "$MODULE_DIR/libnss_nexalix.so.2" ] || { echo "no $MODULE_DIR/libnss_nexalix.so.2" >&2; exit 1; }
[ -e /lib/x86_64-linux-gnu/libnss_db.so.2 ] || [ -n "$(ldconfig -p | grep libnss_db.so.2)" ] ||
    { echo "libnss_db missing: apt-get install libnss-db" >&2; exit 1; }
command -v makedb > /dev/null || { echo "makedb missing: apt-get install libnss-db" >&2; exit 1; }

WORK=$(mktemp -d /var/tmp/nss-bench.XXXXXX)
trap 'rm -rf "$WORK"' EXIT

# libnss-db's own recipe (/var/lib/misc/Makefile): every entry under its
# position ("0N"), its name (".name") and its id ("=id").
make_db() {  # SRC DST
    awk 'BEGIN { FS=":"; OFS=":"; cnt=0 }
         /^[ \t]*$/ { next } /^[ \t]*#/ { next }
         { printf "0%u ", cnt++; print }
         /^[^#]/ { printf ".%s ", $1; print; printf "=%s ", $3; print }' "$1" |
        (umask 022 && makedb --quiet -o "$2" -)
}

# Runs `nss-bench lookup` in a namespace where SERVICE alone answers.
measure() {  # SERVICE N DIR
    local svc=$1 n=$2 dir=$3
    printf 'passwd: %s\ngroup: %s\nshadow: files\n' "$svc" "$svc" > "$dir/nsswitch.$svc"
    NSS_SVC=$svc NSS_DIR=$dir NSS_N=$n NSS_BENCH=$BENCH NSS_BUDGET=$BUDGET \
    NSS_MODULE_DIR=$MODULE_DIR unshare -m --propagation private bash -c '
        set -e
        mount --bind "$NSS_DIR/nsswitch.$NSS_SVC" /etc/nsswitch.conf
        case "$NSS_SVC" in
            files) mount --bind "$NSS_DIR/passwd" /etc/passwd
                   mount --bind "$NSS_DIR/group" /etc/group ;;
            db)    mount --bind "$NSS_DIR/db" /var/lib/misc ;;
            nexalix) export NEXALIX_RUNTIME_DIR="$NSS_DIR/run"
                     export LD_LIBRARY_PATH="$NSS_MODULE_DIR" ;;
        esac
        exec "$NSS_BENCH" lookup "$NSS_N" "$NSS_BUDGET"'
}

declare -A R
for n in $SIZES; do
    dir="$WORK/$n"
    mkdir -p "$dir/db" "$dir/tmpfs"
    echo "== $n users: generating" >&2
    "$BENCH" generate "$n" "$dir"
    make_db "$dir/passwd" "$dir/db/passwd.db"
    make_db "$dir/group" "$dir/db/group.db"

    # Publication, on tmpfs as /run is on a normal system, then on this
    # machine's disk (the snapshot stays there for the lookups).
    echo "== $n users: publishing" >&2
    tmpfs_out=$(unshare -m --propagation private bash -c '
        mount -t tmpfs -o size=1g tmpfs "$1" && "$2" publish "$3" "$1/run" "$4"' _ \
        "$dir/tmpfs" "$BENCH" "$n" "$REPS")
    disk_out=$("$BENCH" publish "$n" "$dir/run" "$REPS")
    R[$n,publish_tmpfs]=$(sed -n 's/^publish_ms=//p' <<< "$tmpfs_out")
    R[$n,publish_tmpfs_min]=$(sed -n 's/^publish_min_ms=//p' <<< "$tmpfs_out")
    R[$n,publish_tmpfs_cpu]=$(sed -n 's/^publish_cpu_ms=//p' <<< "$tmpfs_out")
    R[$n,publish_disk]=$(sed -n 's/^publish_ms=//p' <<< "$disk_out")
    R[$n,snapshot_bytes]=$(sed -n 's/^snapshot_bytes=//p' <<< "$disk_out")

    for svc in files db nexalix direct; do
        echo "== $n users: $svc" >&2
        if [ "$svc" = direct ]; then
            out=$(NEXALIX_RUNTIME_DIR="$dir/run" "$BENCH" direct "$n" \
                  "$MODULE_DIR/libnss_nexalix.so.2" "$BUDGET")
        else
            out=$(measure "$svc" "$n" "$dir")
        fi
        for key in pwnam_hit_us pwnam_miss_us pwuid_hit_us grouplist_us enumerate_ms; do
            R[$n,$svc,$key]=$(sed -n "s/^$key=//p" <<< "$out")
        done
    done
done

fmt() {  # value in µs or ms, printed with 3 significant-ish digits
    awk -v v="$1" 'BEGIN { if (v >= 100) printf "%.0f", v; else if (v >= 10) printf "%.1f", v;
                           else if (v >= 1) printf "%.2f", v; else printf "%.3f", v }'
}
ratio() {
    awk -v a="$1" -v b="$2" 'BEGIN { r = a / b; if (r >= 100) printf "%.0f×", r;
                                     else if (r >= 10) printf "%.1f×", r; else printf "%.2f×", r }'
}

{
    echo "Machine: $(nproc) cores, $(uname -r), glibc $(ldd --version | head -1 | awk '{print $NF}'), load average at start $(cut -d' ' -f1-3 /proc/loadavg)."
    echo "Lookups: mean per call over ${BUDGET}s per cell (random keys, same sequence for every service); publication: median of $REPS."
    echo
    echo "| users | measure | files | db | nexalix | files / nexalix | db / nexalix | nexalix module alone | target (100,000) |"
    echo "|---:|---|---:|---:|---:|---:|---:|---:|---|"
    for n in $SIZES; do
        for key in pwnam_hit_us pwnam_miss_us pwuid_hit_us grouplist_us enumerate_ms; do
            case $key in
                pwnam_hit_us)  label="getpwnam_r hit (µs)"; target="≤ 2 µs" ;;
                pwnam_miss_us) label="getpwnam_r miss (µs)"; target="" ;;
                pwuid_hit_us)  label="getpwuid_r hit (µs)"; target="≤ 2 µs" ;;
                grouplist_us)  label="getgrouplist (µs)"; target="≤ 10 µs" ;;
                enumerate_ms)  label="getpwent enumeration (ms)"; target="≤ 20 ms" ;;
            esac
            [ "$n" = 100000 ] || target=""
            f=${R[$n,files,$key]} d=${R[$n,db,$key]} x=${R[$n,nexalix,$key]} m=${R[$n,direct,$key]}
            echo "| $n | $label | $(fmt "$f") | $(fmt "$d") | $(fmt "$x") | $(ratio "$f" "$x") | $(ratio "$d" "$x") | $(fmt "$m") | $target |"
        done
    done
    echo
    echo "| users | publication on tmpfs, median / best (ms) | its CPU time (ms) | publication on disk, median (ms) | snapshot size | target (100,000) |"
    echo "|---:|---:|---:|---:|---:|---|"
    for n in $SIZES; do
        target=""; [ "$n" = 100000 ] && target="≤ 250 ms"
        echo "| $n | ${R[$n,publish_tmpfs]} / ${R[$n,publish_tmpfs_min]} | ${R[$n,publish_tmpfs_cpu]} | ${R[$n,publish_disk]} | $(awk -v b="${R[$n,snapshot_bytes]}" 'BEGIN { printf "%.1f MB", b / 1e6 }') | $target |"
    done
} | tee "$OUT"
