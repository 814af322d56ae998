#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# The account lifecycle as root: user deactivate (state, and every process of
# the user's uid ends while other uids' processes live on), user activate,
# link add/list/remove, user delete refused while linked data exists (each
# kind with its count, and the advice to deactivate), allowed once the links
# are gone, and a deleted user's uid never handed out again, not even after
# a restart.

. "$(dirname "$0")/lib.sh"
nx_setup

make_org acme
make_org globex
make_active_user carol acme member 'carol password 1'
make_user dave acme member
make_user gus globex member

CU=$(user_field carol uid)
CG=$(user_field carol gid)
DU=$(user_field dave uid)
DG=$(user_field dave gid)
[[ "$CU" =~ ^[0-9]+$ && "$DU" =~ ^[0-9]+$ ]] || nx_die "no uid for carol/dave: '$CU' '$DU'"
ALLOCATED=("$CU" "$DU" "$(user_field gus uid)")

# --- deactivate ----------------------------------------------------------
# Processes of carol (one that ignores SIGTERM and SIGHUP, as a stuck session
# might), and of other uids that must survive.
setpriv --reuid="$CU" --regid="$CG" --clear-groups sleep 300 &
C_SLEEP=$!
setpriv --reuid="$CU" --regid="$CG" --clear-groups \
    bash -c 'trap "" TERM HUP INT; while :; do sleep 1; done' &
C_STUBBORN=$!
setpriv --reuid="$DU" --regid="$DG" --clear-groups sleep 300 &
D_SLEEP=$!
setpriv --reuid="$NX_UNKNOWN_UID" --regid="$NX_UNKNOWN_UID" --clear-groups sleep 300 &
X_SLEEP=$!
sleep 300 &
R_SLEEP=$!
NX_BG_PIDS+=("$C_SLEEP" "$C_STUBBORN" "$D_SLEEP" "$X_SLEEP" "$R_SLEEP")
sleep 0.3
nx_pid_gone "$C_SLEEP" && nx_die "could not start a process as uid $CU"

ctl link add carol incident.registered INC-0
check_ok "a link before deactivation"

ctl user deactivate carol
check_ok "user deactivate carol"
C=$("$NEXALIXCTL" user show carol --json)
assert_json "carol is deactivated" "$C" .state deactivated
assert_json "carol keeps her uid" "$C" .uid "$CU"

if nx_wait_gone "$C_SLEEP" 10; then
    wait "$C_SLEEP"
    st=$?
    if [ "$st" -gt 128 ]; then
        ok "a process of carol's uid was terminated (by signal $((st - 128)))"
    else
        fail "a process of carol's uid was terminated by a signal" "exit status $st"
    fi
else
    fail "a process of carol's uid ends within 10 s of deactivation" \
        "pid $C_SLEEP (uid $CU) still running: $(ps -o pid,uid,stat,cmd -p "$C_SLEEP" | tail -n 1)"
fi
if nx_wait_gone "$C_STUBBORN" 20; then
    ok "a process of carol's uid that ignores SIGTERM/SIGHUP ends too"
else
    fail "a process of carol's uid that ignores SIGTERM/SIGHUP ends within 20 s" \
        "still running: $(ps -o pid,uid,stat,cmd -p "$C_STUBBORN" | tail -n 1)" \
        "remaining processes of uid $CU: $(pgrep -u "$CU" -a | tr '\n' ';')"
fi
sleep 0.5
for p in "$D_SLEEP:dave (another Nexalix user)" "$X_SLEEP:uid $NX_UNKNOWN_UID" "$R_SLEEP:root"; do
    if nx_pid_gone "${p%%:*}"; then
        fail "a process of ${p#*:} survives carol's deactivation" "pid ${p%%:*} is gone"
    else
        ok "a process of ${p#*:} survives carol's deactivation"
    fi
done

ctl user list --state deactivated --json
assert_json "carol listed as deactivated" "$OUT" '[.[].username] | join(",")' carol
ctl link list carol --json
assert_json "history kept: carol's link survives deactivation" "$OUT" '[.[].ref] | join(",")' INC-0
ctl user update carol --first Caroline
check_ok "a deactivated user can still be edited"

