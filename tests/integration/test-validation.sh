#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# Every rule of docs/architecture.md "Users", through user create and user update: each
# violation is refused with exit 1 and a message that says what is wrong, and
# leaves the store exactly as it was (`user list --json` and the organisation
# and department listings compared before and after). Then bad input sent
# straight over D-Bus (wrong types, unknown keys, huge strings): the daemon
# answers with an error, does not crash and changes nothing.

. "$(dirname "$0")/lib.sh"
nx_setup busctl

make_org acme
make_org globex
make_dept acme support
make_dept globex sales
make_user alice acme member --department support
make_user gina globex member --department sales

# The whole visible state of the store.
store_state() {
    local orgs
    printf 'users=%s\n' "$(users_json)"
    printf 'orgs=%s\n' "$("$NEXALIXCTL" org list --json 2>&1)"
    for orgs in acme globex; do
        printf 'dept-%s=%s\n' "$orgs" "$("$NEXALIXCTL" dept list "$orgs" --json 2>&1)"
    done
}

SNAP=$(store_state)
[ -n "$(jget "$(users_json)" length)" ] || nx_die "user list --json does not work: $(users_json 2>&1)"

# assert_unchanged DESCRIPTION: the store is as it was at the last snapshot.
assert_unchanged() {
    local now
    now=$(store_state)
    if [ "$now" == "$SNAP" ]; then
        ok "store unchanged after: $1"
    else
        fail "store unchanged after: $1" "$(diff <(printf '%s\n' "$SNAP" | tr ',' '\n') \
            <(printf '%s\n' "$now" | tr ',' '\n') | head -n 20)"
        SNAP=$now
    fi
}

# refused_create DESCRIPTION ERE ARGS…: user create ARGS is refused with a
# message matching ERE and changes nothing. ARGS override the defaults below
# (the last of a repeated option wins in nexalixctl, see tools/ctl.h).
refused_create() {
    local desc=$1 re=$2
    shift 2
    local user=valid1
    if [ "${1:-}" = --user ]; then user=$2; shift 2; fi
    # Options first and the username after "--", so that names starting
    # with '-' reach the daemon's checks rather than the option parser.
    ctl user create --org acme --first Val --last Id --email val@example.com \
        --role member --invite "$@" -- "$user"
    check_refused "$desc" "$re"
    assert_unchanged "$desc"
}

# --- username ------------------------------------------------------------
RE_DUP='exist|taken|already|in use|duplicate'
refused_create "username already used in another organisation" "$RE_DUP" --user gina
refused_create "username already used in the same organisation" "$RE_DUP" --user alice

RE_LOCAL='local|system|account|exist|taken|reserved|already'
for local in daemon root bin nobody messagebus; do
    refused_create "username of the local account $local" "$RE_LOCAL" --user "$local"
done

RE_NAME='user ?name|name|character|long|invalid|letter|start|allowed'
for bad in Alice 1abc -abc 'a b' a.b 'al:ice' 'a$b' 'ålice' "$(printf 'a%.0s' {1..33})" \
           $'ali\tce' $'alice\n' 'a/b' '.alice'; do
    refused_create "invalid username '$(printf '%q' "$bad")'" "$RE_NAME" --user "$bad"
done
ctl user create '' --org acme --first Val --last Id --email val@example.com --role member --invite
check_rejected "empty username" 'user ?name|name|empty|usage'
assert_unchanged "empty username"

# --- first and last name -------------------------------------------------
RE_PERSON='name|control|character|colon|:|invalid|allowed'
refused_create "':' in the first name" "$RE_PERSON" --first 'Val:Id'
refused_create "':' in the last name" "$RE_PERSON" --last 'Id:'
refused_create "a tab in the first name" "$RE_PERSON" --first $'Va\tl'
refused_create "a newline in the last name" "$RE_PERSON" --last $'Id\nroot::0:0::/:/bin/sh'
refused_create "an escape character in the first name" "$RE_PERSON" --first $'Val\e[31m'
refused_create "U+0001 in the last name" "$RE_PERSON" --last $'I\x01d'
refused_create "DEL (0x7f) in the first name" "$RE_PERSON" --first $'Va\x7fl'
refused_create "a C1 control (U+0085) in the last name" "$RE_PERSON" --last $'Id\xc2\x85x'
# Not valid UTF-8: the CLI may reject it before calling (usage error, 2),
# but must not crash (libdbus aborts on invalid UTF-8 strings).
ctl user create --org acme --first $'Val\xff' --last Id --email val@example.com --role member --invite -- valid1
check_rejected "invalid UTF-8 in the first name" "$RE_PERSON|utf|encoding"
assert_unchanged "invalid UTF-8 in the first name"
ctl user list --search $'caf\xe9' --json
check_rejected "invalid UTF-8 in --search" 'utf|encoding|invalid'
ctl_input $'caf\xe9 latin-1 password' user create valid1 --org acme --first Val --last Id \
    --email val@example.com --role member --password-stdin
