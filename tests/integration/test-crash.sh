#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# Robustness of the daemon process:
# - kill -9 at random moments while a client creates users (invites, and
#   some with passwords, so that kills also land during argon2 hashing): after
#   each restart the store opens cleanly, every create the CLI acknowledged
#   (exit 0) is there with its data, at most the one create in flight per
#   round is there unacknowledged, and no uid is handed out twice;
# - SIGTERM during the same load exits 0, loses nothing acknowledged;
# - a second nexalixd on the same store refuses to start, exit 1, saying
#   "already", without disturbing the first one or its runtime files.

. "$(dirname "$0")/lib.sh"
nx_setup

ROUNDS=${NX_CRASH_ROUNDS:-8}
make_org acme
make_dept acme ops

ACKED=$NX_TMP/acked      # usernames whose create exited 0
ATTEMPTED=$NX_TMP/tried  # every username tried
: >"$ACKED"
: >"$ATTEMPTED"

# client ROUND: creates users until the daemon is unreachable or the stop
# file appears. Runs in the background; writes only to the two files.
client() {
    local round=$1 i=0 name rc
    while [ ! -e "$NX_TMP/stop" ]; do
        i=$((i + 1))
        name=$(printf 'r%02du%04d' "$round" "$i")
        echo "$name" >>"$ATTEMPTED"
        if [ $((i % 7)) -eq 0 ]; then
            printf 'password %s\n' "$name" | timeout 60 "$NEXALIXCTL" user create "$name" --org acme \
                --first "First$i" --last "Last$round" --email "$name@example.com" \
                --department ops --role member --password-stdin >/dev/null 2>>"$NX_TMP/client.err"
        else
            timeout 60 "$NEXALIXCTL" user create "$name" --org acme --first "First$i" \
                --last "Last$round" --email "$name@example.com" --role member --invite \
                </dev/null >/dev/null 2>>"$NX_TMP/client.err"
        fi
        rc=$?
        case $rc in
            0) echo "$name" >>"$ACKED" ;;
            3) break ;;        # the daemon is gone
            *) echo "round $round: $name: exit $rc" >>"$NX_TMP/client.odd" ;;
        esac
    done
}

# check_store WHEN: every acknowledged user is present and intact.
check_store() {
    local when=$1 all missing n_acked n_all extra bad
    all=$(users_json) || { fail "$when: user list --json works" "$(users_json 2>&1 | head -c 500)"; return; }
    jget "$all" '.[].username' | sort >"$NX_TMP/present"
    sort -u "$ACKED" >"$NX_TMP/acked.sorted"
    missing=$(comm -23 "$NX_TMP/acked.sorted" "$NX_TMP/present")
    n_acked=$(wc -l <"$NX_TMP/acked.sorted")
    if [ -z "$missing" ]; then
        ok "$when: all $n_acked acknowledged creates are in the store"
    else
        fail "$when: every acknowledged create is in the store" \
            "missing $(printf '%s\n' "$missing" | wc -l) of $n_acked: $(printf '%s' "$missing" | tr '\n' ' ' | head -c 600)"
    fi
    # Only the test's own users: the r* ones, each either acknowledged or the
    # one in flight when its round's daemon died.
    n_all=$(grep -c '^r' "$NX_TMP/present")
    extra=$(comm -13 "$NX_TMP/acked.sorted" <(grep '^r' "$NX_TMP/present"))
    if [ -z "$extra" ] || [ "$(printf '%s\n' "$extra" | wc -l)" -le "$ROUNDS" ]; then
        ok "$when: $n_all users stored, $(grep -c . <<<"$extra") of them created while the daemon died"
    else
        fail "$when: at most one unacknowledged create per kill" "unacknowledged users: $extra"
    fi
    unknown=$(comm -23 <(grep '^r' "$NX_TMP/present") <(sort -u "$ATTEMPTED"))
    assert_eq "$when: no user that was never asked for" "" "$unknown"
    assert_json "$when: uids are unique" "$all" '[.[].uid] | (unique | length) == length' true
    bad=$(jget "$all" '[.[] | select(.username | startswith("r")) |
        select(.org != "acme" or .email != (.username + "@example.com") or (.roles | join(",")) != "member"
               or (.state != "invited" and .state != "active"))] | map(.username) | join(" ")')
    assert_eq "$when: every stored user is intact (org, email, roles, state)" "" "$bad"
    ctl status --json
    check_ok "$when: status answers"
}

