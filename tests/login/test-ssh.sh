#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# Real logins over a real sshd, in a private mount namespace with its own
# /etc/pam.d, nsswitch.conf, passwd, shadow and ld.so.cache (set up by
# ssh-lib.sh, shared with test-ssh-2fa.sh; the host's files are only read).
# One sshd (127.0.0.1, a free port, UsePAM, keyboard-interactive, password
# and public-key authentication) serves the whole test; an ssh client driven
# by expect answers the prompts. Covered:
#   1. a member's and an org-admin's password logins run a command, with the
#      department and role groups in `id -Gn`;
#   2. a wrong password is refused;
#   3. back-off: five wrong passwords, then the right one is refused with
#      "Too many failed attempts"; other users log in meanwhile; `user unlock`
#      lets the right password in again;
#   4. invited, deactivated and role-less users are refused, with the message
#      the client sees;
#   5. a deactivated user's authorised key opens nothing (account stage),
#      while it did before;
#   6. a live session ends within a second of `user deactivate`, and
#      `user sessions` listed it while it was live;
#   7. passwd inside a session changes the Nexalix password;
#   8. su - alice -c id by another Nexalix user inside a session;
#   9. a non-root caller (pamtester under pam_wrapper, as the user's uid)
#      may check its own password, not another user's;
#  10. local users and root log in while nexalixd is stopped, Nexalix users
#      do not (not even a deactivated one with a key), and do again once it
#      is back.
# Root only; skips with a message otherwise.

# shellcheck source=../integration/lib.sh
. "$(dirname "$0")/../integration/lib.sh"
# shellcheck source=ssh-lib.sh
. "$(dirname "$0")/ssh-lib.sh"

ssh_enter_namespace "$@"

# ---------------------------------------------------------------------------
# Inside the namespace.

T0=$SECONDS

A_PW='alice password 1'
A_PW2='alice password 2'
B_PW='bob password 1'
C_PW='carol password 1'
K_PW='kim password 1'
N_PW='nora password 1'

# has_command WORDS…: whether `nexalixctl WORDS --help` knows the command.
has_command() {
    "$NEXALIXCTL" "$@" --help >/dev/null 2>&1
}

# uid_processes UID: "PID STAT ARGS" of every process of UID that is not a
# zombie (pid 1 here may reap late; a zombie runs nothing).
uid_processes() {
    ps -u "$1" -o pid=,stat=,args= 2>/dev/null | awk '$2 !~ /^Z/'
}

# ===========================================================================
# Set-up

ssh_setup
nx_daemon_start

make_org acme
make_dept acme ops
make_active_user alice acme member "$A_PW" --department ops
make_active_user bob acme member "$B_PW"
make_active_user carol acme org-admin "$C_PW"
make_active_user kim acme member "$K_PW"
make_active_user nora acme member "$N_PW"
make_user ivan acme member
for u in alice bob carol kim nora ivan; do make_home "$u"; done
add_key kim
add_key ivan
AU=$(user_field alice uid)
CU=$(user_field carol uid)
CG=$(user_field carol gid)
KU=$(user_field kim uid)

ctl user role remove nora member
check_ok "nora's only role is taken away"
assert_json "nora has no role" "$("$NEXALIXCTL" user show nora --json)" '.roles | length' 0

start_sshd
nx_log "set-up done in $((SECONDS - T0)) s"

# The namespace's glibc resolves Nexalix users through the built module.
nx_run getent passwd alice
assert_match "getent passwd alice in the namespace" "$OUT" "^alice:x:$AU:"
MEMBER_GROUP=$(getent group acme.member | cut -d: -f1)
OPS_GROUP=$(getent group acme.ops | cut -d: -f1)
assert_eq "the role group is acme.member" acme.member "$MEMBER_GROUP"
assert_eq "the department group is acme.ops" acme.ops "$OPS_GROUP"
nx_run env LD_DEBUG=libs getent passwd alice
assert_contains "glibc loads the built libnss_nexalix.so.2 (private ld.so.cache)" "$ERR" \
    "$NEXALIX_NSS_DIR/libnss_nexalix.so.2"