ctl user activate carol
check_ok "user activate carol"
C=$("$NEXALIXCTL" user show carol --json)
assert_json "carol is active again" "$C" .state active
assert_json "carol still has her uid after reactivation" "$C" .uid "$CU"
assert_json "and her roles" "$C" '.roles | join(",")' member
setpriv --reuid="$CU" --regid="$CG" --clear-groups sleep 300 &
C_SLEEP2=$!
NX_BG_PIDS+=("$C_SLEEP2")
sleep 1
if nx_pid_gone "$C_SLEEP2"; then
    fail "after reactivation, carol's processes are left alone" "a new process of uid $CU died"
else
    ok "after reactivation, carol's processes are left alone"
fi

# A user whose processes keep forking: deactivation must not leave any
# behind (a single pass over /proc would miss the children born meanwhile).
live_procs() { ps -o stat= -u "$1" 2>/dev/null | grep -vc '^Z'; }
setpriv --reuid="$DU" --regid="$DG" --clear-groups \
    bash -c 'while :; do sleep 20 & sleep 0.01; done' &
NX_BG_PIDS+=("$!")
sleep 1
nx_log "dave has $(live_procs "$DU") live processes before deactivation"
ctl user deactivate dave
check_ok "deactivate dave while his processes keep forking"
left=-1
for _ in $(seq 1 40); do
    left=$(live_procs "$DU")
    [ "$left" -eq 0 ] && break
    sleep 0.25
done
if [ "$left" -eq 0 ]; then
    ok "no live process of dave's uid is left after deactivation"
else
    fail "no live process of dave's uid is left after deactivation" "$left still alive 10 s later"
fi
# Whatever is left (only if the check failed) is ours: end it by pid.
for p in $(pgrep -u "$DU"); do kill -KILL "$p" 2>/dev/null; done
ctl user activate dave
check_ok "activate dave"

# The reply and the audit log count the processes that really ended: exactly
# the three erin had, and none of another uid.
make_active_user erin acme member 'erin password 1'
EU=$(user_field erin uid)
EG=$(user_field erin gid)
E_PIDS=()
for _ in 1 2 3; do
    setpriv --reuid="$EU" --regid="$EG" --clear-groups sleep 300 &
    E_PIDS+=("$!")
done
NX_BG_PIDS+=("${E_PIDS[@]}")
sleep 0.3
assert_eq "erin has exactly 3 live processes before deactivation" 3 "$(live_procs "$EU")"
ctl user deactivate erin
check_ok "deactivate erin"
assert_eq "the reply counts the 3 processes that ended" \
    "erin deactivated; 3 processes terminated" "$OUT"
assert_eq "none of erin's processes is left" 0 "$(live_procs "$EU")"
ctl audit --user erin --limit 1 --json
assert_json "the audit records how many processes ended" "$OUT" \
    '.[0].action + ": " + .[0].detail' "user.terminate: 3 processes ended"
ctl user deactivate erin
check_refused "deactivating twice is refused" 'already deactivated'
if grep -q "did not end\|Failed to end" "$NX_DAEMON_LOG"; then
    fail "no failure to end processes is logged" "$(grep "did not end\|Failed to end" "$NX_DAEMON_LOG")"
else
    ok "no failure to end processes is logged"
fi
ctl user activate erin
check_ok "activate erin"

ctl user deactivate nosuchuser
check_refused "deactivate an unknown user" 'not found|no such|unknown|does not exist|no user|no organi[sz]ation|no department|no link|nosuchuser'
ctl user activate nosuchuser
check_refused "activate an unknown user" 'not found|no such|unknown|does not exist|no user|no organi[sz]ation|no department|no link|nosuchuser'

# --- links ---------------------------------------------------------------
ctl link remove carol incident.registered INC-0
check_ok "link remove of the first link"
add_links() {
    local kind=$1 n=$2 prefix=$3 i
    for ((i = 1; i <= n; i++)); do
        ctl link add carol "$kind" "$prefix-$i"
        [ "$RC" -eq 0 ] || fail "link add carol $kind $prefix-$i" "$(nx_last)"
    done
}
add_links incident.registered 3 INC
add_links incident.assigned 1 ASG
add_links cost.recorded 2 COST
add_links incident.status_change 4 CHG

