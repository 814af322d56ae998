#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# Two-factor authentication over a real sshd (keyboard-interactive), with the
# host set up by ssh-lib.sh (a private mount namespace; the host's files are
# only read) and the daemon's clock pinned and moved with libfaketime as in
# test-2fa.sh; codes come from oathtool for the daemon's instant. Asserted on
# what the ssh client shows, its exit status, and nexalixctl's state:
#   1. `2fa enable` as the user: then an SSH login asks "Password:", then
#      "Verification code:", and the right code runs the command;
#   2. the same code in a second login, a wrong code, and the code that
#      confirmed the enrolment are refused ("Wrong verification code." shown,
#      counted as failed logins); a code one step early is accepted once;
#   3. a recovery code from `2fa enable` works once, then is refused;
#   4. two logins racing with one code: exactly one runs its command;
#   5. Require 2FA: a member without 2FA is refused with her authorised key
#      (the client shows why); her password login enrols her inside the SSH
#      conversation (QR code, key, URI, "Code shown by the app:", a wrong code
#      said with the next prompt, the code computed from the key the client
#      showed, recovery codes before "Press Enter to continue:"), then runs the
#      command; then the new secret, a recovery code from that conversation
#      and the key work;
#   6. `user reset-2fa` by another organisation's administrator reads exactly
#      like a missing user and changes nothing; by her own organisation's, it
#      turns 2FA off and her key is refused again until she enrols.
# sshd shows PAM messages only with the next prompt, or, when the attempt
# fails, in a last keyboard-interactive request without prompts; a message
# after the last prompt of a successful login reaches only a session with a
# terminal (docs/login.md, "sshd"). Root only; skips otherwise.

# shellcheck source=../integration/lib.sh
. "$(dirname "$0")/../integration/lib.sh"
# shellcheck source=ssh-lib.sh
. "$(dirname "$0")/ssh-lib.sh"

