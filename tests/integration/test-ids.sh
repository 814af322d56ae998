#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# Ids and local accounts, with nexalixd in a mount namespace whose
# /etc/passwd and /etc/group are the test's own:
# - a username that is a local user or group name is refused, including a
#   local account added while the daemon runs;
# - uids and gids are never ones a local account has, even inside the range;
# - when the range is used up, creates are refused with a clear message and
#   change nothing;
# - configuration errors (range below 1000, min above max, a missing file,
#   a malformed line) stop the daemon at start with a message, exit non-zero.

. "$(dirname "$0")/lib.sh"
nx_init unshare mount

command -v unshare >/dev/null && unshare -m true 2>/dev/null ||
    nx_skip "cannot create a mount namespace here (unshare -m)"

# The local accounts the daemon will see: two ids inside its range.
LOCAL_USER_ID=1002
LOCAL_GROUP_ID=1004
cat >"$NX_TMP/etc-passwd" <<EOF
root:x:0:0:root:/root:/bin/bash
daemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin
nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin
localbob:x:$LOCAL_USER_ID:$LOCAL_USER_ID:Local Bob:/home/localbob:/bin/bash
EOF
cat >"$NX_TMP/etc-group" <<EOF
root:x:0:
daemon:x:1:
nogroup:x:65534:
localbob:x:$LOCAL_USER_ID:
localgrp:x:$LOCAL_GROUP_ID:
neworg.member:x:1950:
acme.sales:x:1951:
EOF
chmod 0644 "$NX_TMP/etc-passwd" "$NX_TMP/etc-group"
cat >"$NX_TMP/with-etc.sh" <<EOF
#!/bin/sh
# Runs its arguments with the test's /etc/passwd and /etc/group (call it
# inside a new mount namespace).
mount --bind "$NX_TMP/etc-passwd" /etc/passwd &&
mount --bind "$NX_TMP/etc-group" /etc/group &&
exec "\$@"
EOF
chmod 0755 "$NX_TMP/with-etc.sh"
NX_DAEMON_PREFIX=(unshare -m --propagation private "$NX_TMP/with-etc.sh")

NX_DAEMON_CONF=$NX_TMP/nexalixd.conf
nx_write_config "$NX_DAEMON_CONF"
sed -i 's/^uid_min = .*/uid_min = 1000/; s/^uid_max = .*/uid_max = 1009/' "$NX_DAEMON_CONF"

nx_bus_start main
nx_daemon_start

make_org acme

# --- local names ---------------------------------------------------------
RE_LOCAL='local|system|account|exist|taken|reserved|already'
SNAP=$(users_json)
for name in localbob localgrp daemon; do
    ctl user create "$name" --org acme --first L --last A --email "$name@example.com" --role member --invite
    check_refused "username of the local account or group '$name'" "$RE_LOCAL"
done
assert_eq "the refused local names changed nothing" "$SNAP" "$(users_json)"

# A local account that appears while the daemon runs (the bind mount shows
# the appended line: same inode).
sleep 1.1   # a new modification time, even on coarse-grained file systems
printf 'latecomer:x:1900:1900::/home/latecomer:/bin/sh\n' >>"$NX_TMP/etc-passwd"
printf 'lategrp:x:1901:\n' >>"$NX_TMP/etc-group"
ctl user create latecomer --org acme --first L --last C --email latecomer@example.com --role member --invite
check_refused "username of a local account added while nexalixd runs" "$RE_LOCAL"
ctl user create lategrp --org acme --first L --last G --email lategrp@example.com --role member --invite
check_refused "username of a local group added while nexalixd runs" "$RE_LOCAL"

# --- a refusal after writes: the transaction is aborted, not committed ------
# Local groups have the names that a new organisation's second role group and
# a new department's group would claim. Each refusal comes after the same
# transaction already allocated ids and claimed other group names: the store
# must be byte for byte what it was (ids, names, groups).
command -v mdb_dump >/dev/null || nx_skip "mdb_dump is not installed (lmdb-utils)"
store_dump() { mdb_dump -a "$NX_TMP/store"; }
BEFORE=$(store_dump)
ctl org create neworg
check_refused "an organisation whose role group name a local group has" "neworg\.member.*local"
assert_eq "the refused organisation left the store unchanged" "$BEFORE" "$(store_dump)"
ctl org list --json
assert_json "and it is not listed" "$OUT" '[.[].name] | join(",")' acme
ctl dept create acme sales
check_refused "a department whose group name a local group has" "acme\.sales.*local"
assert_eq "the refused department left the store unchanged" "$BEFORE" "$(store_dump)"

