#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# Concurrent clients: every check-and-update is one write transaction.
# - many clients creating the same username, or the same email in different
#   case, at once: exactly one wins, the others are refused;
# - a password create (argon2id, hashed off the main loop) racing an invite
#   of the same username: exactly one wins and the stored record is the
#   winner's;
# - while password creates are hashing, the daemon keeps answering;
# - many distinct creates at once all succeed with unique uids;
# - a client killed in the middle of a call does not hurt the daemon;
# - user import and ImportUsers are all or nothing (a bad or duplicate row
#   imports nothing), and an org-admin cannot import into another
#   organisation.

. "$(dirname "$0")/lib.sh"
nx_setup busctl

make_org acme
make_org globex

# spawn NAME CMD…: runs CMD in the background; its exit status and stderr go
# to $NX_TMP/par/NAME.rc and NAME.err.
mkdir -p "$NX_TMP/par"
spawn() {
    local name=$1
    shift
    ( "$@" >"$NX_TMP/par/$name.out" 2>"$NX_TMP/par/$name.err" </dev/null
      echo $? >"$NX_TMP/par/$name.rc" ) &
    PAR_PIDS+=("$!")
}
spawn_input() {
    local name=$1 input=$2
    shift 2
    ( printf '%s\n' "$input" | "$@" >"$NX_TMP/par/$name.out" 2>"$NX_TMP/par/$name.err"
      echo $? >"$NX_TMP/par/$name.rc" ) &
    PAR_PIDS+=("$!")
}
join_all() {
    local pid
    for pid in "${PAR_PIDS[@]}"; do wait "$pid"; done
    PAR_PIDS=()
}
PAR_PIDS=()
count_rc() { grep -lx "$2" "$NX_TMP"/par/"$1"*.rc 2>/dev/null | wc -l; }

# --- the same username from 12 clients at once -----------------------------
for i in $(seq 1 12); do
    spawn "dupname$i" "$NEXALIXCTL" user create dup --org acme --first "F$i" --last L \
        --email "dup$i@example.com" --role member --invite
done
join_all
assert_eq "12 concurrent creates of one username: exactly one succeeds" 1 "$(count_rc dupname 0)"
assert_eq "and the 11 others are refused (exit 1)" 11 "$(count_rc dupname 1)"
REFUSALS=$(cat "$NX_TMP"/par/dupname*.err)
assert_match "the losers are told the name is taken" "$REFUSALS" 'exist|taken|already|in use'
WINNER=$(grep -lx 0 "$NX_TMP"/par/dupname*.rc | head -n 1 | sed 's/.*dupname\([0-9]*\)\.rc/\1/')
D=$("$NEXALIXCTL" user show dup --json)
assert_json "the stored dup is the winner's" "$D" .email "dup$WINNER@example.com"
assert_json "only one dup stored" "$(users_json)" '[.[] | select(.username == "dup")] | length' 1
assert_json "no loser's email is stored" "$(users_json)" \
    '[.[] | select(.email | test("^dup[0-9]+@"))] | length' 1

# --- one email, in different case, from 12 clients at once -----------------
for i in $(seq 1 12); do
    case $((i % 3)) in
        0) mail=same@example.com ;;
        1) mail=SAME@example.com ;;
        2) mail=Same@Example.COM ;;
    esac
    spawn "dupmail$i" "$NEXALIXCTL" user create "mail$i" --org acme --first F --last L \
        --email "$mail" --role member --invite
done
join_all
assert_eq "12 concurrent creates with one email (any case): exactly one succeeds" 1 "$(count_rc dupmail 0)"
assert_eq "and the 11 others are refused (exit 1)" 11 "$(count_rc dupmail 1)"
assert_json "one user holds the address" "$(users_json)" \
    '[.[] | select(.email | ascii_downcase == "same@example.com")] | length' 1

