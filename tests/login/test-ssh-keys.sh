#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# SSH public keys kept in Nexalix, end to end: a real sshd (ssh-lib.sh: a
# private mount namespace with its own /etc/pam.d, nsswitch.conf, passwd and
# shadow) whose AuthorizedKeysCommand is the built nexalix-authorized-keys,
# run as AuthorizedKeysCommandUser nxkeys (a local system user of the
# namespace, whose group is nexalixd's [ssh] keys_group), reading the keys
# snapshot at the compiled-in /run/nexalix (the test's runtime directory,
# bind-mounted there). The users have no authorized_keys file: every key
# comes from the snapshot. sshd's PAM stack is the documented one:
# pam_nexalix.so (which, while the daemon cannot be asked, passes the
# account stage of the users the keys snapshot lists), then pam_unix.
# Covered:
#   1. a key a user adds with the CLI logs in at once; one an administrator
#      adds too;
#   2. a removed key is refused at the next attempt;
#   3. a deactivated user's key is refused, and works again on activation;
#   4. with nexalixd stopped, keys go on working — and a deactivated user's
#      key still opens nothing;
#   5. a user who must still set up 2FA (org require-2fa) is refused at the
#      account stage whatever key they hold, with the daemon up and down;
#   6. a local account's own authorized_keys file still works, the
#      Nexalix lines notwithstanding.
# Root only; skips with a message otherwise.

# shellcheck source=../integration/lib.sh
. "$(dirname "$0")/../integration/lib.sh"
# shellcheck source=ssh-lib.sh
. "$(dirname "$0")/ssh-lib.sh"

ssh_enter_namespace "$@"

# ---------------------------------------------------------------------------
# Inside the namespace.

T0=$SECONDS
AUTHKEYS=${NEXALIX_AUTHORIZED_KEYS:-${NEXALIX_BUILD_ROOT:-$NEXALIX_SRCDIR/build-it}/tools/nexalix-authorized-keys}
[ -x "$AUTHKEYS" ] || nx_die "nexalix-authorized-keys not found at $AUTHKEYS"

KEYS_USER=nxkeys
KEYS_UID=298221
# sshd runs the command only from a path that root owns with no directory
# above it writable by others (not /tmp): a private tmpfs on /mnt.
KEYS_CMD=/mnt/nexalix-authorized-keys

A_PW='alice password 1'
B_PW='bob password 1'
C_PW='carol password 1'
D_PW='dina password 1'

# ===========================================================================
# Set-up

ssh_setup ssh-keygen
E=$NX_TMP/etc
printf '%s:x:%d:%d:Nexalix SSH keys:/nonexistent:/usr/sbin/nologin\n' "$KEYS_USER" "$KEYS_UID" "$KEYS_UID" >>"$E/passwd"
printf '%s:x:%d:\n' "$KEYS_USER" "$KEYS_UID" >>"$E/group"
printf '%s:*:19000:0:99999:7:::\n' "$KEYS_USER" >>"$E/shadow"
mount -t tmpfs -o mode=0755,size=8m nx-libexec /mnt || nx_die "cannot mount a tmpfs on /mnt"
install -m 0755 "$AUTHKEYS" "$KEYS_CMD" || nx_die "cannot install $KEYS_CMD"

# The sshd service as docs/login.md has it.
M="$NEXALIX_PAM_MODULE runtime=$RUNTIME"
CTL='[success=done user_unknown=ignore authinfo_unavail=ignore default=die]'
cat >"$E/pam.d/sshd" <<EOF
# written by $NX_TEST_NAME
auth     $CTL $M
auth     required pam_unix.so
account  $CTL $M
account  required pam_unix.so
password $CTL $M
password required pam_unix.so yescrypt
session  optional $M
session  required pam_unix.so
EOF

printf '\n[ssh]\nkeys_group = %s\n' "$KEYS_USER" >>"$NX_DAEMON_CONF"
nx_daemon_start
assert_eq "the keys snapshot belongs to root and $KEYS_USER's group, mode 0640" "640 0 $KEYS_UID" \
    "$(stat -c '%a %u %g' /run/nexalix/keys.mdb)"

start_sshd
# sshd re-reads its configuration on SIGHUP (it re-executes itself): add
# the two lines nexalix-host writes, pointing at the command above.
cat >>"$NX_TMP/ssh/sshd_config" <<EOF
AuthorizedKeysCommand $KEYS_CMD %u
AuthorizedKeysCommandUser $KEYS_USER
EOF
/usr/sbin/sshd -t -f "$NX_TMP/ssh/sshd_config" 2>"$NX_TMP/sshd-t.log" || nx_die "sshd -t: $(cat "$NX_TMP/sshd-t.log")"
LISTENING=$(grep -c 'Server listening on 127.0.0.1' "$NX_TMP/sshd.log")
kill -HUP "$SSHD_PID"
deadline=$((SECONDS + 10))
while [ "$(grep -c 'Server listening on 127.0.0.1' "$NX_TMP/sshd.log")" -le "$LISTENING" ]; do
    [ "$SECONDS" -ge "$deadline" ] && nx_die "sshd did not come back after SIGHUP: $(tail -n 5 "$NX_TMP/sshd.log")"
    sleep 0.05
done
nx_log "sshd reloaded with AuthorizedKeysCommand $KEYS_CMD %u, AuthorizedKeysCommandUser $KEYS_USER"

make_org acme
make_org strict
make_active_user alice acme member "$A_PW"
make_active_user bob acme member "$B_PW"
make_active_user carol acme member "$C_PW"
make_active_user dina strict member "$D_PW"
ctl org require-2fa strict on
check_ok "strict requires 2FA (dina has none)"
for u in alice bob carol dina; do make_home "$u"; done
AU=$(user_field alice uid)

