#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# Two-factor authentication through the real libpam and pam_nexalix.so
# (pam_wrapper) and the real CLI, with codes from oathtool and the daemon's
# clock pinned and moved with libfaketime: enrolment with `2fa enable` (QR,
# key, URI, confirmation, recovery codes), TOTP logins, replay refused, a
# code one step early accepted once, recovery codes accepted once, two
# logins racing with one code (exactly one wins), failed codes sharing the
# back-off, Require 2FA enrolment inside the login conversation and the
# SSH-key (account stage) refusal before it, the hint and its switch,
# `2fa disable` and `2fa recovery-codes` behind the password, `user
# reset-2fa` confined to the administrator's organisation, and the secret
# never leaving the daemon after enrolment.

. "$(dirname "$0")/pam-lib.sh"
pam_init jq oathtool mdb_dump

# The daemon's clock stands still at NOW (10 s into a 30 s step) until the
# test moves it; oathtool computes codes for the same instant.
NOW_EPOCH=$(( ($(date +%s) / 30) * 30 + 10 ))
set_clock() { printf '@%s\n' "$(date -u -d "@$1" '+%Y-%m-%d %H:%M:%S')" >"$CLOCK"; NOW_EPOCH=$1; }
# With '@' libfaketime starts the clock there and lets it run; the test
# never spends 20 s between setting it and using a code.
set_clock "$NOW_EPOCH"
code_at() { oathtool --totp -b --now "$(date -u -d "@$2" '+%Y-%m-%d %H:%M:%S UTC')" "$1"; }

nx_bus_start main
nx_daemon_start

make_org acme
make_org globex
make_active_user alice acme member 'alice password 1'
make_active_user bob acme member 'bob password 1' --language es
make_active_user carol acme member 'carol password 1'
make_active_user adam acme org-admin 'adam password 1'
make_active_user gus globex org-admin 'gus password 1'
make_active_user gina globex member 'gina password 1'
AU=$(user_field alice uid)
CU=$(user_field carol uid)

MOD="$NEXALIX_PAM_MODULE runtime=$NX_TMP/run"
pam_service nx "auth required $MOD" "account required $MOD"

# enable_2fa UID: `2fa enable` as that uid, answering with the right code;
# sets KEY, ENABLE_OUT and CODES (the recovery codes, one per line).
enable_2fa() {
    local uid=$1 line
    KEY= ENABLE_OUT=
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
    CODES=$(sed -n '/^recovery codes:/,$p' <<<"$ENABLE_OUT" | sed -n 's/^ *\([0-9a-z]\{4\}-[0-9a-z]\{4\}-[0-9a-z]\{4\}\)$/\1/p')
}

# --- the hint, before anyone has 2FA ------------------------------------------
pam --answer 'alice password 1' nx alice auth
result auth PAM_SUCCESS "without 2FA: the password is enough"
assert_contains "without 2FA: a hint to turn it on" "$OUT" "INFO Tip: protect your account with two-factor authentication: nexalixctl 2fa enable"
pam --answer 'bob password 1' nx bob auth
assert_contains "the hint in the user's language" "$OUT" "Consejo: proteja su cuenta"
ctl org 2fa-hint acme off
check_ok "org 2fa-hint acme off"
assert_json "org show tells the hint is off" "$("$NEXALIXCTL" org show acme --json)" .hint_2fa false
pam --answer 'alice password 1' nx alice auth
assert_not_contains "hint off: no hint" "$OUT" "Tip:"
ctl org 2fa-hint acme on

# --- enrolment with the CLI ------------------------------------------------------
ctl_as "$AU" "$AU" 2fa status --json
assert_json "status before: off" "$OUT" .enabled false
enable_2fa "$AU"
assert_match "2fa enable: a base32 key of 160 bits" "$KEY" '^[A-Z2-7]{32}$'
assert_contains "2fa enable: an otpauth URI" "$ENABLE_OUT" "uri: otpauth://totp/Nexalix:alice?secret=$KEY&issuer=Nexalix"
assert_contains "2fa enable: a QR code in half blocks" "$ENABLE_OUT" "▀"
assert_contains "2fa enable: on once confirmed" "$ENABLE_OUT" "Two-factor authentication is on"
assert_eq "2fa enable: 10 recovery codes under a 'recovery codes' line" 10 "$(grep -c . <<<"$CODES")"
ctl_as "$AU" "$AU" 2fa status --json
assert_json "status: on" "$OUT" .enabled true
assert_json "status: 10 recovery codes" "$OUT" .recovery_codes_left 10
assert_json "user show: totp_enabled" "$("$NEXALIXCTL" user show alice --json)" .totp_enabled true
ctl audit --user alice --limit 3
assert_contains "enrolment audited" "$OUT" "user.2fa.enable"
# The secret is in the store only: not in the NSS snapshot, not in any reply.
if grep -rqa "$KEY" "$NX_TMP/run"; then
    fail "the secret is not in the NSS snapshot" "found in $NX_TMP/run"