check_rejected "a password that is not valid UTF-8" 'utf|encoding|password'
assert_unchanged "a password that is not valid UTF-8"

# --- email ---------------------------------------------------------------
RE_EMAIL='e-?mail|address|invalid'
for bad in plainaddress no-at.example.com 'val@' '@example.com' 'v al@example.com' \
           'v@l@example.com' 'val@exa mple.com' $'val@example.com\n' 'val@example.com:x' \
           "$(printf 'a%.0s' {1..250})@example.com"; do
    refused_create "bad email '$(printf '%q' "$bad")'" "$RE_EMAIL" --email "$bad"
done
RE_EMAIL_DUP='e-?mail|address|exist|taken|already|in use|duplicate'
refused_create "email of another user, same case" "$RE_EMAIL_DUP" --email alice@example.com
refused_create "email of another user, other case" "$RE_EMAIL_DUP" --email ALICE@Example.COM
refused_create "email of a user of another organisation, other case" "$RE_EMAIL_DUP" --email Gina@EXAMPLE.com

# --- language ------------------------------------------------------------
RE_LANG='language|en|es|pt'
for bad in fr de english e es_ES; do
    refused_create "unknown language '$bad'" "$RE_LANG" --language "$bad"
done

# --- organisation, department, role --------------------------------------
refused_create "unknown organisation" 'organi[sz]ation|not found|unknown|no such|nosuchorg' --org nosuchorg
refused_create "department of another organisation" 'department|sales' --department sales
refused_create "unknown department" 'department|nosuchdept' --department nosuchdept
refused_create "unknown role" 'role|superuser' --role superuser
refused_create "unknown role among known ones" 'role|superuser' --role org-admin --role superuser
refused_create "role names are exact" 'role|Org-Admin' --role Org-Admin

# --- password ------------------------------------------------------------
RE_PW='password|8|short|characters|least'
ctl_input 'seven77' user create valid1 --org acme --first Val --last Id --email val@example.com \
    --role member --password-stdin
check_refused "password of 7 characters" "$RE_PW"
assert_not_contains "the refused password is not echoed" "$OUT$ERR" seven77
assert_unchanged "password of 7 characters"
ctl_input '' user create valid1 --org acme --first Val --last Id --email val@example.com \
    --role member --password-stdin
check_rejected "empty password" "$RE_PW|empty"
assert_unchanged "empty password"
# Characters, not bytes: 7 two-byte characters are still too short.
ctl_input 'ééééééé' user create pwchars --org acme --first Val --last Id --email pwchars@example.com \
    --role member --password-stdin
check_refused "password of 7 (two-byte) characters" "$RE_PW"
assert_unchanged "password of 7 two-byte characters"

# --- the limits themselves are accepted ----------------------------------
LONG32=$(printf 'a%.0s' {1..32})
ctl_input 'eight888' user create "$LONG32" --org acme --first 'Zoë' --last "O'Neil-Smith Jr." \
    --email first.last+tag@sub.example.co.uk --role member --password-stdin
check_ok "32-character username, 8-character password, apostrophes and UTF-8 in names"
assert_json "it is active" "$("$NEXALIXCTL" user show "$LONG32" --json)" .state active
ctl user create _svc-1 --org acme --first S --last V --email svc@example.com --role member --invite
check_ok "username starting with '_' containing '-' and digits"
ctl user create valid1 --org globex --first Val --last Id --email VAL@example.com \
    --department sales --language pt --role member --invite
check_ok "the values the refusals used are fine once valid"
SNAP=$(store_state)

