#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# The shadow-utils side of the lifecycle benchmark, run by run.sh as
#
#   unshare --mount --propagation private bash shadow-ns.sh WORKDIR RESULTS STEP…
#
# inside a private mount namespace, so that newusers and useradd write a
# throw-away copy of /etc and never the real account files.
#
# Why all of /etc and not just passwd, shadow, group and gshadow: shadow-utils
# (lib/commonio.c) and pam_unix never write those files in place. They create
# NAME.lock and NAME.PID next to the file, keep a backup NAME- and write
# NAME+ (pam_unix: /etc/nshadow) which they rename over NAME. With only the
# four files bind-mounted, the lock and backup files would land in the real
# /etc, and rename() onto a bind-mount point fails with EBUSY. So the whole
# directory is copied to a tmpfs and that copy is bind-mounted over /etc.
# /home, /var/log and /var/mail are covered with empty tmpfs too, in case a
# tool wants to write there (useradd is run with -M and -l so it should not).
#
# STEP is LABEL=ACTION, ACTION one of
#   newusers:FILE     time `newusers FILE` (passwd(5)-like lines)
#   useradd:FILE      time one `useradd` per line of FILE ("name uid gecos home")
#   populate:FILE     (not timed) append the accounts of FILE (newusers format,
#                     uid and gid given) straight to the four files, the way
#                     they would be on a machine that already has them
#   pam-permit        (not timed) make the password stage of /etc/pam.d/newusers
#                     in the copy pam_permit only; see below
# Results are appended to RESULTS as key=value lines (LABEL_seconds=…),
# followed by the sizes of the account files.
#
# Debian 12's newusers (shadow 4.13, built with PAM) sets every password
# through pam_chauthtok(), one call per user after the files are written, and
# fails (exit 1) on an empty password field. "pam-permit" replaces the
# password stage in the private copy with pam_permit.so: the accounts stay
# locked ("!" in shadow), which is what a Nexalix invitation is, and the run
# measures the account creation alone.

set -u -o pipefail

work=$1
results=$2
shift 2

die() {
    printf 'shadow-ns: %s\n' "$*" >&2
    exit 1
}

now() { printf '%s\n' "${EPOCHREALTIME/,/.}"; }
elapsed() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.6f\n", b - a }'; }

# Refuse to run in the namespace the real /etc lives in: run.sh passes its
# own mount namespace in BENCH_HOST_MNTNS.
[ -n "${BENCH_HOST_MNTNS:-}" ] || die "BENCH_HOST_MNTNS is not set; run me through run.sh"
[ "$(readlink /proc/self/ns/mnt)" != "$BENCH_HOST_MNTNS" ] ||
    die "not in a private mount namespace; refusing to touch /etc"

etc=$work/etc
mkdir -p "$etc" || die "mkdir $etc"
mount -t tmpfs -o mode=0755,size=8g nexalix-bench-etc "$etc" || die "cannot mount a tmpfs on $etc"
cp -a /etc/. "$etc/" || die "cannot copy /etc"
# Subordinate ids: newusers and useradd would hand each new user 65,536 of
# them, which 100,000 users exhaust; Nexalix allocates none. Drop them from
# the copy so that both sides do the same work.
rm -f "$etc/subuid" "$etc/subgid" "$etc/subuid-" "$etc/subgid-"
mount --bind "$etc" /etc || die "cannot bind-mount the copy over /etc"
for d in /home /var/log /var/mail; do
    if [ -d "$d" ] && [ ! -L "$d" ]; then
        mount -t tmpfs -o mode=0755 nexalix-bench-scratch "$d" || die "cannot mount a tmpfs on $d"
    fi
done
# The copy must be what the tools see.
[ "$(stat -c %d /etc/passwd)" = "$(stat -c %d "$etc/passwd")" ] || die "the private /etc is not in place"

base_users=$(wc -l </etc/passwd)
base_groups=$(wc -l </etc/group)
base_bytes=$(cat /etc/passwd /etc/shadow /etc/group /etc/gshadow | wc -c)
printf 'base_users=%s\nbase_groups=%s\nbase_bytes=%s\n' "$base_users" "$base_groups" "$base_bytes" >>"$results"

for step in "$@"; do
    label=${step%%=*}
    action=${step#*=}
    kind=${action%%:*}
    file=${action#*:}
    log=$work/$label.log
    case $kind in
    pam-permit)
        printf '# written by bench/lifecycle/shadow-ns.sh: no password stage\npassword required pam_permit.so\n' \
            >/etc/pam.d/newusers || die "cannot write the private /etc/pam.d/newusers"
        continue
        ;;
    populate)
        days=$(($(date +%s) / 86400))
        awk -F: -v days="$days" '{
            printf "%s:x:%s:%s:%s:%s:%s\n", $1, $3, $4, $5, $6, $7 >> "/etc/passwd"
            printf "%s:!:%s:0:99999:7:::\n", $1, days >> "/etc/shadow"
            printf "%s:x:%s:\n", $1, $4 >> "/etc/group"
            printf "%s:!::\n", $1 >> "/etc/gshadow"
        }' "$file" || die "cannot populate the private /etc from $file"
        continue
        ;;
    newusers)
        t0=$(now)
        newusers "$file" >"$log" 2>&1
        rc=$?
        secs=$(elapsed "$t0")
        count=$(wc -l <"$file")
        ;;
    useradd)
        count=0
        rc=0
        t0=$(now)
        while read -r name uid gecos home; do
            # -M: no home directory, -l: no lastlog/faillog records (Nexalix
            # creates neither); -U: a private group, as newusers and Nexalix.
            useradd -M -l -U -u "$uid" -c "${gecos//_/ }" -d "$home" -s /usr/sbin/nologin \
                -K UID_MIN=200000 -K UID_MAX=999999 -K GID_MIN=200000 -K GID_MAX=999999 \
                "$name" >>"$log" 2>&1 || { rc=$?; break; }
            count=$((count + 1))
        done <"$file"
        secs=$(elapsed "$t0")
        ;;
    *)
        die "unknown step $step"
        ;;
    esac
    printf '%s_count=%s\n%s_rc=%s\n%s_seconds=%s\n' \
        "$label" "$count" "$label" "$rc" "$label" "$secs" >>"$results"
    if [ "$rc" -ne 0 ]; then
        printf '%s_error=%s\n' "$label" "$(tail -n 3 "$log" | tr '\n' ' ')" >>"$results"
        break
    fi
done

bytes=0
for f in passwd shadow group gshadow; do
    b=$(stat -c %s "/etc/$f")
    printf 'bytes_%s=%s\n' "$f" "$b" >>"$results"
    bytes=$((bytes + b))
done
{
    printf 'bytes_total=%s\n' "$bytes"
    printf 'bytes_added=%s\n' "$((bytes - base_bytes))"
    printf 'users=%s\n' "$(($(wc -l </etc/passwd) - base_users))"
    printf 'groups=%s\n' "$(($(wc -l </etc/group) - base_groups))"
    # Entries whose password was set (hashed): neither locked (!) nor empty.
    printf 'hashed=%s\n' "$(awk -F: '$2 ~ /^\$/' /etc/shadow | wc -l)"
    printf 'hash_prefix=%s\n' "$(awk -F: '$2 ~ /^\$/ { split($2, a, "$"); print "$" a[2] "$"; exit }' /etc/shadow)"
} >>"$results"