# --- password create racing an invite of the same name -----------------------
# The password create hashes for a while between its checks and its commit;
# the invite, sent meanwhile, commits first. The password create must then be
# refused, not overwrite the invite or add a second record.
for r in 1 2 3 4 5; do
    spawn_input "racepw$r" "password for race $r" "$NEXALIXCTL" user create "race$r" --org acme \
        --first Pw --last Create --email "race$r-pw@example.com" --role member --password-stdin
    sleep 0.0$((r * 2))
    spawn "raceinv$r" "$NEXALIXCTL" user create "race$r" --org globex --first Inv --last Create \
        --email "race$r-inv@example.com" --role member --invite
    join_all
    pw=$(cat "$NX_TMP/par/racepw$r.rc") inv=$(cat "$NX_TMP/par/raceinv$r.rc")
    R=$("$NEXALIXCTL" user show "race$r" --json)
    if [ "$pw" = 0 ] && [ "$inv" != 0 ]; then
        assert_json "race $r: the password create won; the record is its own" "$R" \
            '.org + " " + .email + " " + .state' "acme race$r-pw@example.com active"
    elif [ "$inv" = 0 ] && [ "$pw" != 0 ]; then
        assert_json "race $r: the invite won; the record is its own" "$R" \
            '.org + " " + .email + " " + .state' "globex race$r-inv@example.com invited"
        assert_match "race $r: the password create is told the name is taken" \
            "$(cat "$NX_TMP/par/racepw$r.err")" 'exist|taken|already|in use'
    else
        fail "race $r: exactly one of two creates of race$r succeeds" \
            "password create exit $pw: $(cat "$NX_TMP/par/racepw$r.err")" \
            "invite exit $inv: $(cat "$NX_TMP/par/raceinv$r.err")" "stored: $R"
    fi
    assert_json "race $r: one record" "$(users_json)" "[.[] | select(.username == \"race$r\")] | length" 1
    assert_json "race $r: the loser's email is not stored" "$(users_json)" \
        "[.[] | select(.email | startswith(\"race$r-\"))] | length" 1
done

# --- the daemon answers while passwords are being hashed ---------------------
for i in $(seq 1 12); do
    spawn_input "hash$i" "hashing password $i" "$NEXALIXCTL" user create "hash$i" --org acme \
        --first H --last "$i" --email "hash$i@example.com" --role member --password-stdin
done
LAT=()
for s in 1 2 3 4 5; do
    t0=$(date +%s%N)
    "$NEXALIXCTL" status >/dev/null 2>&1
    LAT+=("$((($(date +%s%N) - t0) / 1000000))")
done
join_all
assert_eq "12 concurrent password creates all succeed" 12 "$(count_rc hash 0)"
MEDIAN=$(printf '%s\n' "${LAT[@]}" | sort -n | sed -n 3p)
if [ "$MEDIAN" -lt 500 ]; then
    ok "status answers while passwords are hashed (median ${MEDIAN} ms: ${LAT[*]})"
else
    fail "status answers while passwords are hashed (hashing off the main loop)" \
        "status latencies in ms: ${LAT[*]} (median $MEDIAN >= 500)"
fi
assert_json "the 12 hashed users are active" "$(users_json)" \
    '[.[] | select(.username | startswith("hash")) | .state] | unique | join(",")' active

# --- many distinct creates at once ---------------------------------------------
for i in $(seq 1 30); do
    spawn "many$i" "$NEXALIXCTL" user create "many$i" --org globex --first M --last "$i" \
        --email "many$i@example.com" --role member --invite
done
join_all
assert_eq "30 concurrent distinct creates all succeed" 30 "$(count_rc many 0)"
ALL=$(users_json)
assert_json "30 many* users stored" "$ALL" '[.[] | select(.username | startswith("many"))] | length' 30
assert_json "all uids unique" "$ALL" '[.[].uid] | (unique | length) == length' true

# --- clients that die in the middle of a call ----------------------------------
for i in 1 2 3 4 5 6; do
    printf 'a password %s\n' "$i" | "$NEXALIXCTL" user create "gone$i" --org acme --first G \
        --last "$i" --email "gone$i@example.com" --role member --password-stdin >/dev/null 2>&1 &
    victim=$!
    sleep "0.0$i"
    kill -KILL "$victim" 2>/dev/null
    wait "$victim" 2>/dev/null
done
sleep 1
assert_daemon_alive "after six clients were killed mid-call"
ctl status
check_ok "status answers after clients died mid-call"
ALL=$(users_json)
assert_json "each gone* user is either absent or complete and active" "$ALL" \
    '[.[] | select(.username | startswith("gone")) | select(.state != "active" or .email != (.username + "@example.com"))] | length' 0
N_GONE=$(jget "$ALL" '[.[] | select(.username | startswith("gone"))] | length')
nx_log "$N_GONE of 6 creates whose client was killed were committed"
for i in 1 2 3 4 5 6; do
    if grep -qx "gone$i" <<<"$(jget "$ALL" '.[].username')"; then continue; fi
    ctl user create "gone$i" --org acme --first G --last "$i" --email "gone$i@example.com" --role member --invite
    [ "$RC" -eq 0 ] || fail "gone$i, not committed, can be created afresh" "$(nx_last)"
done
ok "every create whose client died left the name either taken by a complete user or free"

# --- import: all or nothing ------------------------------------------------------
SNAP=$(users_json)
printf 'username,first_name,last_name,email,roles\nimp1,A,B,imp1@example.com,member\nimp2,C,D,not-an-address,member\n' \
    >"$NX_TMP/bad.csv"
