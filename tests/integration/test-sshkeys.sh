#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# SSH public keys through the real CLI and daemon, and the keys snapshot
# that sshd's AuthorizedKeysCommand (nexalix-authorized-keys) reads:
# - keys added by users (account ssh-key) and administrators (user ssh-key),
#   listed with --json, removed by name or fingerprint; fingerprints equal
#   to ssh-keygen -l's; every change audited with the fingerprint;
# - malformed and weak keys refused with a message that says why;
# - an org-admin manages the keys of their organisation's users only:
#   another organisation's users look like users that do not exist;
# - the snapshot: mode 0640, root and the configured keys group, nobody
#   else can read it; its content for active, invited, deactivated, deleted
#   and unknown users, and when the organisation restricts key types;
# - the command answers as soon as the CLI returned, and with the daemon
#   stopped.

. "$(dirname "$0")/lib.sh"
nx_init ssh-keygen stat
nx_bus_start main

AUTHKEYS=${NEXALIX_AUTHORIZED_KEYS:-${NEXALIX_BUILD_ROOT:-$NEXALIX_SRCDIR/build-it}/tools/nexalix-authorized-keys}
[ -x "$AUTHKEYS" ] || nx_die "nexalix-authorized-keys not found at $AUTHKEYS"
RUN=$NX_TMP/run
# The AuthorizedKeysCommandUser of this test: a uid and a group of the
# test's block that no Nexalix user gets (ids are handed out from the start).
KEYS_GID=$NX_UID_MAX
KEYS_UID=$((NX_UID_MAX - 1))

NX_DAEMON_CONF=$NX_TMP/nexalixd.conf
nx_write_config "$NX_DAEMON_CONF"
printf '\n[ssh]\nkeys_group = %s\n' "$KEYS_GID" >>"$NX_DAEMON_CONF"
nx_daemon_start

make_org acme
make_org globex
make_active_user alice acme org-admin 'alice password 1'
make_active_user bob acme member 'bob password 1'
make_active_user dave acme member 'dave password 1'
make_user ivan acme member
make_active_user gina globex member 'gina password 1'
make_active_user gadmin globex org-admin 'gadmin password 1'

uid_of() { user_field "$1" uid; }
AU=$(uid_of alice)
BU=$(uid_of bob)
GU=$(uid_of gadmin)
for v in AU BU GU; do
    [[ "${!v}" =~ ^[0-9]+$ ]] || nx_die "no uid for a test user ($v='${!v}')"
done

# keys_of USER: what sshd would get, run as the keys user (its group may
# read the snapshot); sets RC, OUT, ERR.
keys_of() {
    nx_run setpriv --reuid="$KEYS_UID" --regid="$KEYS_GID" --clear-groups "$AUTHKEYS" --runtime "$RUN" "$1"
}

# --- keys made by ssh-keygen -------------------------------------------------
K=$NX_TMP/keys
mkdir -p "$K"
chmod 0755 "$K"
gen() {  # NAME TYPE [BITS]
    ssh-keygen -q -t "$2" ${3:+-b "$3"} -N '' -C "$1@example" -f "$K/$1" </dev/null || nx_die "ssh-keygen $2 $3"
    chmod 0644 "$K/$1.pub"
}
gen bob_ed ed25519
gen bob_rsa rsa 2048
gen bob_ec ecdsa 384
gen alice_ed ed25519
gen gina_ed ed25519
gen ivan_ed ed25519
gen dave_ed ed25519
gen weak rsa 1024
fp_of() { ssh-keygen -lf "$K/$1.pub" | awk '{ print $2 }'; }
b64_of() { awk '{ print $2 }' "$K/$1.pub"; }
# OpenSSH 9.8 cannot make DSA keys any more: one made by an older ssh-keygen.
cat >"$K/dsa.pub" <<'EOF'
ssh-dss AAAAB3NzaC1kc3MAAACBAJuCV4W6qOKo6POSyIf6PThuuUbB4pncI9siEC79wAsuhetZR48D91/29/JFLXMqp32WEtuVp00SW7g5Ocr1qazk6f5MqNoXlFSxADLd6CVYulfWEbXgxUUWzIBfxFFXmrp4m9dQo+slQ1URb5Zok5nHY5RXFfUpfK+l4y4dK+AlAAAAFQCmgjc5ASoZh9FTN1jMIXhji17j1wAAAIAIMhqf7Bv2HuJLBGh3ITciHv1WdRBylobEClehvXL3jUHzOVrN2cOlPet7lgm0xQrs59x9hcVefMJYMfROAi4SPYgwn61ruMz3jF0TtDq1ZFL5Q5DvDtvTzTM6LxQWjnWyiXEVHOPo03cUY6s5uK9DUDi4DCteTpGhtHAVSFsB+gAAAIA+0ImlTXlm21FO6NvutG8r9alDZvBxn1s73RnZ0i7r3OaFE3crZfB3mlLabvEhkg186rbAbjxrS0IlfINDsGgDyVaUHqFhWTaX1n2s7XolLKX05cdx+KcG2kIBkkI5vBb1d5krOapFwEq3yNQQa9Z6RcIcBROArfWayok65OfBvg== old-dsa
EOF
chmod 0644 "$K/dsa.pub"

