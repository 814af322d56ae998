#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# One-time links, notifications and API tokens, end to end through the real
# CLI, the daemon and the mail it writes to its spool directory (the tokens
# are read out of the delivered messages), with the daemon's clock moved by
# libfaketime: invitations (redeem, expiry, a second use, invite-again,
# deactivation voiding them), the administrator's reset (sessions ended),
# "forgot password" (the same answer for any address, rate limits), email
# change and verification, notifications (who gets mail, the signal), and
# API tokens (shown once, stored hashed, accepted by an opted-in PAM
# service only, revoked by deactivation, expiring). Every link issued,
# redeemed, expired or voided is audited — never a token.

. "$(dirname "$0")/pam-lib.sh"
pam_init jq python3 dbus-monitor

nx_bus_start main
nx_daemon_start
SPOOL=$NX_TMP/mail

MOD="$NEXALIX_PAM_MODULE runtime=$NX_TMP/run"
pam_service ssh-like "auth required $MOD" "account required $MOD"
pam_service mail-like "auth required $MOD allow_token" "account required $MOD"

# Mail: the messages delivered to the spool, decoded by Python's email
# package (a real MIME parser): "ADDRESS<TAB>SUBJECT<TAB>BODY" with the
# body's line breaks as \n, oldest first.
mails() {
    python3 - "$SPOOL" <<'EOF'
import email, email.header, email.policy, os, sys
d = sys.argv[1]
for name in sorted(os.listdir(d), key=lambda n: os.stat(os.path.join(d, n)).st_mtime_ns):
    if name.startswith('.'):
        continue
    with open(os.path.join(d, name), 'rb') as f:
        m = email.message_from_binary_file(f, policy=email.policy.default)
    body = m.get_body(preferencelist=('plain',)).get_content()
    print("%s\t%s\t%s" % (m['To'].addresses[0].addr_spec, m['Subject'], body.replace('\n', '\\n')))
EOF
}
mail_count() { mails | grep -c "^$1	" || true; }
# last_token ADDRESS: the token of the newest link mailed to ADDRESS.
last_token() { mails | grep "^$1	" | tail -n 1 | grep -o 'token=[A-Za-z0-9_-]*' | tail -n 1 | cut -d= -f2; }
last_mail() { mails | grep "^$1	" | tail -n 1; }
# wait_mail ADDRESS N: until ADDRESS has N mails (delivery is asynchronous).
wait_mail() {
    local deadline=$((SECONDS + 10))
    while [ "$(mail_count "$1")" -lt "$2" ]; do
        [ "$SECONDS" -ge "$deadline" ] && return 1
        sleep 0.05
    done
}

make_org acme
make_org globex
make_active_user adam acme org-admin 'adam password 1'
make_active_user gus globex org-admin 'gus password 1'
make_active_user mel acme member 'mel password 1'
AU=$(user_field adam uid)
GU=$(user_field gus uid)
MU=$(user_field mel uid)

# Accounts created with a password start with an unverified address: adam
# and mel verify theirs (the resend path, then verify-email).
for who in adam:"$AU" mel:"$MU"; do
    ctl_as "${who#*:}" "${who#*:}" account resend-verification
    check_ok "${who%%:*}: account resend-verification for an unverified address"
    wait_mail "${who%%:*}@example.com" 1 || fail "the verification link is mailed" "no mail"
    ctl verify-email "$(last_token "${who%%:*}@example.com")"
    check_ok "${who%%:*}: verify-email"
done
assert_json "adam's address is verified" "$("$NEXALIXCTL" user show adam --json)" .email_verified true
ctl_as "$AU" "$AU" account resend-verification
check_refused "nothing to resend for a verified address" "verified already"