ctl link list carol --json
check_ok "link list carol --json"
L=$OUT
assert_json "10 links" "$L" length 10
assert_json "3 incident.registered" "$L" '[.[] | select(.kind == "incident.registered")] | length' 3
assert_json "1 incident.assigned" "$L" '[.[] | select(.kind == "incident.assigned")] | length' 1
assert_json "2 cost.recorded" "$L" '[.[] | select(.kind == "cost.recorded")] | length' 2
assert_json "4 incident.status_change" "$L" '[.[] | select(.kind == "incident.status_change")] | length' 4
assert_json "refs kept" "$L" '[.[] | select(.kind == "cost.recorded") | .ref] | sort | join(",")' COST-1,COST-2
assert_json "links carry created_at" "$L" '[.[] | has("created_at")] | all' true
ctl link list carol
check_ok "link list carol (text)"
assert_contains "text lists INC-2" "$OUT" INC-2
assert_contains "text lists the kind" "$OUT" incident.status_change

ctl link add carol cost.recorded COST-1
if [ "$RC" -eq 0 ]; then
    assert_json "adding the same link twice does not duplicate it" \
        "$("$NEXALIXCTL" link list carol --json)" '[.[] | select(.ref == "COST-1")] | length' 1
else
    check_refused "adding the same link twice" 'exist|already|duplicate'
fi
ctl link add carol incident.bogus X-1
check_rejected "link add with an unknown kind" 'kind|incident\.registered|bogus'
ctl link add carol '' X-1
check_rejected "link add with an empty kind" 'kind|empty|usage'
ctl link add nosuchuser incident.registered X-1
check_refused "link add for an unknown user" 'not found|no such|unknown|does not exist|no user|no organi[sz]ation|no department|no link|nosuchuser'
ctl link remove carol incident.registered NOPE-1
check_refused "link remove of a link that does not exist" 'not found|no such|unknown|does not exist|no user|no organi[sz]ation|no department|no link|link|NOPE'
ctl link remove carol cost.recorded INC-1
check_refused "link remove with the ref of another kind" 'not found|no such|unknown|does not exist|no user|no organi[sz]ation|no department|no link|link'
assert_json "still 10 links" "$("$NEXALIXCTL" link list carol --json)" length 10

# --- delete, refused -----------------------------------------------------
# kind_count MESSAGE N WORD: MESSAGE states N next to WORD, in either order
# ("3 registered incidents", "incident.registered: 3").
kind_count() {
    local msg=$1 n=$2 word=$3
    grep -Eiq -- "(^|[^0-9])${n} [^,;0-9]*${word}|${word}[^,;0-9]*[^0-9]${n}([^0-9]|\$)" <<<"$msg"
}
ctl user delete carol
check_refused "user delete with linked data" 'delet|block|refus|link'
MSG=$ERR
kind_count "$MSG" 3 registered && ok "the refusal counts 3 registered incidents" ||
    fail "the refusal counts 3 registered incidents" "message: $MSG"
kind_count "$MSG" 1 assigned && ok "the refusal counts 1 assigned incident" ||
    fail "the refusal counts 1 assigned incident" "message: $MSG"
kind_count "$MSG" 2 cost && ok "the refusal counts 2 cost records" ||
    fail "the refusal counts 2 cost records" "message: $MSG"
kind_count "$MSG" 4 'status' && ok "the refusal counts 4 incident status changes" ||
    fail "the refusal counts 4 incident status changes" "message: $MSG"
assert_match "the refusal suggests deactivation" "$MSG" 'deactivat'
C=$("$NEXALIXCTL" user show carol --json)
assert_json "carol still exists after the refused delete" "$C" .username carol
assert_json "carol is still active after the refused delete" "$C" .state active
assert_json "her links are all there" "$("$NEXALIXCTL" link list carol --json)" length 10