# --- an administrator adds a key ----------------------------------------------
ctl user ssh-key add bob "$K/bob_ed.pub"
check_ok "root adds bob's Ed25519 key"
assert_contains "the CLI says what was added" "$OUT" "SSH key 'bob_ed@example' added for bob: ssh-ed25519, 256 bits, $(fp_of bob_ed)"
keys_of bob
check_ok "nexalix-authorized-keys bob"
assert_eq "sshd gets bob's key at once: TYPE BASE64 NAME" "ssh-ed25519 $(b64_of bob_ed) bob_ed@example" "$OUT"
assert_eq "nothing on stderr" "" "$ERR"

ctl user ssh-key add bob "$K/bob_rsa.pub" --name work-rsa --json
check_ok "root adds bob's RSA key with --name --json"
assert_json "--json: the name" "$OUT" .name work-rsa
assert_json "--json: the type" "$OUT" .type ssh-rsa
assert_json "--json: the bits" "$OUT" .bits 2048
assert_json "--json: the fingerprint is ssh-keygen's" "$OUT" .fingerprint "$(fp_of bob_rsa)"
assert_json "--json: the line sshd gets" "$OUT" .key "ssh-rsa $(b64_of bob_rsa) work-rsa"
assert_match "--json: created_at" "$(jget "$OUT" .created_at)" '^20[0-9]{2}-[0-9]{2}-[0-9]{2}T'

# --- the snapshot file ----------------------------------------------------------
assert_eq "keys.mdb: mode 0640, root, the keys group" "640 0 $KEYS_GID" "$(stat -c '%a %u %g' "$RUN/keys.mdb")"
assert_eq "keys.gen: 16 bytes, world-readable" "644 16" "$(stat -c '%a %s' "$RUN/keys.gen")"
assert_eq "no temporary file left" "" "$(find "$RUN" -name '.keys.mdb.*')"
nx_run setpriv --reuid="$BU" --regid="$BU" --clear-groups "$AUTHKEYS" --runtime "$RUN" bob
assert_eq "another uid cannot read the snapshot: nothing printed" "" "$OUT"
assert_eq "... exit 0 (sshd goes on with its other sources)" 0 "$RC"
assert_contains "... and says why on stderr" "$ERR" "ermission denied"
nx_run setpriv --reuid=65534 --regid=65534 --clear-groups cat "$RUN/keys.mdb"
assert_ne "nobody cannot read keys.mdb" 0 "$RC"

# --- self-service ------------------------------------------------------------------
ctl_as "$BU" "$BU" account ssh-key add "$K/bob_ec.pub"
check_ok "bob adds his own ECDSA key"
ctl_as "$BU" "$BU" account ssh-key list --json
check_ok "bob lists his keys"
assert_json "three keys, in name order" "$OUT" '[.[].name] | join(" ")' "bob_ec@example bob_ed@example work-rsa"
assert_json "with types" "$OUT" '[.[].type] | join(" ")' "ecdsa-sha2-nistp384 ssh-ed25519 ssh-rsa"
assert_json "with bits" "$OUT" '[.[].bits] | join(" ")' "384 256 2048"
ctl_as "$BU" "$BU" account ssh-key list
assert_match "the table has a header" "$OUT" '^NAME +TYPE +BITS +FINGERPRINT +ADDED'
assert_contains "the table shows the fingerprint" "$OUT" "$(fp_of bob_ec)"
keys_of bob
assert_eq "sshd gets three lines for bob" 3 "$(grep -c . <<<"$OUT")"
ctl_input "$(cat "$K/alice_ed.pub")" user ssh-key add alice -
check_ok "a key from standard input ('-')"
ctl_as "$NX_UNKNOWN_UID" "$NX_UNKNOWN_UID" account ssh-key list
check_refused "a uid without an account has no keys" "no Nexalix account"

