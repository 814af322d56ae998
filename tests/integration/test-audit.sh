#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# The audit log: every change (organisation, department, user create, update,
# role add/remove, deactivate, activate, link add/remove, delete) leaves an
# entry saying who (actor, actor_uid), what (action), to whom (target), in
# which organisation, and when; newest first; --user and --limit filter; a
# refused change records no change; an org-admin's own actions name them;
# the history of a deleted user stays.

. "$(dirname "$0")/lib.sh"
nx_setup

T0=$(date +%s)

# audit_json ARGS…: `audit --json ARGS`, or dies.
audit_json() {
    "$NEXALIXCTL" audit --json "$@" 2>"$NX_TMP/.audit.err" ||
        { fail "audit --json $*" "$(cat "$NX_TMP/.audit.err")"; printf '[]'; }
}

make_org acme
make_dept acme support
ctl org require-2fa acme on
check_ok "org require-2fa acme on"
ctl org require-2fa acme off
check_ok "org require-2fa acme off"

# Each change to alice, and a keyword its action must contain.
# (A keyword is a basic regular expression: "create\|invite" matches either.)
STEPS=(
    "create\|invite::user create alice --org acme --first Alice --last Liddell --email alice@example.com --role member --invite"
    "update::user update alice --first Alicia"
    "update::user update alice --department support"
    "role::user role add alice org-admin"
    "role::user role remove alice org-admin"
    "deactivat::user deactivate alice"
    "activat::user activate alice"
    "link::link add alice incident.registered INC-7"
    "link::link remove alice incident.registered INC-7"
)
for step in "${STEPS[@]}"; do
    # shellcheck disable=SC2086 # the command is a word list on purpose
    ctl ${step#*::}
    check_ok "${step#*::}"
done

ALL=$(audit_json --limit 1000)
assert_valid_json "audit --json is JSON" "$ALL"
assert_json "entries carry id, time, actor, actor_uid, action, org, target" "$ALL" \
    '[.[] | has("id") and has("time") and has("actor") and has("actor_uid") and has("action") and has("org") and has("target")] | all' true
ALICE=$(jget "$ALL" '[.[] | select(.target == "alice")]')
N=$(jget "$ALICE" length)
if [ "${N:-0}" -ge "${#STEPS[@]}" ]; then
    ok "one entry per change of alice ($N entries for ${#STEPS[@]} changes)"
else
    fail "one entry per change of alice" "expected at least ${#STEPS[@]}" "actual: ${N:-none}" "$ALICE"
fi

# Oldest first, the entries for alice follow the steps in order.
ACTIONS=$(jget "$ALICE" 'reverse | [.[].action] | join("\n")')
i=0
matched=0
mapfile -t ACTION_LIST <<<"$ACTIONS"
for step in "${STEPS[@]}"; do
    kw=${step%%::*}
    while [ "$i" -lt "${#ACTION_LIST[@]}" ]; do
        a=${ACTION_LIST[$i]}
        i=$((i + 1))
        # "activate" must not be satisfied by "deactivate".
        if [ "$kw" = activat ] && grep -qi deactivat <<<"$a"; then continue; fi
        if grep -qi -- "$kw" <<<"$a"; then matched=$((matched + 1)); break; fi
    done
done
assert_eq "the actions of alice's entries follow her changes in order (${STEPS[*]%%::*})" \
    "${#STEPS[@]}" "$matched"
[ "$matched" -eq "${#STEPS[@]}" ] || nx_log "actions, oldest first: $(printf '%s' "$ACTIONS" | tr '\n' ' ')"

assert_json "root's changes name root as the actor" "$ALICE" '[.[].actor] | unique | join(",")' root
assert_json "root's changes carry actor_uid 0" "$ALICE" '[.[].actor_uid] | unique | join(",")' 0
assert_json "alice's entries name her organisation" "$ALICE" '[.[].org] | unique | join(",")' acme
NOW=$(date +%s)
# time: seconds since the epoch, or an ISO 8601 UTC string.
assert_json "entries are stamped with the time of the change" "$ALICE" \
    "[.[].time | (if type == \"string\" then fromdateiso8601 else . end) | . >= $((T0 - 5)) and . <= $((NOW + 5))] | all" true
assert_json "newest first: ids decrease" "$ALL" \
    '[.[].id] as $ids | $ids == ($ids | sort | reverse)' true
assert_json "newest first: times do not increase" "$ALL" \
    '[.[].time] as $t | $t == ($t | sort | reverse)' true
assert_json "ids are unique" "$ALL" '[.[].id] | (unique | length) == length' true
assert_json "the newest entry is the last link removal" "$ALL" '.[0].action | test("link"; "i")' true

assert_json "organisation creation is audited" "$ALL" \
    '[.[] | select((.action | test("org|create"; "i")) and ((.target == "acme") or (.org == "acme" and (.target == "" or .target == null))))] | length > 0' true
assert_json "department creation is audited" "$ALL" \
    '[.[] | select((.action | test("dep"; "i")) or (.target | tostring | test("support")) or (.detail | tostring | test("support")))] | length > 0' true
assert_json "require-2fa changes are audited (two)" "$ALL" \
    '[.[] | select((.action + " " + (.detail | tostring)) | test("2fa|two|require"; "i"))] | length >= 2' true

# --- filters -------------------------------------------------------------
make_user bob acme member
ctl user update bob --last Builder
U=$(audit_json --user alice --limit 1000)
assert_json "audit --user alice: only entries about alice" "$U" \
    '[.[] | .target == "alice" or .actor == "alice"] | all' true
assert_json "audit --user alice: all of them" "$U" 'length' "$N"
L3=$(audit_json --limit 3)
assert_json "audit --limit 3 gives 3 entries" "$L3" length 3
assert_json "audit --limit 3 gives the 3 newest" "$L3" '[.[].id] | join(",")' \
    "$(jget "$(audit_json --limit 1000)" '[.[0:3][].id] | join(",")')"
assert_json "the newest entry is bob's update" "$L3" '.[0].target' bob
ctl audit --limit 5
check_ok "audit (text)"
assert_contains "audit text names bob" "$OUT" bob
assert_contains "audit text names root" "$OUT" root
ctl audit --user alice
check_ok "audit --user alice (text)"
assert_not_contains "audit --user alice text does not show bob" "$OUT" bob
ctl audit --limit abc
check_rc "audit --limit abc is a usage error" 2

# --- refused changes are not recorded as changes -----------------------------
BEFORE=$(jget "$(audit_json --limit 1)" '.[0].id')
ctl user create zed --org acme --first Zed --last Z --email not-an-email --role member --invite
check_refused "an invalid create" 'e-?mail|address|invalid'
ctl user delete nosuchuser
check_refused "deleting an unknown user" 'not found|no such|unknown|does not exist|no user|no organi[sz]ation|no department|no link'
NEW=$(jget "$(audit_json --limit 1000)" "[.[] | select(.id > $BEFORE)]")
assert_json "no change recorded for zed" "$NEW" \
    '[.[] | select(.target == "zed" and (.action | test("denied|refused|fail|reject"; "i") | not))] | length' 0
ctl user show zed
check_refused "zed does not exist" 'not found|no such|unknown|does not exist|no user|no organi[sz]ation|no department|no link'

# --- an org-admin's actions name the org-admin -----------------------------
ctl_input 'admin password 1' user create ann --org acme --first Ann --last Admin \
    --email ann@example.com --role org-admin --password-stdin
check_ok "create ann, org-admin of acme"
AU=$(user_field ann uid)
AG=$(user_field ann gid)
ctl_as "$AU" "$AG" user update bob --first Robert
if [ "$RC" -eq 0 ]; then
    ok "ann (uid $AU) updates bob"
    E=$(jget "$(audit_json --limit 1)" '.[0]')
    assert_json "the entry names ann as the actor" "$E" .actor ann
    assert_json "the entry carries ann's uid" "$E" .actor_uid "$AU"
    assert_json "the entry targets bob" "$E" .target bob
else
    fail "ann (uid $AU, org-admin of acme) updates bob" "$(nx_last)"
fi

# --- history outlives the user ---------------------------------------------
ctl user delete alice
check_ok "delete alice"
U2=$(audit_json --user alice --limit 1000)
assert_json "alice's history is kept after deletion, plus the deletion" "$U2" length $((N + 1))
assert_json "the newest entry about alice is her deletion" "$U2" '.[0].action | test("delet"; "i")' true

# --- the audit log survives a restart ----------------------------------------
BEFORE_RESTART=$(audit_json --limit 1000 | jq -c .)
MAXID=$(jget "$BEFORE_RESTART" '.[0].id')
nx_daemon_stop
nx_daemon_start
AFTER_RESTART=$(jget "$(audit_json --limit 1000)" "[.[] | select(.id <= $MAXID)]" | jq -c .)
assert_eq "the audit log is the same after a restart" "$BEFORE_RESTART" "$AFTER_RESTART"

assert_daemon_alive "after the audit checks"
nx_finish
