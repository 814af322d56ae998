#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# Authorisation, with the CLI run as other uids (setpriv):
# - an org-admin of acme manages acme's users, departments and links, and
#   nothing of globex: globex's users look exactly like users that do not
#   exist (same exit status, same message), and stay unchanged;
# - a member, a user whose roles were all removed, a deactivated org-admin and
#   a uid that is no Nexalix user cannot manage anyone, themselves included
#   (no self-promotion), and change nothing;
# - the bus policy lets only root own org.nexalix.Identity1: a non-root
#   RequestName is denied, and nexalixd started as a non-root uid does not get
#   the name.

. "$(dirname "$0")/lib.sh"
nx_setup gdbus busctl

make_org acme
make_org globex
make_dept acme support
make_dept globex sales
make_active_user aadmin acme org-admin 'acme admin pw'
make_active_user aadmin2 acme org-admin 'acme admin pw 2'
make_active_user amember acme member 'acme member pw'
make_active_user anorole acme member 'acme norole pw'
ctl user role remove anorole member
check_ok "remove anorole's only role"
assert_json "anorole has no role" "$("$NEXALIXCTL" user show anorole --json)" '.roles | length' 0
make_active_user gadmin globex org-admin 'globex admin pw'
make_active_user guser globex member 'globex user pw' --department sales
make_user gspare globex member

uid_of() { user_field "$1" uid; }
gid_of() { user_field "$1" gid; }
AU=$(uid_of aadmin); AG=$(gid_of aadmin)
A2U=$(uid_of aadmin2); A2G=$(gid_of aadmin2)
MU=$(uid_of amember); MG=$(gid_of amember)
NU=$(uid_of anorole); NG=$(gid_of anorole)
GU=$(uid_of gadmin); GG=$(gid_of gadmin)
for v in AU AG A2U MU NU GU; do
    [[ "${!v}" =~ ^[0-9]+$ ]] || nx_die "no uid/gid for a test user ($v='${!v}')"
done

ctl user deactivate aadmin2
check_ok "deactivate aadmin2"

# Everything root can see, to prove refused calls changed nothing.
world() {
    printf '%s\n' "$(users_json)"
    "$NEXALIXCTL" org list --json
    "$NEXALIXCTL" dept list acme --json
    "$NEXALIXCTL" dept list globex --json
    for u in aadmin amember guser gadmin; do "$NEXALIXCTL" link list "$u" --json; done
}
RE_DENIED='permission|denied|not allowed|not permitted|authori[sz]|access|forbidden|privilege|not found|no such|unknown|does not exist|no user|no organi[sz]ation|no department|no link|not a nexalix user|only root|may not|cannot|can.t'

# --- the caller is who the daemon says it is -----------------------------
ctl_as "$AU" "$AG" status --json
check_ok "status as aadmin"
assert_json "status names the caller aadmin" "$OUT" .caller aadmin
assert_json "status carries the caller's uid" "$OUT" .caller_uid "$AU"
ctl_as "$NX_UNKNOWN_UID" "$NX_UNKNOWN_UID" status --json
check_ok "status as a uid that is no Nexalix user"
assert_json "status: no Nexalix user behind uid $NX_UNKNOWN_UID" "$OUT" '.caller // ""' ""
ctl_as "$MU" "$MG" role list --json
check_ok "role list as a member (anyone may list roles)"
assert_json "a member sees the built-in roles" "$OUT" '[.[].name] | sort | join(",")' member,org-admin

# --- org-admin of acme: acme only ----------------------------------------
ctl_as "$AU" "$AG" user list --json --limit 1000
check_ok "aadmin lists users"
assert_json "aadmin sees only acme's users" "$OUT" '[.[].org] | unique | join(",")' acme
assert_json "aadmin sees all of acme's users" "$OUT" '[.[].username] | join(",")' \
    aadmin,aadmin2,amember,anorole
