#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# User administration as root: user create (--password-stdin and --invite),
# user list (filters, --search, paging), user show, user update,
# user role add/remove, and the --json fields of nexalixctl(1).

. "$(dirname "$0")/lib.sh"
nx_setup

T0=$(date +%s)
make_org acme
make_org globex
make_dept acme support
make_dept acme dev
make_dept globex sales

# --- create --------------------------------------------------------------
ctl_input 'correct horse battery' user create alice --org acme --first Alice --last Liddell \
    --email alice@example.com --language es --department support --role org-admin --password-stdin
check_ok "user create alice --password-stdin"
assert_not_contains "the password is not echoed back" "$OUT$ERR" "correct horse battery"

ctl user show alice --json
check_ok "user show alice --json"
A=$OUT
assert_valid_json "user show --json is JSON" "$A"
for key in username uid gid org department first_name last_name email email_verified \
           language roles state totp_enabled created_at; do
    assert_json "user JSON has field $key" "$A" "has(\"$key\")" true
done
assert_json "username" "$A" .username alice
assert_json "org" "$A" .org acme
assert_json "department" "$A" .department support
assert_json "first_name" "$A" .first_name Alice
assert_json "last_name" "$A" .last_name Liddell
assert_json "email" "$A" .email alice@example.com
assert_json "email_verified is a boolean" "$A" '.email_verified | type' boolean
assert_json "language" "$A" .language es
assert_json "roles is an array" "$A" '.roles | type' array
assert_json "roles" "$A" '.roles | join(",")' org-admin
assert_json "a password create is active" "$A" .state active
assert_json "totp_enabled is false" "$A" .totp_enabled false
assert_json "uid is a number" "$A" '.uid | type' number
assert_json "gid is a number" "$A" '.gid | type' number
assert_json "uid inside the configured range" "$A" \
    "(.uid >= $NX_UID_BASE and .uid <= $NX_UID_MAX)" true
CREATED=$(jget "$A" .created_at)
if [[ "$CREATED" =~ ^[0-9]+$ ]]; then
    NOW=$(date +%s)
    if [ "$CREATED" -ge $((T0 - 5)) ] && [ "$CREATED" -le $((NOW + 5)) ]; then
        ok "created_at is the creation time ($CREATED)"
    else
        fail "created_at is the creation time" "expected between $T0 and $NOW" "actual: $CREATED"
    fi
elif CREATED_S=$(date -d "$CREATED" +%s 2>/dev/null); then
    NOW=$(date +%s)
    if [ "$CREATED_S" -ge $((T0 - 5)) ] && [ "$CREATED_S" -le $((NOW + 5)) ]; then
        ok "created_at is the creation time ($CREATED)"
    else
        fail "created_at is the creation time" "expected between $T0 and $NOW" "actual: $CREATED"
    fi
else
    fail "created_at is a time" "actual: $CREATED"
fi

ctl user create bob --org acme --first Bob --last Builder --email Bob@Example.org --role member --invite
check_ok "user create bob --invite"
B=$("$NEXALIXCTL" user show bob --json)
assert_json "an invite create is invited" "$B" .state invited
assert_json "language defaults to en" "$B" .language en
assert_json "no department" "$B" '.department // ""' ""
assert_json "an invited user has not verified the email" "$B" .email_verified false
assert_json "roles of bob" "$B" '.roles | join(",")' member
assert_ne "bob and alice have different uids" "$(jget "$A" .uid)" "$(jget "$B" .uid)"

ctl user create carol --org acme --first Carol --last Danvers --email carol@example.com \
    --department dev --role member --role org-admin --invite
check_ok "user create with two --role"
assert_json "both roles" "$("$NEXALIXCTL" user show carol --json)" '.roles | sort | join(",")' member,org-admin

ctl user create jose --org globex --first 'José' --last "Núñez-O'Brien" --email jose@example.net \
    --language pt --department sales --role member --invite
check_ok "user create with UTF-8 names"
J=$("$NEXALIXCTL" user show jose --json)
assert_json "UTF-8 first name round-trips" "$J" .first_name 'José'
assert_json "UTF-8 last name round-trips" "$J" .last_name "Núñez-O'Brien"
assert_json "jose is in globex" "$J" .org globex

# Neither or both of --invite / --password-stdin: usage errors, nothing created.
ctl user create nopw --org acme --first No --last Pw --email nopw@example.com --role member
check_rc "user create without --invite or --password-stdin" 2
ctl_input 'correct horse battery' user create both --org acme --first Bo --last Th \
    --email both@example.com --role member --invite --password-stdin
check_rc "user create with both --invite and --password-stdin" 2
ctl user create noorg --first No --last Org --email noorg@example.com --role member --invite
check_rc "user create without --org" 2
ctl user show nopw
check_rc "nopw was not created" 1
ctl user show both
check_rc "both was not created" 1
ctl user show noorg
check_rc "noorg was not created" 1

