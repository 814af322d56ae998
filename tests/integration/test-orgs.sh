#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# Organisations, departments and roles through nexalixctl, as root:
# org create/list/show/require-2fa, dept create/list/delete, role list,
# with --json, the naming rules (lower-case letters, digits, inner '-',
# organisation ≤ 15 characters, department ≤ 16) and the refusals
# (duplicates, unknown organisation, deleting a department in use).

. "$(dirname "$0")/lib.sh"
nx_setup

# --- status --------------------------------------------------------------
ctl status
check_ok "status answers"
assert_ne "status prints something" "" "$OUT"
ctl status --json
check_ok "status --json"
assert_valid_json "status --json is JSON" "$OUT"
assert_json "status --json: caller is root" "$OUT" '.caller_uid' 0

# --- organisations -------------------------------------------------------
ctl org list --json
check_ok "org list on an empty store"
assert_json "no organisation yet" "$OUT" 'length' 0

ctl org create acme
check_ok "org create acme"
ctl org create globex
check_ok "org create globex"
ctl org create a-1-b
check_ok "org create a-1-b (digits and inner '-')"
ctl org create abcdefghijklmno
check_ok "org create with 15 characters"

ctl org create acme
check_refused "org create acme twice" 'exist|already|taken|in use'

ctl org create ''
check_rejected "org create with an empty name" 'name|empty|organi[sz]ation|usage'
for bad in Acme -acme acme- 'ac me' 'ac_me' 'acmé' abcdefghijklmnop; do
    ctl org create -- "$bad"
    if [ "$RC" -eq 0 ]; then
        fail "org create '$bad' is refused" "$(nx_last)"
    else
        check_refused "org create '$bad'" 'name|organi[sz]ation|character|long|invalid|empty|letter'
    fi
done

ctl org list --json
check_ok "org list --json"
assert_json "org list has the 4 valid organisations, sorted" "$OUT" '[.[].name] | sort | join(",")' \
    "a-1-b,abcdefghijklmno,acme,globex"
assert_json "org list entries carry require_2fa (false by default)" "$OUT" \
    '[.[] | select(.name == "acme") | .require_2fa] | .[0]' false
ctl org list
check_ok "org list (text)"
assert_contains "org list text names acme" "$OUT" acme
assert_contains "org list text names globex" "$OUT" globex

ctl org show acme --json
check_ok "org show acme --json"
assert_json "org show: name" "$OUT" '.name' acme
assert_json "org show: require_2fa false" "$OUT" '.require_2fa' false
ctl org show acme
check_ok "org show acme (text)"
assert_contains "org show text names the organisation" "$OUT" acme

# Group names are ORG.NAME: '.' is in no organisation, department, role or
# user name, so no organisation can claim another's group names or usernames.
ctl dept create acme east-org-admin
check_ok "a department named like another organisation's role group"
ctl dept list acme --json
assert_json "its group is acme.east-org-admin" "$OUT" \
    '.[] | select(.name == "east-org-admin") | .group' acme.east-org-admin
ctl org create acme-east
check_ok "the organisation acme-east can still be created"
ctl dept create acme bob
check_ok "a department named bob"
make_user acme-bob acme-east member
ok "the username acme-bob is still free after acme's department bob"
ctl dept delete acme bob
ctl dept delete acme east-org-admin

ctl org show nosuchorg
check_refused "org show of an unknown organisation" 'not found|no such|unknown|does not exist|no user|no organi[sz]ation|no department|no link|nosuchorg'

ctl org require-2fa acme on
check_ok "org require-2fa acme on"
assert_json "require_2fa is now true" "$(${NEXALIXCTL} org show acme --json)" '.require_2fa' true
assert_json "globex is unaffected" "$(${NEXALIXCTL} org show globex --json)" '.require_2fa' false
ctl org require-2fa acme off
check_ok "org require-2fa acme off"
assert_json "require_2fa is false again" "$(${NEXALIXCTL} org show acme --json)" '.require_2fa' false
ctl org require-2fa acme maybe
check_rc "org require-2fa with neither on nor off is a usage error" 2
ctl org require-2fa nosuchorg on
check_refused "org require-2fa of an unknown organisation" 'not found|no such|unknown|does not exist|no user|no organi[sz]ation|no department|no link|nosuchorg'

# --- departments ---------------------------------------------------------
ctl dept list acme --json
check_ok "dept list on an organisation without departments"
assert_json "no departments yet" "$OUT" 'length' 0

ctl dept create acme support
check_ok "dept create acme support"
ctl dept create acme r-and-d
check_ok "dept create acme r-and-d"
ctl dept create acme abcdefghijklmnop
check_ok "dept create with 16 characters"
ctl dept create globex support
check_ok "the same department name in another organisation"