else
    ok "the secret is not in the NSS snapshot"
fi
ctl_as "$AU" "$AU" account show --json
assert_not_contains "the secret is not in account show" "$OUT" "$KEY"
assert_not_contains "the secret is not in the daemon's log" "$(cat "$NX_DAEMON_LOG")" "$KEY"
ctl_as "$AU" "$AU" 2fa enable </dev/null
check_refused "2fa enable while on" "already on"

# A wrong first code leaves it off.
CU_OUT=$(printf '000000\n' | setpriv --reuid="$CU" --regid="$CU" --clear-groups "$NEXALIXCTL" 2fa enable 2>&1)
assert_contains "2fa enable: a wrong code is refused" "$CU_OUT" "wrong code"
assert_json "2fa enable: ...and 2FA stays off" "$("$NEXALIXCTL" user show carol --json)" .totp_enabled false

# --- logins with a code -----------------------------------------------------
# The code that confirmed the enrolment is used up.
pam --answer 'alice password 1' --answer "$(code_at "$KEY" "$NOW_EPOCH")" nx alice auth
result auth PAM_AUTH_ERR "the confirming code cannot be used again"
assert_contains "the code prompt" "$OUT" "PROMPT Verification code: "
assert_contains "a wrong code is said" "$OUT" "ERROR Wrong verification code."
ctl user unlock alice

set_clock $((NOW_EPOCH + 30))
pam --answer 'alice password 1' --answer "$(code_at "$KEY" "$NOW_EPOCH")" nx alice auth
result auth PAM_SUCCESS "TOTP login"
assert_not_contains "no hint for a user with 2FA" "$OUT" "Tip:"
pam --answer 'alice password 1' --answer "$(code_at "$KEY" "$NOW_EPOCH")" nx alice auth
result auth PAM_AUTH_ERR "the same code replayed is refused"
pam --answer 'alice password 1' --answer 123456 nx alice auth
result auth PAM_AUTH_ERR "a wrong code is refused"
pam --answer 'alice password 2' nx alice auth
result auth PAM_AUTH_ERR "a wrong password: no code is asked"
assert_not_contains "...no code prompt" "$OUT" "Verification code"
ctl user unlock alice

# Drift: a code one step early (the phone's clock behind) is accepted once;
# then the current step still is, and nothing older.
set_clock $((NOW_EPOCH + 60))
pam --answer 'alice password 1' --answer "$(code_at "$KEY" $((NOW_EPOCH - 30)))" nx alice auth
result auth PAM_SUCCESS "a code from one step earlier is accepted"
pam --answer 'alice password 1' --answer "$(code_at "$KEY" $((NOW_EPOCH - 30)))" nx alice auth
result auth PAM_AUTH_ERR "...once"
pam --answer 'alice password 1' --answer "$(code_at "$KEY" $((NOW_EPOCH - 60)))" nx alice auth
result auth PAM_AUTH_ERR "a code two steps old is refused"
pam --answer 'alice password 1' --answer "$(code_at "$KEY" "$NOW_EPOCH")" nx alice auth
result auth PAM_SUCCESS "the current step after the early one"
ctl user unlock alice

# Recovery codes: each once, with or without the dashes, any case.
R1=$(sed -n 1p <<<"$CODES")
R2=$(sed -n 2p <<<"$CODES")
pam --answer 'alice password 1' --answer "$R1" nx alice auth
result auth PAM_SUCCESS "a recovery code is accepted"
assert_contains "...and the user is told to make new ones" "$OUT" "nexalixctl 2fa recovery-codes"
pam --answer 'alice password 1' --answer "$R1" nx alice auth
result auth PAM_AUTH_ERR "...once"
pam --answer 'alice password 1' --answer "$(tr -d - <<<"$R2" | tr a-z A-Z)" nx alice auth
result auth PAM_SUCCESS "a recovery code without dashes, in capitals"
ctl_as "$AU" "$AU" 2fa status --json
assert_json "status: 8 recovery codes left" "$OUT" .recovery_codes_left 8
ctl audit --user alice --limit 5
assert_contains "a used recovery code is audited" "$OUT" "user.2fa.recovery-code"
ctl user unlock alice