# ===========================================================================
# 1. Password logins

ssh_password alice "$A_PW" id -Gn
if [ "$RC" -eq 0 ]; then
    ok "alice (member) logs in with her password (keyboard-interactive)"
else
    fail "alice (member) logs in with her password (keyboard-interactive)" "$(nx_last)" \
        "sshd log: $(tail -n 10 "$NX_TMP/sshd.log")"
fi
GROUPS_LINE=$(grep -E '^alice( |$)' <<<"$OUT" | tail -n 1)
assert_match "id -Gn in alice's session lists acme.ops" "$GROUPS_LINE" '(^| )acme\.ops( |$)'
assert_match "id -Gn in alice's session lists acme.member" "$GROUPS_LINE" '(^| )acme\.member( |$)'

ssh_method password alice "$A_PW" id -un
if [ "$RC" -eq 0 ] && grep -qx alice <<<"$OUT"; then
    ok "alice logs in with sshd's password method too"
else
    fail "alice logs in with sshd's password method too" "$(nx_last)"
fi

ssh_password carol "$C_PW" id -Gn
assert_eq "carol (org-admin) logs in" 0 "$RC"
assert_match "carol's session has acme.org-admin" "$OUT" '(^| )acme\.org-admin( |$)'

# ===========================================================================
# 2. A wrong password

login_refused "alice with a wrong password is refused" alice 'not her password'
assert_not_contains "a wrong password opens no session" "$OUT" "NX-COMMAND-RAN"
login_ok "alice's right password still works after one failure" alice "$A_PW"

# ===========================================================================
# 3. Back-off: 4 free failures, then 15 s (doubling)

for i in 1 2 3 4 5; do
    ssh_password bob "wrong password $i" echo NX-COMMAND-RAN
    if [ "$RC" -ne 255 ]; then
        fail "bob's wrong password #$i is refused" "$(nx_last)"
    fi
done
ok "bob's five wrong passwords were refused"
if B=$("$NEXALIXCTL" user show bob --json) && jq -e 'has("failed_logins")' <<<"$B" >/dev/null 2>&1; then
    assert_json "user show bob counts 5 failed logins" "$B" .failed_logins 5
    BU=$(jget "$B" .backed_off_until)
    BU_S=$(date -d "$BU" +%s 2>/dev/null)
    NOW_S=$(date +%s)
    if [[ "$BU_S" =~ ^[0-9]+$ ]] && [ "$BU_S" -gt "$NOW_S" ] && [ "$BU_S" -le $((NOW_S + 16)) ]; then
        ok "bob is backed off for at most 15 s (until $BU)"
    else
        fail "bob is backed off for at most 15 s" "backed_off_until: $BU" "now: $(date -u +%FT%TZ)"
    fi
else
    fail "user show --json has failed_logins and backed_off_until (not there yet)" \
        "$("$NEXALIXCTL" user show bob --json 2>&1 | head -c 600)"
fi
log_mark
login_refused "bob's RIGHT password is refused while backed off" bob "$B_PW" 'Too many failed attempts'
assert_match "the daemon refused without checking bob's password" "$(log_since)" 'Refused bob via sshd .*backed off'
assert_not_match "bob's right password was not counted as accepted" "$(log_since)" 'Accepted password for bob'
login_ok "alice is not affected by bob's back-off" alice "$A_PW"
login_ok "carol is not affected by bob's back-off" carol "$C_PW"
if has_command user unlock; then
    ctl user unlock bob
    check_ok "user unlock bob"
    login_ok "bob logs in with the right password after user unlock" bob "$B_PW"
    B=$("$NEXALIXCTL" user show bob --json)
    if jq -e 'has("failed_logins")' <<<"$B" >/dev/null 2>&1; then
        assert_json "bob's failed-login count is cleared" "$B" .failed_logins 0
        assert_json "bob is no longer backed off" "$B" .backed_off_until null
    fi