FAKETIME_LIB=
for f in /usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1 /usr/lib/*/faketime/libfaketime.so.1; do
    [ -e "$f" ] && FAKETIME_LIB=$f && break
done
[ -n "$FAKETIME_LIB" ] || nx_skip "libfaketime.so.1 not found (Debian package faketime)"
command -v oathtool >/dev/null 2>&1 || nx_skip "oathtool is not installed (Debian package oathtool)"

ssh_enter_namespace "$@"

# ---------------------------------------------------------------------------
# Inside the namespace.

T0=$SECONDS

A_PW='alice password 1'
C_PW='carol password 1'

# The daemon's clock is set to NOW_EPOCH (10 s into a 30 s step) and moved
# by the test: with '@' libfaketime restarts the clock there whenever the
# file changes and lets it run; the test never spends 20 s between setting
# it and using a code of that step.
CLOCK=
NOW_EPOCH=$(( ($(date +%s) / 30) * 30 + 10 ))
set_clock() { printf '@%s\n' "$(date -u -d "@$1" '+%Y-%m-%d %H:%M:%S')" >"$CLOCK"; NOW_EPOCH=$1; }
# clock_text EPOCH: that instant as oathtool's --now takes it.
clock_text() { date -u -d "@$1" '+%Y-%m-%d %H:%M:%S UTC'; }
code_at() { oathtool --totp -b --now "$(clock_text "$2")" "$1"; }

# wrong_code KEY: six digits that are no code of KEY in the window around
# NOW_EPOCH.
wrong_code() {
    local c=100000 ok1 ok2 ok3
    ok1=$(code_at "$1" $((NOW_EPOCH - 30)))
    ok2=$(code_at "$1" "$NOW_EPOCH")
    ok3=$(code_at "$1" $((NOW_EPOCH + 30)))
    while [ "$c" = "$ok1" ] || [ "$c" = "$ok2" ] || [ "$c" = "$ok3" ]; do
        c=$((c + 1))
    done
    printf '%s\n' "$c"
}

# enable_2fa UID: `2fa enable` as that uid, answering with the right code;
# sets KEY, ENABLE_OUT and CODES (the recovery codes, one per line).
enable_2fa() {
    local uid=$1 line
    KEY='' ENABLE_OUT=''
    coproc ENABLE { exec setpriv --reuid="$uid" --regid="$uid" --clear-groups "$NEXALIXCTL" 2fa enable 2>&1; }
    # Our own copies: bash drops the coproc's variables when it exits.
    exec {E_OUT}<&"${ENABLE[0]}" {E_IN}>&"${ENABLE[1]}"
    while read -r -t 10 -u "$E_OUT" line; do
        ENABLE_OUT+="$line"$'\n'
        if [[ $line == key:* ]]; then
            KEY=${line#key: }
            break
        fi
    done
    if [ -z "$KEY" ]; then
        fail "2fa enable printed a key" "$ENABLE_OUT"
        exec {E_OUT}<&- {E_IN}>&-
        return 1
    fi
    code_at "$KEY" "$NOW_EPOCH" >&"$E_IN"
    while read -r -t 10 -u "$E_OUT" line; do
        ENABLE_OUT+="$line"$'\n'
    done
    exec {E_OUT}<&- {E_IN}>&-
    CODES=$(sed -n '/^recovery codes:/,$p' <<<"$ENABLE_OUT" |
        sed -n 's/^ *\([0-9a-z]\{4\}-[0-9a-z]\{4\}-[0-9a-z]\{4\}\)$/\1/p')
}

# ssh_code USER PASSWORD CODE CMD…: a keyboard-interactive login answering
# "Password:" and "Verification code:".
ssh_code() {
    local user=$1 password=$2 code=$3
    shift 3
    ssh_kbdint "$user" "assword:" "$password" "Verification code:" "$code" -- "$@"
}

# code_ok DESCRIPTION USER PASSWORD CODE: the login runs `id -un`.
code_ok() {
    local desc=$1 user=$2
    ssh_code "$user" "$3" "$4" id -un
    if [ "$RC" -eq 0 ] && grep -qx "$user" <<<"$OUT"; then
        ok "$desc"
    else
        fail "$desc" "expected exit 0 and '$user' from id -un" "$(nx_last)" \
            "sshd log: $(tail -n 8 "$NX_TMP/sshd.log")" "nexalixd log: $(log_since | tail -n 5)"
    fi
}

# code_refused DESCRIPTION USER PASSWORD CODE: ssh exits 255 without running
# the command, after the code was asked; the daemon refused the code (not
# the password), and the client was told so.
code_refused() {
    local desc=$1 user=$2
    log_mark
    ssh_code "$user" "$3" "$4" echo NX-COMMAND-RAN
    if [ "$RC" -ne 255 ] || grep -q NX-COMMAND-RAN <<<"$OUT"; then
        fail "$desc" "expected ssh to exit 255 without running the command" "$(nx_last)"
    elif [[ "$OUT" != *"Verification code:"* ]]; then
        fail "$desc: after the code was asked" "$(nx_last)"
    elif ! grep -q "Wrong verification code for $user via sshd" <<<"$(log_since)"; then
        fail "$desc: the daemon refused the code" "nexalixd log: $(log_since | tail -n 5)"
    elif [[ "$OUT" != *"Wrong verification code."* ]]; then
        fail "$desc: the client sees \"Wrong verification code.\"" "$(nx_last)"
    else
        ok "$desc (exit 255, client saw: \"Wrong verification code.\")"
    fi
}

# key_refused_for_enrolment DESCRIPTION USER: the user's key opens nothing
# (the daemon refuses the account stage), and the client is told to log in
# once with the password.
key_refused_for_enrolment() {
    log_mark
    ssh_key "$2" echo NX-COMMAND-RAN
    if [ "$RC" -eq 255 ] && [[ "$OUT" != *NX-COMMAND-RAN* ]] &&
        grep -q "Refused $2 via sshd .*two-factor authentication required, not set up" <<<"$(log_since)"; then
        ok "$1"
    else
        fail "$1" "$(nx_last)" "nexalixd log: $(log_since | tail -n 5)"
    fi
    assert_contains "$1: the client sees why" "$ERR" "log in once with your password to set it up"
}

# ===========================================================================
# Set-up

ssh_setup
CLOCK=$NX_TMP/clock
set_clock "$NOW_EPOCH"
NX_DAEMON_PREFIX=(env LD_PRELOAD="$FAKETIME_LIB" FAKETIME_TIMESTAMP_FILE="$CLOCK" FAKETIME_NO_CACHE=1
    DONT_FAKE_MONOTONIC=1)
nx_daemon_start

make_org acme
make_org globex
make_active_user alice acme member "$A_PW"
make_active_user carol acme member "$C_PW"
make_active_user adam acme org-admin 'adam password 1'
make_active_user gus globex org-admin 'gus password 1'
for u in alice carol; do make_home "$u"; done
add_key carol
AU=$(user_field alice uid)
GU=$(user_field gus uid)
ADU=$(user_field adam uid)

start_sshd
nx_log "set-up done in $((SECONDS - T0)) s"

# ===========================================================================
# 1. Enrolment with the CLI, then a login with a code

enable_2fa "$AU"
assert_match "2fa enable as alice: a base32 key of 160 bits" "$KEY" '^[A-Z2-7]{32}$'
assert_contains "2fa enable: on once confirmed" "$ENABLE_OUT" "Two-factor authentication is on"
assert_eq "2fa enable: 10 recovery codes under 'recovery codes:'" 10 "$(grep -c . <<<"$CODES")"
assert_json "user show alice: totp_enabled" "$("$NEXALIXCTL" user show alice --json)" .totp_enabled true

code_refused "the code that confirmed the enrolment is refused over SSH" alice "$A_PW" \
    "$(code_at "$KEY" "$NOW_EPOCH")"

set_clock $((NOW_EPOCH + 30))
CODE=$(code_at "$KEY" "$NOW_EPOCH")
log_mark
ssh_code alice "$A_PW" "$CODE" id -un
if [ "$RC" -eq 0 ] && grep -qx alice <<<"$OUT"; then
    ok "alice logs in over SSH with her password and a code"
else
    fail "alice logs in over SSH with her password and a code" "$(nx_last)" \
        "sshd log: $(tail -n 8 "$NX_TMP/sshd.log")"
fi
if [[ "$OUT" == *"Password:"*"Verification code:"* ]]; then
    ok "the client was asked \"Password:\", then \"Verification code:\""
else
    fail "the client was asked \"Password:\", then \"Verification code:\"" "$(nx_last)"
fi
assert_match "the daemon accepted a verification code via sshd" "$(log_since)" \
    'Accepted a verification code for alice via sshd'
assert_json "a complete login clears the failed-login count" \
    "$("$NEXALIXCTL" user show alice --json)" .failed_logins 0

# ===========================================================================
# 2. Replay, a wrong code, clock drift

code_refused "the same code in a second login is refused" alice "$A_PW" "$CODE"
code_refused "a wrong code is refused" alice "$A_PW" "$(wrong_code "$KEY")"
assert_json "the two refused codes count as failed logins" \
    "$("$NEXALIXCTL" user show alice --json)" .failed_logins 2

# The phone's clock one step behind the daemon's.
set_clock $((NOW_EPOCH + 60))
code_ok "a code from one step earlier is accepted" alice "$A_PW" "$(code_at "$KEY" $((NOW_EPOCH - 30)))"
code_refused "...once" alice "$A_PW" "$(code_at "$KEY" $((NOW_EPOCH - 30)))"
code_ok "then the current step's code is accepted" alice "$A_PW" "$(code_at "$KEY" "$NOW_EPOCH")"

# ===========================================================================
# 3. A recovery code, once (on a terminal: sshd shows the message that comes
# after the last prompt only to a session with one)

R1=$(sed -n 1p <<<"$CODES")
log_mark
ssh_tty alice "assword:" "$A_PW" "Verification code:" "$R1" -- echo NX-COMMAND-RAN
if [ "$RC" -eq 0 ] && [[ "$OUT" == *NX-COMMAND-RAN* ]]; then
    ok "a recovery code from 2fa enable opens an SSH session"
else
    fail "a recovery code from 2fa enable opens an SSH session" "$(nx_last)"
fi
assert_match "the daemon accepted it as a recovery code" "$(log_since)" 'Accepted a recovery code for alice via sshd'
assert_contains "the client is told to make new recovery codes" "$OUT" \
    "You logged in with a recovery code; it will not work again. Make a new set with: nexalixctl 2fa recovery-codes"
ctl_as "$AU" "$AU" 2fa status --json
assert_json "2fa status: 9 recovery codes left" "$OUT" .recovery_codes_left 9
code_refused "the same recovery code is refused the second time" alice "$A_PW" "$R1"

# ===========================================================================
# 4. Two logins racing with one code

set_clock $((NOW_EPOCH + 30))
RACE_CODE=$(code_at "$KEY" "$NOW_EPOCH")
RACERS=()
for i in 1 2; do
    (
        ssh_kbdint alice -gate "Verification code:" "$NX_TMP/race.$i.ready" "$NX_TMP/race.go" \
            "assword:" "$A_PW" "Verification code:" "$RACE_CODE" -- echo "NX-RACE-RAN-$i"
        printf '%s\n' "$RC" >"$NX_TMP/race.$i.rc"
        printf '%s\n' "$OUT" >"$NX_TMP/race.$i.out"
    ) &
    RACERS+=($!)
    NX_BG_PIDS+=($!)
done
# Both wait at "Verification code:", then answer at once.
deadline=$((SECONDS + SSH_TIMEOUT))
while [ ! -e "$NX_TMP/race.1.ready" ] || [ ! -e "$NX_TMP/race.2.ready" ]; do
    [ "$SECONDS" -ge "$deadline" ] && break
    sleep 0.02
done
if [ -e "$NX_TMP/race.1.ready" ] && [ -e "$NX_TMP/race.2.ready" ]; then
    ok "both racers were asked for the code before either answered"
else
    fail "both racers were asked for the code before either answered" \
        "racer 1 asked: $([ -e "$NX_TMP/race.1.ready" ] && echo yes || echo no)," \
        "racer 2 asked: $([ -e "$NX_TMP/race.2.ready" ] && echo yes || echo no)"
fi
touch "$NX_TMP/race.go"
wait "${RACERS[@]}"
RAN=$(cat "$NX_TMP"/race.*.out 2>/dev/null | grep -c '^NX-RACE-RAN-')
RCS=$(cat "$NX_TMP"/race.1.rc "$NX_TMP"/race.2.rc 2>/dev/null | sort | tr '\n' ' ')
if [ "$RAN" = 1 ] && [ "$RCS" = "0 255 " ]; then
    ok "two SSH logins racing with one code: exactly one runs its command (exits: $RCS)"
else
    fail "two SSH logins racing with one code: exactly one runs its command" \
        "commands run: $RAN, exits: $RCS" "racer 1: $(cat "$NX_TMP/race.1.out")" \
        "racer 2: $(cat "$NX_TMP/race.2.out")"
fi
assert_contains "the racer that lost sees \"Wrong verification code.\"" \
    "$(grep -L '^NX-RACE-RAN-' "$NX_TMP"/race.*.out 2>/dev/null | xargs -r cat)" "Wrong verification code."

# ===========================================================================
# 5. Require 2FA: the key is refused, the password login enrols

ssh_key carol id -un
assert_eq "carol's key opens a session while 2FA is not required" "0 carol" "$RC $OUT"
ctl org require-2fa acme on
check_ok "org require-2fa acme on"
assert_json "org show: require_2fa" "$("$NEXALIXCTL" org show acme --json)" .require_2fa true
key_refused_for_enrolment "Require 2FA: carol (no 2FA) is refused with her key" carol

set_clock $((NOW_EPOCH + 30))
log_mark
ssh_kbdint carol -key-code-at "$(clock_text "$NOW_EPOCH")" \
    "assword:" "$C_PW" "Code shown by the app:" 999999 "Code shown by the app:" @key-code \
    "Press Enter to continue:" "" -- echo NX-COMMAND-RAN
if [ "$RC" -eq 0 ] && [[ "$OUT" == *NX-COMMAND-RAN* ]]; then
    ok "carol's password login enrols her over SSH and runs the command"
else
    fail "carol's password login enrols her over SSH and runs the command" "$(nx_last)" \
        "nexalixd log: $(log_since | tail -n 8)"
fi
CKEY=$(sed -n 's/^Key: \([A-Z2-7]\{32\}\)$/\1/p' <<<"$OUT" | tail -n 1)
assert_match "enrolment: the client shows a line \"Key: <base32>\"" "$CKEY" '^[A-Z2-7]{32}$'
assert_eq "enrolment: the code typed is the one an app computes from that key" \
    "$(code_at "$CKEY" "$NOW_EPOCH")" \
    "$(sed -n 's/.*Code shown by the app: \([0-9]\{6\}\)$/\1/p' <<<"$OUT" | tail -n 1)"
assert_contains "enrolment: the client is told why" "$OUT" "Your organisation requires two-factor authentication"
assert_contains "enrolment: the client shows the QR code in half blocks" "$OUT" "▀"
assert_match "enrolment: the client shows the otpauth URI on a line of its own" "$OUT" \
    "^otpauth://totp/Nexalix:carol\\?secret=$CKEY&"
# The ssh client prints a keyboard-interactive prompt through its sanitiser,
# which would show colour escape sequences as text: the daemon draws the QR
# code without any.
assert_not_contains "enrolment: no escape sequence reaches the client as text" "$OUT" '\033['
if [[ "$OUT" == *"Code shown by the app:"*"Wrong verification code."*"Code shown by the app:"* ]]; then
    ok "enrolment: a wrong code is said together with the next prompt"
else
    fail "enrolment: a wrong code is said together with the next prompt" "$(nx_last)"
fi
assert_contains "enrolment: the client sees 2FA turned on" "$OUT" "Two-factor authentication is on"
ENROL_CODES=$(sed -n '/Your recovery codes/,/Press Enter to continue:/p' <<<"$OUT" |
    grep -oE '^ *[0-9a-z]{4}-[0-9a-z]{4}-[0-9a-z]{4} *$' | tr -d ' ')
assert_eq "enrolment: 10 recovery codes shown before \"Press Enter to continue:\"" 10 \
    "$(grep -c . <<<"$ENROL_CODES")"
if [[ "$OUT" == *"Press Enter to continue:"*NX-COMMAND-RAN* ]]; then
    ok "enrolment: the command ran after \"Press Enter to continue:\""
else
    fail "enrolment: the command ran after \"Press Enter to continue:\"" "$(nx_last)"
fi
assert_json "enrolment: carol has 2FA" "$("$NEXALIXCTL" user show carol --json)" .totp_enabled true
assert_match "enrolment: the daemon logs it" "$(log_since)" 'Two-factor authentication of carol is on'

set_clock $((NOW_EPOCH + 30))
code_ok "after enrolment: a login with the new secret" carol "$C_PW" "$(code_at "$CKEY" "$NOW_EPOCH")"
code_ok "after enrolment: a recovery code shown in the SSH conversation" carol "$C_PW" \
    "$(sed -n 1p <<<"$ENROL_CODES")"
ssh_key carol id -un
assert_eq "after enrolment: carol's key opens a session" "0 carol" "$RC $OUT"

# ===========================================================================
# 6. reset-2fa: another organisation's administrator sees no such user

ctl_as "$GU" "$GU" user reset-2fa carol
check_refused "reset-2fa carol by globex's administrator" "no user 'carol'"
OTHER_ERR=$ERR
ctl_as "$GU" "$GU" user reset-2fa nosuchuser
check_refused "reset-2fa of a missing user" "no user 'nosuchuser'"
assert_eq "...reads exactly like a missing user" "${ERR//nosuchuser/carol}" "$OTHER_ERR"
assert_json "...and carol keeps 2FA" "$("$NEXALIXCTL" user show carol --json)" .totp_enabled true
ssh_key carol id -un
assert_eq "...and her key still opens a session" "0 carol" "$RC $OUT"
ctl_as "$ADU" "$ADU" user reset-2fa carol
check_ok "reset-2fa carol by acme's administrator"
assert_json "reset: carol has no 2FA" "$("$NEXALIXCTL" user show carol --json)" .totp_enabled false
key_refused_for_enrolment "reset: carol's key is refused until she enrols again" carol

assert_daemon_alive "after every login"
nx_log "test-ssh-2fa ran for $((SECONDS - T0)) s"
nx_finish