# Two logins racing with one code: exactly one wins.
set_clock $((NOW_EPOCH + 30))
RACE_CODE=$(code_at "$KEY" "$NOW_EPOCH")
RACERS=()
for i in 1 2 3 4; do
    timeout 30 env LD_PRELOAD="$PAM_WRAPPER_LIB" PAM_WRAPPER=1 PAM_WRAPPER_SERVICE_DIR="$PAMD" \
        "$NX_PAM_DRIVER" --answer 'alice password 1' --answer "$RACE_CODE" nx alice auth \
        >"$NX_TMP/race.$i" 2>/dev/null &
    RACERS+=($!)
done
wait "${RACERS[@]}"
assert_eq "four logins racing with one code: exactly one wins" 1 \
    "$(cat "$NX_TMP"/race.* | grep -c 'RESULT auth PAM_SUCCESS')"
ctl user unlock alice

# Wrong codes share the back-off with passwords.
for i in 1 2 3 4 5; do
    pam --answer 'alice password 1' --answer "00000$i" nx alice auth
done
assert_contains "five wrong codes back the user off" "$OUT" "Too many failed attempts"
pam --answer 'alice password 1' --answer "$(code_at "$KEY" "$NOW_EPOCH")" nx alice auth
result auth PAM_MAXTRIES "backed off: even the right password and code are refused"
ctl user unlock alice

# --- Require 2FA: enrolment inside the login ---------------------------------
ctl org require-2fa acme on
check_ok "org require-2fa acme on"
pam nx carol account
result account PAM_PERM_DENIED "Require 2FA: a login without the password (an SSH key) is refused"
assert_contains "...telling to log in with the password once" "$OUT" "log in once with your password to set it up"

# The conversation: the key arrives in a message, the code is typed.
coproc LOGIN { exec env LD_PRELOAD="$PAM_WRAPPER_LIB" PAM_WRAPPER=1 PAM_WRAPPER_SERVICE_DIR="$PAMD" \
    "$NX_PAM_DRIVER" --interactive --answer 'carol password 1' nx carol auth account 2>/dev/null; }
