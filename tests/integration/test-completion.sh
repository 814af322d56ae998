#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# Bash completion of nexalixctl (data/nexalixctl.bash-completion) against the
# real CLI and daemon: commands and subcommands, options, and values from the
# daemon (usernames, organisations, departments, roles) as far as the caller
# may list them.

. "$(dirname "$0")/lib.sh"
nx_setup

make_org acme
make_org globex
make_dept acme support
make_dept acme sales
make_active_user alice acme org-admin 'alice password'
make_user albert acme member
make_user bob acme member
make_user gina globex member

BIN=$NX_TMP/bin
mkdir -p "$BIN"
ln -s "$NEXALIXCTL" "$BIN/nexalixctl"

# complete AS_UID LINE: the candidates bash would offer for LINE (the last
# word is the one being completed; end LINE with a space for a new word).
complete_as() {
    local uid=$1 line=$2
    nx_run setpriv --reuid="$uid" --regid="$uid" --clear-groups env PATH="$BIN:$PATH" \
        DBUS_SYSTEM_BUS_ADDRESS="$DBUS_SYSTEM_BUS_ADDRESS" bash -c '
        . "$1"
        read -r -a COMP_WORDS <<<"$2"
        [[ $2 == *" " ]] && COMP_WORDS+=("")
        COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
        _nexalixctl
        printf "%s\n" "${COMPREPLY[@]}" | sort | xargs' _ \
        "$NEXALIX_SRCDIR/data/nexalixctl.bash-completion" "$line"
}
complete_line() { complete_as 0 "$1"; }

complete_line "nexalixctl "
assert_contains "the first word offers the command groups" "$OUT" "audit dept"
assert_contains "and user, org, status" "$OUT" "status user"
complete_line "nexalixctl us"
assert_eq "a prefix completes to its command" "user" "$OUT"
complete_line "nexalixctl user r"
assert_eq "user r: the user commands starting with r" "reset-2fa reset-password role" "$OUT"
complete_line "nexalixctl user role "
assert_eq "user role: add and remove" "add remove" "$OUT"
complete_line "nexalixctl user show al"
assert_eq "a username from the daemon" "albert alice" "$OUT"
complete_line "nexalixctl user role add alice "
assert_eq "the second argument of user role add is a role" "member org-admin" "$OUT"
complete_line "nexalixctl org show "
assert_eq "organisations" "acme globex" "$OUT"
complete_line "nexalixctl dept delete acme "
assert_eq "departments of the organisation given before" "sales support" "$OUT"
complete_line "nexalixctl user create carol --org "
assert_eq "an option's value: organisations" "acme globex" "$OUT"
complete_line "nexalixctl user create carol --org acme --department s"
assert_eq "--department: departments of --org" "sales support" "$OUT"
complete_line "nexalixctl user list --state "
assert_eq "--state: the states" "active deactivated invited" "$OUT"
complete_line "nexalixctl user create carol --lang"
assert_eq "options by prefix" "--language" "$OUT"
complete_line "nexalixctl user list --json "
assert_eq "after an option without a value, nothing positional" "" "$OUT"
complete_line "nexalixctl link add bob "
assert_contains "link kinds" "$OUT" "incident.assigned"

ALICE=$(user_field alice uid)
complete_as "$ALICE" "nexalixctl user show "
assert_eq "an org-admin is offered the users of their organisation only" "albert alice bob" "$OUT"
complete_as "$NX_UNKNOWN_UID" "nexalixctl user show "
assert_eq "a caller who may list nobody is offered nobody" "" "$OUT"

nx_finish
