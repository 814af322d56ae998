#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# Every PAM stage of pam_nexalix.so and every return code it gives, through
# the real libpam (pam_wrapper loads test service files) against a nexalixd
# on a temporary store: auth, account, password and session; the peer rules
# (root asks about anyone, a user only about themself); the back-off, its
# end (the daemon's clock moved with libfaketime) and `user unlock`;
# messages in the user's language; sessions listed, reaped and ended by
# deactivation; and what must never lock anyone out — local accounts never
# reach the daemon, a stopped daemon answers PAM_AUTHINFO_UNAVAIL at once,
# a daemon that accepts and never answers within the module's timeout, and
# garbage on the login socket leaves the daemon serving.

. "$(dirname "$0")/pam-lib.sh"
pam_init jq python3 mdb_dump ssh-keygen

nx_bus_start main
nx_daemon_start

make_org acme
make_org globex
make_dept acme support
make_active_user alice acme member 'alice password 1' --department support
make_active_user bob acme member 'bob password 1'
make_active_user carla acme member 'carla password 1' --language es
make_active_user duarte acme member 'duarte password 1' --language pt
make_active_user rolf acme member 'rolf password 1'
make_active_user dora acme member 'dora password 1'
make_user ivan acme member
make_active_user gus globex org-admin 'gus password 1'
ctl user role remove rolf member
check_ok "rolf has no role left"
AU=$(user_field alice uid)
BU=$(user_field bob uid)

MOD="$NEXALIX_PAM_MODULE runtime=$NX_TMP/run"
# Nexalix alone, every stage.
pam_service nx "auth required $MOD" "account required $MOD" "password required $MOD" "session required $MOD"
# The documented stack with pam_permit standing in for pam_unix, to see what
# the control values pass on.
STACK='[success=done user_unknown=ignore authinfo_unavail=ignore default=die]'
pam_service stacked "auth $STACK $MOD" "auth required pam_permit.so" \
    "account $STACK $MOD" "account required pam_permit.so" \
    "session optional $MOD" "session required pam_permit.so"
# A short timeout and another runtime, for the daemon that never answers.
mkdir -p "$NX_TMP/hung"
pam_service hung "auth required $NEXALIX_PAM_MODULE runtime=$NX_TMP/hung timeout=2"
# Where no daemon listens at all.
mkdir -p "$NX_TMP/nowhere"
pam_service nowhere "auth required $NEXALIX_PAM_MODULE runtime=$NX_TMP/nowhere" \
    "account required $NEXALIX_PAM_MODULE runtime=$NX_TMP/nowhere"


# --- auth -----------------------------------------------------------------
pam --answer 'alice password 1' nx alice auth
result auth PAM_SUCCESS "auth: right password"
assert_contains "auth: the prompt is Password:" "$OUT" "PROMPT Password: "

pam --answer 'alice password 2' nx alice auth
result auth PAM_AUTH_ERR "auth: wrong password"

pam --answer 'whatever pw' nx nosuchuser auth
result auth PAM_USER_UNKNOWN "auth: a name nobody has is unknown"
assert_contains "auth: a name nobody has is asked for a password like a user" "$OUT" "PROMPT Password: "

pam --answer 'carla password 1' nx carla auth
result auth PAM_SUCCESS "auth: the Spanish user's right password"
assert_contains "auth: the first prompt says nothing about the user (not translated)" "$OUT" "PROMPT Password: "

pam --answer 'anything at all' nx ivan auth
result auth PAM_AUTH_ERR "auth: an invited user (no password yet) never authenticates"

pam --answer 'rolf password 1' nx rolf auth
result auth PAM_AUTH_ERR "auth: a user without a login role never authenticates"
assert_contains "auth: ...and, knowing the password, learns why" "$OUT" "it has no role that allows it"

pam --answer 'rolf password 9' nx rolf auth
assert_not_contains "auth: a wrong password reveals nothing of the account" "$OUT" "role"