# --- invitation ---------------------------------------------------------------
make_user ivy acme member --language es
wait_mail ivy@example.com 1 || fail "an invitation is mailed" "no mail for ivy@example.com in $SPOOL"
M=$(last_mail ivy@example.com)
assert_contains "the invitation is in the user's language" "$M" "elija su contraseña"
TOKEN=$(last_token ivy@example.com)
assert_match "the link carries a 256-bit token (43 base64url characters)" "$TOKEN" '^[A-Za-z0-9_-]{43}$'
assert_contains "the link is built from [links] url" "$M" "https://id.test.invalid/redeem?token=$TOKEN"
ctl_input 'short' redeem "$TOKEN" --password-stdin
check_rejected "redeem: a short password is refused" "at least 8"
assert_json "...and the account stays invited" "$("$NEXALIXCTL" user show ivy --json)" .state invited
ctl_input 'ivy password 1' redeem "$TOKEN" --password-stdin
check_ok "redeem the invitation"
U=$("$NEXALIXCTL" user show ivy --json)
assert_json "invitation: active" "$U" .state active
assert_json "invitation: email verified" "$U" .email_verified true
pam --answer 'ivy password 1' ssh-like ivy auth
result auth PAM_SUCCESS "invitation: the new password logs in"
ctl_input 'ivy password 2' redeem "$TOKEN" --password-stdin
check_refused "invitation: a second use is refused" "not valid"

# Expiry (48 h), invite-again, and the audit.
make_user ian acme member
wait_mail ian@example.com 1
T1=$(last_token ian@example.com)
printf '+49h\n' >"$CLOCK"
ctl_input 'ian password 1' redeem "$T1" --password-stdin
check_refused "invitation: refused after 48 h" "expired"
ctl audit --user ian --limit 5
assert_contains "the expiry is audited" "$OUT" "link.expire"
printf '+0\n' >"$CLOCK"
ctl user invite-again ian
check_ok "user invite-again"
wait_mail ian@example.com 2
T2=$(last_token ian@example.com)
assert_ne "invite-again: a new token" "$T1" "$T2"
make_user ines acme member
wait_mail ines@example.com 1
T3=$(last_token ines@example.com)
ctl user invite-again ines
wait_mail ines@example.com 2
ctl_input 'ines password 1' redeem "$T3" --password-stdin
check_refused "invite-again: the old link no longer works" "not valid"
ctl_input 'ian password 1' redeem "$T2" --password-stdin
check_ok "invite-again: the new link works"
ctl user invite-again ian
check_refused "invite-again: only for invited users" "not waiting for an invitation"

# Deactivation voids pending links.
make_user ike acme member
wait_mail ike@example.com 1
T4=$(last_token ike@example.com)
ctl user deactivate ike
ctl_input 'ike password 1' redeem "$T4" --password-stdin
check_refused "deactivation voided the invitation" "not valid"
ctl audit --user ike --limit 5
assert_contains "the voiding is audited" "$OUT" "link.void"

# --- administrator's reset ----------------------------------------------------
ctl user reset-password ivy
check_ok "user reset-password"
wait_mail ivy@example.com 2
RT=$(last_token ivy@example.com)
assert_contains "the reset mail in Spanish" "$(last_mail ivy@example.com)" "contraseña"
IU=$(user_field ivy uid)
setpriv --reuid="$IU" --regid="$IU" --clear-groups sleep 300 &
IVY_SLEEP=$!
NX_BG_PIDS+=("$IVY_SLEEP")
sleep 0.2
ctl_input 'ivy password 3' redeem "$RT" --password-stdin
check_ok "redeem the reset link"
assert_contains "redeem: says the sessions ended" "$OUT" "every session was ended"
if nx_wait_gone "$IVY_SLEEP" 2; then ok "reset: the user's processes ended"; else fail "reset: the user's processes ended" "pid $IVY_SLEEP runs"; fi
pam --answer 'ivy password 3' ssh-like ivy auth
result auth PAM_SUCCESS "reset: the new password works"
pam --answer 'ivy password 1' ssh-like ivy auth
result auth PAM_AUTH_ERR "reset: the old one does not"
ctl_input 'ivy password 4' redeem "$RT" --password-stdin
check_refused "reset: single use" "not valid"
ctl_as "$GU" "$GU" user reset-password ivy
check_refused "reset: another organisation's admin" "no user 'ivy'"
ctl user reset-password ines
check_refused "reset: an invited user gets invite-again instead" "invite-again"
# A password change voids a pending reset link.
before=$(mail_count mel@example.com)
ctl user reset-password mel
check_ok "reset-password for mel"
wait_mail mel@example.com $((before + 1)) || fail "the reset link is mailed" "no mail"
nx_run_input $'mel password 1\nmel password 2' setpriv --reuid="$MU" --regid="$MU" --clear-groups \
    "$NEXALIXCTL" account password --password-stdin
check_ok "mel changes her password"
ctl_input 'mel password 3' redeem "$(last_token mel@example.com)" --password-stdin
check_refused "a password change voids the reset link" "not valid"
make_active_user una acme member 'una password 1'
ctl user reset-password una
check_refused "reset: an unverified address gets no link" "not verified"