ctl dept create acme support
check_refused "dept create acme support twice" 'exist|already|taken|in use'
ctl dept create nosuchorg support
check_refused "dept create in an unknown organisation" 'not found|no such|unknown|does not exist|no user|no organi[sz]ation|no department|no link|nosuchorg'
ctl dept create acme ''
check_rejected "dept create with an empty name" 'name|empty|department|usage'
for bad in Support -support support- 'sup port' 'sup:port' abcdefghijklmnopq; do
    ctl dept create -- acme "$bad"
    if [ "$RC" -eq 0 ]; then
        fail "dept create acme '$bad' is refused" "$(nx_last)"
    else
        check_refused "dept create acme '$bad'" 'name|department|character|long|invalid|empty|letter'
    fi
done

ctl dept list acme --json
check_ok "dept list acme --json"
assert_json "acme has exactly its 3 departments" "$OUT" '[.[].name] | sort | join(",")' \
    "abcdefghijklmnop,r-and-d,support"
assert_json "every department says it belongs to acme" "$OUT" '[.[].org] | unique | join(",")' acme
ctl dept list globex --json
assert_json "globex has only its own department" "$OUT" '[.[].name] | join(",")' support
ctl dept list acme
check_ok "dept list acme (text)"
assert_contains "dept list text names r-and-d" "$OUT" r-and-d
ctl dept list nosuchorg
check_refused "dept list of an unknown organisation" 'not found|no such|unknown|does not exist|no user|no organi[sz]ation|no department|no link|nosuchorg'

ctl org show acme --json
assert_json "org show counts 3 departments" "$OUT" '.departments' 3

# A department in use cannot be deleted; an empty one can.
make_user dora acme member --department support
ctl dept delete acme support
check_refused "dept delete of a department with a user" 'user|member|in use|not empty|belong'
ctl dept list acme --json
assert_json "the refused department is still there" "$OUT" '[.[] | select(.name == "support")] | length' 1
assert_json "dora still in support" "$(${NEXALIXCTL} user show dora --json)" '.department' support

ctl dept delete acme r-and-d
check_ok "dept delete acme r-and-d (empty)"
ctl dept list acme --json
assert_json "r-and-d is gone, the others stay" "$OUT" '[.[].name] | sort | join(",")' \
    "abcdefghijklmnop,support"
ctl dept delete acme r-and-d
check_refused "dept delete of a department that no longer exists" 'not found|no such|unknown|does not exist|no user|no organi[sz]ation|no department|no link|r-and-d'
ctl dept delete globex support
check_ok "dept delete globex support (empty; acme's support is another department)"
ctl dept list acme --json
assert_json "acme's support survives deleting globex's" "$OUT" '[.[] | select(.name == "support")] | length' 1

# A department whose last user was deleted (or moved away) is empty again.
make_dept acme temp
make_user tina acme member --department temp
make_user tom acme member --department temp
ctl org show acme --json
USERS_BEFORE=$(jget "$OUT" .users)
ctl user delete tina
check_ok "delete tina"
ctl user update tom --department ''
check_ok "tom leaves temp"
ctl org show acme --json
assert_json "org show counts one user less after a deletion" "$OUT" .users $((USERS_BEFORE - 1))
ctl dept delete acme temp
check_ok "dept delete of a department whose users were deleted or moved away"

# --- roles ---------------------------------------------------------------
ctl role list --json
check_ok "role list --json"
assert_json "built-in role org-admin" "$OUT" '[.[] | select(.name == "org-admin")] | length' 1
assert_json "built-in role member" "$OUT" '[.[] | select(.name == "member")] | length' 1
assert_json "roles carry a description" "$OUT" '[.[] | select(.name == "org-admin") | .description | length > 0] | .[0]' true
ctl role list
check_ok "role list (text)"
assert_contains "role list text names org-admin" "$OUT" org-admin
assert_contains "role list text names member" "$OUT" member

# --- usage errors and an unreachable daemon -------------------------------
ctl org create
check_rc "org create without a name is a usage error" 2
ctl org frobnicate
check_rc "an unknown subcommand is a usage error" 2
ctl --help
check_ok "nexalixctl --help"
assert_contains "--help lists org create" "$OUT$ERR" "org create"
assert_contains "--help lists dept delete" "$OUT$ERR" "dept delete"

assert_daemon_alive "after every organisation command"

nx_daemon_stop
assert_eq "nexalixd exits 0 on SIGTERM" 0 "$NX_DAEMON_RC"
ctl org list
check_rc "org list with the daemon stopped: unreachable" 3
assert_ne "an unreachable daemon is explained on stderr" "" "$ERR"
DBUS_SYSTEM_BUS_ADDRESS=unix:path=$NX_TMP/no-such-bus ctl status
check_rc "status without any bus: unreachable" 3
assert_match "and says it cannot reach the daemon or bus" "$ERR" 'reach|connect|bus|nexalixd'
ctl org create x --bogus-option
check_rc "an unknown option is a usage error, even with no daemon" 2

nx_finish
