#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# Account-lifecycle benchmark of Nexalix, side by side with shadow-utils.
# Run as root from anywhere; not part of `meson test`. See
# bench/README-lifecycle.md for what it measures and the results.
#
#   bench/lifecycle/run.sh [--sizes "1000 100000"] [--single 500]
#                          [--newusers-max 10000] [--newusers-password-max 10000]
#                          [--useradd-count 100] [--useradd-base-max 10000]
#                          [--batch 1000] [--no-shadow]
#                          [--results FILE] [--keep]
#
# For every size N it
#   1. starts a private system-type dbus-daemon with the project's bus policy
#      and nexalixd with its store and runtime in a temporary directory;
#   2. creates an organisation, a department and N invited users with one
#      `nexalixctl user import` (batches of 5,000 rows by default, one transaction
#      each), then SINGLE more with one `nexalixctl user create --invite`
#      each;
#   3. lists all users in pages of 1,000 (`user list --json`);
#   4. measures the store (data.mdb) and the NSS snapshot (nss.mdb) per user
#      and the daemon's memory (VmRSS, VmHWM) after each phase;
#   5. in a private mount namespace with a tmpfs copy of /etc, times
#      shadow-utils doing the same: `newusers` for min(N, NEWUSERS_MAX) locked
#      accounts (no password set: no hashing, like an invitation); one
#      `useradd` per user for USERADD_COUNT more on top of
#      min(N, USERADD_BASE_MAX) existing accounts, and a single `useradd` on
#      top of all N when N is larger; `newusers` with a fixed password (hashed
#      through PAM) for min(N, PASSWORD_MAX) users. Both tools are quadratic
#      in the number of accounts (newusers: 33-35 s for 10,000 here, so
#      about an hour for 100,000; useradd: about 50 s per call on top of
#      100,000): hence the caps.
# It prints a table at the end (markdown) and keeps the raw key=value
# results in --results FILE when given.
#
# Environment: NEXALIXD and NEXALIXCTL (default: build-bench/ in the source
# tree; build with `meson setup build-bench --buildtype=release`).

set -u -o pipefail

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
SRCDIR=$(cd "$BENCH_DIR/../.." && pwd)
NEXALIXD=${NEXALIXD:-$SRCDIR/build-bench/daemon/nexalixd}
NEXALIXCTL=${NEXALIXCTL:-$SRCDIR/build-bench/tools/nexalixctl}
POLICY=$SRCDIR/data/org.nexalix.Identity1.conf

# shellcheck source=bench/lifecycle/lib.sh
. "$BENCH_DIR/lib.sh"

SIZES="1000 100000"
SINGLE=500
BATCH=5000   # nexalixctl's default
NEWUSERS_MAX=10000
USERADD_COUNT=100
USERADD_BASE_MAX=10000
PASSWORD_MAX=10000
SHADOW=1
KEEP=0
RESULTS_FILE=
ORG=bench
DEPT=support
PASSWORD='Bench-Passw0rd-2024'

usage() {
    sed -n '2,/^$/s/^# \{0,1\}//p' "$0" | sed -n '/^  *bench/,/^$/p'
    exit 2
}

while [ $# -gt 0 ]; do
    case $1 in
    --sizes) SIZES=$2; shift 2 ;;
    --single) SINGLE=$2; shift 2 ;;
    --batch) BATCH=$2; shift 2 ;;
    --newusers-max) NEWUSERS_MAX=$2; shift 2 ;;
    --useradd-count) USERADD_COUNT=$2; shift 2 ;;
    --useradd-base-max) USERADD_BASE_MAX=$2; shift 2 ;;
    --newusers-password-max) PASSWORD_MAX=$2; shift 2 ;;
    --no-shadow) SHADOW=0; shift ;;
    --results) RESULTS_FILE=$2; shift 2 ;;
    --keep) KEEP=1; shift ;;
    -h | --help) usage ;;
    *) printf 'unknown argument: %s\n' "$1" >&2; usage ;;
    esac
done

[ "$(id -u)" -eq 0 ] || bl_die "run me as root: the benchmark runs a system-type dbus-daemon, nexalixd and shadow-utils in a mount namespace"
for t in dbus-daemon timeout awk du jq; do
    command -v "$t" >/dev/null 2>&1 || bl_die "$t is not installed"