pam --answer 'x' nx root auth
result auth PAM_USER_UNKNOWN "auth: root (a local account) is left to the next module"
assert_not_contains "auth: ...without a prompt from Nexalix" "$OUT" "PROMPT"

pam nx alice auth
result auth PAM_CONV_ERR "auth: no answer (the user gave up) is a conversation error"

pam --answer 'alice password 1' --silent nx rolf account
assert_not_contains "account: PAM_SILENT suppresses the message" "$OUT" "INFO"
assert_not_contains "account: PAM_SILENT suppresses the error message" "$OUT" "ERROR"

# The documented stack: unknown names and local accounts pass to the next
# module; a wrong Nexalix password is final.
pam --answer 'x' stacked root auth
result auth PAM_SUCCESS "stack: root passes to the next module"
pam --answer 'wrong password' stacked alice auth
result auth PAM_AUTH_ERR "stack: a wrong Nexalix password is final (default=die)"
pam --answer 'alice password 1' stacked alice auth account
result account PAM_SUCCESS "stack: alice logs in"

# --- account --------------------------------------------------------------
pam nx alice account
result account PAM_SUCCESS "account: an active member"
pam nx ivan account
result account PAM_ACCT_EXPIRED "account: an invited user"
assert_contains "account: the invited user is told why" "$OUT" "ERROR This account has not been activated yet"
pam nx rolf account
result account PAM_PERM_DENIED "account: a user without a login role"
pam nx nosuchuser account
result account PAM_USER_UNKNOWN "account: a name nobody has"
pam nx root account
result account PAM_USER_UNKNOWN "account: root"

ctl user deactivate dora
check_ok "deactivate dora"
pam nx dora account
result account PAM_ACCT_EXPIRED "account: a deactivated user"
assert_contains "account: the deactivated user is told why" "$OUT" "This account has been deactivated"
pam --answer 'dora password 1' nx dora auth
result auth PAM_AUTH_ERR "auth: a deactivated user with the right password"
assert_contains "auth: ...is told why" "$OUT" "deactivated"

# Each message in the user's language.
ctl user deactivate carla
ctl user deactivate duarte
pam nx carla account
assert_contains "account: Spanish" "$OUT" "Esta cuenta ha sido desactivada"
pam nx duarte account
assert_contains "account: Portuguese" "$OUT" "Esta conta foi desativada"
ctl user activate carla
ctl user activate duarte

# --- who may ask -----------------------------------------------------------
pam_as "$AU" --answer 'alice password 1' nx alice auth
result auth PAM_SUCCESS "peer: alice's own program checks alice's password"
pam_as "$AU" --answer 'bob password 1' nx bob auth
result auth PAM_PERM_DENIED "peer: alice's program may not check bob's password"
assert_not_contains "peer: ...and is not even asked for it" "$OUT" "PROMPT"
pam_as "$AU" nx bob account
result account PAM_PERM_DENIED "peer: alice's program may not ask about bob's account"
pam_as "$AU" --answer 'x' nx root auth
result auth PAM_USER_UNKNOWN "peer: a local account is left to pam_unix (unix_chkpwd's rules)"
pam_as "$AU" --answer 'x' nx nosuchuser auth
result auth PAM_USER_UNKNOWN "peer: an unknown name from a user's program is unknown"

# --- password ---------------------------------------------------------------
# As the user: the current password first.
pam_as "$AU" --answer 'alice password 1' --answer 'alice password 2' --answer 'alice password 2' nx alice chauthtok
result chauthtok PAM_SUCCESS "password: alice changes her own password"
assert_contains "password: asks for the current one" "$OUT" "PROMPT Current password: "
assert_contains "password: confirms" "$OUT" "INFO Your password has been changed."
pam --answer 'alice password 2' nx alice auth
result auth PAM_SUCCESS "password: the new one works"
pam --answer 'alice password 1' nx alice auth
result auth PAM_AUTH_ERR "password: the old one does not"
ctl audit --user alice --limit 5
assert_contains "password: the change is audited" "$OUT" "user.password"