exec {L_OUT}<&"${LOGIN[0]}" {L_IN}>&"${LOGIN[1]}"
CONV= CKEY=
while read -r -t 10 -u "$L_OUT" line; do
    CONV+="$line"$'\n'
    [[ $line == "INFO Key: "* ]] && CKEY=${line#INFO Key: }
    [[ $line == "PROMPT Code shown by the app: " ]] && break
done
assert_contains "enrolment: says why" "$CONV" "Your organisation requires two-factor authentication"
assert_contains "enrolment: a QR code" "$CONV" "▀"
assert_contains "enrolment: the otpauth URI" "$CONV" "otpauth://totp/Nexalix:carol?secret=$CKEY"
assert_match "enrolment: the key" "$CKEY" '^[A-Z2-7]{32}$'
echo 999999 >&"$L_IN"
read -r -t 10 -u "$L_OUT" line
assert_eq "enrolment: a wrong code is said" "ERROR Wrong verification code." "$line"
while read -r -t 10 -u "$L_OUT" line; do
    [[ $line == "PROMPT Code shown by the app: " ]] && break
done
code_at "$CKEY" "$NOW_EPOCH" >&"$L_IN"
CONV=
while read -r -t 10 -u "$L_OUT" line; do
    CONV+="$line"$'\n'
    [[ $line == "PROMPT Press Enter to continue: " ]] && break
done
assert_contains "enrolment: on" "$CONV" "Two-factor authentication is on"
assert_eq "enrolment: 10 recovery codes shown" 10 "$(grep -cE '^ *[0-9a-z]{4}-[0-9a-z]{4}-[0-9a-z]{4}$' <<<"$CONV")"
CCODE=$(grep -m1 -oE '[0-9a-z]{4}-[0-9a-z]{4}-[0-9a-z]{4}' <<<"$CONV")
echo >&"$L_IN"
CONV=
while read -r -t 10 -u "$L_OUT" line; do CONV+="$line"$'\n'; done
assert_contains "enrolment: then the login succeeds" "$CONV" "RESULT auth PAM_SUCCESS"
assert_contains "enrolment: and the account stage passes" "$CONV" "RESULT account PAM_SUCCESS"
assert_json "enrolment: carol has 2FA" "$("$NEXALIXCTL" user show carol --json)" .totp_enabled true
set_clock $((NOW_EPOCH + 30))
pam --answer 'carol password 1' --answer "$(code_at "$CKEY" "$NOW_EPOCH")" nx carol auth account
result auth PAM_SUCCESS "after enrolment: a login with the new secret"
result account PAM_SUCCESS "after enrolment: the account stage (an SSH key) passes"
pam --answer 'carol password 1' --answer "$CCODE" nx carol auth
result auth PAM_SUCCESS "after enrolment: a recovery code shown in the login works"

# Enrolment that never gets a right code: no session, 2FA stays off.
pam --answer 'bob password 1' --answer 1 --answer 2 --answer 3 nx bob auth
result auth PAM_AUTH_ERR "enrolment: three wrong codes and the login fails"
assert_contains "enrolment: in the user's language" "$OUT" "Su organización exige la autenticación en dos pasos"
assert_json "enrolment: bob still has no 2FA" "$("$NEXALIXCTL" user show bob --json)" .totp_enabled false
ctl org require-2fa acme off

# --- turning it off, new recovery codes -----------------------------------------
nx_run_input 'wrong password' setpriv --reuid="$AU" --regid="$AU" --clear-groups "$NEXALIXCTL" 2fa disable --password-stdin
check_refused "2fa disable with a wrong password" "current password is wrong"
assert_json "...2FA stays on" "$("$NEXALIXCTL" user show alice --json)" .totp_enabled true
assert_json "...and the failure counts" "$("$NEXALIXCTL" user show alice --json)" .failed_logins 1
nx_run_input 'alice password 1' setpriv --reuid="$AU" --regid="$AU" --clear-groups "$NEXALIXCTL" 2fa recovery-codes --password-stdin
check_ok "2fa recovery-codes"
NEW1=$(sed -n '/^recovery codes:/,$p' <<<"$OUT" | grep -m1 -oE '[0-9a-z]{4}-[0-9a-z]{4}-[0-9a-z]{4}')
R3=$(sed -n 3p <<<"$CODES")
pam --answer 'alice password 1' --answer "$R3" nx alice auth
result auth PAM_AUTH_ERR "new recovery codes: an old one no longer works"
pam --answer 'alice password 1' --answer "$NEW1" nx alice auth
result auth PAM_SUCCESS "new recovery codes: a new one does"
nx_run_input 'alice password 1' setpriv --reuid="$AU" --regid="$AU" --clear-groups "$NEXALIXCTL" 2fa disable --password-stdin
check_ok "2fa disable with the password"
pam --answer 'alice password 1' nx alice auth
result auth PAM_SUCCESS "2FA off: the password alone again"
assert_not_contains "2FA off: no code asked" "$OUT" "Verification code"
if mdb_dump -s totp "$NX_TMP/store" | grep -q "$(printf alice | od -An -tx1 | tr -d ' \n')"; then
    fail "2FA off: the secret is gone from the store" "still in the totp table"
else
    ok "2FA off: the secret is gone from the store"
fi

# --- reset by an administrator --------------------------------------------------
ctl user reset-2fa carol
check_ok "root resets carol's 2FA"
assert_json "reset: off" "$("$NEXALIXCTL" user show carol --json)" .totp_enabled false
ctl audit --user carol --limit 3
assert_contains "reset: audited" "$OUT" "user.2fa.reset"
enable_2fa "$CU"
GU=$(user_field gus uid)
ctl_as "$GU" "$GU" user reset-2fa carol
check_refused "reset-2fa by another organisation's admin" "no user 'carol'"
OTHER_ERR=$ERR
ctl_as "$GU" "$GU" user reset-2fa nosuchuser
assert_eq "...reads exactly like a missing user" "$(sed 's/nosuchuser/carol/' <<<"$ERR")" "$OTHER_ERR"
ctl_as "$(user_field adam uid)" "$(user_field adam uid)" user reset-2fa carol
check_ok "reset-2fa by the organisation's admin"
ctl_as "$(user_field gina uid)" "$(user_field gina uid)" user reset-2fa carol
check_refused "reset-2fa by a member" "permission denied"

nx_finish
