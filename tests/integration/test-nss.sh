#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# The NSS snapshot end to end: glibc loads libnss_nexalix.so.2 and resolves
# what the real nexalixd published. A change is visible to the very next
# lookup after the method returned; lookups keep answering while the daemon
# is stopped, killed and restarted; an entry whose name a local account has
# (even one created later) is never published over it.

NX_UID_BASE=210000
. "$(dirname "$0")/lib.sh"

: "${NEXALIX_NSS_DIR:?the build directory of libnss_nexalix.so.2}"

# The daemon sees a private /etc/passwd we can add a "local account" to.
nx_init unshare mount getent
command -v unshare >/dev/null && unshare -m true 2>/dev/null ||
    nx_skip "cannot create a mount namespace here (unshare -m)"
cp /etc/passwd "$NX_TMP/etc-passwd"
cp /etc/group "$NX_TMP/etc-group"
chmod 0644 "$NX_TMP/etc-passwd" "$NX_TMP/etc-group"
printf '%s\n' '#!/bin/sh' \
    "mount --bind '$NX_TMP/etc-passwd' /etc/passwd &&" \
    "mount --bind '$NX_TMP/etc-group' /etc/group &&" \
    'exec "$@"' >"$NX_TMP/with-etc.sh"
chmod 0755 "$NX_TMP/with-etc.sh"
NX_DAEMON_PREFIX=(unshare -m --propagation private "$NX_TMP/with-etc.sh")
NX_DAEMON_ARGS=(--debug)
nx_bus_start main
nx_daemon_start

# lookup DATABASE [KEY]: glibc's getent with only the nexalix service.
lookup() {
    nx_run env LD_LIBRARY_PATH="$NEXALIX_NSS_DIR" NEXALIX_RUNTIME_DIR="$NX_TMP/run" \
        getent -s nexalix "$@"
}

generation() {
    "$NEXALIXCTL" status --json | jq -r .snapshot_generation
}

make_org acme
make_dept acme support
make_active_user alice acme org-admin 'correct horse' --department support
make_user bob acme member
ALICE=$(user_field alice uid)
BOB=$(user_field bob uid)
HOME_DIR=$NX_TMP/home

# --- what is published ---------------------------------------------------
lookup passwd alice
assert_eq "getent passwd alice" "alice:x:$ALICE:$ALICE:Alice Tester:$HOME_DIR/alice:/usr/sbin/nologin" "$OUT"
lookup passwd "$BOB"
assert_eq "getent passwd BOB_UID (invited users resolve)" \
    "bob:x:$BOB:$BOB:Bob Tester:$HOME_DIR/bob:/usr/sbin/nologin" "$OUT"
lookup group alice
assert_eq "private group of alice" "alice:x:$ALICE:" "$OUT"
lookup group acme.support
assert_match "department group lists its members" "$OUT" '^acme.support:x:[0-9]+:alice$'
SUPPORT_GID=$(printf '%s' "$OUT" | cut -d: -f3)
lookup group acme.org-admin
assert_match "role group org-admin" "$OUT" '^acme.org-admin:x:[0-9]+:alice$'
ADMIN_GID=$(printf '%s' "$OUT" | cut -d: -f3)
lookup group acme.member
assert_match "role group member" "$OUT" '^acme.member:x:[0-9]+:bob$'
lookup initgroups alice
assert_match "initgroups alice: department and role groups" \
    "$OUT" "^alice +($SUPPORT_GID $ADMIN_GID|$ADMIN_GID $SUPPORT_GID)\$"
lookup passwd
assert_eq "enumeration lists both users" "alice bob" "$(printf '%s\n' "$OUT" | cut -d: -f1 | sort | xargs)"

# --- each change is visible to the next lookup ----------------------------
GEN0=$(generation)
ctl user update alice --first Alicia
check_ok "user update alice --first Alicia"
lookup passwd alice
assert_contains "GECOS changed as soon as update returned" "$OUT" ":Alicia Tester:"
ctl user role add bob org-admin
check_ok "user role add bob org-admin"
lookup group acme.org-admin
assert_match "bob in acme.org-admin as soon as role add returned" \
    "$OUT" '^acme.org-admin:x:[0-9]+:(alice,bob|bob,alice)$'
ctl user update bob --department support
check_ok "user update bob --department support"
lookup group acme.support
assert_match "bob in acme.support as soon as update returned" \
    "$OUT" '^acme.support:x:[0-9]+:(alice,bob|bob,alice)$'
ctl user deactivate bob
check_ok "user deactivate bob"
lookup passwd bob
assert_eq "a deactivated user still resolves" 0 "$RC"
lookup group acme.support
assert_match "a deactivated user leaves the department group" "$OUT" '^acme.support:x:[0-9]+:alice$'
lookup group acme.org-admin
assert_match "a deactivated user leaves the role groups" "$OUT" '^acme.org-admin:x:[0-9]+:alice$'
lookup initgroups bob
assert_eq "a deactivated user has no supplementary group" "bob" "$(printf '%s' "$OUT" | xargs)"
lookup group bob
assert_match "a deactivated user keeps the private group" "$OUT" '^bob:x:[0-9]+:$'
ctl user activate bob
check_ok "user activate bob"
lookup group acme.org-admin
assert_match "an activated user is back in the role groups" \
    "$OUT" '^acme.org-admin:x:[0-9]+:(alice,bob|bob,alice)$'