ctl_as "$AU" "$AG" user list --org globex --json
if [ "$RC" -eq 0 ]; then
    assert_json "user list --org globex as aadmin shows nobody" "$OUT" length 0
else
    check_refused "user list --org globex as aadmin" "$RE_DENIED"
fi
assert_not_contains "globex's users are not in that output" "$OUT" guser
ctl_as "$AU" "$AG" user list --search guser --json
assert_not_contains "searching for guser as aadmin finds nothing" "$OUT" guser
ctl_as "$AU" "$AG" user list --state invited --json
assert_not_contains "invited globex users stay hidden from aadmin" "$OUT" gspare

ctl_as "$AU" "$AG" org list --json
check_ok "aadmin lists organisations"
assert_json "aadmin sees only acme" "$OUT" '[.[].name] | join(",")' acme
ctl_as "$AU" "$AG" user show amember --json
check_ok "aadmin shows an acme user"
assert_json "aadmin sees amember's record" "$OUT" .username amember

# A user of globex must look like a user that does not exist: same status,
# same message (with the name swapped), for every command taking a user.
W0=$(world)
indistinct() {
    local any_rc=0 rc1 e1 o1
    if [ "$1" = --any-rc ]; then any_rc=1; shift; fi
    ctl_as "$AU" "$AG" "${@//@U@/guser}"
    rc1=$RC e1=${ERR//guser/@U@} o1=$OUT
    ctl_as "$AU" "$AG" "${@//@U@/ghost}"
    local desc="aadmin: '${*//@U@/guser}'"
    local e2=${ERR//ghost/@U@} o2=${OUT//ghost/@U@}
    if [ "$rc1" -eq "$RC" ] && [ "$e1" == "$e2" ] && [ "${o1//guser/@U@}" == "$o2" ] &&
        { [ "$any_rc" -eq 1 ] || { [ "$rc1" -eq 1 ] && [ -n "$e1" ]; }; }; then
        ok "$desc: answered exactly as for a user that does not exist (exit $rc1, \"$(printf '%s' "$e1$o1" | head -n 1 | head -c 100)\")"
    else
        fail "$desc: answered exactly as for a user that does not exist (refused)" \
            "for guser: exit $rc1, stderr: $e1, stdout: $(printf '%s' "$o1" | head -c 300)" \
            "for ghost: exit $RC, stderr: $e2, stdout: $(printf '%s' "$o2" | head -c 300)"
    fi
    assert_not_contains "$desc prints nothing of guser" "$o1" "guser@example.com"
}
indistinct user show @U@
indistinct user show @U@ --json
indistinct user update @U@ --first Mallory
indistinct user update @U@ --email amember@example.com
indistinct user update @U@ --department sales
indistinct user role add @U@ org-admin
indistinct user role remove @U@ member
indistinct user deactivate @U@
indistinct user activate @U@
indistinct user delete @U@
indistinct link add @U@ incident.registered EVIL-1
indistinct link list @U@
indistinct link remove @U@ incident.registered EVIL-1
indistinct --any-rc audit --user @U@ --json
assert_eq "nothing of globex changed" "$W0" "$(world)"

ctl_as "$AU" "$AG" user create newglob --org globex --first New --last Glob \
    --email newglob@example.com --role member --invite
check_refused "aadmin creating a user in globex" "$RE_DENIED|organi[sz]ation"
ctl_as "$AU" "$AG" user create acmeglob --org acme --first New --last Glob \
    --email acmeglob@example.com --department sales --role member --invite
check_refused "aadmin creating an acme user in globex's department" 'department|sales'
ctl_as "$AU" "$AG" org create newco
check_refused "aadmin creating an organisation (root only)" "$RE_DENIED"
ctl_as "$AU" "$AG" org show globex
check_refused "aadmin showing globex" "$RE_DENIED"
ctl_as "$AU" "$AG" org require-2fa globex on
check_refused "aadmin setting globex's 2FA rule" "$RE_DENIED"
ctl_as "$AU" "$AG" dept create globex evil
check_refused "aadmin creating a department in globex" "$RE_DENIED"
ctl_as "$AU" "$AG" dept list globex
check_refused "aadmin listing globex's departments" "$RE_DENIED"
assert_not_contains "globex's department not shown" "$OUT" sales
ctl_as "$AU" "$AG" dept delete globex sales
check_refused "aadmin deleting globex's department" "$RE_DENIED"
ctl_as "$AU" "$AG" audit --json --limit 1000
if [ "$RC" -eq 0 ]; then
    assert_json "aadmin's audit view holds only acme" "$OUT" \
        '[.[] | select(.org != "acme")] | length' 0
    assert_not_contains "aadmin's audit view does not mention guser" "$OUT" guser
else
    check_refused "audit as aadmin" "$RE_DENIED"
fi
assert_eq "still nothing of globex changed" "$W0" "$(world)"

# Within acme, aadmin manages.
ctl_as "$AU" "$AG" user create acmenew --org acme --first Acme --last New \
    --email acmenew@example.com --department support --role member --invite
check_ok "aadmin creates a user in acme"
assert_json "the new user is in acme" "$("$NEXALIXCTL" user show acmenew --json)" .org acme
ctl_as "$AU" "$AG" user update amember --first Amy
check_ok "aadmin updates amember"
assert_json "amember renamed" "$("$NEXALIXCTL" user show amember --json)" .first_name Amy
ctl_as "$AU" "$AG" user role add amember org-admin
check_ok "aadmin grants org-admin within acme"
ctl_as "$AU" "$AG" user role remove amember org-admin
check_ok "aadmin removes it again"
assert_json "amember is a plain member" "$("$NEXALIXCTL" user show amember --json)" '.roles | join(",")' member
ctl_as "$AU" "$AG" link add amember incident.registered ACME-1
check_ok "aadmin adds a link to an acme user"
ctl_as "$AU" "$AG" link list amember --json
assert_json "aadmin sees it" "$OUT" '[.[].ref] | join(",")' ACME-1
ctl_as "$AU" "$AG" link remove amember incident.registered ACME-1
check_ok "aadmin removes it"
ctl_as "$AU" "$AG" user deactivate acmenew
check_ok "aadmin deactivates an acme user"
ctl_as "$AU" "$AG" user activate acmenew
check_ok "aadmin activates an acme user"
ctl_as "$AU" "$AG" user delete acmenew
check_ok "aadmin deletes an acme user"
ctl_as "$AU" "$AG" dept create acme qa
check_ok "aadmin creates a department in acme"
ctl_as "$AU" "$AG" org require-2fa acme on
check_ok "aadmin sets acme's 2FA rule"
assert_json "acme requires 2FA" "$("$NEXALIXCTL" org show acme --json)" .require_2fa true
ctl org require-2fa acme off

# --- nobody else manages anyone ------------------------------------------
W1=$(world)
cannot_manage() {
    local who=$1 uid=$2 gid=$3 self=$4
    ctl_as "$uid" "$gid" user list --json
    check_refused "$who: user list" "$RE_DENIED"
    assert_not_contains "$who: user list shows no user" "$OUT" aadmin
    ctl_as "$uid" "$gid" user show aadmin
    check_refused "$who: user show aadmin" "$RE_DENIED"
    assert_not_contains "$who: user show prints nothing" "$OUT" aadmin@example.com
    ctl_as "$uid" "$gid" user create sneaky --org acme --first S --last N \
        --email sneaky@example.com --role org-admin --invite
    check_refused "$who: user create" "$RE_DENIED"
    ctl_as "$uid" "$gid" user update aadmin --first Mallory
    check_refused "$who: user update aadmin" "$RE_DENIED"
    ctl_as "$uid" "$gid" user deactivate aadmin
    check_refused "$who: user deactivate aadmin" "$RE_DENIED"
    ctl_as "$uid" "$gid" user delete amember
    check_refused "$who: user delete amember" "$RE_DENIED"
    ctl_as "$uid" "$gid" link add aadmin incident.registered EVIL-2
    check_refused "$who: link add" "$RE_DENIED"
    ctl_as "$uid" "$gid" dept create acme evil
    check_refused "$who: dept create" "$RE_DENIED"
    ctl_as "$uid" "$gid" org require-2fa acme on
    check_refused "$who: org require-2fa" "$RE_DENIED"
    ctl_as "$uid" "$gid" org create evilco
    check_refused "$who: org create" "$RE_DENIED"
    ctl_as "$uid" "$gid" audit --json
    check_refused "$who: audit" "$RE_DENIED"
    if [ -n "$self" ]; then
        ctl_as "$uid" "$gid" user role add "$self" org-admin
        check_refused "$who: promoting themselves to org-admin" "$RE_DENIED"
        ctl_as "$uid" "$gid" user activate "$self"
        check_refused "$who: user activate on themselves" "$RE_DENIED"
        ctl_as "$uid" "$gid" user update "$self" --first Self
        check_refused "$who: user update on themselves (admin interface)" "$RE_DENIED"
    fi
    assert_eq "$who changed nothing" "$W1" "$(world)"
}
cannot_manage "a member" "$MU" "$MG" amember
cannot_manage "a user with no role" "$NU" "$NG" anorole
cannot_manage "a deactivated org-admin" "$A2U" "$A2G" aadmin2
cannot_manage "uid $NX_UNKNOWN_UID (no Nexalix user)" "$NX_UNKNOWN_UID" "$NX_UNKNOWN_UID" ""

# globex's admin is just as confined the other way round.
ctl_as "$GU" "$GG" user list --json
check_ok "gadmin lists users"
assert_json "gadmin sees only globex" "$OUT" '[.[].org] | unique | join(",")' globex
ctl_as "$GU" "$GG" user deactivate aadmin
check_refused "gadmin deactivating aadmin" "$RE_DENIED"
assert_json "aadmin still active" "$("$NEXALIXCTL" user show aadmin --json)" .state active

# Losing the role takes effect at once.
ctl user role remove aadmin org-admin
ctl user role add aadmin member
ctl_as "$AU" "$AG" user update amember --first Again
check_refused "aadmin, demoted to member, can no longer manage" "$RE_DENIED"
assert_json "amember not renamed" "$("$NEXALIXCTL" user show amember --json)" .first_name Amy

# --- the same, straight over D-Bus ----------------------------------------
# Authorisation lives in the daemon: a client that skips nexalixctl gets
# nothing more. busctl as aadmin (org-admin of acme again) and amember.
ctl user role add aadmin org-admin
check_ok "aadmin is org-admin again"
ctl user role remove aadmin member
W2=$(world)
bus_as() {
    local uid=$1 gid=$2 iface=$3
    shift 3
    nx_run setpriv --reuid="$uid" --regid="$gid" --clear-groups busctl --system --timeout=20 \
        call org.nexalix.Identity1 /org/nexalix/Identity1 "org.nexalix.Identity1.$iface" "$@"
}
bus_denied() {
    local desc=$1
    shift
    bus_as "$@"
    if [ "$RC" -ne 0 ] && [ -n "$ERR" ]; then
        ok "D-Bus: $desc: refused (\"$(head -n 1 <<<"$ERR" | head -c 100)\")"
    else
        fail "D-Bus: $desc: refused" "$(nx_last)"
    fi
}
ADM=Admin
bus_as "$AU" "$AG" $ADM ListUsers 'a{sv}' 0
assert_contains "D-Bus: aadmin ListUsers works and shows acme's users" "$OUT" amember
bus_as "$AU" "$AG" $ADM ListUsers 'a{sv}' 1 org s globex
assert_not_contains "D-Bus: aadmin ListUsers org=globex returns no globex user" "$OUT" guser
bus_as "$AU" "$AG" $ADM ListUsers 'a{sv}' 1 search s guser
assert_not_contains "D-Bus: aadmin ListUsers search=guser returns nothing" "$OUT" guser
bus_as "$AU" "$AG" $ADM ListOrganisations
assert_not_contains "D-Bus: aadmin ListOrganisations hides globex" "$OUT" globex
bus_as "$AU" "$AG" $ADM GetAudit 'a{sv}' 1 user s guser
assert_not_contains "D-Bus: aadmin GetAudit user=guser shows nothing of guser" "$OUT" guser
bus_denied "aadmin GetUser guser" "$AU" "$AG" $ADM GetUser s guser
bus_denied "aadmin UpdateUser guser" "$AU" "$AG" $ADM UpdateUser 'sa{sv}' guser 1 first_name s Mallory
bus_denied "aadmin CreateUser in globex" "$AU" "$AG" $ADM CreateUser 'a{sv}s' 7 \
    username s busglob org s globex first_name s A last_name s B email s busglob@example.com \
    roles as 1 member invite b true ''
bus_denied "aadmin ImportUsers into globex" "$AU" "$AG" $ADM ImportUsers 'saa{sv}' globex 1 \
    5 username s busimp first_name s A last_name s B email s busimp@example.com roles as 1 member
bus_denied "aadmin ImportUsers into globex through an entry's org" "$AU" "$AG" $ADM ImportUsers 'saa{sv}' acme 1 \
    6 username s busimp first_name s A last_name s B email s busimp@example.com roles as 1 member org s globex
bus_denied "aadmin AddUserRole guser" "$AU" "$AG" $ADM AddUserRole ss guser org-admin
bus_denied "aadmin DeactivateUser guser" "$AU" "$AG" $ADM DeactivateUser s guser
bus_denied "aadmin DeleteUser guser" "$AU" "$AG" $ADM DeleteUser s guser
bus_denied "aadmin SetRequire2FA globex" "$AU" "$AG" $ADM SetRequire2FA sb globex true
bus_denied "aadmin CreateDepartment in globex" "$AU" "$AG" $ADM CreateDepartment ss globex evil
bus_denied "aadmin DeleteDepartment in globex" "$AU" "$AG" $ADM DeleteDepartment ss globex sales
bus_denied "aadmin CreateOrganisation" "$AU" "$AG" $ADM CreateOrganisation s busco
bus_denied "aadmin AddLink to guser" "$AU" "$AG" Links AddLink sss guser incident.registered BUS-1
bus_denied "aadmin ListLinks of guser" "$AU" "$AG" Links ListLinks s guser
bus_denied "amember ListUsers" "$MU" "$MG" $ADM ListUsers 'a{sv}' 0
bus_denied "amember GetUser of itself" "$MU" "$MG" $ADM GetUser s amember
bus_denied "amember AddUserRole org-admin to itself" "$MU" "$MG" $ADM AddUserRole ss amember org-admin
bus_denied "amember ImportUsers into acme" "$MU" "$MG" $ADM ImportUsers 'saa{sv}' acme 1 \
    5 username s busimp2 first_name s A last_name s B email s busimp2@example.com roles as 1 member
bus_denied "amember GetAudit" "$MU" "$MG" $ADM GetAudit 'a{sv}' 0
bus_denied "uid $NX_UNKNOWN_UID CreateUser" "$NX_UNKNOWN_UID" "$NX_UNKNOWN_UID" $ADM CreateUser 'a{sv}s' 7 \
    username s busx org s acme first_name s A last_name s B email s busx@example.com \
    roles as 1 org-admin invite b true ''
bus_denied "uid $NX_UNKNOWN_UID ListUsers" "$NX_UNKNOWN_UID" "$NX_UNKNOWN_UID" $ADM ListUsers 'a{sv}' 0
bus_denied "uid $NX_UNKNOWN_UID AddLink" "$NX_UNKNOWN_UID" "$NX_UNKNOWN_UID" Links AddLink sss amember incident.registered BUS-2
assert_eq "nothing changed through direct D-Bus calls" "$W2" "$(world)"

# A user of another organisation must be indistinguishable from a missing
# one: the same D-Bus error name, the same message but for the name. gdbus
# prints the error name (busctl does not).
gdbus_error_as() {
    local uid=$1 gid=$2 method=$3
    shift 3
    setpriv --reuid="$uid" --regid="$gid" --clear-groups timeout 20 gdbus call --system \
        --dest org.nexalix.Identity1 --object-path /org/nexalix/Identity1 \
        --method "org.nexalix.Identity1.$method" "$@" 2>&1 >/dev/null |
        sed -n 's/.*GDBus\.Error:\([A-Za-z0-9_.]*\): \(.*\)/\1 \2/p' | head -n 1
}
for call in "Admin.GetUser" "Admin.DeactivateUser" "Admin.ActivateUser" "Admin.DeleteUser" \
            "Admin.AddUserRole|member" "Admin.RemoveUserRole|member" \
            "Admin.UpdateUser|{'first_name': <'Mallory'>}" "Links.ListLinks" \
            "Links.AddLink|incident.registered|BUS-9"; do
    IFS='|' read -r method arg1 arg2 <<<"$call"
    extra=()
    [ -n "$arg1" ] && extra+=("$arg1")
    [ -n "$arg2" ] && extra+=("$arg2")
    other=$(gdbus_error_as "$AU" "$AG" "$method" guser "${extra[@]}")
    missing=$(gdbus_error_as "$AU" "$AG" "$method" nosuchuser "${extra[@]}")
    assert_eq "D-Bus: $method on another organisation's user answers like a missing user" \
        "${missing//nosuchuser/NAME}" "${other//guser/NAME}"
    assert_match "D-Bus: and that answer is NotFound" "$other" '^org\.nexalix\.Identity1\.Error\.NotFound '
done
assert_eq "nothing changed through the error-name probes" "$W2" "$(world)"

# An outsider's huge request costs the daemon nothing: the caller is checked
# before a byte of it is read. 300,000 roles (an array that once grew one
# element at a time).
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$NX_DAEMON_PID/stat"; }
ticks_per_s=$(getconf CLK_TCK)
# big_call DESCRIPTION EXPECTED-ERE [setpriv prefix…]: 3,500,000 empty roles.
big_call() {
    local desc=$1 re=$2 before spent
    shift 2
    before=$(cpu_ticks)
    nx_run "$@" "$NX_BUS_MANY_ROLES" 3500000
    spent=$(( ($(cpu_ticks) - before) * 1000 / ticks_per_s ))
    if [ "$RC" -eq 0 ] && grep -Eq -- "$re" <<<"$OUT"; then
        ok "D-Bus: $desc: \"$OUT\""
    else
        fail "D-Bus: $desc" "expected an error matching: $re" "exit $RC, stdout: $OUT, stderr: $ERR"
    fi
    if [ "$spent" -le 250 ]; then
        ok "D-Bus: $desc cost the daemon $spent ms of CPU (at most 250; libdbus alone validates the 28 MB message)"
    else
        fail "D-Bus: $desc costs the daemon at most 250 ms of CPU" "it cost $spent ms"
    fi
}
big_call "an outsider's CreateUser with 3.5 M roles is refused before it is read" \
    'AccessDenied permission denied' \
    setpriv --reuid="$NX_UNKNOWN_UID" --regid="$NX_UNKNOWN_UID" --clear-groups
# Even root cannot make it read more roles than exist.
big_call "root's CreateUser with 3.5 M roles is cut while it is read" 'InvalidArgument .*at most 2 roles'
assert_daemon_alive "after the oversized requests"

# --- the bus policy: only root owns the name -----------------------------
request_name() {
    nx_run "$@" gdbus call --system --dest org.freedesktop.DBus --object-path /org/freedesktop/DBus \
        --method org.freedesktop.DBus.RequestName org.nexalix.Identity1 4
}
name_has_owner() {
    gdbus call --system --dest org.freedesktop.DBus --object-path /org/freedesktop/DBus \
        --method org.freedesktop.DBus.NameHasOwner org.nexalix.Identity1 2>/dev/null | grep true >/dev/null
}
request_name setpriv --reuid="$AU" --regid="$AG" --clear-groups
if [ "$RC" -ne 0 ] && grep -q AccessDenied <<<"$ERR"; then
    ok "a non-root uid may not queue for org.nexalix.Identity1 (AccessDenied)"
else
    fail "a non-root uid may not own org.nexalix.Identity1" "$(nx_last)"
fi

nx_daemon_stop
assert_eq "nexalixd exits 0 on SIGTERM" 0 "$NX_DAEMON_RC"
if name_has_owner; then
    fail "the name is released when nexalixd stops"
else
    ok "the name is released when nexalixd stops"
fi
for who in "$AU:$AG:an acme org-admin" "$NX_UNKNOWN_UID:$NX_UNKNOWN_UID:uid $NX_UNKNOWN_UID"; do
    IFS=: read -r u g label <<<"$who"
    request_name setpriv --reuid="$u" --regid="$g" --clear-groups
    if [ "$RC" -ne 0 ] && grep -q AccessDenied <<<"$ERR"; then
        ok "$label may not own the free name (AccessDenied)"
    else
        fail "$label may not own the free name" "$(nx_last)"
    fi
done
request_name
if [ "$RC" -eq 0 ] && [[ "$OUT" == *"uint32 1"* ]]; then
    ok "root may own the name (the policy is not just denying everyone)"
else
    fail "root may own the name" "$(nx_last)"
fi

# nexalixd itself, run as a non-root uid with a store it may write.
mkdir -p "$NX_TMP/nonroot"
chown "$AU:$AG" "$NX_TMP/nonroot"
nx_write_config "$NX_TMP/nonroot.conf" "$NX_TMP/nonroot/store" "$NX_TMP/nonroot/run"
chmod 0644 "$NX_TMP/nonroot.conf"
setpriv --reuid="$AU" --regid="$AG" --clear-groups \
    "$NEXALIXD" --config "$NX_TMP/nonroot.conf" --foreground >"$NX_TMP/nonroot.log" 2>&1 </dev/null &
NR=$!
NX_EXTRA_DAEMON_PIDS+=("$NR")
owned=0
deadline=$((SECONDS + 10))
while ! nx_pid_gone "$NR" && [ "$SECONDS" -lt "$deadline" ]; do
    name_has_owner && owned=1
    sleep 0.1
done
if nx_pid_gone "$NR"; then
    wait "$NR"
    nrc=$?
    if [ "$nrc" -ne 0 ]; then
        ok "nexalixd as uid $AU exits with an error (status $nrc)"
    else
        fail "nexalixd as uid $AU exits with an error" "it exited 0" "$(cat "$NX_TMP/nonroot.log")"
    fi
    assert_match "and says why" "$(cat "$NX_TMP/nonroot.log")" \
        'root|denied|not allowed|own|name|permission|privilege'
else
    fail "nexalixd as uid $AU gives up within 10 s" "still running" "$(cat "$NX_TMP/nonroot.log")"
    kill -KILL "$NR" 2>/dev/null
    wait "$NR" 2>/dev/null
fi
assert_eq "nexalixd as uid $AU never owned the name" 0 "$owned"

nx_daemon_start
ok "root's nexalixd takes the name back"
ctl_as "$AU" "$AG" status --json
assert_json "and answers aadmin again" "$OUT" .caller aadmin

nx_finish