# client_key USER [NAME]: a key pair for USER's ssh client (ssh_key_cmd uses
# $NX_TMP/client/id_USER); no authorized_keys file anywhere.
client_key() {
    ssh-keygen -q -t ed25519 -N '' -C "${2:-$1}" -f "$NX_TMP/client/id_$1" </dev/null || nx_die "ssh-keygen for $1"
    chmod 0644 "$NX_TMP/client/id_$1.pub"
}
for u in alice bob carol dina; do client_key "$u"; done
assert_eq "no user has an authorized_keys file" "" "$(ls "$NX_TMP/keys")"

# key_ok DESCRIPTION USER: a public-key login runs `id -un`.
key_ok() {
    ssh_key "$2" id -un
    if [ "$RC" -eq 0 ] && [ "$OUT" = "$2" ]; then
        ok "$1"
    else
        fail "$1" "$(nx_last)" "sshd log: $(tail -n 8 "$NX_TMP/sshd.log")"
    fi
}
# key_refused DESCRIPTION USER [ERE]: the login fails, the command never
# runs, and, given ERE, the client was told something matching it.
key_refused() {
    ssh_key "$2" echo NX-COMMAND-RAN
    if [ "$RC" -eq 0 ] || [[ "$OUT" == *NX-COMMAND-RAN* ]]; then
        fail "$1" "$(nx_last)"
    elif [ -n "${3:-}" ] && ! grep -Eiq -- "$3" <<<"$ERR"; then
        fail "$1: the client is told why" "expected to match: $3" "$(nx_last)"
    else
        ok "$1"
    fi
}

# ===========================================================================
# 1. Added with the CLI, in at once

key_refused "before any key is added, alice's key opens nothing" alice 'Permission denied'
T=$(now_ms)
ctl_as "$AU" "$AU" account ssh-key add "$NX_TMP/client/id_alice.pub" --name laptop
check_ok "alice adds her key with nexalixctl account ssh-key add"
key_ok "alice logs in with it at once" alice
nx_log "from 'account ssh-key add' to a finished key login: $(($(now_ms) - T)) ms"
assert_match "sshd accepted the key (from the command: there is no authorized_keys file)" \
    "$(cat "$NX_TMP/sshd.log")" "Accepted publickey for alice"

ctl user ssh-key add bob "$NX_TMP/client/id_bob.pub"
check_ok "root adds bob's key"
key_ok "bob logs in with the key an administrator added" bob

# ===========================================================================
# 2. Removed: refused at the next attempt

ctl user ssh-key remove bob bob
check_ok "root removes bob's key"
key_refused "bob's removed key is refused at the next attempt" bob 'Permission denied'
login_ok "bob's password still works" bob "$B_PW"

# ===========================================================================
# 3. Deactivated: refused; activated: back

ctl user ssh-key add carol "$NX_TMP/client/id_carol.pub"
key_ok "carol logs in with her key" carol
ctl user deactivate carol
check_ok "deactivate carol"
key_refused "deactivated carol's key is refused" carol 'Permission denied'
ctl user activate carol
check_ok "activate carol"
key_ok "carol's key works again once she is activated" carol

# ===========================================================================
# 5. 2FA to set up first: refused at the account stage, whatever the key

ctl user ssh-key add dina "$NX_TMP/client/id_dina.pub"
check_ok "root adds dina's key (strict requires 2FA)"
log_mark_sshd() { SSHD_MARK=$(wc -l <"$NX_TMP/sshd.log"); }
sshd_since() { tail -n +"$((SSHD_MARK + 1))" "$NX_TMP/sshd.log"; }
log_mark_sshd
key_refused "dina, who has not set up 2FA, is refused despite her key" dina
assert_match "sshd accepted her key from the snapshot" "$(sshd_since)" 'Postponed publickey for dina'
assert_match "... and the account stage refused her" "$(sshd_since)" 'Access denied for user dina by PAM account configuration'

# ===========================================================================
# 6. Local accounts keep their own files

add_key nxlocal
key_ok "local nxlocal logs in with its authorized_keys file" nxlocal

# ===========================================================================
# 4. nexalixd stopped: keys go on working

ctl user deactivate bob
check_ok "deactivate bob (he has no key any more; his file would not count either)"
ctl user ssh-key add bob "$NX_TMP/client/id_bob.pub"
check_ok "an administrator may add a key to a deactivated user: it is not served"
nx_daemon_stop
assert_eq "nexalixd stopped cleanly" 0 "$NX_DAEMON_RC"
T=$(now_ms)
key_ok "alice's key logs her in with the daemon stopped" alice
nx_log "a key login with the daemon stopped: $(($(now_ms) - T)) ms"
key_ok "carol's too" carol
key_refused "deactivated bob's key opens nothing with the daemon stopped" bob
log_mark_sshd
key_refused "dina (2FA to set up) is refused with the daemon stopped too" dina
assert_match "... at the account stage (the offline check says no)" "$(sshd_since)" \
    'Access denied for user dina by PAM account configuration'
login_refused "password logins of Nexalix users need the daemon" alice "$A_PW"
key_ok "local nxlocal logs in with the daemon stopped" nxlocal
nx_daemon_start
key_ok "alice logs in once nexalixd is back" alice
ctl user ssh-key list alice --json
assert_json "alice's key is named as she chose" "$OUT" '.[0].name' laptop

assert_daemon_alive "after every login"
nx_log "test-ssh-keys ran for $((SECONDS - T0)) s"
nx_finish