lookup group acme.support
assert_match "and in the department group" "$OUT" '^acme.support:x:[0-9]+:(alice,bob|bob,alice)$'
ctl user deactivate bob
check_ok "user deactivate bob again"
make_user carol acme member
lookup passwd carol
assert_eq "a new user resolves as soon as create returned" 0 "$RC"
ctl user delete carol
check_ok "user delete carol"
lookup passwd carol
assert_eq "a deleted user is gone at once (getent exit 2)" 2 "$RC"
GEN1=$(generation)
if [ "$GEN1" -gt "$GEN0" ]; then ok "generation grew ($GEN0 -> $GEN1)"; else fail "generation grew" "$GEN0 -> $GEN1"; fi

# --- an update is what a whole publication would give ----------------------
# Each change above was published as an update of the previous file; a
# whole publication (SIGHUP) of the same store must give the same answers.
everything() {
    local u
    lookup passwd; printf '%s\n' "$OUT" | sort
    lookup group; printf '%s\n' "$OUT" | sort
    for u in $(lookup passwd; printf '%s\n' "$OUT" | cut -d: -f1); do
        lookup initgroups "$u"; printf '%s\n' "$OUT"
    done
}
make_dept acme sales
make_user dora acme member --department sales
ctl user role add dora org-admin
ctl user update dora --department support --last Explorer
ctl dept delete acme sales
assert_match "single changes were published as updates" "$(cat "$NX_DAEMON_LOG")" 'Published an update of the NSS snapshot'
UPDATED=$(everything)
GEN_BEFORE=$(generation)
kill -HUP "$NX_DAEMON_PID"
for _ in $(seq 1 50); do [ "$(generation)" -gt "$GEN_BEFORE" ] && break; sleep 0.1; done
WHOLE=$(everything)
assert_eq "the updated snapshot answers as a whole publication of the same store" "$WHOLE" "$UPDATED"
assert_contains "and it holds what the updates wrote" "$UPDATED" "acme.support"

# --- concurrent changes share publications --------------------------------
GEN0=$GEN1
PIDS=()
for i in $(seq 1 20); do
    "$NEXALIXCTL" user create "par$i" --org acme --first Par --last Allel \
        --email "par$i@example.com" --role member --invite >/dev/null 2>&1 &
    PIDS+=($!)
done
wait "${PIDS[@]}"   # not a bare wait: the bus and the daemon are children too
GEN1=$(generation)
lookup passwd
assert_eq "all 20 concurrent creates published" 20 "$(printf '%s\n' "$OUT" | grep -c '^par')"
if [ $((GEN1 - GEN0)) -ge 1 ] && [ $((GEN1 - GEN0)) -le 20 ]; then
    ok "20 concurrent creates took $((GEN1 - GEN0)) publications"
else
    fail "concurrent creates publish at most once each" "$((GEN1 - GEN0)) publications for 20 creates"
fi

# --- lookups survive the daemon --------------------------------------------
nx_daemon_stop
lookup passwd alice
assert_contains "alice resolves while the daemon is stopped" "$OUT" ":Alicia Tester:"
nx_daemon_start
ctl user update alice --last Liddell
check_ok "user update alice --last Liddell"
nx_daemon_kill9
lookup passwd alice
assert_contains "the last acknowledged change resolves after kill -9" "$OUT" ":Alicia Liddell:"
nx_daemon_start
lookup passwd alice
assert_contains "alice resolves after the restart" "$OUT" ":Alicia Liddell:"
assert_eq "no temporary snapshot files left behind" "" \
    "$(ls -A "$NX_TMP/run" | grep -v -e '^nss.mdb$' -e '^nss.gen$' -e '^pam.sock$' -e '^nexalixd.lock$' \
        -e '^keys.mdb$' -e '^keys.gen$')"

# --- never over a local account ---------------------------------------------
make_user zed acme member
lookup passwd zed
assert_eq "zed resolves through nexalix" 0 "$RC"
# A local account named zed appears (appended in place: the bind mount
# follows the inode), then any change republishes.
printf 'zed:x:4321:4321:Local Zed:/home/zed:/bin/sh\n' >>"$NX_TMP/etc-passwd"
make_user yan acme member
lookup passwd zed
assert_eq "zed is no longer published over the local account" 2 "$RC"
lookup passwd yan
assert_eq "other users are still published" 0 "$RC"

# --- a uid that a local account has is not a Nexalix user anywhere -----------
make_active_user uma acme org-admin 'uma password 1'
UMA=$(user_field uma uid)
ctl_as "$UMA" "$UMA" user list
check_ok "uma (org-admin) lists users before the clash"
setpriv --reuid="$UMA" --regid="$UMA" --clear-groups sleep 300 &
UMA_SLEEP=$!
NX_BG_PIDS+=("$UMA_SLEEP")
# An administrator's mistake: a local account on uma's uid.
printf 'squatter:x:%s:%s:Local Squatter:/home/squatter:/bin/sh\n' "$UMA" "$UMA" >>"$NX_TMP/etc-passwd"
ctl_as "$UMA" "$UMA" user list
check_refused "the local account on uma's uid gets none of uma's permissions" 'permission denied'
ctl_as "$UMA" "$UMA" status --json
assert_json "the daemon does not take the local account for uma" "$OUT" '.caller // ""' ""
ctl user deactivate uma
check_ok "root deactivates uma"
assert_eq "the local account's processes are not ended" "uma deactivated; 0 processes terminated" "$OUT"
if nx_pid_gone "$UMA_SLEEP"; then
    fail "a process of the local account on uma's uid survives uma's deactivation" "pid $UMA_SLEEP is gone"
else
    ok "a process of the local account on uma's uid survives uma's deactivation"
fi
lookup passwd "$UMA"
assert_eq "uma's uid is not published over the local account" 2 "$RC"

nx_finish