# --- malformed and weak keys ---------------------------------------------------------
ctl user ssh-key add bob "$K/weak.pub"
check_refused "RSA 1024 is refused" "at least 2048 bits; this one has 1024"
ctl user ssh-key add bob "$K/dsa.pub"
check_refused "DSA is refused" "DSA \(ssh-dss\) keys are refused"
printf 'ssh-rsa %s x\n' "$(b64_of gina_ed)" >"$K/mismatch.pub"
ctl user ssh-key add bob "$K/mismatch.pub"
check_refused "a type that is not the one inside the key" "declared as ssh-rsa but its data holds a 'ssh-ed25519' key"
printf 'ssh-ed25519 %s x\n' "$(b64_of gina_ed | cut -c 1-41)" >"$K/cut.pub"
ctl user ssh-key add bob "$K/cut.pub"
check_refused "base64 cut short" "base64 data is malformed"
printf 'ssh-ed25519 %s x\n' "$(b64_of gina_ed | cut -c 1-40)" >"$K/cut.pub"
ctl user ssh-key add bob "$K/cut.pub"
check_refused "a key cut short" "key data is truncated"
printf 'hello world\n' >"$K/garbage.pub"
ctl user ssh-key add bob "$K/garbage.pub"
check_refused "not a key" "not an SSH public key"
printf 'from="10.0.0.1" %s\n' "$(cat "$K/gina_ed.pub")" >"$K/options.pub"
ctl user ssh-key add bob "$K/options.pub"
check_refused "authorized_keys options" "options .* are not accepted"
ctl user ssh-key add bob "$K/gina_ed"
check_rc "a private key is never sent" 2
assert_contains "... and the CLI says so" "$ERR" "is a private key: give the public key instead"
cat "$K/gina_ed.pub" "$K/ivan_ed.pub" >"$K/two.pub"
ctl user ssh-key add bob "$K/two.pub"
check_rc "a file with two keys" 2
assert_contains "... one key at a time" "$ERR" "add one key at a time"
: >"$K/empty.pub"
ctl user ssh-key add bob "$K/empty.pub"
check_rc "an empty file" 2
ctl user ssh-key add bob "$K/missing.pub"
check_rc "a file that does not exist" 2
head -c 70000 /dev/zero | tr '\0' 'A' >"$K/huge.pub"
ctl user ssh-key add bob "$K/huge.pub"
check_rc "a file far too large" 2
ctl user ssh-key add bob "$K/bob_ed.pub"
check_refused "the same key twice" "already added to 'bob' as 'bob_ed@example'"
ctl user ssh-key add bob "$K/gina_ed.pub" --name work-rsa
check_refused "a name bob already uses" "already has a key named 'work-rsa'"
ctl user ssh-key add bob "$K/gina_ed.pub" --name 'bad name'
check_refused "an invalid name" "key name is 1 to 64"
keys_of bob
assert_eq "refusals changed nothing" 3 "$(grep -c . <<<"$OUT")"

# --- authorisation across organisations ------------------------------------------------
ctl user ssh-key add gina "$K/gina_ed.pub"
check_ok "root adds gina's key (globex)"
ctl_as "$AU" "$AU" user ssh-key list bob --json
check_ok "alice (acme org-admin) lists bob's keys"
assert_json "alice sees bob's three keys" "$OUT" 'length' 3
ctl_as "$AU" "$AU" user ssh-key list gina
check_refused "alice cannot read gina's keys (globex)" "no user 'gina'"
ctl_as "$AU" "$AU" user ssh-key list nosuchuser
NOSUCH_ERR=$ERR
ctl_as "$AU" "$AU" user ssh-key list gina
assert_eq "gina looks exactly like a user that does not exist" "${NOSUCH_ERR//nosuchuser/gina}" "$ERR"
ctl_as "$AU" "$AU" user ssh-key add gina "$K/ivan_ed.pub"
check_refused "alice cannot add a key to gina" "no user 'gina'"
ctl_as "$AU" "$AU" user ssh-key remove gina gina_ed@example
check_refused "alice cannot remove gina's key" "no user 'gina'"
keys_of gina
assert_eq "gina's keys are unchanged" "ssh-ed25519 $(b64_of gina_ed) gina_ed@example" "$OUT"
ctl_as "$GU" "$GU" user ssh-key list bob
check_refused "gadmin (globex) cannot read bob's keys" "no user 'bob'"
ctl_as "$BU" "$BU" user ssh-key list alice
check_refused "bob (member) cannot read alice's keys" "permission denied"
ctl_as "$BU" "$BU" user ssh-key add alice "$K/ivan_ed.pub"
check_refused "bob (member) cannot add keys to alice" "permission denied"
ctl_as "$AU" "$AU" user ssh-key add dave "$K/dave_ed.pub" --name dave-laptop
check_ok "alice adds a key to dave (acme)"