else
    fail "nexalixctl user unlock exists (not there yet: bob's back-off cannot be cleared)" \
        "$("$NEXALIXCTL" user unlock bob 2>&1 | head -c 300)"
fi

# ===========================================================================
# 4. Users who may not log in

# An invited user has no password: whatever is typed is wrong.
login_refused "invited ivan is refused (password)" ivan 'any password 1'
assert_not_match "the client is not told that ivan exists" "$OUT" 'activated|invitation'
nx_log "invited ivan, password: the client saw: $(grep -v '^$' <<<"$OUT" | tr '\n' '|')"
# With a key, sshd reaches the account stage, which says why.
ssh_key ivan echo NX-COMMAND-RAN
if [ "$RC" -eq 255 ] && [[ "$OUT" != *NX-COMMAND-RAN* ]]; then
    ok "invited ivan's authorised key opens nothing"
else
    fail "invited ivan's authorised key opens nothing" "$(nx_last)"
fi
assert_match "the client sees why (not activated)" "$ERR" 'has not been activated'

login_refused "role-less nora is refused, right password" nora "$N_PW" 'no role that allows it'

# ===========================================================================
# 5 and 6. Keys, a live session, deactivation

ssh_key kim id -un
if [ "$RC" -eq 0 ] && [ "$OUT" = kim ]; then
    ok "kim's authorised key opens a session while she is active"
else
    fail "kim's authorised key opens a session while she is active" "$(nx_last)" \
        "sshd log: $(tail -n 10 "$NX_TMP/sshd.log")"
fi

mapfile -t KIM_SSH < <(ssh_key_cmd kim)
"${KIM_SSH[@]}" sleep 600 >"$NX_TMP/kim-live.out" 2>&1 </dev/null &
LIVE_PID=$!
NX_BG_PIDS+=("$LIVE_PID")
deadline=$((SECONDS + 15))
while ! uid_processes "$KU" | grep -q ' sleep 600$'; do
    nx_pid_gone "$LIVE_PID" && break
    [ "$SECONDS" -ge "$deadline" ] && break
    sleep 0.05
done
if uid_processes "$KU" | grep -q ' sleep 600$'; then
    ok "kim's live session runs sleep 600 as uid $KU"
else
    fail "kim's live session runs sleep 600 as uid $KU" "$(cat "$NX_TMP/kim-live.out")" \
        "sshd log: $(tail -n 10 "$NX_TMP/sshd.log")"
fi

if has_command user sessions; then
    ctl user sessions kim --json
    check_ok "user sessions kim --json"
    assert_json "user sessions lists kim's live session" "$OUT" 'length >= 1' true
    assert_json "the session came through sshd" "$OUT" '[.[] | .service] | index("sshd") != null' true
    assert_json "the session's remote host is 127.0.0.1" "$OUT" '[.[] | .rhost] | index("127.0.0.1") != null' true
    SPID=$(jget "$OUT" '[.[] | select(.service == "sshd")][0].pid')
    assert_eq "the session's process is a live sshd" sshd "$(cat "/proc/$SPID/comm" 2>/dev/null)"
else
    fail "nexalixctl user sessions exists (not there yet)" \
        "$("$NEXALIXCTL" user sessions kim --json 2>&1 | head -c 300)"
fi

ctl user deactivate kim
T_DONE=$(now_ms)
check_ok "user deactivate kim"
while ! nx_pid_gone "$LIVE_PID" && [ $(($(now_ms) - T_DONE)) -lt 10000 ]; do
    sleep 0.02