# More users for listing and paging: acme gets u01..u09 (invited), globex u10..u12.
for i in 01 02 03 04 05 06 07 08 09; do
    make_user "u$i" acme member
done
for i in 10 11 12; do
    make_user "u$i" globex member --department sales
done
make_user zed acme member --department support

ALL=$(users_json)
ALL_NAMES=$(jget "$ALL" '[.[].username] | join(",")')
EXPECTED_ALL="alice,bob,carol,jose,u01,u02,u03,u04,u05,u06,u07,u08,u09,u10,u11,u12,zed"
assert_eq "user list: every user, sorted by username" "$EXPECTED_ALL" "$ALL_NAMES"
assert_json "uids are unique" "$ALL" '[.[].uid] | (unique | length) == length' true
assert_json "every user has every field" "$ALL" \
    '[.[] | has("username") and has("uid") and has("gid") and has("org") and has("state") and has("roles") and has("email") and has("language")] | all' true

ctl status --json
assert_json "status counts every user" "$OUT" .users 17
assert_json "status counts both organisations" "$OUT" .organisations 2
ctl user list
check_ok "user list (text)"
for u in alice bob jose u12 zed; do
    assert_contains "user list text names $u" "$OUT" "$u"
done

ctl user list --org globex --json
check_ok "user list --org globex"
assert_json "--org globex" "$OUT" '[.[].username] | join(",")' "jose,u10,u11,u12"
ctl user list --org acme --department support --json
assert_json "--org acme --department support" "$OUT" '[.[].username] | join(",")' "alice,zed"
ctl user list --state active --json
assert_json "--state active" "$OUT" '[.[].username] | join(",")' "alice"
ctl user list --state invited --org globex --json
assert_json "--state invited --org globex" "$OUT" '[.[].username] | join(",")' "jose,u10,u11,u12"
ctl user list --state deactivated --json
check_ok "--state deactivated with none"
assert_json "--state deactivated: empty array" "$OUT" 'length' 0
ctl user list --state bogus --json
check_rejected "--state with an unknown state" 'state|invited|active|deactivated'

ctl user list --search liddell --json
assert_json "--search on the last name, case-insensitive" "$OUT" '[.[].username] | join(",")' alice
ctl user list --search CAROL --json
assert_json "--search on the first name, case-insensitive" "$OUT" '[.[].username] | join(",")' carol
ctl user list --search example.org --json
assert_json "--search on the email (stored Bob@Example.org)" "$OUT" '[.[].username] | join(",")' bob
ctl user list --search 'núñez' --json
assert_json "--search on a UTF-8 name" "$OUT" '[.[].username] | join(",")' jose
ctl user list --search u1 --json
assert_json "--search on the username" "$OUT" '[.[].username] | join(",")' "u10,u11,u12"
for q in '.*' '_' '%' '*' '[a]' '\'; do
    ctl user list --search "$q" --json
    assert_json "--search '$q' is literal text (no pattern): no match" "$OUT" 'length' 0
done
ctl user list --search nothing-matches-this --json
assert_json "--search without a match: empty array" "$OUT" 'length' 0

# Paging: pages of 5 concatenate to the whole sorted list, without overlap.
PAGED=""
for off in 0 5 10 15; do
    ctl user list --limit 5 --offset "$off" --json
    check_ok "user list --limit 5 --offset $off"
    n=$(jget "$OUT" length)
    if [ "$off" -lt 15 ]; then
        assert_eq "page at offset $off has 5 users" 5 "$n"
    else
        assert_eq "last page has 2 users" 2 "$n"
    fi
    PAGED="$PAGED${PAGED:+,}$(jget "$OUT" '[.[].username] | join(",")')"
done
assert_eq "pages concatenate to the full list" "$EXPECTED_ALL" "$PAGED"
ctl user list --limit 5 --offset 100 --json
check_ok "offset past the end"
assert_json "offset past the end: empty array" "$OUT" 'length' 0
ctl user list --org acme --limit 2 --offset 1 --json
assert_json "paging applies after filtering" "$OUT" '[.[].username] | join(",")' "bob,carol"
# A script can tell that a page was cut: the array stays the output, the
# count goes to stderr, and --envelope gives both in one object.
ctl user list --limit 5 --offset 5 --json
assert_json "a cut page is still an array" "$OUT" 'type' array
assert_match "a cut page says so on stderr" "$ERR" '5 of 17 users shown \(from offset 5\)'
ctl user list --limit 5 --offset 15 --json
assert_eq "the last page says nothing on stderr" "" "$ERR"
ctl user list --limit 5 --offset 5 --json --envelope
assert_json "--envelope: users, total, offset, truncated" "$OUT" \
    '"\(.users | length) \(.total) \(.offset) \(.truncated)"' "5 17 5 true"