# --- forgot password ----------------------------------------------------------
before=$(mail_count adam@example.com)
ctl forgot-password adam@example.com
check_ok "forgot-password for an existing address"
EXISTING_OUT=$OUT EXISTING_RC=$RC
ctl forgot-password nobody@nowhere.example
check_ok "forgot-password for a missing address"
assert_eq "forgot-password: the same words for both" "$EXISTING_OUT" "$OUT"
assert_eq "forgot-password: the same exit status" "$EXISTING_RC" "$RC"
wait_mail adam@example.com $((before + 1)) || fail "the reset link is mailed" "no new mail for adam"
FT=$(last_token adam@example.com)
ctl_input 'adam password 9' redeem "$FT" --password-stdin
check_ok "the self-service link sets the password"
assert_json "self-service: no automatic login, nothing else changed" "$("$NEXALIXCTL" user show adam --json)" .state active
# Unverified addresses get nothing.
make_active_user uma acme member 'uma password 1'
ctl forgot-password uma@example.com
check_ok "forgot-password for an unverified address"
# Requests are answered within a second, apart from the request (the mail
# for adam above arrived that way): give it two.
sleep 2
assert_eq "...sends nothing" 0 "$(mail_count uma@example.com)"
# Rate limits: 3 per address and hour, 10 per caller.
for i in 1 2 3; do ctl forgot-password ratelimited@example.com; done
check_ok "three requests for one address"
ctl forgot-password ratelimited@example.com
check_refused "the fourth for the same address is limited" "too many requests"
LIMIT_ERR=$ERR
for i in $(seq 1 10); do nx_run setpriv --reuid="$MU" --regid="$MU" --clear-groups "$NEXALIXCTL" forgot-password "x$i@example.com"; done
nx_run setpriv --reuid="$MU" --regid="$MU" --clear-groups "$NEXALIXCTL" forgot-password fresh@example.com
check_refused "the eleventh from one caller is limited" "too many requests"
assert_eq "the two limits read alike" "$LIMIT_ERR" "$ERR"
printf '+3601s\n' >"$CLOCK"
ctl forgot-password ratelimited@example.com
check_ok "an hour later it works again"
printf '+0\n' >"$CLOCK"

# --- email change and verification -------------------------------------------
ctl_as "$MU" "$MU" account email mel.new@example.com
check_ok "account email"
assert_json "the old address stays in use" "$("$NEXALIXCTL" user show mel --json)" .email mel@example.com
wait_mail mel.new@example.com 1
V1=$(last_token mel.new@example.com)
ctl_as "$MU" "$MU" account resend-verification
check_ok "account resend-verification"
wait_mail mel.new@example.com 2
V2=$(last_token mel.new@example.com)
ctl verify-email "$V1"
check_refused "resend voids the previous link" "not valid"
ctl verify-email "$V2"
check_ok "verify-email"
U=$("$NEXALIXCTL" user show mel --json)
assert_json "verified: the new address" "$U" .email mel.new@example.com
assert_json "verified: flagged" "$U" .email_verified true
ctl user update mel --email mel.admin@example.com
wait_mail mel.admin@example.com 1 || fail "an administrator's change starts verification" "no mail"
assert_json "the administrator's change is unverified" "$("$NEXALIXCTL" user show mel --json)" .email_verified false
ctl verify-email "$(last_token mel.admin@example.com)"
check_ok "verify the administrator's change"
ctl_as "$MU" "$MU" account email adam@example.com
check_refused "an address in use is refused" "in use"