# --- kill -9 in a loop ------------------------------------------------------
for ((round = 1; round <= ROUNDS; round++)); do
    rm -f "$NX_TMP/stop"
    client "$round" &
    CLIENT=$!
    NX_BG_PIDS+=("$CLIENT")
    # 0.3–1.5 s of load, different every round.
    sleep "$(awk -v r="$RANDOM" 'BEGIN { printf "%.2f", 0.3 + (r % 120) / 100 }')"
    nx_daemon_kill9
    touch "$NX_TMP/stop"
    if ! nx_wait_gone "$CLIENT" 90; then
        fail "round $round: the client ends once the daemon is gone" "client $CLIENT still running"
        kill -KILL "$CLIENT" 2>/dev/null
    fi
    wait "$CLIENT" 2>/dev/null
    nx_daemon_start
    check_store "after kill -9 #$round"
done
ACKED_BEFORE_TERM=$(wc -l <"$ACKED")
if [ "$ACKED_BEFORE_TERM" -ge $((ROUNDS * 2)) ]; then
    ok "the client got $ACKED_BEFORE_TERM creates through between kills"
else
    fail "the client got creates through between kills" "only $ACKED_BEFORE_TERM acknowledged" \
        "$(tail -n 5 "$NX_TMP/client.err" 2>/dev/null)"
fi
if [ -s "$NX_TMP/client.odd" ]; then
    fail "creates either succeed or find the daemon unreachable (exit 3)" "$(head -n 10 "$NX_TMP/client.odd")" \
        "$(grep -v '^$' "$NX_TMP/client.err" | sort | uniq -c | sort -rn | head -n 5)"
else
    ok "creates either succeeded or found the daemon unreachable (exit 3)"
fi