done
T_GONE=$(now_ms)
if nx_pid_gone "$LIVE_PID"; then
    wait "$LIVE_PID" 2>/dev/null
    LIVE_RC=$?
    if [ $((T_GONE - T_DONE)) -le 1000 ]; then
        ok "kim's live ssh session ended $((T_GONE - T_DONE)) ms after user deactivate returned (ssh exit $LIVE_RC)"
    else
        fail "kim's live ssh session ends within 1 s of user deactivate" "it took $((T_GONE - T_DONE)) ms"
    fi
else
    fail "kim's live ssh session ends within 1 s of user deactivate" "still running after 10 s" \
        "processes of uid $KU: $(uid_processes "$KU" | tr '\n' ';')"
fi
LEFT=$(uid_processes "$KU")
if [ -n "$LEFT" ]; then
    fail "no process of kim's uid is left" "$LEFT"
else
    ok "no process of kim's uid is left (zombies not counted)"
fi
if has_command user sessions; then
    ctl user sessions kim --json
    assert_json "kim has no session after deactivation" "$OUT" 'length' 0
fi
nx_run id -Gn kim
assert_eq "deactivated kim resolves, in her private group only" kim "$OUT"

ssh_key kim echo NX-COMMAND-RAN
if [ "$RC" -eq 255 ] && [[ "$OUT" != *NX-COMMAND-RAN* ]]; then
    ok "deactivated kim's authorised key opens nothing (account stage)"
else
    fail "deactivated kim's authorised key opens nothing (account stage)" "$(nx_last)"
fi
assert_match "the client sees why (deactivated)" "$ERR" 'has been deactivated'
login_refused "deactivated kim is refused with her right password" kim "$K_PW" 'has been deactivated'

# ===========================================================================
# 7. passwd inside a session

ssh_tty alice "assword:" "$A_PW" "Current password:" "$A_PW" "New password:" "$A_PW2" \
    "Retype new password:" "$A_PW2" -- passwd
if [ "$RC" -eq 0 ]; then
    ok "passwd in alice's session exits 0"
else
    fail "passwd in alice's session exits 0" "$(nx_last)"
fi
assert_contains "passwd says the password was changed" "$OUT" "Your password has been changed."
assert_match "passwd reports success" "$OUT" 'password updated successfully'
assert_not_contains "every prompt came" "$OUT" "NX-EXPECT:"
login_ok "alice logs in with her new password" alice "$A_PW2"
login_refused "alice's old password no longer works" alice "$A_PW"

# ===========================================================================
# 8. su inside a session

ssh_tty carol "assword:" "$C_PW" "assword:" "$A_PW2" -- su - alice -c id
if [ "$RC" -eq 0 ]; then
    ok "su - alice -c id in carol's session exits 0"
else
    fail "su - alice -c id in carol's session exits 0" "$(nx_last)"
fi
assert_match "su - alice runs id as alice" "$OUT" "^uid=$AU\(alice\) "
assert_match "su - alice has alice's groups" "$OUT" 'acme\.member'

ssh_tty carol "assword:" "$C_PW" "assword:" "not alices password" -- su - alice -c 'echo NX-COMMAND-RAN'
assert_ne "su - alice with a wrong password fails" 0 "$RC"
assert_not_contains "su with a wrong password runs nothing" "$OUT" NX-COMMAND-RAN
assert_match "su says why" "$OUT" 'Authentication failure|failure'

# ===========================================================================
# 9. A non-root caller checking passwords (a screen locker's case)