ctl user list --limit 0 --json --envelope
assert_json "--envelope of the whole list: not truncated" "$OUT" \
    '"\(.users | length) \(.total) \(.truncated)"' "17 17 false"
ctl user list --envelope
check_rc "--envelope without --json is a usage error" 2
ctl user list --limit -1 --json
check_rc "--limit -1 is a usage error" 2
ctl user list --limit abc --json
check_rc "--limit abc is a usage error" 2

# --- show ----------------------------------------------------------------
ctl user show alice
check_ok "user show alice (text)"
for word in alice Alice Liddell alice@example.com acme support org-admin active es; do
    assert_contains "user show text contains $word" "$OUT" "$word"
done
ctl user show nosuchuser
check_refused "user show of an unknown user" 'not found|no such|unknown|does not exist|no user|no organi[sz]ation|no department|no link|nosuchuser'
ctl user show
check_rc "user show without a user" 2

# --- update --------------------------------------------------------------
BEFORE_UID=$(jget "$A" .uid)
ctl user update alice --first Alicia --last Smith
check_ok "user update --first --last"
A=$("$NEXALIXCTL" user show alice --json)
assert_json "first name updated" "$A" .first_name Alicia
assert_json "last name updated" "$A" .last_name Smith
assert_json "email unchanged by a name update" "$A" .email alice@example.com
assert_json "uid unchanged by an update" "$A" .uid "$BEFORE_UID"
assert_json "state unchanged by an update" "$A" .state active

ctl user update alice --email alicia@example.com
check_ok "user update --email"
A=$("$NEXALIXCTL" user show alice --json)
assert_json "email updated" "$A" .email alicia@example.com
assert_json "a new email is unverified" "$A" .email_verified false
ctl user list --search alice@example.com --json
assert_json "the old address no longer matches" "$OUT" 'length' 0

ctl user update alice --language pt --department dev
check_ok "user update --language --department"
A=$("$NEXALIXCTL" user show alice --json)
assert_json "language updated" "$A" .language pt
assert_json "department updated" "$A" .department dev
ctl user list --org acme --department dev --json
assert_json "the department filter follows the update" "$OUT" '[.[].username] | join(",")' "alice,carol"

ctl user update alice --department ''
check_ok "user update --department '' removes the department"
assert_json "department removed" "$("$NEXALIXCTL" user show alice --json)" '.department // ""' ""

# A user's own address in another case is not "taken".
ctl user update alice --email Alicia@Example.COM
check_ok "changing the case of one's own email"
assert_json "the new spelling is stored" "$("$NEXALIXCTL" user show alice --json)" .email Alicia@Example.COM
ctl user update alice --email alicia@example.com
check_ok "and back"

ctl user update nosuchuser --first X
check_refused "user update of an unknown user" 'not found|no such|unknown|does not exist|no user|no organi[sz]ation|no department|no link|nosuchuser'

# The old address is free again once alice moved away from it.
ctl user create alice2 --org acme --first Alice --last Two --email alice@example.com --role member --invite
check_ok "an address given up by an update can be used again"

# --- roles ---------------------------------------------------------------
ctl user role add bob org-admin
check_ok "user role add bob org-admin"
assert_json "bob has both roles" "$("$NEXALIXCTL" user show bob --json)" '.roles | sort | join(",")' member,org-admin
ctl user role remove bob member
check_ok "user role remove bob member"
assert_json "bob has only org-admin" "$("$NEXALIXCTL" user show bob --json)" '.roles | join(",")' org-admin
ctl user role remove bob org-admin
check_ok "user role remove of the last role"
assert_json "bob has no role" "$("$NEXALIXCTL" user show bob --json)" '.roles | length' 0
ctl user role add bob member
check_ok "role added back"
assert_json "bob is a member again" "$("$NEXALIXCTL" user show bob --json)" '.roles | join(",")' member
ctl user role add bob member
if [ "$RC" -eq 0 ]; then ok "adding a role twice is accepted"; else check_refused "adding a role bob already has" 'already|has'; fi
assert_json "a role is never listed twice" "$("$NEXALIXCTL" user show bob --json)" '.roles | join(",")' member
ctl user role remove bob org-admin
check_refused "removing a role bob does not have" 'not have|does not|no role|not found|org-admin'
ctl user role add nosuchuser member
check_refused "user role add to an unknown user" 'not found|no such|unknown|does not exist|no user|no organi[sz]ation|no department|no link|nosuchuser'
ctl user role add bob
check_rc "user role add without a role" 2

# --- reading commands keep working as JSON for the whole set --------------
ctl user list --json --limit 0
if [ "$RC" -eq 0 ]; then
    assert_json "--limit 0 means no limit" "$OUT" 'length' 18
else
    fail "user list --limit 0 (no limit) works" "$(nx_last)"
fi

assert_daemon_alive "after every user command"
nx_finish