# --- kill -9 during every kind of change ---------------------------------------
# A client walks users through update, link add, deactivate, link remove and
# delete. After each kill, every user is in the state after its last
# acknowledged step, or after the one step in flight.
MIXED_ATTEMPTED=$NX_TMP/mixed.tried
MIXED_ACKED=$NX_TMP/mixed.acked
: >"$MIXED_ATTEMPTED"
: >"$MIXED_ACKED"
mixed_client() {
    local round=$1 i=0 name step rc
    while [ ! -e "$NX_TMP/stop" ]; do
        i=$((i + 1))
        name=$(printf 'm%02du%03d' "$round" "$i")
        for step in 1 2 3 4 5 6; do
            [ $((i % 2)) -eq 1 ] && [ "$step" -ge 5 ] && break
            echo "$name $step" >>"$MIXED_ATTEMPTED"
            case $step in
                1) "$NEXALIXCTL" user create "$name" --org acme --first M --last "$round" \
                       --email "$name@example.com" --role member --invite ;;
                2) "$NEXALIXCTL" user update "$name" --first Second --email "$name-2@example.com" ;;
                3) "$NEXALIXCTL" link add "$name" incident.registered "REF-$name" ;;
                4) "$NEXALIXCTL" user deactivate "$name" ;;
                5) "$NEXALIXCTL" link remove "$name" incident.registered "REF-$name" ;;
                6) "$NEXALIXCTL" user delete "$name" ;;
            esac </dev/null >/dev/null 2>>"$NX_TMP/mixed.err"
            rc=$?
            case $rc in
                0) echo "$name $step" >>"$MIXED_ACKED" ;;
                3) return ;;
                *) echo "$name step $step: exit $rc" >>"$NX_TMP/mixed.odd"; return ;;
            esac
        done
    done
}
# expected_after NAME STEP: the state of NAME after STEP steps.
expected_after() {
    local n=$1 k=$2
    case $k in
        0 | 6) echo absent ;;
        1) echo "$n@example.com|M|0|invited" ;;
        2) echo "$n-2@example.com|Second|0|invited" ;;
        3) echo "$n-2@example.com|Second|1|invited" ;;
        4) echo "$n-2@example.com|Second|1|deactivated" ;;
        5) echo "$n-2@example.com|Second|0|deactivated" ;;
    esac
}
actual_state() {
    local j
    j=$("$NEXALIXCTL" user show "$1" --json 2>/dev/null) || { echo absent; return; }
    printf '%s|%s|%s|%s\n' "$(jget "$j" .email)" "$(jget "$j" .first_name)" \
        "$("$NEXALIXCTL" link list "$1" --json 2>/dev/null | jq length)" "$(jget "$j" .state)"
}
check_mixed() {
    local when=$1 name last tried act e1 e2 bad=0 n=0
    for name in $(cut -d' ' -f1 "$MIXED_ATTEMPTED" | sort -u); do
        n=$((n + 1))
        last=$(awk -v n="$name" '$1 == n { s = $2 } END { print s + 0 }' "$MIXED_ACKED")
        tried=$(awk -v n="$name" '$1 == n { s = $2 } END { print s + 0 }' "$MIXED_ATTEMPTED")
        act=$(actual_state "$name")
        e1=$(expected_after "$name" "$last")
        e2=$e1
        [ "$tried" -gt "$last" ] && e2=$(expected_after "$name" "$tried")
        if [ "$act" != "$e1" ] && [ "$act" != "$e2" ]; then
            bad=$((bad + 1))
            [ "$bad" -le 5 ] && nx_log "$name: acknowledged step $last, tried $tried: expected '$e1' or '$e2', found '$act'"
        fi
    done
    assert_eq "$when: each of $n users is in the state of its last acknowledged step (or the one in flight)" 0 "$bad"
}
for ((round = 1; round <= 4; round++)); do
    rm -f "$NX_TMP/stop"
    mixed_client "$round" &
    CLIENT=$!
    NX_BG_PIDS+=("$CLIENT")
    sleep "$(awk -v r="$RANDOM" 'BEGIN { printf "%.2f", 0.4 + (r % 100) / 100 }')"
    nx_daemon_kill9
    touch "$NX_TMP/stop"
    nx_wait_gone "$CLIENT" 90 || kill -KILL "$CLIENT" 2>/dev/null
    wait "$CLIENT" 2>/dev/null
    nx_daemon_start
    check_mixed "after kill -9 during mixed changes #$round"
done
assert_eq "every mixed step either succeeded or found the daemon gone" "" "$(cat "$NX_TMP/mixed.odd" 2>/dev/null)"
N_MIXED=$(wc -l <"$MIXED_ACKED")
if [ "$N_MIXED" -ge 20 ]; then ok "$N_MIXED mixed steps acknowledged"; else fail "the mixed client got steps through" "only $N_MIXED"; fi
# Deleted users' names and addresses are free again; live ones still taken.
GONE=$(awk '$2 == 6 { print $1; exit }' "$MIXED_ACKED")
if [ -n "$GONE" ]; then
    ctl user create "$GONE" --org acme --first Re --last Born --email "$GONE-2@example.com" --role member --invite
    check_ok "a deleted user's name and address can be used again after the kills ($GONE)"
fi
LIVE=$(awk '$2 == 2 { print $1 }' "$MIXED_ACKED" | while read -r n; do
    grep -q "^$n 6\$" "$MIXED_ATTEMPTED" || { echo "$n"; break; }; done)
if [ -n "$LIVE" ]; then
    ctl user create "x$LIVE" --org acme --first X --last Y --email "${LIVE^^}-2@EXAMPLE.COM" --role member --invite
    check_refused "a live user's updated address is still taken after the kills ($LIVE)" 'e-?mail|address|exist|taken|already|in use'
fi