ctl user import "$NX_TMP/bad.csv" --org acme
check_rejected "user import with a bad row" 'e-?mail|address|bad\.csv:3'
assert_eq "a bad row imports nothing" "$SNAP" "$(users_json)"
printf 'username,first_name,last_name,email,roles\nimp1,A,B,imp1@example.com,member\nimp1,C,D,imp2@example.com,member\n' \
    >"$NX_TMP/dup.csv"
ctl user import "$NX_TMP/dup.csv" --org acme
check_rejected "user import with a username twice" 'duplicate|twice|already|taken|imp1'
assert_eq "a duplicate row imports nothing" "$SNAP" "$(users_json)"
printf 'username,first_name,last_name,email,roles\nimp1,A,B,imp1@example.com,member\ndup,C,D,imp2@example.com,member\n' \
    >"$NX_TMP/exists.csv"
ctl user import "$NX_TMP/exists.csv" --org acme
check_refused "user import with a username already stored" 'exist|taken|already|dup'
assert_eq "a clash with a stored user imports nothing" "$SNAP" "$(users_json)"

bus_import() {
    nx_run "$@" busctl --system --timeout=30 call org.nexalix.Identity1 /org/nexalix/Identity1 \
        org.nexalix.Identity1.Admin ImportUsers 'saa{sv}' "${IMPORT_ARGS[@]}"
}
entry() { printf '%s\n' 5 username s "$1" first_name s F last_name s L email s "$2" roles as 1 member; }
mapfile -t E1 < <(entry imp1 imp1@example.com)
mapfile -t E2 < <(entry imp1 other@example.com)
mapfile -t E3 < <(entry imp3 IMP1@example.com)
mapfile -t E4 < <(entry imp4 bad-address)
for combo in "E1 E2:the same username twice" "E1 E3:the same email twice (other case)" "E1 E4:a bad email"; do
    a=${combo%%:*} label=${combo#*:}
    first=${a% *} second=${a#* }
    declare -n ea=$first eb=$second
    IMPORT_ARGS=(acme 2 "${ea[@]}" "${eb[@]}")
    bus_import
    if [ "$RC" -ne 0 ]; then ok "ImportUsers with $label is refused"; else fail "ImportUsers with $label is refused" "$(nx_last)"; fi
    assert_eq "ImportUsers with $label imports nothing" "$SNAP" "$(users_json)"
    unset -n ea eb
done
printf 'username,first_name,last_name,email,roles\nimp1,A,B,imp1@example.com,member\nimp2,C,D,imp2@example.com,member;org-admin\n' |
    timeout 30 "$NEXALIXCTL" user import - --org acme >"$NX_TMP/.out" 2>"$NX_TMP/.err"
RC=$? OUT=$(cat "$NX_TMP/.out") ERR=$(cat "$NX_TMP/.err") NX_LAST_CMD="user import - --org acme"
check_ok "user import from standard input"
I2=$("$NEXALIXCTL" user show imp2 --json)
assert_json "imported users are invited members of acme with their roles" "$I2" \
    '.org + " " + .state + " " + (.roles | sort | join(","))' "acme invited member,org-admin"

# An org-admin of acme imports into acme only.
make_active_user boss acme org-admin 'boss password'
BU=$(user_field boss uid)
BG=$(user_field boss gid)
SNAP=$(users_json)
mapfile -t E5 < <(entry imp5 imp5@example.com)
IMPORT_ARGS=(globex 1 "${E5[@]}")
bus_import setpriv --reuid="$BU" --regid="$BG" --clear-groups
if [ "$RC" -ne 0 ]; then ok "acme's org-admin cannot ImportUsers into globex"; else fail "acme's org-admin cannot ImportUsers into globex" "$(nx_last)"; fi
IMPORT_ARGS=(acme 1 6 username s imp5 first_name s F last_name s L email s imp5@example.com roles as 1 member org s globex)
bus_import setpriv --reuid="$BU" --regid="$BG" --clear-groups
if [ "$RC" -ne 0 ]; then ok "acme's org-admin cannot ImportUsers into globex through an entry's org"; else fail "acme's org-admin cannot ImportUsers into globex through an entry's org" "$(nx_last)"; fi
printf 'username,first_name,last_name,email,roles\nimp6,A,B,imp6@example.com,member\n' >"$NX_TMP/one.csv"
chmod 0644 "$NX_TMP/one.csv"
ctl_as "$BU" "$BG" user import "$NX_TMP/one.csv" --org globex
check_refused "acme's org-admin: user import --org globex" 'no organi[sz]ation|not found|denied|permission|not allowed|globex'
assert_eq "nothing imported into globex by acme's admin" "$SNAP" "$(users_json)"
ctl_as "$BU" "$BG" user import "$NX_TMP/one.csv" --org acme
check_ok "acme's org-admin: user import --org acme"
assert_json "imp6 is in acme" "$("$NEXALIXCTL" user show imp6 --json)" .org acme

assert_daemon_alive "after the concurrency checks"
nx_finish
