#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# A restart keeps everything: organisations (with their 2FA rule),
# departments, users in every state with every field, roles, links, the audit
# log and the uid counter; passwords too (a password create stays active);
# after a clean stop and after kill -9; and the store files stay private
# (0700 directory, nothing world-readable).

. "$(dirname "$0")/lib.sh"
nx_setup

make_org acme
make_org globex
make_dept acme support
make_dept acme dev
make_dept globex sales
ctl org require-2fa globex on
check_ok "org require-2fa globex on"

make_active_user alice acme org-admin 'alice password' --department support --language es
make_user bob acme member --department dev
make_user carol globex member --department sales --language pt
ctl user create dan --org acme --first 'Dán' --last "D'Arcy" --email Dan@Example.COM \
    --role member --role org-admin --invite
check_ok "create dan"
make_user erin acme member
ctl user deactivate bob
check_ok "deactivate bob"
ctl user update carol --first Caroline --email caroline@example.net
check_ok "update carol"
ctl user role remove erin member
check_ok "erin without roles"
ctl link add alice incident.registered INC-1
ctl link add alice cost.recorded COST-9
ctl link add bob incident.status_change CHG-3
ERIN_UID=$(user_field erin uid)
ctl user delete erin
check_ok "delete erin"

# Everything root can read, in one text.
world() {
    printf 'orgs %s\n' "$("$NEXALIXCTL" org list --json | jq -cS 'sort_by(.name)')"
    for o in acme globex; do
        printf 'org %s %s\n' "$o" "$("$NEXALIXCTL" org show "$o" --json | jq -cS .)"
        printf 'depts %s %s\n' "$o" "$("$NEXALIXCTL" dept list "$o" --json | jq -cS 'sort_by(.name)')"
    done
    printf 'users %s\n' "$(users_json | jq -cS .)"
    for u in alice bob carol dan; do
        printf 'links %s %s\n' "$u" "$("$NEXALIXCTL" link list "$u" --json | jq -cS 'sort_by(.kind, .ref)')"
    done
    printf 'roles %s\n' "$("$NEXALIXCTL" role list --json | jq -cS .)"
}
audit_upto() { "$NEXALIXCTL" audit --json --limit 10000 | jq -cS "[.[] | select(.id <= $1)]"; }

W0=$(world)
assert_json "sanity: 4 users before the restart" "$(users_json)" length 4
assert_contains "sanity: the world has bob deactivated" "$W0" '"deactivated"'
AUDIT_MAX=$("$NEXALIXCTL" audit --json --limit 1 | jq -r '.[0].id')
A0=$(audit_upto "$AUDIT_MAX")
assert_ne "sanity: the audit log is not empty" "[]" "$A0"

nx_daemon_stop
assert_eq "nexalixd exits 0 on SIGTERM" 0 "$NX_DAEMON_RC"

# The store is private to root.
STORE=$NX_TMP/store
if [ -d "$STORE" ]; then
    assert_eq "the store directory is 0700" 700 "$(stat -c %a "$STORE")"
    WR=$(find "$STORE" -perm /o+r -type f)
    assert_eq "no store file is world-readable" "" "$WR"
else
    fail "the store lives where the config says ($STORE)" "$(ls -la "$NX_TMP")"
fi

nx_daemon_start
W1=$(world)
if [ "$W0" == "$W1" ]; then
    ok "after a clean restart everything is the same"
else
    fail "after a clean restart everything is the same" "$(diff <(printf '%s\n' "$W0") <(printf '%s\n' "$W1") | head -c 3000)"
fi
assert_eq "after a clean restart the audit log is the same" "$A0" "$(audit_upto "$AUDIT_MAX")"
assert_json "alice is still active (her password was stored)" "$("$NEXALIXCTL" user show alice --json)" .state active
assert_json "globex still requires 2FA" "$("$NEXALIXCTL" org show globex --json)" .require_2fa true

# Changes after a restart go on from where they were.
make_user fay acme member
FU=$(user_field fay uid)
if [ "$FU" -gt "$ERIN_UID" ] 2>/dev/null; then
    ok "the uid counter survived the restart: fay gets $FU, after the deleted erin's $ERIN_UID"
else
    fail "the uid counter survived the restart (the deleted erin's uid is not handed out again)" \
        "fay got uid $FU; erin, the last one allocated before the restart, had $ERIN_UID"
fi
ctl user create fay2 --org acme --first F --last F --email dan@example.com --role member --invite
check_refused "the email index survived the restart (dan's address, other case)" 'e-?mail|address|exist|taken|already|in use'
ctl user create dan --org globex --first D --last D --email dan2@example.com --role member --invite
check_refused "the username index survived the restart" 'exist|taken|already|in use'
ctl user delete alice
check_refused "alice's links survived the restart: delete still blocked" 'delet|block|link|deactivat'
ctl user list --search 'dán' --json
assert_json "search works on restored data" "$OUT" '[.[].username] | join(",")' dan
W2=$(world)

# kill -9 right after changes: all of them are there afterwards.
ctl user update dan --language pt
check_ok "update dan"
ctl user activate bob
check_ok "activate bob"
ctl link remove alice cost.recorded COST-9
check_ok "remove a link"
ctl dept delete acme dev
check_refused "dept delete of a department in use" 'user|member|in use|not empty|belong'
ctl user update bob --department ''
check_ok "bob leaves dev"
ctl dept delete acme dev
check_ok "dept delete acme dev"
W3=$(world)
nx_daemon_kill9
nx_daemon_start
W4=$(world)
if [ "$W3" == "$W4" ]; then
    ok "after kill -9 every acknowledged change is there"
else
    fail "after kill -9 every acknowledged change is there" "$(diff <(printf '%s\n' "$W3") <(printf '%s\n' "$W4") | head -c 3000)"
fi
assert_ne "sanity: the changes did change something" "$W2" "$W4"

# Three restarts in a row change nothing.
for i in 1 2 3; do
    nx_daemon_stop
    [ "$NX_DAEMON_RC" = 0 ] || fail "restart $i: SIGTERM exits 0" "status $NX_DAEMON_RC"
    nx_daemon_start
done
assert_eq "three more restarts change nothing" "$W4" "$(world)"

assert_daemon_alive "after the persistence checks"
nx_finish