# --- notifications ----------------------------------------------------------
dbus-monitor --system "type='signal',interface='org.nexalix.Identity1.Notifications'" >"$NX_TMP/signals" 2>&1 &
NX_BG_PIDS+=("$!")
sleep 0.3
before=$(mail_count mel.admin@example.com)
nx_run_input 'The database is down' "$NEXALIXCTL" user notify mel incident.alert 'INC-7: database down'
check_ok "notify an active, verified user"
assert_contains "...mailed" "$OUT" "mailed"
wait_mail mel.admin@example.com $((before + 1))
assert_contains "the notification mail carries the subject and body" "$(last_mail mel.admin@example.com)" "The database is down"
sleep 0.3
assert_contains "the UserNotified signal for the user's uid" "$(cat "$NX_TMP/signals")" "uint32 $MU"
nx_run_input 'x' "$NEXALIXCTL" user notify uma incident.assigned 'INC-8'
assert_contains "an unverified address: not sent" "$OUT" "not-sent:unverified-address"
nx_run_input 'x' "$NEXALIXCTL" user notify ines incident.assigned 'INC-8'
assert_contains "an invited user: not sent" "$OUT" "not-sent:invited"
nx_run_input 'x' "$NEXALIXCTL" user notify ike incident.assigned 'INC-8'
assert_contains "a deactivated user: not sent" "$OUT" "not-sent:deactivated"
nx_run_input 'x' setpriv --reuid="$MU" --regid="$MU" --clear-groups "$NEXALIXCTL" user notify adam incident.alert 'x'
check_refused "a member may not notify" "permission denied"
nx_run_input 'x' setpriv --reuid="$GU" --regid="$GU" --clear-groups "$NEXALIXCTL" user notify mel incident.alert 'x'
check_refused "another organisation's admin may not" "no user 'mel'"
nx_run_input 'x' "$NEXALIXCTL" user notify mel incident.lunch 'x'
check_refused "an unknown kind" "incident.alert or incident.assigned"

# --- API tokens -------------------------------------------------------------
ctl_as "$MU" "$MU" account token create laptop-mail
check_ok "account token create"
TOK=$OUT
assert_match "a token: nxt_ and 43 characters" "$TOK" '^nxt_[A-Za-z0-9_-]{43}$'
ctl_as "$MU" "$MU" account token list --json
assert_json "listed by name" "$OUT" '.[0].name' laptop-mail
assert_not_contains "never listed in clear" "$OUT" "$TOK"
pam --answer "$TOK" mail-like mel auth account
result auth PAM_SUCCESS "a service with allow_token takes the token"
result account PAM_SUCCESS "...and the account stage passes"
pam --answer "$TOK" ssh-like mel auth
result auth PAM_AUTH_ERR "a service without allow_token does not"
pam --answer "$TOK" mail-like nobodyhere auth
result auth PAM_USER_UNKNOWN "a token for a name nobody has: unknown"
ctl_as "$MU" "$MU" account token list --json
assert_match "the last use is recorded" "$(jget "$OUT" '.[0].last_used_at')" '^20'
ctl user token list mel --json
assert_json "an administrator lists them" "$OUT" '.[0].name' laptop-mail
ctl_as "$GU" "$GU" user token list mel
check_refused "another organisation's admin cannot" "no user 'mel'"
ctl_as "$MU" "$MU" account token create laptop-mail
check_refused "names are unique per user" "already"
ctl_as "$MU" "$MU" account token revoke laptop-mail
check_ok "account token revoke"
pam --answer "$TOK" mail-like mel auth
result auth PAM_AUTH_ERR "a revoked token no longer authenticates"
# Expiry.
ctl_as "$MU" "$MU" account token create short --expires 1
TOK2=$OUT
pam --answer "$TOK2" mail-like mel auth
result auth PAM_SUCCESS "a token with an expiry works before it"
printf '+2d\n' >"$CLOCK"
pam --answer "$TOK2" mail-like mel auth
result auth PAM_AUTH_ERR "...and not after"
printf '+0\n' >"$CLOCK"
# Deactivation revokes every token.
ctl_as "$MU" "$MU" account token create vpn
TOK3=$OUT
ctl user deactivate mel
check_ok "deactivate mel"
ctl user activate mel
pam --answer "$TOK3" mail-like mel auth
result auth PAM_AUTH_ERR "deactivation revoked the token for good"
assert_json "no token left" "$("$NEXALIXCTL" user token list mel --json)" 'length' 0

# --- no secret in the clear ----------------------------------------------------
for secret in "$TOKEN" "$RT" "$FT" "$V2" "$TOK" "$TOK3"; do
    if grep -qF -- "$secret" "$NX_DAEMON_LOG" || "$NEXALIXCTL" audit --limit 1000 | grep -qF -- "$secret"; then
        fail "no token or link in the log or the audit" "found $secret"
    fi
done
ok "no token or link in the log or the audit"
if mdb_dump -a -p "$NX_TMP/store" 2>/dev/null | grep -qF -- "${TOK3#nxt_}"; then
    fail "API tokens are stored hashed" "found in the store"
else
    ok "API tokens are stored hashed"
fi

nx_finish