done
if [ "$SHADOW" = 1 ]; then
    for t in newusers useradd unshare; do
        command -v "$t" >/dev/null 2>&1 || bl_die "$t is not installed (or pass --no-shadow)"
    done
fi
[ -x "$NEXALIXD" ] || bl_die "nexalixd not found at $NEXALIXD (set NEXALIXD, or build build-bench)"
[ -x "$NEXALIXCTL" ] || bl_die "nexalixctl not found at $NEXALIXCTL (set NEXALIXCTL)"
"$NEXALIXCTL" user import --help >/dev/null 2>&1 || bl_die "$NEXALIXCTL has no \`user import\`"
[ -r "$POLICY" ] || bl_die "bus policy not found at $POLICY"

BL_TMP=$(mktemp -d "${TMPDIR:-/tmp}/nexalix-bench.XXXXXX") || bl_die "mktemp failed"
RESULTS=$BL_TMP/results
: >"$RESULTS"

# The real account files must come out of this untouched: remember them.
ETC_FILES=(/etc/passwd /etc/shadow /etc/group /etc/gshadow)
ETC_SUMS=$(sha256sum "${ETC_FILES[@]}" 2>/dev/null)

cleanup() {
    local rc=$?
    trap - EXIT
    bl_instance_stop
    if [ "$(sha256sum "${ETC_FILES[@]}" 2>/dev/null)" != "$ETC_SUMS" ]; then
        printf 'ALERT: the real account files in /etc changed during the benchmark!\n' >&2
        rc=1
    fi
    [ -n "$RESULTS_FILE" ] && cp "$RESULTS" "$RESULTS_FILE"
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

put() { printf '%s=%s\n' "$1" "$2" >>"$RESULTS"; }
get() { awk -F= -v k="$1" '$1 == k { v = substr($0, length(k) + 2) } END { print v }' "$RESULTS"; }

# ---------------------------------------------------------------------------
# Input files (not timed)

# gen_inputs N DIR: the import CSV, the newusers files and the per-call list.
# Usernames bu000001…, uids from 200000 on (what nexalixd allocates), the
# same names and GECOS on both sides.
gen_inputs() {
    local n=$1 dir=$2 numax=$3 pwmax=$4 single=$5 uacount=$6 uabase=$7
    awk -v n="$n" -v numax="$numax" -v pwmax="$pwmax" -v single="$single" -v pw="$PASSWORD" \
        -v uacount="$uacount" -v uabase="$uabase" \
        -v dept="$DEPT" -v dir="$dir" -v home="$BL_TMP/home" '
    BEGIN {
        split("Ana Bruno Carla Diego Elena Fabio Gloria Hugo Ines Jorge Karin Luis Marta Nuno Olga Pablo", first, " ")
        split("Almeida Barros Castro Duarte Esteves Ferreira Gomes Hernandez Iglesias Jimenez Lopes Moreno", last, " ")
        split("en es pt", lang, " ")
        csv = dir "/import.csv"; all = dir "/accounts"; base = dir "/accounts-base"
        nu = dir "/newusers-locked"
        nup = dir "/newusers-password"
        one = dir "/single.args"; ua = dir "/useradd.list"; ua1 = dir "/useradd1.list"
        print "username,first_name,last_name,email,language,department,roles" > csv
        for (i = 1; i <= n; i++) {
            u = sprintf("bu%06d", i)
            f = first[(i % 16) + 1]; l = last[(int(i / 16) % 12) + 1]
            roles = (i % 50 == 0) ? "member;org-admin" : "member"
            printf "%s,%s,%s,%s@bench.example.com,%s,%s,%s\n", u, f, l, u, lang[(i % 3) + 1], dept, roles > csv
            uid = 199999 + i
            printf "%s::%d:%d:%s %s:%s:/usr/sbin/nologin\n", u, uid, uid, f, l, home > all
            if (i <= uabase)
                printf "%s::%d:%d:%s %s:%s:/usr/sbin/nologin\n", u, uid, uid, f, l, home > base
            if (i <= numax)
                printf "%s::%d:%d:%s %s:%s:/usr/sbin/nologin\n", u, uid, uid, f, l, home > nu
            if (i <= pwmax)
                printf "%s:%s:%d:%d:%s %s:%s:/usr/sbin/nologin\n", u, pw, uid, uid, f, l, home > nup
        }
        # The one-call-per-user creations come after the N imported users.
        for (i = 1; i <= single || i <= uacount; i++) {
            u = sprintf("bs%06d", i)
            f = first[(i % 16) + 1]; l = last[(int(i / 16) % 12) + 1]
            if (i <= single)
                printf "%s %s %s %s@bench.example.com %s\n", u, f, l, u, lang[(i % 3) + 1] > one
            if (i <= uacount)
                printf "%s %d %s_%s %s\n", u, 199999 + n + i, f, l, home > ua
            if (i == 1)
                printf "%s %d %s_%s %s\n", u, 199999 + n + i, f, l, home > ua1
        }
    }'
    chmod 0600 "$dir/newusers-password" 2>/dev/null
    return 0
}

# ---------------------------------------------------------------------------
# Nexalix

# pub_mark: the current length of the daemon log. pub_since TAG MARK: count
# and total milliseconds of the snapshot publications logged since MARK.
pub_mark() { wc -l <"$BL_DAEMON_LOG"; }
pub_since() {
    local tag=$1 mark=$2
    put "$tag.publications" "$(tail -n +"$((mark + 1))" "$BL_DAEMON_LOG" | grep -c 'Published NSS snapshot')"
    put "$tag.publish_ms" "$(tail -n +"$((mark + 1))" "$BL_DAEMON_LOG" |
        awk '/Published NSS snapshot/ && $NF == "ms" { s += $(NF - 1) } END { printf "%.1f", s }')"
}