pam_as "$AU" --answer 'not my password' --answer 'x' --answer 'x' nx alice chauthtok
result chauthtok PAM_AUTHTOK_RECOVERY_ERR "password: a wrong current password"
pam_as "$AU" --answer 'alice password 2' --answer 'short' --answer 'tiny' --answer 'seven77' nx alice chauthtok
result chauthtok PAM_AUTHTOK_ERR "password: three passwords under 8 characters"
assert_contains "password: says why" "$OUT" "at least 8 characters"
pam_as "$AU" --answer 'alice password 2' --answer 'alice password 3' --answer 'different 3' \
    --answer 'alice password 3' --answer 'alice password 3' nx alice chauthtok
result chauthtok PAM_SUCCESS "password: a mismatch, then a match"
assert_contains "password: the mismatch is reported" "$OUT" "The passwords do not match."
pam_as "$BU" --answer 'x' nx alice chauthtok
result chauthtok PAM_PERM_DENIED "password: bob's program may not change alice's password"
# As root (passwd alice): no current password.
pam --answer 'alice password 4' --answer 'alice password 4' nx alice chauthtok
result chauthtok PAM_SUCCESS "password: root sets alice's password"
assert_not_contains "password: root is not asked for the current one" "$OUT" "Current password"
pam --answer 'alice password 4' nx alice auth
result auth PAM_SUCCESS "password: root's new password works"
pam --answer 'x' --answer 'y' nx ivan chauthtok
result chauthtok PAM_AUTHTOK_ERR "password: an invited user sets the first one by the link, not passwd"

# --- back-off ---------------------------------------------------------------
for i in 1 2 3 4; do
    pam --answer "wrong $i" nx bob auth
done
result auth PAM_AUTH_ERR "back-off: the 4th failure costs nothing yet"
assert_json "back-off: 4 failures counted" "$("$NEXALIXCTL" user show bob --json)" .failed_logins 4
pam --answer 'wrong 5' nx bob auth
assert_contains "back-off: the 5th failure starts it" "$OUT" "Too many failed attempts: try again in 15 s."
pam --answer 'bob password 1' nx bob auth
result auth PAM_MAXTRIES "back-off: the right password is refused while backed off"
B=$("$NEXALIXCTL" user show bob --json)
assert_json "back-off: user show counts 5" "$B" .failed_logins 5
assert_match "back-off: user show tells until when" "$(jget "$B" .backed_off_until)" '^20[0-9-]+T[0-9:]+Z$'
ctl user show bob
assert_match "back-off: the people's view shows it" "$OUT" 'backed_off_until: +20'
pam --answer 'alice password 4' nx alice auth
result auth PAM_SUCCESS "back-off: other users are not affected"
# Move the daemon's clock past the 15 seconds.
printf '+16s\n' >"$CLOCK"
pam --answer 'wrong 6' nx bob auth
result auth PAM_AUTH_ERR "back-off: after 15 s a password is checked again"
assert_contains "back-off: the next failure doubles it" "$OUT" "try again in 30 s."
ctl user unlock bob
check_ok "user unlock bob"
assert_contains "unlock: says how many were forgotten" "$OUT" "6 failed logins forgotten"
pam --answer 'bob password 1' nx bob auth
result auth PAM_SUCCESS "unlock: bob logs in at once"
assert_json "unlock: nothing counted any more" "$("$NEXALIXCTL" user show bob --json)" .failed_logins 0
ctl user unlock bob
assert_contains "unlock: again, nothing to forget" "$OUT" "no failed logins to forget"
# Failures an hour old are forgotten.
pam --answer 'wrong' nx bob auth
printf '+3700s\n' >"$CLOCK"
assert_json "back-off: a failure is forgotten after an hour" "$("$NEXALIXCTL" user show bob --json)" .failed_logins 0
printf '+0\n' >"$CLOCK"
ctl_as "$AU" "$AU" user unlock bob
check_refused "unlock: a member may not unlock" "permission denied"
ctl_as "$(user_field gus uid)" "$(user_field gus gid)" user unlock bob
check_refused "unlock: another organisation's admin may not unlock" "no user 'bob'"