# --- SIGTERM under load -------------------------------------------------------
rm -f "$NX_TMP/stop"
client 99 &
CLIENT=$!
NX_BG_PIDS+=("$CLIENT")
sleep 1
PID=$NX_DAEMON_PID
nx_daemon_stop
touch "$NX_TMP/stop"
nx_wait_gone "$CLIENT" 90 || kill -KILL "$CLIENT" 2>/dev/null
wait "$CLIENT" 2>/dev/null
assert_eq "SIGTERM under load: nexalixd (pid $PID) exits 0" 0 "$NX_DAEMON_RC"
assert_not_match "SIGTERM: nothing alarming in the log" \
    "$(awk '/^---- nexalixd start/ { buf = "" } { buf = buf $0 "\n" } END { printf "%s", buf }' "$NX_DAEMON_LOG")" \
    'segfault|sanitizer|assert|abort|corrupt|panic'
nx_daemon_start
check_store "after SIGTERM under load"

# --- other signals -------------------------------------------------------------
for sig in HUP PIPE; do
    kill -"$sig" "$NX_DAEMON_PID"
    sleep 0.5
    if nx_daemon_alive; then
        ok "nexalixd survives SIG$sig"
    else
        wait "$NX_DAEMON_PID"
        fail "nexalixd survives SIG$sig" "it exited with status $?"
        NX_DAEMON_PID=
        nx_daemon_start
    fi
done
ctl status
check_ok "still answering after SIGHUP and SIGPIPE"
PID=$NX_DAEMON_PID
kill -INT "$PID"
if nx_wait_gone "$PID" 15; then
    wait "$PID"
    assert_eq "SIGINT: nexalixd exits 0" 0 "$?"
else
    fail "SIGINT: nexalixd exits within 15 s"
    kill -KILL "$PID"
    wait "$PID"
fi
NX_DAEMON_PID=
nx_daemon_start
check_store "after SIGINT"

# --- a second daemon on the same store ------------------------------------------
# On a bus of its own, so that the store is the only thing the two share (a
# refusal must not depend on the bus name being taken).
nx_bus_start second
ls -li "$NX_TMP/run" >"$NX_TMP/run.before" 2>&1
BEFORE=$(users_json)
SECOND_START=$SECONDS
DBUS_SYSTEM_BUS_ADDRESS=$NX_LAST_BUS_ADDR nx_run "$NEXALIXD" --config "$NX_DAEMON_CONF" --foreground
assert_eq "a second nexalixd on the same store exits 1" 1 "$RC"
assert_match "it says the store is already in use" "$OUT$ERR" 'already'
if [ $((SECONDS - SECOND_START)) -le 10 ]; then
    ok "it gives up at once ($((SECONDS - SECOND_START)) s)"
else
    fail "it gives up at once" "took $((SECONDS - SECOND_START)) s"
fi
nx_log "second daemon said: $(printf '%s' "$OUT$ERR" | head -n 3)"
if DBUS_SYSTEM_BUS_ADDRESS=$NX_LAST_BUS_ADDR gdbus call --system --dest org.freedesktop.DBus \
    --object-path /org/freedesktop/DBus --method org.freedesktop.DBus.NameHasOwner \
    org.nexalix.Identity1 2>/dev/null | grep true >/dev/null; then
    fail "the refused daemon did not stay on its bus"
else
    ok "the refused daemon does not own the name on its bus"
fi
assert_daemon_alive "the first daemon runs on after the second was refused"
ctl status
check_ok "the first daemon still answers"
assert_eq "the first daemon's users are untouched" "$BEFORE" "$(users_json)"
ls -li "$NX_TMP/run" >"$NX_TMP/run.after" 2>&1
assert_eq "the first daemon's runtime files are untouched (same inodes)" \
    "$(cat "$NX_TMP/run.before")" "$(cat "$NX_TMP/run.after")"
make_user afterwards acme member
ok "the first daemon still creates users"

# On the main bus too (the name is taken as well): still a clean refusal.
nx_run "$NEXALIXD" --config "$NX_DAEMON_CONF" --foreground
assert_eq "a second nexalixd on the same store and bus exits 1" 1 "$RC"
assert_match "it says something is already there" "$OUT$ERR" 'already'
assert_daemon_alive "the first daemon survives the second attempt"

nx_daemon_stop
assert_eq "a final SIGTERM exits 0" 0 "$NX_DAEMON_RC"
nx_daemon_start
echo afterwards >>"$ACKED"
check_store "after the final restart"
nx_finish