# --- ids: skip local ones, refuse when exhausted ---------------------------
created=0
for i in $(seq 1 12); do
    SNAP=$(users_json)
    ctl user create "r$i" --org acme --first R --last "$i" --email "r$i@example.com" --role member --invite
    if [ "$RC" -eq 0 ]; then
        created=$((created + 1))
        continue
    fi
    check_refused "a create once the id range 1000-1009 is used up" 'exhaust|range|uid_max|no free|full|available'
    assert_eq "the refused create changed nothing" "$SNAP" "$(users_json)"
    break
done
if [ "$created" -ge 12 ]; then
    fail "creates stop when the 10 ids of the range are used up" "12 users created in a range of 10 ids"
else
    ok "$created users fitted in the range before it was used up"
fi
ALL=$(users_json)
assert_json "no user got the local user's uid $LOCAL_USER_ID" "$ALL" \
    "[.[] | select(.uid == $LOCAL_USER_ID or .gid == $LOCAL_USER_ID)] | length" 0
assert_json "no user got the local group's gid $LOCAL_GROUP_ID" "$ALL" \
    "[.[] | select(.uid == $LOCAL_GROUP_ID or .gid == $LOCAL_GROUP_ID)] | length" 0
assert_json "every id inside 1000-1009" "$ALL" '[.[] | (.uid, .gid) | . >= 1000 and . <= 1009] | all' true
assert_json "uids unique" "$ALL" '[.[].uid] | (unique | length) == length' true
ctl dept list acme --json
DEPT_OK=$RC
ctl dept create acme late
if [ "$RC" -eq 0 ]; then
    GID=$(jget "$("$NEXALIXCTL" dept list acme --json)" '.[] | select(.name == "late") | .gid')
    fail "a department group needs an id too: refused once the range is used up" "got gid $GID"
elif [ "$DEPT_OK" -eq 0 ]; then
    check_refused "a department once the id range is used up" 'exhaust|range|uid_max|no free|full|available'
fi

# The deleted user's uid does not come back either.
ctl user delete r1
check_ok "delete r1"
ctl user create r99 --org acme --first R --last 99 --email r99@example.com --role member --invite
check_refused "deleting a user frees no id" 'exhaust|range|uid_max|no free|full|available'

assert_daemon_alive "after the id checks"
nx_daemon_stop
assert_eq "nexalixd exits 0 on SIGTERM" 0 "$NX_DAEMON_RC"

# --- configuration errors ----------------------------------------------------
# Each on a bus of its own with an empty store: the daemon must stop at start.
nx_bus_start cfg
bad_config() {
    local desc=$1 re=$2 conf=$3 start=$SECONDS
    DBUS_SYSTEM_BUS_ADDRESS=$NX_LAST_BUS_ADDR NX_CMD_TIMEOUT=15 \
        nx_run "${NX_DAEMON_PREFIX[@]}" "$NEXALIXD" --config "$conf" --foreground
    if [ "$RC" -ne 0 ] && [ "$RC" -ne 124 ] && [ "$RC" -lt 128 ]; then
        ok "$desc: nexalixd refuses to start (exit $RC)"
    else
        fail "$desc: nexalixd refuses to start with an error status" "$(nx_last)"
    fi
    assert_match "$desc: the message says what is wrong" "$OUT$ERR" "$re"
    [ $((SECONDS - start)) -le 10 ] || fail "$desc: refused at once" "took $((SECONDS - start)) s"
}
mkconf() {
    local f=$NX_TMP/cfg-$1.conf
    nx_write_config "$f" "$NX_TMP/cfg-store-$1" "$NX_TMP/cfg-run-$1"
    printf '%s\n' "$f"
}
C=$(mkconf low)
sed -i 's/^uid_min = .*/uid_min = 500/' "$C"
bad_config "uid_min below 1000" 'uid_min|1000' "$C"
C=$(mkconf inverted)
sed -i 's/^uid_min = .*/uid_min = 250000/; s/^uid_max = .*/uid_max = 240000/' "$C"
bad_config "uid_min above uid_max" 'uid_min|uid_max' "$C"
C=$(mkconf notnumber)
sed -i 's/^uid_max = .*/uid_max = lots/' "$C"
bad_config "uid_max not a number" 'uid_max|lots|number|invalid' "$C"
C=$(mkconf garbage)
printf 'this line has no equals sign\n[ids\n' >>"$C"
bad_config "a malformed line" 'line|syntax|invalid|parse|expected|\.conf:[0-9]+' "$C"
bad_config "a config file that does not exist" "nonexistent\\.conf|no such file|not found" "$NX_TMP/nonexistent.conf"

nx_finish