# --- sessions ---------------------------------------------------------------
# A program that keeps its session open until told to close it.
coproc HELD { exec env LD_PRELOAD="$PAM_WRAPPER_LIB" PAM_WRAPPER=1 PAM_WRAPPER_SERVICE_DIR="$PAMD" \
    "$NX_PAM_DRIVER" --tty pts/7 --rhost 192.0.2.7 nx alice open wait close 2>/dev/null; }
HOLDER=$HELD_PID
NX_BG_PIDS+=("$HOLDER")
read -r -t 10 line <&"${HELD[0]}"
assert_eq "session: opened" "RESULT open PAM_SUCCESS" "$line"
read -r -t 10 line <&"${HELD[0]}"
S=$("$NEXALIXCTL" user sessions alice --json)
assert_json "session: listed for the administrator" "$S" 'length' 1
assert_json "session: its process" "$S" '.[0].pid' "$HOLDER"
assert_json "session: its service" "$S" '.[0].service' nx
assert_json "session: its terminal" "$S" '.[0].tty' pts/7
assert_json "session: its remote host" "$S" '.[0].rhost' 192.0.2.7
assert_json "session: its user" "$S" '.[0].username' alice
ctl_as "$AU" "$AU" account sessions --json
assert_json "session: listed for alice herself" "$OUT" '.[0].pid' "$HOLDER"
ctl_as "$BU" "$BU" account sessions --json
assert_json "session: not bob's" "$OUT" 'length' 0
ctl_as "$BU" "$BU" user sessions alice
check_refused "session: a member may not list another's sessions" "permission denied"
echo >&"${HELD[1]}"
read -r -t 10 line <&"${HELD[0]}"
assert_eq "session: closed" "RESULT close PAM_SUCCESS" "$line"
wait "$HOLDER" 2>/dev/null
assert_json "session: gone once closed" "$("$NEXALIXCTL" user sessions alice --json)" 'length' 0

# A session whose process died without closing it: hidden, then reaped.
coproc HELD { exec env LD_PRELOAD="$PAM_WRAPPER_LIB" PAM_WRAPPER=1 PAM_WRAPPER_SERVICE_DIR="$PAMD" \
    "$NX_PAM_DRIVER" nx alice open wait close 2>/dev/null; }
HOLDER=$HELD_PID
NX_BG_PIDS+=("$HOLDER")
read -r -t 10 line <&"${HELD[0]}"
kill -KILL "$HOLDER"
wait "$HOLDER" 2>/dev/null
assert_json "session: a dead process's session is not listed" "$("$NEXALIXCTL" user sessions alice --json)" 'length' 0
# The records in the store (mdb_dump reads beside the running daemon): a
# key is "user\0id", 0x00 between the two.
session_records() { mdb_dump -p -s sessions "$NX_TMP/store" | grep -c "^ $1"'\\00' || true; }
assert_eq "session: the dead process's record is still stored" 1 "$(session_records alice)"
pam nx alice open
result open PAM_SUCCESS "session: opening another reaps it"
# The driver ended without closing: its own record stays, the old one went.
assert_eq "session: reaped (only the newest record left)" 1 "$(session_records alice)"

# Deactivation ends the process that holds the session within a second,
# although it runs as root.
coproc HELD { exec env LD_PRELOAD="$PAM_WRAPPER_LIB" PAM_WRAPPER=1 PAM_WRAPPER_SERVICE_DIR="$PAMD" \
    "$NX_PAM_DRIVER" nx bob open wait close 2>/dev/null; }
HOLDER=$HELD_PID
NX_BG_PIDS+=("$HOLDER")
read -r -t 10 line <&"${HELD[0]}"
assert_eq "session: bob's opened" "RESULT open PAM_SUCCESS" "$line"
ctl user deactivate bob
check_ok "deactivate bob"
if nx_wait_gone "$HOLDER" 1; then
    ok "deactivation: the session's process ended within a second"