# --- update --------------------------------------------------------------
refused_update() {
    local desc=$1 re=$2
    shift 2
    ctl user update alice "$@"
    check_refused "$desc" "$re"
    assert_unchanged "$desc"
}
refused_update "update: email of another user (other case)" "$RE_EMAIL_DUP" --email GINA@example.com
refused_update "update: bad email" "$RE_EMAIL" --email 'not an address'
refused_update "update: ':' in the first name" "$RE_PERSON" --first 'a:b'
refused_update "update: a tab in the last name" "$RE_PERSON" --last $'x\ty'
refused_update "update: unknown language" "$RE_LANG" --language fr
refused_update "update: department of another organisation" 'department|sales' --department sales
refused_update "update: unknown department" 'department|nosuchdept' --department nosuchdept
# One bad field spoils the whole update: nothing of it is applied.
refused_update "update: a good first name with a bad email" "$RE_EMAIL" --first Goodname --email bad@
refused_update "update: a good email with a bad language" "$RE_LANG" --email fresh@example.com --language xx

ctl user role add alice superuser
check_refused "role add of an unknown role" 'role|superuser'
assert_unchanged "role add of an unknown role"

# --- straight over D-Bus -------------------------------------------------
# busctl sends exactly the types we ask for, bypassing the CLI's checks.
bus() {
    nx_run busctl --system --timeout=20 call org.nexalix.Identity1 /org/nexalix/Identity1 "$@"
}
bus_refused() {
    local desc=$1
    shift
    bus "$@"
    if [ "$RC" -ne 0 ] && grep -q . <<<"$ERR"; then
        ok "D-Bus: $desc: error \"$(printf '%s' "$ERR" | head -n 1 | head -c 120)\""
    else
        fail "D-Bus: $desc: answered with an error" "$(nx_last)"
    fi
    assert_daemon_alive "D-Bus: $desc"
    assert_unchanged "D-Bus: $desc"
}
ADM=org.nexalix.Identity1.Admin
bus_refused "CreateUser with an empty record" $ADM CreateUser 'a{sv}s' 0 ''
bus_refused "CreateUser with username of the wrong type" $ADM CreateUser 'a{sv}s' 6 \
    username i 5 org s acme first_name s A last_name s B email s x@example.com invite b true ''
bus_refused "CreateUser with roles of the wrong type" $ADM CreateUser 'a{sv}s' 7 \
    username s bustest org s acme first_name s A last_name s B email s x@example.com \
    roles s member invite b true ''
bus_refused "CreateUser without an email" $ADM CreateUser 'a{sv}s' 6 \
    username s bustest org s acme first_name s A last_name s B roles as 1 member invite b true ''
bus_refused "CreateUser invite with a password" $ADM CreateUser 'a{sv}s' 7 \
    username s bustest org s acme first_name s A last_name s B email s x@example.com \
    roles as 1 member invite b true 'a password that must not be here'
HUGE=$(head -c 100000 /dev/zero | tr '\0' a)
bus_refused "CreateUser with a 100 kB username" $ADM CreateUser 'a{sv}s' 7 \
    username s "$HUGE" org s acme first_name s A last_name s B email s x@example.com \
    roles as 1 member invite b true ''
bus_refused "UpdateUser setting the uid" $ADM UpdateUser 'sa{sv}' alice 1 uid u 0
bus_refused "UpdateUser setting the state" $ADM UpdateUser 'sa{sv}' alice 1 state s active
bus_refused "UpdateUser setting the organisation" $ADM UpdateUser 'sa{sv}' alice 1 org s globex
bus_refused "UpdateUser with a wrong type" $ADM UpdateUser 'sa{sv}' alice 1 first_name u 7
bus_refused "GetUser of ''" $ADM GetUser s ''
bus_refused "AddUserRole ''" $ADM AddUserRole ss alice ''
bus_refused "ListUsers with a limit of the wrong type" $ADM ListUsers 'a{sv}' 1 limit s ten
bus_refused "CreateOrganisation with a 100 kB name" $ADM CreateOrganisation s "$HUGE"
bus_refused "an unknown method" $ADM FrobnicateUser s alice
bus_refused "a method with the wrong signature" $ADM GetUser u 5
# The refusal echoes the name; cut at its length limit it must still be
# UTF-8, or libdbus aborts the daemon.
LONG_UTF8=$(printf 'a%.0s' $(seq 1 501); printf '\xc3\xa9%.0s' $(seq 1 20))
bus_refused "GetUser of a name whose echo is cut inside a character" $ADM GetUser s "$LONG_UTF8"
bus_refused "CreateOrganisation of such a name" $ADM CreateOrganisation s "$LONG_UTF8"

assert_json "alice is still a member of acme with her uid" "$("$NEXALIXCTL" user show alice --json)" \
    '.org + " " + (.roles | join(","))' "acme member"
assert_daemon_alive "after all the bad input"
nx_finish