# --- audit --------------------------------------------------------------------------------
ctl audit --user bob --json
assert_json "audited: user.ssh-key.add with the fingerprint" "$OUT" \
    "[.[] | select(.action == \"user.ssh-key.add\" and (.detail | contains(\"$(fp_of bob_ec)\")))] | length" 1
assert_json "the self-service add names bob as the actor" "$OUT" \
    "[.[] | select(.action == \"user.ssh-key.add\" and (.detail | contains(\"$(fp_of bob_ec)\")))][0].actor" bob
ctl audit --user dave --json
assert_json "alice's add is audited as alice" "$OUT" '[.[] | select(.action == "user.ssh-key.add")][0].actor' alice

# --- who gets keys in the snapshot ---------------------------------------------------------
ctl user ssh-key add ivan "$K/ivan_ed.pub"
check_ok "root adds a key to invited ivan"
keys_of ivan
assert_eq "an invited user: nothing" "" "$OUT"
assert_eq "... exit 0" 0 "$RC"
keys_of nosuchuser
assert_eq "an unknown user: nothing" "" "$OUT"
assert_eq "... exit 0, quietly" "0 " "$RC $ERR"
keys_of '../../etc/passwd'
assert_eq "not a username: nothing" "0 " "$RC $OUT"
nx_run "$AUTHKEYS"
check_rc "no USER: usage error" 2
nx_run "$AUTHKEYS" a b
check_rc "two users: usage error" 2

GEN1=$(od -An -t u8 -j 8 -N 8 "$RUN/keys.gen" | tr -d ' ')
ctl user deactivate bob
check_ok "deactivate bob"
keys_of bob
assert_eq "a deactivated user's keys vanish with the reply" "" "$OUT"
GEN2=$(od -An -t u8 -j 8 -N 8 "$RUN/keys.gen" | tr -d ' ')
assert_ne "keys.gen moved" "$GEN1" "$GEN2"
ctl user ssh-key list bob --json
assert_json "the keys stay stored" "$OUT" 'length' 3
ctl_as "$BU" "$BU" account ssh-key add "$K/gina_ed.pub"
check_refused "a deactivated user cannot add keys" "your account is deactivated"
ctl user activate bob
check_ok "activate bob"
keys_of bob
assert_eq "activation brings bob's keys back" 3 "$(grep -c . <<<"$OUT")"

# While the daemon cannot be asked, pam_nexalix.so lets through the
# account stage only the users the snapshot lists (tests/login/test-pam.sh
# drives that through libpam); a user whose organisation requires 2FA he has
# not set up keeps his keys offered, and the account stage says why.
ctl org require-2fa acme on
keys_of bob
assert_eq "2FA required: bob's keys are still offered (the account stage refuses him)" 3 "$(grep -c . <<<"$OUT")"
ctl org require-2fa acme off

ctl user role remove dave member
keys_of dave
assert_eq "no role that grants login: no keys" "" "$OUT"
ctl user role add dave member
keys_of dave
assert_contains "the role back: the key back" "$OUT" "dave-laptop"