else
    fail "deactivation: the session's process ended within a second" "pid $HOLDER still runs"
fi
assert_json "deactivation: no session left" "$("$NEXALIXCTL" user sessions bob --json)" 'length' 0
ctl user activate bob

pam nx root open
result open PAM_USER_UNKNOWN "session: not for a local account"
pam stacked root open
result open PAM_SUCCESS "session: a local account's session opens through the next module"
pam stacked alice close
result close PAM_SUCCESS "session: closing what this handle never opened is left to the next module"

# --- never locking anyone out ------------------------------------------------
# A daemon that accepts and never answers: the module gives up within its
# timeout (2 s here); a local account is never even asked about.
python3 -c '
import socket, sys, time
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.bind(sys.argv[1]); s.listen(16)
conns = []
while True:
    c, _ = s.accept(); conns.append(c)
' "$NX_TMP/hung/pam.sock" &
HUNG=$!
NX_BG_PIDS+=("$HUNG")
for _ in $(seq 50); do [ -S "$NX_TMP/hung/pam.sock" ] && break; sleep 0.05; done
start=$(date +%s%N)
pam --answer 'alice password 4' hung alice auth
elapsed=$((($(date +%s%N) - start) / 1000000))
result auth PAM_AUTHINFO_UNAVAIL "hung daemon: PAM_AUTHINFO_UNAVAIL"
if [ "$elapsed" -ge 1500 ] && [ "$elapsed" -lt 5000 ]; then
    ok "hung daemon: gave up after the 2 s timeout (${elapsed} ms)"
else
    fail "hung daemon: gave up after the 2 s timeout" "took ${elapsed} ms"
fi
start=$(date +%s%N)
pam --answer 'x' hung root auth
elapsed=$((($(date +%s%N) - start) / 1000000))
result auth PAM_USER_UNKNOWN "hung daemon: root is not asked about"
if [ "$elapsed" -lt 1000 ]; then
    ok "hung daemon: root's answer does not wait (${elapsed} ms)"
else
    fail "hung daemon: root's answer does not wait" "took ${elapsed} ms"
fi
kill "$HUNG"

# No daemon at all.
start=$(date +%s%N)
pam --answer 'alice password 4' nowhere alice auth account
elapsed=$((($(date +%s%N) - start) / 1000000))
result auth PAM_AUTHINFO_UNAVAIL "no daemon: auth is PAM_AUTHINFO_UNAVAIL"
result account PAM_AUTHINFO_UNAVAIL "no daemon: account is PAM_AUTHINFO_UNAVAIL"
if [ "$elapsed" -lt 1000 ]; then
    ok "no daemon: answered at once (${elapsed} ms)"
else
    fail "no daemon: answered at once" "took ${elapsed} ms"
fi

# Garbage on the login socket: the daemon drops the connection and serves on.
python3 - "$NX_TMP/run/pam.sock" <<'EOF'
import os, socket, struct, sys, time
path = sys.argv[1]
def send(data, read=True):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(path)
    try:
        s.sendall(data)
        s.settimeout(2)
        if read:
            s.recv(100)
    except (OSError, socket.timeout):
        pass
    s.close()
send(b"\xff\xff\xff\xff")                       # a length beyond the limit
send(struct.pack("<I", 0))                      # an empty frame
send(struct.pack("<I", 5) + b"\x02\x00\x00\x00\x00")   # an ANSWER before START
send(struct.pack("<I", 3) + b"\x01\x01\x00")    # a START cut short
send(struct.pack("<I", 100) + b"\x01" * 10, read=False)   # a frame never finished
for _ in range(200):
    n = int.from_bytes(os.urandom(1), "little")
    send(struct.pack("<I", n) + os.urandom(n), read=False)
EOF
assert_daemon_alive "after garbage on the login socket"
pam --answer 'alice password 4' nx alice auth
result auth PAM_SUCCESS "after garbage, logins still work"