record_rss() {
    local tag=$1 f
    for f in VmRSS VmHWM RssAnon RssFile; do
        put "$tag.$f" "$(bl_status_kib "$BL_DAEMON_PID" "$f")"
    done
}

bench_nexalix() {
    local n=$1
    local dir=$BL_TMP/n$n
    local nx=$dir/nexalix t0 secs k pages err got mark
    mkdir -p "$nx"
    chmod 0755 "$nx"

    bl_log "N=$n: starting dbus-daemon and nexalixd in $nx"
    # --debug makes nexalixd log how long each NSS snapshot publication took;
    # pub_since sums them per phase.
    NEXALIXD_ARGS="--debug ${NEXALIXD_ARGS:-}"
    bl_bus_start "$nx" "$POLICY"
    bl_daemon_start "$nx"
    put "n$n.daemon_pid" "$BL_DAEMON_PID"
    bl_ctl org create "$ORG"
    bl_ctl dept create "$ORG" "$DEPT"
    record_rss "n$n.rss_start"

    # 2. Import: one CLI process, batches of BATCH rows.
    bl_log "N=$n: nexalixctl user import ($n rows, batches of $BATCH)"
    mark=$(pub_mark)
    t0=$(bl_now)
    err=$("$NEXALIXCTL" user import "$dir/import.csv" --org "$ORG" --batch "$BATCH" 2>&1 >"$nx/import.out") ||
        bl_die "user import failed: $err"
    secs=$(bl_elapsed "$t0")
    put "n$n.import_seconds" "$secs"
    pub_since "n$n.import" "$mark"
    # Every row must be there (checked outside the timing).
    got=$("$NEXALIXCTL" user list --org "$ORG" --limit 1 --offset $((n - 1)) --json | jq length)
    [ "$got" = 1 ] || bl_die "after the import, user #$n is missing (got $got)"
    got=$("$NEXALIXCTL" user list --org "$ORG" --limit 1 --offset "$n" --json | jq length)
    [ "$got" = 0 ] || bl_die "after the import, there are more than $n users"
    record_rss "n$n.rss_import"

    # 3. The whole set in pages of 1,000.
    bl_log "N=$n: user list in pages of 1000"
    pages=0
    t0=$(bl_now)
    for ((k = 0; k < n; k += 1000)); do
        "$NEXALIXCTL" user list --org "$ORG" --limit 1000 --offset "$k" --json >/dev/null ||
            bl_die "user list --offset $k failed"
        pages=$((pages + 1))
    done
    secs=$(bl_elapsed "$t0")
    put "n$n.list_pages" "$pages"
    put "n$n.list_seconds" "$secs"
    # The fixed cost of one call (process start, bus connection, one small
    # reply), to tell it apart from the cost of 1,000 users per page.
    t0=$(bl_now)
    for ((k = 0; k < 20; k++)); do
        "$NEXALIXCTL" user list --org "$ORG" --limit 1 --offset $((n / 2)) --json >/dev/null ||
            bl_die "user list --limit 1 failed"
    done
    put "n$n.list1_seconds" "$(bl_calc "$(bl_elapsed "$t0") / 20" "%.6f")"
    record_rss "n$n.rss_list"

    # 4. Sizes, before the per-call users are added.
    put "n$n.store_apparent" "$(bl_bytes_apparent "$nx/store/data.mdb")"
    put "n$n.store_blocks" "$(bl_bytes_blocks "$nx/store/data.mdb")"
    put "n$n.nss_apparent" "$(bl_bytes_apparent "$nx/run/nss.mdb")"
    put "n$n.nss_blocks" "$(bl_bytes_blocks "$nx/run/nss.mdb")"
    # Where the store's bytes go, table by table (lmdb-utils' mdb_stat).
    if command -v mdb_stat >/dev/null 2>&1; then
        mdb_stat -a "$nx/store" 2>/dev/null | awk -v tag="n$n" '
            /^Status of / { name = $3; if (name == "Main") name = "main" }
            /Page size:/ { psize = $3 }
            /Branch pages:|Leaf pages:|Overflow pages:/ { pages[name] += $3 }
            END { for (t in pages) if (pages[t]) printf "%s.table.%s=%d\n", tag, t, pages[t] * (psize ? psize : 4096) }
        ' >>"$RESULTS"
    fi

    # One call per user, for comparison.
    bl_log "N=$n: $SINGLE x nexalixctl user create --invite"
    local u f l e lang
    mark=$(pub_mark)
    t0=$(bl_now)
    while read -r u f l e lang; do
        "$NEXALIXCTL" user create "$u" --org "$ORG" --first "$f" --last "$l" --email "$e" \
            --language "$lang" --department "$DEPT" --role member --invite >/dev/null ||
            bl_die "user create $u failed"
    done <"$dir/single.args"
    secs=$(bl_elapsed "$t0")
    put "n$n.single_count" "$SINGLE"
    put "n$n.single_seconds" "$secs"
    pub_since "n$n.single" "$mark"
    record_rss "n$n.rss_single"

    cp "$BL_DAEMON_LOG" "$dir/nexalixd.log"
    bl_instance_stop
}