# --- an organisation's accepted types -------------------------------------------------------------
ctl_as "$AU" "$AU" org ssh-key-types acme ssh-ed25519
check_ok "alice restricts acme to ssh-ed25519"
ctl org show acme --json
assert_json "org show: ssh_key_types" "$OUT" '.ssh_key_types | join(" ")' ssh-ed25519
keys_of bob
assert_eq "bob's RSA and ECDSA keys leave the snapshot" "ssh-ed25519 $(b64_of bob_ed) bob_ed@example" "$OUT"
ctl user ssh-key list bob --json
assert_json "... but stay stored" "$OUT" 'length' 3
gen bob_ed2 ed25519
gen bob_ec2 ecdsa 256
ctl_as "$BU" "$BU" account ssh-key add "$K/bob_ec2.pub"
check_refused "another type is refused" "organisation 'acme' accepts only these SSH key types: ssh-ed25519; this is a ecdsa-sha2-nistp256 key"
ctl_as "$BU" "$BU" account ssh-key add "$K/bob_ed2.pub"
check_ok "an accepted type is added"
ctl_as "$AU" "$AU" org ssh-key-types globex ssh-rsa
check_refused "alice cannot restrict globex" "no organisation 'globex'"
ctl org ssh-key-types acme ssh-dss
check_refused "ssh-dss is never accepted" "DSA \(ssh-dss\) keys are never accepted"
ctl org ssh-key-types acme ssh-foo
check_refused "an unknown type" "'ssh-foo' is no SSH key type"
ctl org ssh-key-types acme
check_ok "no TYPE: every type again"
ctl org show acme --json
assert_json "org show: every accepted type" "$OUT" '.ssh_key_types | length' 7
keys_of bob
assert_eq "bob's keys are all back" 4 "$(grep -c . <<<"$OUT")"
ctl audit --json --limit 5
assert_json "audited: org.ssh-key-types, restricted and back" "$OUT" '[.[] | select(.action == "org.ssh-key-types")] | [.[].detail] | join("; ")' \
    "SSH key types accepted: all; SSH key types accepted: ssh-ed25519"

# --- removing ------------------------------------------------------------------------------------------
ctl_as "$BU" "$BU" account ssh-key remove "$(fp_of bob_rsa)"
check_ok "bob removes a key by fingerprint"
assert_eq "the CLI says so" "SSH key '$(fp_of bob_rsa)' removed" "$OUT"
keys_of bob
assert_not_contains "sshd no longer gets it" "$OUT" "$(b64_of bob_rsa)"
ctl_as "$AU" "$AU" user ssh-key remove bob bob_ec@example
check_ok "alice removes bob's key by name"
keys_of bob
assert_not_contains "gone from the snapshot" "$OUT" "$(b64_of bob_ec)"
ctl_as "$BU" "$BU" account ssh-key remove bob_ec@example
check_refused "removing it again" "has no SSH key 'bob_ec@example'"
ctl audit --user bob --json
assert_json "audited: user.ssh-key.remove with the fingerprint" "$OUT" \
    "[.[] | select(.action == \"user.ssh-key.remove\" and (.detail | contains(\"$(fp_of bob_rsa)\")))] | length" 1

ctl user delete dave
check_ok "delete dave"
keys_of dave
assert_eq "a deleted user's keys are gone" "" "$OUT"

# --- with the daemon stopped --------------------------------------------------------------------------------
keys_of bob
BOB_KEYS=$OUT
nx_daemon_stop
keys_of bob
assert_eq "the daemon stopped: the command still answers" "$BOB_KEYS" "$OUT"
assert_eq "... exit 0" 0 "$RC"
keys_of gina
assert_contains "... for every user" "$OUT" "gina_ed@example"

# A keys group that does not exist: root alone may read the snapshot.
sed -i "s/^keys_group = .*/keys_group = nx-no-such-group-$$/" "$NX_DAEMON_CONF"
nx_daemon_start
assert_eq "an unknown keys_group: mode 0600, root's" "600 0 0" "$(stat -c '%a %u %g' "$RUN/keys.mdb")"
assert_contains "... and the log says what to do" "$(cat "$NX_DAEMON_LOG")" "keys_group 'nx-no-such-group-$$' is no group of /etc/group"
nx_daemon_stop
sed -i "s/^keys_group = .*/keys_group = $KEYS_GID/" "$NX_DAEMON_CONF"
nx_daemon_start
assert_eq "restarted: 0640 and the group again" "640 $KEYS_GID" "$(stat -c '%a %g' "$RUN/keys.mdb")"
keys_of bob
assert_eq "after a restart the same keys" "$BOB_KEYS" "$OUT"

nx_finish