# A module that stops reading while its password is being checked: the
# daemon's replies fail (EPIPE) inside the step that follows the check — the
# fifth failure even sends two (the back-off, then the verdict). A user may
# do this to their own account; the daemon must live on.
for i in 1 2 3 4; do pam --answer "duarte wrong $i" nx duarte auth; done
DU=$(user_field duarte uid)
nx_run setpriv --reuid="$DU" --regid="$DU" --clear-groups /usr/bin/python3 -c '
import socket, struct, sys
def frame(t, body): return struct.pack("<I", len(body) + 1) + bytes([t]) + body
def string(s): b = s.encode(); return struct.pack("<H", len(b)) + b
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.connect(sys.argv[1])
start = struct.pack("<IIII", 1, 1, 0, 0) + string(sys.argv[2]) + string("nx") + string("") * 4
s.sendall(frame(1, start))
n = struct.unpack("<I", s.recv(4))[0]
s.recv(n)
s.shutdown(socket.SHUT_RD)
s.sendall(frame(2, b"\x00" + string("duarte wrong 5")))
s.close()
' "$NX_TMP/run/pam.sock" duarte
sleep 1
assert_daemon_alive "a module that stops reading during the check"
assert_json "...and its failure was counted" "$("$NEXALIXCTL" user show duarte --json)" .failed_logins 5
ctl user unlock duarte
pam --answer 'duarte password 1' nx duarte auth
result auth PAM_SUCCESS "...and logins go on"

# try_first_pass on the password line: a mistyped first entry that the
# retype does not match is asked again, never set.
pam_service tfp "password required $MOD try_first_pass"
pam --answer 'typo password X' --answer 'real password 1' --answer 'real password 1' --answer 'real password 1' \
    tfp alice chauthtok
result chauthtok PAM_SUCCESS "try_first_pass: the change succeeds with the password typed twice"
assert_eq "try_first_pass: after the mismatch the new password is asked again" 2 \
    "$(grep -c '^PROMPT New password: ' <<<"$OUT")"
pam --answer 'real password 1' nx alice auth
result auth PAM_SUCCESS "try_first_pass: the confirmed password is set"
pam --answer 'typo password X' nx alice auth
result auth PAM_AUTH_ERR "try_first_pass: the mistyped one is not"
pam --answer 'alice password 4' --answer 'alice password 4' nx alice chauthtok

# SSH keys for the offline account stage below: alice may log in, rolf
# (no role that grants it) may not, bob has no key.
ssh-keygen -q -t ed25519 -N '' -C alice -f "$NX_TMP/alice_key"
ssh-keygen -q -t ed25519 -N '' -C rolf -f "$NX_TMP/rolf_key"
ctl user ssh-key add alice "$NX_TMP/alice_key.pub"
check_ok "a key for alice"
ctl user ssh-key add rolf "$NX_TMP/rolf_key.pub"
check_ok "a key for rolf"

# The daemon stopped: Nexalix users cannot log in, local accounts can.
nx_daemon_stop
# The account stage (what sshd runs for a key login) answers from the last
# published keys snapshot: key logins go on while the daemon restarts.
pam nx alice account
result account PAM_SUCCESS "daemon stopped: the account stage passes a user the keys snapshot lists"
pam nx rolf account
result account PAM_AUTHINFO_UNAVAIL "daemon stopped: not a user the snapshot leaves out (no login role)"
pam nx bob account
result account PAM_AUTHINFO_UNAVAIL "daemon stopped: not a user without keys"
pam --answer 'alice password 4' stacked alice auth
result auth PAM_SUCCESS "daemon stopped: the stack falls through to the next module (pam_unix in a real stack, which does not know alice)"
pam --answer 'alice password 4' nx alice auth
result auth PAM_AUTHINFO_UNAVAIL "daemon stopped: Nexalix alone answers PAM_AUTHINFO_UNAVAIL"
pam --answer 'x' stacked root auth account
result auth PAM_SUCCESS "daemon stopped: root authenticates through the next module"
result account PAM_SUCCESS "daemon stopped: root's account stage passes"

nx_finish
