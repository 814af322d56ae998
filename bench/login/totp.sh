#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# What a TOTP code adds to a login (the issue's target: ≤ 0.5 ms, no second
# hash): the same user logs in through libpam (pam_wrapper, the real
# pam_nexalix.so, the pam-driver of tests/login) alternately without and with
# two-factor authentication, N times each, the daemon's store on disk and its
# clock moved one TOTP step per login (libfaketime) so that every code is
# fresh. Prints the medians and their difference: the code's prompt and
# answer, three HMACs, and the write transaction that records the step
# (its fsyncs are most of it).
#
#   sudo bench/login/totp.sh [BUILD_DIR] [N]      (default build-dev, 40)
set -u
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
BUILD=$(cd "${1:-$ROOT/build-dev}" && pwd)
N=${2:-40}
export NEXALIXD=$BUILD/daemon/nexalixd NEXALIXCTL=$BUILD/tools/nexalixctl NEXALIX_SRCDIR=$ROOT
export NEXALIX_PAM_MODULE=$BUILD/pam_module/pam_nexalix.so NX_PAM_DRIVER=$BUILD/tests/login/pam-driver
export NEXALIX_NSS_DIR=$BUILD/nss_module NX_UID_BASE=242000 TMPDIR=/var/tmp
ninja -C "$BUILD" >/dev/null || exit 1
. "$ROOT/tests/login/pam-lib.sh"
pam_init oathtool

NOW=$(( ($(date +%s) / 30) * 30 + 10 ))
set_clock() { printf '@%s\n' "$(date -u -d "@$1" '+%Y-%m-%d %H:%M:%S')" >"$CLOCK"; }
set_clock "$NOW"
nx_bus_start main
nx_daemon_start
make_org acme
make_active_user alice acme member 'alice password 1'
make_active_user bob acme member 'bob password 1'
pam_service nx "auth required $NEXALIX_PAM_MODULE runtime=$NX_TMP/run"
BU=$(user_field bob uid)
KEY=$(printf '%s\n' | setpriv --reuid="$BU" --regid="$BU" --clear-groups "$NEXALIXCTL" 2fa enable 2>/dev/null |
      sed -n 's/^key: //p')
# The enrolment above got a wrong (empty) code: confirm with a right one.
KEY=$(coproc E { exec setpriv --reuid="$BU" --regid="$BU" --clear-groups "$NEXALIXCTL" 2fa enable 2>&1; }
      while read -r -u "${E[0]}" l; do [[ $l == key:* ]] && { k=${l#key: }; break; }; done
      oathtool --totp -b --now "$(date -u -d "@$NOW" '+%Y-%m-%d %H:%M:%S UTC')" "$k" >&"${E[1]}"
      cat <&"${E[0]}" >/dev/null; echo "$k")
[ -n "$KEY" ] || nx_die "2fa enable gave no key"

# timed_login USER ANSWER...: one pam-driver auth that must succeed; prints
# the whole login's ms and the ms from the last answer to the result.
timed_login() {
    local user=$1 s e out
    shift
    s=$(date +%s%N)
    out=$(NX_DRIVER_TIMING=1 env LD_PRELOAD="$PAM_WRAPPER_LIB" PAM_WRAPPER=1 PAM_WRAPPER_SERVICE_DIR="$PAMD" \
          "$NX_PAM_DRIVER" "$@" nx "$user" auth 2>/dev/null)
    e=$(date +%s%N)
    grep -q 'RESULT auth PAM_SUCCESS' <<<"$out" || return 1
    awk -v d=$((e - s)) -v t="$(sed -n 's/^TIMING //p' <<<"$out")" 'BEGIN { printf "%.3f %s\n", d / 1e6, t }'
}
: >"$NX_TMP/plain" ; : >"$NX_TMP/totp"
for ((i = 1; i <= N; i++)); do
    NOW=$((NOW + 30))
    set_clock "$NOW"
    timed_login alice --answer 'alice password 1' >>"$NX_TMP/plain" || nx_die "alice's login failed"
    code=$(oathtool --totp -b --now "$(date -u -d "@$NOW" '+%Y-%m-%d %H:%M:%S UTC')" "$KEY")
    timed_login bob --answer 'bob password 1' --answer "$code" >>"$NX_TMP/totp" || nx_die "bob's login failed"
done
median() {   # FILE COLUMN
    awk -v c="$2" '{ print $c }' "$1" | sort -n |
        awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}
P=$(median "$NX_TMP/plain" 1) T=$(median "$NX_TMP/totp" 1) C=$(median "$NX_TMP/totp" 2)
printf 'logins: %d each, store on %s\n' "$N" "$(df -T "$NX_TMP" | awk 'NR == 2 { print $2 }')"
printf 'password only, whole login (median)          %8.3f ms\n' "$P"
printf 'password + TOTP, whole login (median)        %8.3f ms\n' "$T"
awk -v p="$P" -v t="$T" 'BEGIN { printf "difference of the medians (hash noise in it) %8.3f ms\n", t - p }'
printf 'the code: from its answer to the result      %8.3f ms\n' "$C"
nx_finish