# Remove all but one cost record: the refusal lists only what is left.
for r in INC-1 INC-2 INC-3; do ctl link remove carol incident.registered "$r"; check_ok "link remove $r"; done
ctl link remove carol incident.assigned ASG-1
check_ok "link remove ASG-1"
for r in CHG-1 CHG-2 CHG-3 CHG-4; do ctl link remove carol incident.status_change "$r"; check_ok "link remove $r"; done
ctl link remove carol cost.recorded COST-2
check_ok "link remove COST-2"
assert_json "one link left" "$("$NEXALIXCTL" link list carol --json)" '[.[].ref] | join(",")' COST-1
ctl user delete carol
check_refused "user delete with one cost record left" 'delet|block|refus|link|cost'
kind_count "$ERR" 1 cost && ok "the refusal counts 1 cost record" ||
    fail "the refusal counts 1 cost record" "message: $ERR"
assert_not_match "kinds with no record left are not listed" "$ERR" 'registered|assigned|status'
assert_match "the refusal still suggests deactivation" "$ERR" 'deactivat'

# --- delete, allowed -----------------------------------------------------
ctl link remove carol cost.recorded COST-1
check_ok "link remove COST-1"
assert_json "no links left" "$("$NEXALIXCTL" link list carol --json)" length 0
ctl user delete carol
check_ok "user delete carol with no linked data"
ctl user show carol
check_refused "carol is gone" 'not found|no such|unknown|does not exist|no user|no organi[sz]ation|no department|no link|carol'
assert_json "carol is not listed" "$(users_json)" '[.[] | select(.username == "carol")] | length' 0
ctl link list carol
check_refused "link list of a deleted user" 'not found|no such|unknown|does not exist|no user|no organi[sz]ation|no department|no link|carol'
ctl user delete carol
check_refused "deleting carol twice" 'not found|no such|unknown|does not exist|no user|no organi[sz]ation|no department|no link|carol'
ctl user delete nosuchuser
check_refused "delete an unknown user" 'not found|no such|unknown|does not exist|no user|no organi[sz]ation|no department|no link|nosuchuser'

# A deactivated user without links can be deleted.
ctl user deactivate gus
check_ok "deactivate gus"
ctl user delete gus
check_ok "delete a deactivated user"

# --- uids are never reused -----------------------------------------------
# Delete the most recently allocated uid: an allocator that hands out
# "highest uid in use + 1" would give it out again.
make_user e1 acme member
make_user e2 acme member
E1=$(user_field e1 uid)
E2=$(user_field e2 uid)
ALLOCATED+=("$E1" "$E2")
ctl user delete e2
check_ok "delete e2 (the highest uid, $E2)"
make_user e3 acme member
E3=$(user_field e3 uid)
in_list() { local x=$1; shift; local y; for y in "$@"; do [ "$x" = "$y" ] && return 0; done; return 1; }
if in_list "$E3" "${ALLOCATED[@]}"; then
    fail "a new user gets a uid never handed out before" "new uid $E3, allocated so far: ${ALLOCATED[*]}"
else
    ok "a new user gets a uid never handed out before ($E3 after deleting $E2)"
fi
ALLOCATED+=("$E3")
ctl user delete e3
check_ok "delete e3 (again the highest uid)"

# Recreating a deleted username: a new uid, not the old one.
make_user carol acme member
NC=$(user_field carol uid)
if in_list "$NC" "${ALLOCATED[@]}"; then
    fail "a recreated username gets a fresh uid" "new carol uid $NC, allocated so far: ${ALLOCATED[*]}"
else
    ok "a recreated username gets a fresh uid ($NC, the old carol had $CU)"
fi
ALLOCATED+=("$NC")
ctl user delete carol
check_ok "delete the new carol"

# The high-water mark survives a restart.
nx_daemon_stop
assert_eq "nexalixd exits 0 on SIGTERM" 0 "$NX_DAEMON_RC"
nx_daemon_start
make_user e4 acme member
E4=$(user_field e4 uid)
if in_list "$E4" "${ALLOCATED[@]}"; then
    fail "after a restart, still no uid handed out twice" "new uid $E4, allocated: ${ALLOCATED[*]}"
else
    ok "after a restart, still no uid handed out twice ($E4)"
fi
assert_json "dave kept his uid through all of it" "$("$NEXALIXCTL" user show dave --json)" .uid "$DU"

assert_daemon_alive "after the lifecycle"
nx_finish