# ---------------------------------------------------------------------------
# shadow-utils, in a private mount namespace

shadow_run() {
    local tag=$1 work=$2
    shift 2
    local res=$work/results
    mkdir -p "$work"
    : >"$res"
    BENCH_HOST_MNTNS=$(readlink /proc/self/ns/mnt) \
        unshare --mount --propagation private bash "$BENCH_DIR/shadow-ns.sh" "$work" "$res" "$@" ||
        bl_die "shadow-utils run $tag failed: $(cat "$res")"
    sed "s/^/$tag./" "$res" >>"$RESULTS"
}

bench_shadow() {
    local n=$1 m
    local dir=$BL_TMP/n$n
    m=$((n < NEWUSERS_MAX ? n : NEWUSERS_MAX))
    bl_log "N=$n: newusers ($m locked accounts), private /etc"
    shadow_run "n$n.sh_locked" "$dir/shadow-locked" "pam=pam-permit" \
        "newusers=newusers:$dir/newusers-locked"
    m=$((n < USERADD_BASE_MAX ? n : USERADD_BASE_MAX))
    bl_log "N=$n: $USERADD_COUNT x useradd on top of $m accounts, private /etc"
    shadow_run "n$n.sh_single" "$dir/shadow-single" "populate=populate:$dir/accounts-base" \
        "useradd=useradd:$dir/useradd.list"
    put "n$n.sh_single.base" "$m"
    if [ "$n" -gt "$m" ]; then
        bl_log "N=$n: 1 x useradd on top of $n accounts, private /etc"
        shadow_run "n$n.sh_full" "$dir/shadow-full" "populate=populate:$dir/accounts" \
            "useradd=useradd:$dir/useradd1.list"
    fi
    m=$((n < PASSWORD_MAX ? n : PASSWORD_MAX))
    bl_log "N=$n: newusers ($m accounts with a password, hashed through PAM), private /etc"
    shadow_run "n$n.sh_pw" "$dir/shadow-pw" "newusers=newusers:$dir/newusers-password"
}