PAM_WRAPPER_LIB=
for p in /usr/lib/*/libpam_wrapper.so /usr/lib/libpam_wrapper.so /usr/lib64/libpam_wrapper.so; do
    [ -e "$p" ] && { PAM_WRAPPER_LIB=$p; break; }
done
if [ -z "$PAM_WRAPPER_LIB" ] || ! command -v pamtester >/dev/null; then
    nx_log "SKIP part 9: pamtester or libpam_wrapper.so is not installed"
else
    mkdir -p "$NX_TMP/pamwrap"
    printf 'auth required %s runtime=%s\naccount required %s runtime=%s\n' \
        "$NEXALIX_PAM_MODULE" "$RUNTIME" "$NEXALIX_PAM_MODULE" "$RUNTIME" >"$NX_TMP/pamwrap/nx-locker"
    chmod -R a+rX "$NX_TMP/pamwrap"
    locker() {
        local password=$1
        shift
        nx_run_input "$password" setpriv --reuid="$CU" --regid="$CG" --clear-groups \
            env LD_PRELOAD="$PAM_WRAPPER_LIB" PAM_WRAPPER=1 PAM_WRAPPER_SERVICE_DIR="$NX_TMP/pamwrap" \
            pamtester nx-locker "$@"
    }
    F_BEFORE=$(user_field alice failed_logins)
    log_mark
    locker "$C_PW" carol authenticate
    if [ "$RC" -eq 0 ]; then
        ok "carol (uid $CU, not root) checks her own password"
    else
        fail "carol (uid $CU, not root) checks her own password" "$(nx_last)"
    fi
    locker "wrong carol password" carol authenticate
    assert_eq "carol's own wrong password is refused" 1 "$RC"
    locker "$C_PW" carol authenticate
    locker "$A_PW2" alice authenticate
    if [ "$RC" -ne 0 ] && grep -qi 'permission denied' <<<"$OUT$ERR"; then
        ok "carol may not check alice's password (permission denied)"
    else
        fail "carol may not check alice's password (permission denied)" "$(nx_last)"
    fi
    assert_not_match "no password prompt for alice's account" "$OUT$ERR" 'Password:'
    NEW_LOG=$(log_since)
    assert_match "the daemon logs the refused question" "$NEW_LOG" "may not ask about alice"
    assert_not_match "the daemon never checked a password of alice's" "$NEW_LOG" \
        'password for alice|Accepted password for alice'
    # (su with a wrong password counted one failure for alice above.)
    F=$(user_field alice failed_logins)
    if [ -n "$F" ] && [ "$F" != null ]; then
        assert_eq "alice's failed-login count is untouched by carol's question" "$F_BEFORE" "$F"
    fi
    login_ok "alice still logs in" alice "$A_PW2"
fi

# ===========================================================================
# 10. nexalixd stopped: local accounts only

nx_daemon_stop
assert_eq "nexalixd stopped cleanly" 0 "$NX_DAEMON_RC"
nx_run getent passwd alice
assert_match "alice still resolves with the daemon stopped (snapshot)" "$OUT" "^alice:x:$AU:"

T=$(now_ms)
login_ok "local nxlocal logs in with the daemon stopped" nxlocal "$LOCAL_PW"
login_ok "root logs in with the daemon stopped" root "$ROOT_PW"
nx_log "the two local logins took $(($(now_ms) - T)) ms"
login_refused "alice cannot log in with the daemon stopped" alice "$A_PW2"
login_refused "local nxlocal with a wrong password is refused" nxlocal 'not the password'
# The account stage of a public-key login must not let a deactivated user in
# when it cannot ask the daemon: pam_nexalix.so is skipped (authinfo_unavail)
# and pam_unix, without broken_shadow, refuses a user that has no shadow
# entry.
ssh_key kim echo NX-COMMAND-RAN
if [ "$RC" -ne 0 ] && [[ "$OUT" != *NX-COMMAND-RAN* ]]; then
    ok "deactivated kim's key opens nothing with the daemon stopped"
else
    fail "deactivated kim's key opens nothing with the daemon stopped" "$(nx_last)"
fi

nx_daemon_start
login_ok "alice logs in again once nexalixd is back" alice "$A_PW2"
if has_command user sessions; then
    sleep 0.2
    ctl user sessions alice --json
    assert_json "alice's ended ssh sessions were closed" "$OUT" 'length' 0
fi
assert_daemon_alive "after every login"

nx_log "test-ssh ran for $((SECONDS - T0)) s"
nx_finish