# ---------------------------------------------------------------------------
# Report

fmt_int() { printf '%d' "$1" | sed -e ':a' -e 's/\([0-9]\)\([0-9]\{3\}\)\($\|,\)/\1,\2\3/; ta'; }
rate() { bl_calc "$1 / $2" "%.0f"; }
mib() { bl_calc "$1 / 1024" "%.1f"; }

report() {
    local n cols=() hdr sep row
    for n in $SIZES; do cols+=("$n"); done

    hdr="| metric |"
    sep="|---|"
    for n in "${cols[@]}"; do
        hdr+=" N = $(fmt_int "$n") |"
        sep+="---:|"
    done
    hdr+=" target |"
    sep+="---|"

    # line LABEL TARGET FUNC: one row; FUNC N prints the cell for size N.
    line() {
        local label=$1 target=$2 func=$3 cell
        row="| $label |"
        for n in "${cols[@]}"; do
            cell=$($func "$n")
            row+=" $cell |"
        done
        row+=" $target |"
        printf '%s\n' "$row"
    }

    # Cells; each takes N. "-" where a measurement is missing.
    secs_rate() {   # COUNT SECONDS
        [ -n "$2" ] || { printf -- '-'; return; }
        printf '%s s — %s /s' "$(bl_calc "$2")" "$(rate "$1" "$2")"
    }
    ratio() {       # COUNT_A SECONDS_A COUNT_B SECONDS_B: rate A / rate B
        [ -n "$2" ] && [ -n "$4" ] || { printf -- '-'; return; }
        printf '%s×' "$(bl_calc "($1 / $2) / ($3 / $4)" "%.1f")"
    }
    c_import() { printf '%s' "$(secs_rate "$1" "$(get "n$1.import_seconds")" | sed 's/— \(.*\) \/s/— **\1 \/s**/')"; }
    c_pub() {      # N PHASE SECONDS_KEY
        local c ms s
        c=$(get "n$1.$2.publications"); ms=$(get "n$1.$2.publish_ms"); s=$(get "n$1.$3")
        [ -n "$c" ] && [ "$c" -gt 0 ] || { printf -- '-'; return; }
        printf '%s × %s ms = %s s (%s%%)' "$c" "$(bl_calc "$ms / $c" "%.0f")" "$(bl_calc "$ms / 1000")" "$(bl_calc "$ms / 10 / $s" "%.0f")"
    }
    c_import_pub() { c_pub "$1" import import_seconds; }
    c_single_pub() { c_pub "$1" single single_seconds; }
    c_single() { printf '%s users: %s' "$(get "n$1.single_count")" "$(secs_rate "$(get "n$1.single_count")" "$(get "n$1.single_seconds")")"; }
    c_nu() { local c; c=$(get "n$1.sh_locked.newusers_count"); printf '%s users: %s' "$(fmt_int "${c:-0}")" "$(secs_rate "$c" "$(get "n$1.sh_locked.newusers_seconds")")"; }
    c_nu_ratio() { ratio "$1" "$(get "n$1.import_seconds")" "$(get "n$1.sh_locked.newusers_count")" "$(get "n$1.sh_locked.newusers_seconds")"; }
    c_nupw() { local c; c=$(get "n$1.sh_pw.newusers_count"); printf '%s users: %s' "$(fmt_int "${c:-0}")" "$(secs_rate "$c" "$(get "n$1.sh_pw.newusers_seconds")")"; }
    c_nupw_ratio() { ratio "$1" "$(get "n$1.import_seconds")" "$(get "n$1.sh_pw.newusers_count")" "$(get "n$1.sh_pw.newusers_seconds")" | sed 's/\.[0-9]×/×/'; }
    c_ua() {
        local c b
        c=$(get "n$1.sh_single.useradd_count"); b=$(get "n$1.sh_single.base")
        [ -n "$c" ] || { printf -- '-'; return; }
        printf '%s users on top of %s: %s' "$c" "$(fmt_int "$b")" "$(secs_rate "$c" "$(get "n$1.sh_single.useradd_seconds")")"
    }
    c_ua_full() {
        local s
        s=$(get "n$1.sh_full.useradd_seconds")
        [ -n "$s" ] || { printf '(as above)'; return; }
        printf '1 call on top of %s: %s s' "$(fmt_int "$1")" "$(bl_calc "$s")"
    }
    # useradd on top of N: the full-size single call when there is one.
    c_ua_ratio() {
        local k=sh_single
        [ -n "$(get "n$1.sh_full.useradd_seconds")" ] && k=sh_full
        ratio "$(get "n$1.single_count")" "$(get "n$1.single_seconds")" "$(get "n$1.$k.useradd_count")" "$(get "n$1.$k.useradd_seconds")"
    }
    c_list() { local s p; s=$(get "n$1.list_seconds"); p=$(get "n$1.list_pages"); printf '%s page%s: %s s — %s ms/page' "$p" "$([ "$p" = 1 ] || echo s)" "$(bl_calc "$s")" "$(bl_calc "$s * 1000 / $p" "%.1f")"; }
    c_list1() { printf '%s ms/call' "$(bl_calc "$(get "n$1.list1_seconds") * 1000" "%.1f")"; }
    c_store() { local a b; a=$(get "n$1.store_apparent"); b=$(get "n$1.store_blocks"); printf '**%s B/user** (%s MiB; allocated %s B/user)' "$(bl_calc "$a / $1" "%.0f")" "$(bl_calc "$a / 1048576" "%.1f")" "$(bl_calc "$b / $1" "%.0f")"; }
    c_nss() { local a; a=$(get "n$1.nss_apparent"); printf '%s B/user (%s MiB)' "$(bl_calc "$a / $1" "%.0f")" "$(bl_calc "$a / 1048576" "%.1f")"; }
    c_etc() { local a u; a=$(get "n$1.sh_single.bytes_added"); u=$(get "n$1.sh_single.users"); [ -n "$a" ] || { printf -- '-'; return; }; printf '%s B/user' "$(bl_calc "$a / $u" "%.0f")"; }
    c_etcpw() { local a u; a=$(get "n$1.sh_pw.bytes_added"); u=$(get "n$1.sh_pw.users"); [ -n "$a" ] || { printf -- '-'; return; }; printf '%s B/user (%s hashes)' "$(bl_calc "$a / $u" "%.0f")" "$(get "n$1.sh_pw.hash_prefix")"; }
    c_rss() { printf '%s / %s MiB' "$(mib "$(get "n$1.$2.VmRSS")")" "$(mib "$(get "n$1.$2.VmHWM")")"; }
    c_rss_start() { c_rss "$1" rss_start; }
    c_rss_import() { c_rss "$1" rss_import | sed 's/^\(.*\)$/**\1**/'; }
    c_rss_list() { c_rss "$1" rss_list | sed 's/^\(.*\)$/**\1**/'; }
    c_rss_single() { c_rss "$1" rss_single; }
    c_rss_split() { printf '%s anon + %s file-backed' "$(mib "$(get "n$1.rss_list.RssAnon")")" "$(mib "$(get "n$1.rss_list.RssFile")")"; }

    printf '\n## Nexalix account-lifecycle benchmark\n\n'
    printf 'machine: %s, %s CPUs, %s MiB RAM; kernel %s; finished %s\n' \
        "$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)" "$(nproc)" \
        "$(awk '/^MemTotal/ { printf "%d", $2 / 1024 }' /proc/meminfo)" "$(uname -r)" "$(date -u +%Y-%m-%dT%H:%MZ)"
    printf 'load average at the start: %s; at the end: %s\n' "$LOAD_START" "$(cut -d' ' -f1-3 /proc/loadavg)"
    printf 'source: %s (uncommitted changes in daemon/ common/ tools/: %s)\nnexalixd: %s; nexalixctl: %s\nshadow-utils (passwd package): %s\n\n' \
        "$SOURCE_REV" "$SOURCE_CHANGES" \
        "$NEXALIXD" "$NEXALIXCTL" \
        "$(dpkg-query -W -f '${Version}' passwd 2>/dev/null || echo unknown)"
    printf '%s\n%s\n' "$hdr" "$sep"
    line "nexalix \`user import\` (1 CLI process, batches of $(fmt_int "$BATCH")), invited" "≥ 2,000 /s" c_import
    line "  of which NSS snapshot publication (daemon log)" "" c_import_pub
    line "nexalix \`user create --invite\`, one call per user, on top of N" "" c_single
    line "  of which NSS snapshot publication (daemon log)" "" c_single_pub
    line "shadow-utils \`newusers\`, accounts locked (no password set)" "" c_nu
    line "→ ratio nexalix import / newusers (locked)" "" c_nu_ratio
    line "shadow-utils \`newusers\` with a password (PAM, pam_unix yescrypt)" "" c_nupw
    line "→ ratio nexalix import / newusers (with password)" "" c_nupw_ratio
    line "shadow-utils \`useradd\`, one call per user" "" c_ua
    line "shadow-utils \`useradd\`, one call on top of N" "" c_ua_full
    line "→ ratio nexalix \`user create\` / \`useradd\`" "" c_ua_ratio
    line "\`user list --json\`, whole set in pages of 1,000" "" c_list
    line "  one call with \`--limit 1\` (fixed cost of a call)" "" c_list1
    line "store \`data.mdb\` per user" "≤ 2 KiB/user" c_store
    line "NSS snapshot \`nss.mdb\` per user" "" c_nss
    line "/etc passwd+shadow+group+gshadow per user, locked" "" c_etc
    line "the same with hashed passwords" "" c_etcpw
    line "daemon VmRSS / VmHWM, idle (org + department)" "" c_rss_start
    line "daemon VmRSS / VmHWM after the import" "≤ 64 MiB at 100,000" c_rss_import
    line "daemon VmRSS / VmHWM after the listing" "≤ 64 MiB at 100,000" c_rss_list
    line "  VmRSS after the listing: anonymous + file-backed (LMDB maps) MiB" "" c_rss_split
    line "daemon VmRSS / VmHWM after the one-call creates" "" c_rss_single

    printf '\nstore tables, bytes per user (pages × page size / N):\n'
    for n in "${cols[@]}"; do
        printf 'N = %s:' "$(fmt_int "$n")"
        grep "^n$n\.table\." "$RESULTS" | sed "s/^n$n\.table\.//" | sort -t= -k2 -rn |
            awk -F= -v n="$n" '{ printf " %s %.0f,", $1, $2 / n }' | sed 's/,$//'
        printf '\n'
    done

    # The targets of issue 2, checked at every size.
    printf '\n'
    for n in "${cols[@]}"; do
        local r st hwm
        r=$(rate "$n" "$(get "n$n.import_seconds")")
        st=$(bl_calc "$(get "n$n.store_apparent") / $n" "%.0f")
        hwm=$(get "n$n.rss_single.VmHWM")   # VmHWM only grows: the peak of the whole run
        printf 'N = %s: import %s /s (target ≥ 2000): %s; store %s B/user (target ≤ 2048): %s; daemon VmHWM %s MiB (target ≤ 64): %s\n' \
            "$(fmt_int "$n")" "$r" "$([ "$r" -ge 2000 ] && echo met || echo MISSED)" \
            "$st" "$([ "$st" -le 2048 ] && echo met || echo MISSED)" \
            "$(mib "$hwm")" "$([ "$hwm" -le 65536 ] && echo met || echo MISSED)"
    done
}

# ---------------------------------------------------------------------------

LOAD_START=$(cut -d' ' -f1-3 /proc/loadavg)
# What the binaries were built from, as far as git can tell (at the start:
# others may commit while this runs).
SOURCE_REV=$(git -C "$SRCDIR" describe --always --dirty 2>/dev/null || echo unknown)
SOURCE_CHANGES=$(git -C "$SRCDIR" status --porcelain -- daemon common tools 2>/dev/null |
    awk '{ l = l (l ? " " : "") $2 } END { print l ? l : "none" }')
bl_log "nexalixd=$NEXALIXD nexalixctl=$NEXALIXCTL tmp=$BL_TMP sizes=$SIZES"
mkdir -p "$BL_TMP/home"
for n in $SIZES; do
    mkdir -p "$BL_TMP/n$n"
    gen_inputs "$n" "$BL_TMP/n$n" "$NEWUSERS_MAX" "$PASSWORD_MAX" "$SINGLE" "$USERADD_COUNT" "$USERADD_BASE_MAX"
    bench_nexalix "$n"
    [ "$SHADOW" = 1 ] && bench_shadow "$n"
done
report
