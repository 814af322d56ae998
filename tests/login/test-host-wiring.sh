#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# nexalix-host (tools/nexalix-host) on fake roots (--root) that hold copies of
# this machine's own Debian files: nsswitch.conf, the PAM services sshd,
# login, su and passwd with the common-* stacks they include, and
# sshd_config. Checked with the files' real contents:
#   - enable wires each file exactly as documented (the lines, their order
#     around the @include lines, nothing else changed, modes kept), backs up
#     the originals, and says what it did;
#   - a second enable changes nothing and says so; status (text and --json)
#     reports what is wired;
#   - disable gives back every file byte for byte, also for a service that is
#     not a default one, and with module arguments added by hand;
#   - --dry-run writes nothing and prints the diff that enable then applies;
#   - each refusal changes nothing and says why: nsswitch without files, an
#     unknown PAM layout, common-auth without pam_unix.so, sshd_config turning
#     keyboard-interactive off before its Include, a drop-in that does, the
#     module missing, a damaged block;
#   - usage errors exit 2.
# Then, as root, libpam itself runs the wired files: pamtester in a private
# mount namespace where the fake root's pam.d and nsswitch.conf, a passwd and
# shadow with a local test account, and a copy of the host's module
# directory plus the built pam_nexalix.so are bind-mounted over the host's
# (unshare: nothing of the host changes). pam_wrapper is not used: libpam
# resolves `@include common-auth` against /etc/pam.d even when pam_wrapper
# points it at another directory, so it would read the host's own
# common-auth. No nexalixd runs, which is the "daemon stopped" case.
# Last, as root, the tool without --root on this host's own /etc seen through
# an overlay in a private mount namespace (writes land in the test's
# directory; a guard stops before anything runs if they would not): root is
# required, `sshd -T` obeys the drop-in, disable gives the files back, and a
# drop-in sshd does not obey makes enable put every file back.
#
# Needs no root for the file checks; the libpam and overlay parts are
# skipped, with a message, without root.

# shellcheck source-path=SCRIPTDIR source=../integration/lib.sh
. "$(dirname "$0")/../integration/lib.sh"

HOST_TOOL=${NEXALIX_HOST_TOOL:-$NEXALIX_SRCDIR/tools/nexalix-host}
BUILT_PAM_MODULE=${NEXALIX_PAM_MODULE:-${NEXALIX_BUILD_ROOT:-$NEXALIX_SRCDIR/build-it}/pam_module/pam_nexalix.so}
SERVICES=(sshd login su passwd)
COMMON=(common-auth common-account common-password common-session)

# What enable must write, spelled out here rather than taken from the tool.
BEGIN='# BEGIN nexalix (nexalix-host enable; undo with nexalix-host disable)'
END='# END nexalix'
CONTROL='[success=done user_unknown=ignore authinfo_unavail=ignore default=die]'
declare -A MODULE_LINE=(
    [auth]="auth     $CONTROL pam_nexalix.so"
    [account]="account  $CONTROL pam_nexalix.so"
    [password]="password $CONTROL pam_nexalix.so"
    [session]="session  optional pam_nexalix.so"
)

for t in jq diff cmp awk sed patch; do
    command -v "$t" >/dev/null 2>&1 || nx_skip "$t is not installed"
done
[ -f "$HOST_TOOL" ] || nx_die "nexalix-host not found at $HOST_TOOL (set NEXALIX_SRCDIR)"
for f in /etc/nsswitch.conf /etc/ssh/sshd_config "${SERVICES[@]/#//etc/pam.d/}" "${COMMON[@]/#//etc/pam.d/}"; do
    [ -r "$f" ] || nx_skip "$f is missing: this test wires copies of a Debian host's own files"
done

# No daemon and no bus: a temporary directory and lib.sh's cleanup suffice.
NX_TMP=$(mktemp -d "${TMPDIR:-/tmp}/nexalix-$NX_TEST_NAME.XXXXXX") || nx_die "mktemp failed"
trap nx_cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
nx_log "$NX_TEST_NAME: temporary directory $NX_TMP, tool $HOST_TOOL"

host() { nx_run bash "$HOST_TOOL" "$@"; }

# make_root NAME [--no-module]: a fake root with copies of the host's files
# and, unless --no-module, a pam_nexalix.so where the tool looks for it (the
# tool only checks that it is there; libpam is tested below with the real
# one). Prints its path.
make_root() {
    local r=$NX_TMP/$1 f dir
    mkdir -p "$r/etc/pam.d" "$r/etc/ssh/sshd_config.d"
    cp /etc/nsswitch.conf "$r/etc/"
    for f in "${SERVICES[@]}" "${COMMON[@]}"; do
        cp "/etc/pam.d/$f" "$r/etc/pam.d/"
    done
    cp /etc/ssh/sshd_config "$r/etc/ssh/"
    chmod -R u+w "$r"
    if [ "${2:-}" != --no-module ]; then
        dir=$(bash "$HOST_TOOL" --root "$r" status --json | jq -r '.modules.pam.searched[0]')
        if [ -z "$dir" ] || [ "$dir" = null ]; then
            nx_die "status --json names no PAM module directory"
        fi
        mkdir -p "$dir"
        printf 'stand-in\n' >"$dir/pam_nexalix.so"
    fi
    printf '%s\n' "$r"
}

# tree_listing DIR: every path with its mode, owner and (for files) checksum.
tree_listing() {
    (cd "$1" && find . -printf '%p %y %m %U:%G\n' | sort &&
        find . -type f -exec sha256sum {} + | sort -k 2)
}

# assert_same_tree DESCRIPTION DIR1 DIR2: same files, bytes, modes, owners.
assert_same_tree() {
    local a b
    a=$(tree_listing "$2")
    b=$(tree_listing "$3")
    if [ "$a" == "$b" ]; then
        ok "$1"
    else
        fail "$1" "$(diff <(printf '%s\n' "$a") <(printf '%s\n' "$b") | head -n 30)" \
            "$(diff -r "$2" "$3" | head -n 30)"
    fi
}

# lines_around FILE GROUP: the three lines before the first
# "@include common-GROUP" (after it, for session).
lines_around() {
    local n
    n=$(grep -n -x -m 1 "@include common-$2" "$1" | cut -d: -f1)
    [ -n "$n" ] || return 0
    if [ "$2" = session ]; then
        sed -n "$((n + 1)),$((n + 3))p" "$1"
    else
        [ "$n" -gt 3 ] || return 0
        sed -n "$((n - 3)),$((n - 1))p" "$1"
    fi
}

# without_blocks FILE: FILE without our blocks, by a means of the test's own.
without_blocks() {
    awk -v b="$BEGIN" -v e="$END" '$0 == b { skip = 1; next } skip && $0 == e { skip = 0; next } !skip' "$1"
}

# backups NAME: the backups of NAME (pam.d_sshd), one per line.
backups() {
    find "$B" -maxdepth 1 -name "$1.*" -printf '%f\n' | sort
}

# check_refusal DESCRIPTION ROOT ERE ARGS…: the tool, run on ROOT with ARGS,
# refuses with exit 1 and a reason matching ERE, and changes nothing in ROOT
# (no file, no backup).
check_refusal() {
    local desc=$1 r=$2 re=$3
    shift 3
    rm -rf "$NX_TMP/before"
    cp -a "$r" "$NX_TMP/before"
    host --root "$r" "$@"
    check_refused "$desc" "$re"
    if [[ $ERR == *"nothing was changed"* ]]; then
        ok "$desc: says nothing was changed"
    else
        fail "$desc: says nothing was changed" "$(nx_last)"
    fi
    assert_same_tree "$desc: every file as before, no backup" "$NX_TMP/before" "$r"
}

# ---------------------------------------------------------------------------
# Usage

host --version
check_ok "--version"
assert_match "--version prints the version" "$OUT" '^nexalix-host [0-9]+\.[0-9]+'
host --help
check_ok "--help"
assert_contains "--help names the commands" "$OUT" "disable [--dry-run] [--no-reload]"
host
check_rc "no command" 2
host frobnicate
check_rc "unknown command" 2
host --root "$NX_TMP/none" status
check_rc "--root of a missing directory" 2
assert_match "the message names the problem" "$ERR" '^nexalix-host: --root .*no such directory'
host --root "$NX_TMP" enable --json
check_rc "--json is not an option of enable" 2
host --root "$NX_TMP" disable --services sshd
check_rc "disable takes no --services" 2
host --root "$NX_TMP" enable --bogus
check_rc "unknown option" 2
host --root "$NX_TMP" enable --services 'sshd,../shadow'
check_rc "a service name with a slash" 2

# ---------------------------------------------------------------------------
# enable on a copy of this host

R=$(make_root main)
# A mode other than 0644, to see that the rewritten file keeps it.
chmod 0640 "$R/etc/pam.d/login"
cp -a "$R/etc" "$NX_TMP/main.orig"
ORIG=$NX_TMP/main.orig

host --root "$R" status --json
check_ok "status before enable"
assert_json "status: not wired before enable" "$OUT" '.state' not-wired
assert_json "status: sshd not wired" "$OUT" '.pam.sshd.state' not-wired
assert_json "status: the stand-in module is found" "$OUT" '.modules.pam.installed' true

# The dry run first: nothing written, and the diff it prints is exactly what
# enable then does (applied with patch to a copy, it gives enable's result).
host --root "$R" enable --dry-run
check_ok "enable --dry-run"
DRY_OUT=$OUT
assert_same_tree "enable --dry-run changes nothing" "$ORIG" "$R/etc"
if [ ! -e "$R/var" ]; then ok "enable --dry-run makes no backup"; else fail "enable --dry-run makes no backup" "$(ls -R "$R/var")"; fi
for f in etc/nsswitch.conf etc/pam.d/sshd etc/pam.d/login etc/pam.d/su etc/pam.d/passwd; do
    assert_contains "dry run: diff of $f" "$DRY_OUT" "--- $R/$f"$'\n'"+++ $R/$f"
done
assert_contains "dry run: the drop-in is a new file" "$DRY_OUT" \
    "--- /dev/null"$'\n'"+++ $R/etc/ssh/sshd_config.d/50-nexalix.conf"
assert_contains "dry run: the auth line is in the diff" "$DRY_OUT" "+${MODULE_LINE[auth]}"
assert_contains "dry run: says nothing was written" "$ERR" "nothing was written"

host --root "$R" enable
check_ok "enable"
ENABLE_OUT=$OUT
for f in nsswitch.conf pam.d/sshd pam.d/login pam.d/su pam.d/passwd ssh/sshd_config.d/50-nexalix.conf; do
    assert_match "enable reports $f" "$ENABLE_OUT" "^$R/etc/$f: "
done
assert_match "enable reminds that nexalixd must run" "$ENABLE_OUT" 'only while nexalixd is running'
assert_match "enable says local accounts and root are unaffected" "$ENABLE_OUT" 'local accounts and root are unaffected'
assert_match "--root: no service reloaded" "$ENABLE_OUT" 'not reloaded \(--root\)'

# The dry run's diff, applied to the originals, gives what enable wrote.
rm -rf "$NX_TMP/patched" && mkdir -p "$NX_TMP/patched" && cp -a "$ORIG" "$NX_TMP/patched/etc"
if sed -e "s|^--- $R/|--- |" -e "s|^+++ $R/|+++ |" <<<"$DRY_OUT" |
    patch -s -d "$NX_TMP/patched" -p0 >"$NX_TMP/patch.log" 2>&1; then
    if diff -r "$NX_TMP/patched/etc" "$R/etc" >"$NX_TMP/patch.diff"; then
        ok "the dry run's diff is exactly what enable did"
    else
        fail "the dry run's diff is exactly what enable did" "$(head -n 30 "$NX_TMP/patch.diff")"
    fi
else
    fail "the dry run's diff applies to the original files" "$(cat "$NX_TMP/patch.log")"
fi

# nsswitch.conf: nexalix right after files, the other sources kept, nothing
# else changed.
for db in passwd group; do
    before=$(grep -E "^$db:" "$ORIG/nsswitch.conf")
    after=$(grep -E "^$db:" "$R/etc/nsswitch.conf")
    expected=$(sed -E 's/([[:space:]])files([[:space:]]|$)/\1files nexalix\2/' <<<"$before")
    assert_eq "nsswitch.conf: $db: nexalix right after files" "$expected" "$after"
    assert_match "nsswitch.conf: $db: files comes first" "$after" "^$db:[[:space:]]+files nexalix"
done
assert_eq "nsswitch.conf: no other line changed" \
    "$(grep -Ev '^(passwd|group):' "$ORIG/nsswitch.conf")" "$(grep -Ev '^(passwd|group):' "$R/etc/nsswitch.conf")"
assert_eq "nsswitch.conf: systemd kept after nexalix (this host's lines)" \
    "passwd:         files nexalix systemd" "$(grep '^passwd:' "$R/etc/nsswitch.conf")"

# PAM: a block right before each include (after, for session), one per
# include the original has, and nothing else.
for svc in "${SERVICES[@]}"; do
    f=$R/etc/pam.d/$svc
    n=0
    for g in auth account password session; do
        if grep -q -x "@include common-$g" "$ORIG/pam.d/$svc"; then
            n=$((n + 1))
            where=before
            [ "$g" != session ] || where=after
            assert_eq "pam.d/$svc: the $g block right $where @include common-$g" \
                "$BEGIN"$'\n'"${MODULE_LINE[$g]}"$'\n'"$END" "$(lines_around "$f" "$g")"
        else
            assert_not_contains "pam.d/$svc: no $g block (no common-$g)" "$(cat "$f")" "${MODULE_LINE[$g]}"
        fi
    done
    assert_eq "pam.d/$svc: $n blocks" "$n" "$(grep -c -x -F "$BEGIN" "$f")"
    if without_blocks "$f" | cmp -s - "$ORIG/pam.d/$svc"; then
        ok "pam.d/$svc: nothing changed outside the blocks"
    else
        fail "pam.d/$svc: nothing changed outside the blocks" "$(without_blocks "$f" | diff "$ORIG/pam.d/$svc" - | head -n 20)"
    fi
done
# The layouts of this host's files, as the task describes them.
assert_eq "su: auth, account and session, no password" 3 "$(grep -c 'pam_nexalix\.so' "$R/etc/pam.d/su")"
assert_eq "passwd: only password" "${MODULE_LINE[password]}" "$(grep 'pam_nexalix\.so' "$R/etc/pam.d/passwd")"
assert_eq "common-* files are not touched" "" "$(for c in "${COMMON[@]}"; do cmp -s "$ORIG/pam.d/$c" "$R/etc/pam.d/$c" || echo "$c"; done)"
assert_eq "pam.d/login keeps its mode" 640 "$(stat -c %a "$R/etc/pam.d/login")"
assert_eq "pam.d/sshd keeps its mode" "$(stat -c %a "$ORIG/pam.d/sshd")" "$(stat -c %a "$R/etc/pam.d/sshd")"

# sshd: the drop-in, and sshd_config itself left alone.
DROPIN=$R/etc/ssh/sshd_config.d/50-nexalix.conf
if [ -f "$DROPIN" ]; then ok "sshd drop-in written"; else fail "sshd drop-in written" "no $DROPIN"; fi
assert_eq "drop-in settings" "UsePAM yes"$'\n'"KbdInteractiveAuthentication yes"$'\n'"AuthorizedKeysCommand /usr/libexec/nexalix/nexalix-authorized-keys %u"$'\n'"AuthorizedKeysCommandUser nexalix-keys" \
    "$(grep -v '^#' "$DROPIN")"
assert_match "drop-in says where SSH keys come from" "$(cat "$DROPIN")" '^#.*keys snapshot nexalixd publishes'
assert_match "drop-in says why keyboard-interactive" "$(cat "$DROPIN")" '^#.*keyboard-interactive authentication is what'
assert_match "drop-in: it carries the two-factor prompt" "$(cat "$DROPIN")" '^#.*carries the two-factor prompt'
assert_match "drop-in says when messages reach the client" "$(cat "$DROPIN")" '^#.*next prompt'
assert_eq "drop-in mode" 644 "$(stat -c %a "$DROPIN")"
if cmp -s "$ORIG/ssh/sshd_config" "$R/etc/ssh/sshd_config"; then ok "sshd_config not touched"; else fail "sshd_config not touched"; fi
assert_eq "no temporary file left behind" "" "$(find "$R/etc" -name '*.nexalix-host.*')"

# Backups: one per file that existed, with its original text, mode 0600.
B=$R/var/backups/nexalix
assert_eq "backup directory mode" 700 "$(stat -c %a "$B" 2>/dev/null)"
for f in nsswitch.conf pam.d/sshd pam.d/login pam.d/su pam.d/passwd; do
    name=${f//\//_}
    copy=$(backups "$name" | grep -E "^${name//./\\.}\.[0-9]{8}-[0-9]{6}$" | head -n 1)
    if [ -n "$copy" ] && cmp -s "$B/$copy" "$ORIG/$f"; then
        ok "backup of $f ($copy) holds the original"
    else
        fail "backup of $f holds the original" "backups: $(find "$B" -printf '%f ')"
    fi
    [ -z "$copy" ] || assert_eq "backup $copy mode" 600 "$(stat -c %a "$B/$copy")"
done
assert_eq "no backup of the new drop-in" "" "$(backups ssh_sshd_config.d_50-nexalix.conf)"
assert_match "enable names the backup" "$ENABLE_OUT" "pam.d/sshd: .*backup: $B/pam\.d_sshd\.[0-9]{8}-[0-9]{6}"

# A second enable changes nothing.
cp -a "$R" "$NX_TMP/main.wired"
host --root "$R" enable
check_ok "second enable"
assert_match "second enable says already wired" "$OUT" 'already wired; nothing changed'
assert_match "second enable: sshd already wired" "$OUT" "pam.d/sshd: already wired"
assert_same_tree "second enable changes no file and makes no backup" "$NX_TMP/main.wired" "$R"

host --root "$R" status --json
check_ok "status --json after enable"
STATUS=$OUT
assert_json "status: wired" "$STATUS" '.state' wired
assert_json "status: nsswitch passwd" "$STATUS" '.nsswitch.passwd' wired
assert_json "status: nsswitch group" "$STATUS" '.nsswitch.group' wired
for svc in "${SERVICES[@]}"; do
    assert_json "status: $svc wired" "$STATUS" ".pam.$svc.state" wired
done
assert_json "status: sshd blocks" "$STATUS" '.pam.sshd.blocks | sort | join(",")' account,auth,password,session
assert_json "status: su blocks" "$STATUS" '.pam.su.blocks | sort | join(",")' account,auth,session
assert_json "status: passwd blocks" "$STATUS" '.pam.passwd.blocks | join(",")' password
assert_json "status: nothing missing in login" "$STATUS" '.pam.login.missing | length' 0
assert_json "status: sshd drop-in" "$STATUS" '.sshd.state' wired
assert_json "status: module path" "$STATUS" '.modules.pam.path | startswith("'"$R"'/")' true
host --root "$R" status
check_ok "status (text)"
assert_match "status text: sshd wired" "$OUT" "^$R/etc/pam.d/sshd +wired \(auth, account, session, password\)$"
assert_match "status text: summary" "$OUT" '^This host is wired\.$'

# A block missing (here removed by hand): partly wired, and enable adds it
# back, and only it.
n=$(grep -n -x -F "${MODULE_LINE[account]}" "$R/etc/pam.d/su" | cut -d: -f1)
sed -i "$((n - 1)),$((n + 1))d" "$R/etc/pam.d/su"
host --root "$R" status --json
assert_json "status: su partly wired" "$OUT" '.pam.su.state' partly-wired
assert_json "status: su misses account" "$OUT" '.pam.su.missing | join(",")' account
assert_json "status: host partly wired" "$OUT" '.state' partly-wired
host --root "$R" enable
check_ok "enable completes a partly wired service"
if cmp -s "$R/etc/pam.d/su" "$NX_TMP/main.wired/etc/pam.d/su"; then
    ok "su is wired again exactly as before"
else
    fail "su is wired again exactly as before" "$(diff "$NX_TMP/main.wired/etc/pam.d/su" "$R/etc/pam.d/su")"
fi
assert_match "only su was changed" "$OUT" "^$R/etc/pam.d/su: wired"
assert_match "the others were already wired" "$OUT" "^$R/etc/pam.d/sshd: already wired"

# Module arguments added by hand inside a block are kept by enable and go
# with the block on disable.
sed -i 's/^\(auth .*pam_nexalix\.so\)$/\1 timeout=5/' "$R/etc/pam.d/login"
host --root "$R" enable
check_ok "enable with a module argument added by hand"
assert_match "the argument is kept" "$(cat "$R/etc/pam.d/login")" 'pam_nexalix\.so timeout=5$'
assert_match "login: already wired" "$OUT" "pam.d/login: already wired"

# disable --dry-run, then disable: every file back, byte for byte.
cp -a "$R/etc" "$NX_TMP/main.before-disable"
host --root "$R" disable --dry-run
check_ok "disable --dry-run"
assert_contains "disable --dry-run shows the removal" "$OUT" "-$BEGIN"
assert_contains "disable --dry-run removes the drop-in" "$OUT" "+++ /dev/null"
assert_same_tree "disable --dry-run changes nothing" "$NX_TMP/main.before-disable" "$R/etc"

host --root "$R" disable
check_ok "disable"
assert_same_tree "disable restores every file byte for byte (mode and owner too)" "$ORIG" "$R/etc"
assert_match "disable reports the drop-in" "$OUT" "50-nexalix.conf: removed"
assert_match "disable says where the backups are" "$OUT" "Backups of the previous files are in $B"
# The backups of disable hold the wired files (the one of enable is kept).
copies=$(backups pam.d_sshd | wc -l)
assert_eq "enable's and disable's backups of pam.d/sshd" 2 "$copies"
host --root "$R" disable
check_ok "second disable"
assert_match "second disable says not wired" "$OUT" 'not wired; nothing changed'
assert_same_tree "second disable changes nothing" "$ORIG" "$R/etc"
host --root "$R" status --json
assert_json "status: not wired after disable" "$OUT" '.state' not-wired

# disable undoes any service, not only the default ones, and a file whose
# last line has no newline keeps it that way.
R2=$(make_root custom)
printf '# a service of our own\nauth required pam_env.so\n@include common-auth\n@include common-account\n@include common-session' \
    >"$R2/etc/pam.d/nxcustom"
cp -a "$R2/etc" "$NX_TMP/custom.orig"
host --root "$R2" enable --services sshd,nxcustom
check_ok "enable --services sshd,nxcustom"
assert_eq "nxcustom: auth block" "$BEGIN"$'\n'"${MODULE_LINE[auth]}"$'\n'"$END" "$(lines_around "$R2/etc/pam.d/nxcustom" auth)"
assert_eq "nxcustom: session block at the end" "$BEGIN"$'\n'"${MODULE_LINE[session]}"$'\n'"$END" \
    "$(lines_around "$R2/etc/pam.d/nxcustom" session)"
if cmp -s "$R2/etc/pam.d/login" "$NX_TMP/custom.orig/pam.d/login"; then
    ok "--services: login left alone"
else
    fail "--services: login left alone"
fi
host --root "$R2" status --json
assert_json "status lists a wired service that is not a default one" "$OUT" '.pam.nxcustom.state' wired
assert_json "status: login not wired" "$OUT" '.pam.login.state' not-wired
host --root "$R2" disable
check_ok "disable (nxcustom)"
assert_same_tree "disable restores nxcustom, without a final newline" "$NX_TMP/custom.orig" "$R2/etc"

# An action that belongs to files stays with it.
R3=$(make_root action)
sed -i 's/^group:\([[:space:]]*\)files /group:\1files [SUCCESS=merge] /' "$R3/etc/nsswitch.conf"
cp "$R3/etc/nsswitch.conf" "$NX_TMP/action.nsswitch"
host --root "$R3" enable
check_ok "enable with [SUCCESS=merge] after files"
assert_match "nexalix goes after files and its action" "$(grep '^group:' "$R3/etc/nsswitch.conf")" \
    '^group:[[:space:]]+files \[SUCCESS=merge\] nexalix systemd$'
host --root "$R3" disable
if cmp -s "$NX_TMP/action.nsswitch" "$R3/etc/nsswitch.conf"; then
    ok "disable gives the action line back"
else
    fail "disable gives the action line back" "$(diff "$NX_TMP/action.nsswitch" "$R3/etc/nsswitch.conf")"
fi

# ---------------------------------------------------------------------------
# Refusals: nothing changes, and the message says why and what to do.

R=$(make_root nofiles)
sed -i 's/^passwd:.*/passwd:         compat/' "$R/etc/nsswitch.conf"
check_refusal "nsswitch passwd: without files" "$R" "'passwd:' line .* does not list 'files'.*local accounts must be looked up before Nexalix" enable

R=$(make_root weird)
printf 'auth required pam_unix.so\naccount required pam_unix.so\nsession required pam_unix.so\n' >"$R/etc/pam.d/nxweird"
check_refusal "a PAM file with an unknown layout" "$R" "nxweird has none of the lines '@include common-auth'" \
    enable --services sshd,nxweird
assert_contains "the refusal prints the lines to add by hand" "$ERR" "${MODULE_LINE[auth]}"
assert_contains "the refusal prints the session line too" "$ERR" "${MODULE_LINE[session]}"

R=$(make_root nounix)
sed -i '/pam_unix\.so/d' "$R/etc/pam.d/common-auth"
check_refusal "common-auth without pam_unix.so" "$R" "common-auth does not run pam_unix\.so.*local accounts" enable

R=$(make_root kbdfirst)
sed -i '1i KbdInteractiveAuthentication no' "$R/etc/ssh/sshd_config"
check_refusal "KbdInteractiveAuthentication no before the Include" "$R" \
    "line 1 sets 'KbdInteractiveAuthentication no' before it includes sshd_config.d.*sshd keeps the first value" enable
# The same setting to yes does no harm, and is accepted.
sed -i '1s/no$/yes/' "$R/etc/ssh/sshd_config"
host --root "$R" enable
check_ok "KbdInteractiveAuthentication yes before the Include is accepted"

R=$(make_root noinclude)
sed -i '/^Include /d' "$R/etc/ssh/sshd_config"
check_refusal "sshd_config without the Include" "$R" "does not read /etc/ssh/sshd_config.d/\*\.conf" enable

R=$(make_root earlydropin)
printf 'KbdInteractiveAuthentication no\n' >"$R/etc/ssh/sshd_config.d/10-local.conf"
check_refusal "a drop-in read before ours turns it off" "$R" "10-local.conf line 1 .*reads it before 50-nexalix.conf" enable

R=$(make_root nomodule --no-module)
check_refusal "pam_nexalix.so not installed" "$R" "pam_nexalix\.so is not installed in .*nobody, root included" enable
check_refusal "dry run refuses too" "$R" "pam_nexalix\.so is not installed" enable --dry-run
host --root "$R" enable --skip-module-check
check_ok "--skip-module-check wires without the module"

R=$(make_root handwired)
sed -i "s/^@include common-auth$/auth sufficient pam_nexalix.so\n&/" "$R/etc/pam.d/sshd"
check_refusal "a service wired by hand" "$R" "sshd runs pam_nexalix\.so outside a block" enable

R=$(make_root absent)
check_refusal "a service that does not exist" "$R" "pam.d/nxnothere does not exist" enable --services sshd,nxnothere

R=$(make_root damaged)
host --root "$R" enable
check_ok "enable (for the damaged block)"
sed -i "0,/^$END\$/{/^$END\$/d}" "$R/etc/pam.d/sshd"
check_refusal "disable with a block whose END marker was removed" "$R" "BEGIN nexalix marker without END|block" disable
host --root "$R" status --json
assert_json "status: damaged" "$OUT" '.pam.sshd.state' damaged

# ---------------------------------------------------------------------------
# libpam runs the wired files (root: a mount namespace and /etc/shadow).

pam_skip_reason=
if [ "$(id -u)" -ne 0 ]; then
    pam_skip_reason="not root (needs a mount namespace over /etc)"
elif ! command -v pamtester >/dev/null 2>&1; then
    pam_skip_reason="pamtester is not installed"
elif ! command -v unshare >/dev/null 2>&1 || ! command -v openssl >/dev/null 2>&1; then
    pam_skip_reason="unshare or openssl is not installed"
elif [ ! -f "$BUILT_PAM_MODULE" ]; then
    pam_skip_reason="the built pam_nexalix.so is not at $BUILT_PAM_MODULE (set NEXALIX_PAM_MODULE)"
elif ! unshare --mount --propagation private true 2>/dev/null; then
    pam_skip_reason="unshare --mount is not permitted here"
fi

if [ -n "$pam_skip_reason" ]; then
    nx_log "libpam checks skipped: $pam_skip_reason"
else
    # The host's module directory (where libpam loads pam_unix.so from).
    MODDIR=
    for d in /lib/*/security /usr/lib/*/security /lib/security /lib64/security; do
        [ -e "$d/pam_unix.so" ] && { MODDIR=$(readlink -f "$d"); break; }
    done
    [ -n "$MODDIR" ] || nx_die "no pam_unix.so found on this host"

    P=$NX_TMP/pam
    mkdir -p "$P/modules" "$P/modules-without"
    cp -a "$MODDIR/." "$P/modules/"
    cp -a "$MODDIR/." "$P/modules-without/"
    cp "$BUILT_PAM_MODULE" "$P/modules/pam_nexalix.so"
    rm -f "$P/modules-without/pam_nexalix.so"
    LOCAL_USER=nxlocal
    LOCAL_UID=$NX_UID_BASE
    LOCAL_PASSWORD='local password 1'
    printf 'root:x:0:0:root:/root:/bin/bash\n%s:x:%d:%d::/nonexistent:/bin/sh\n' \
        "$LOCAL_USER" "$LOCAL_UID" "$LOCAL_UID" >"$P/passwd"
    printf 'root:*:19000:0:99999:7:::\n%s:%s:19000:0:99999:7:::\n' \
        "$LOCAL_USER" "$(openssl passwd -6 "$LOCAL_PASSWORD")" >"$P/shadow"
    printf 'root:x:0:\n%s:x:%d:\n' "$LOCAL_USER" "$LOCAL_UID" >"$P/group"
    chmod 0644 "$P/passwd" "$P/group"
    chmod 0600 "$P/shadow"

    # ns.sh ROOT MODULES CMD…: CMD in a private mount namespace that sees
    # ROOT's pam.d and nsswitch.conf, our passwd/shadow/group, MODULES as the
    # PAM module directory, and no nexalixd (an empty /run/nexalix).
    cat >"$P/ns.sh" <<EOF
set -e
root=\$1 modules=\$2
shift 2
mount --bind "\$root/etc/pam.d" /etc/pam.d
mount --bind "\$root/etc/nsswitch.conf" /etc/nsswitch.conf
mount --bind "$P/passwd" /etc/passwd
mount --bind "$P/shadow" /etc/shadow
mount --bind "$P/group" /etc/group
mount --bind "\$modules" "$MODDIR"
if [ -d /run/nexalix ]; then mount -t tmpfs -o mode=0755 tmpfs /run/nexalix; fi
exec "\$@"
EOF
    # in_ns ROOT MODULES INPUT CMD…
    in_ns() {
        local root=$1 modules=$2 input=$3
        shift 3
        nx_run_input "$input" unshare --mount --propagation private bash "$P/ns.sh" "$root" "$modules" "$@"
    }

    W=$(make_root libpam-wired)
    host --root "$W" enable
    check_ok "enable (for libpam)"
    U=$(make_root libpam-plain)

    # The harness itself: the host's own files let the local account in.
    in_ns "$U" "$P/modules" "$LOCAL_PASSWORD" pamtester sshd "$LOCAL_USER" authenticate acct_mgmt
    check_ok "control: the unwired files let $LOCAL_USER in"

    for svc in sshd login; do
        in_ns "$W" "$P/modules" "$LOCAL_PASSWORD" pamtester "$svc" "$LOCAL_USER" authenticate acct_mgmt
        check_ok "wired $svc: local account, right password: authenticated and account ok"
    done
    in_ns "$W" "$P/modules" "not the password" pamtester sshd "$LOCAL_USER" authenticate
    assert_ne "wired sshd: local account, wrong password: refused" 0 "$RC"
    assert_contains "wired sshd: pam_unix's answer" "$ERR" "Authentication failure"
    in_ns "$W" "$P/modules" "" pamtester sshd root acct_mgmt
    check_ok "wired sshd: root's account check passes through to pam_unix"
    in_ns "$W" "$P/modules" "some password" pamtester sshd nxghost authenticate
    assert_ne "wired sshd: a name nobody knows, daemon stopped: refused" 0 "$RC"
    assert_contains "daemon stopped: authinfo_unavail passed on, pam_unix decided" "$ERR" "Authentication failure"

    # The assertion above can tell: with authinfo_unavail=die the module's
    # own answer ends the stack.
    D=$(make_root libpam-die)
    cp -a "$W/etc/." "$D/etc/"
    sed -i 's/authinfo_unavail=ignore/authinfo_unavail=die/' "$D/etc/pam.d/sshd"
    in_ns "$D" "$P/modules" "some password" pamtester sshd nxghost authenticate
    assert_contains "control: with authinfo_unavail=die the daemon's absence is final" "$ERR" \
        "cannot retrieve authentication info"

    # Why enable refuses without the module: it locks out local accounts too.
    in_ns "$W" "$P/modules-without" "$LOCAL_PASSWORD" pamtester sshd "$LOCAL_USER" authenticate
    assert_ne "wired files without pam_nexalix.so installed lock out a local account" 0 "$RC"

    # NSS: local lookups still work with nexalix in nsswitch.conf.
    in_ns "$W" "$P/modules" "" getent passwd "$LOCAL_USER"
    check_ok "wired nsswitch.conf: getent passwd $LOCAL_USER"
    assert_eq "wired nsswitch.conf: the local entry" "$LOCAL_USER:x:$LOCAL_UID:$LOCAL_UID::/nonexistent:/bin/sh" "$OUT"
    in_ns "$W" "$P/modules" "" getent group root
    check_ok "wired nsswitch.conf: getent group root"
fi

# ---------------------------------------------------------------------------
# Without --root: this host's own /etc, seen through an overlay in a private
# mount namespace, so that every write lands in a directory of the test and
# the host's /etc never changes. This is where `sshd -t` and `sshd -T` check
# the result and a failure puts every file back, and where root is required.

ov_skip_reason=
SSHD=$(command -v sshd 2>/dev/null || { [ -x /usr/sbin/sshd ] && echo /usr/sbin/sshd; } || :)
if [ "$(id -u)" -ne 0 ]; then
    ov_skip_reason="not root"
elif [ -z "$SSHD" ]; then
    ov_skip_reason="sshd is not installed"
elif ! command -v unshare >/dev/null 2>&1 || ! command -v setpriv >/dev/null 2>&1; then
    ov_skip_reason="unshare or setpriv is not installed"
elif [ ! -d /var/backups ]; then
    ov_skip_reason="no /var/backups"
fi
if [ -z "$ov_skip_reason" ]; then
    O=$NX_TMP/overlay
    mkdir -p "$O/upper" "$O/work" "$O/backups"
    # ov.sh CMD…: CMD with /etc an overlay of the host's /etc (writes go to
    # $O/upper) and /var/backups a directory of the test. Before running
    # anything it checks that /etc is that overlay and that a write to /etc
    # lands in it, and stops otherwise.
    cat >"$O/ov.sh" <<EOF
set -eu
mount -t overlay overlay -o "lowerdir=/etc,upperdir=$O/upper,workdir=$O/work" /etc
mount --bind "$O/backups" /var/backups
case \$(findmnt -n -o FSTYPE,OPTIONS -M /etc | tail -n 1) in
    overlay*upperdir=$O/upper*) ;;
    *) echo "guard: /etc is not the test's overlay" >&2; exit 99 ;;
esac
: >/etc/.nexalix-host-test-guard
[ -e "$O/upper/.nexalix-host-test-guard" ] || { echo "guard: a write to /etc does not reach the overlay" >&2; exit 99; }
rm -f /etc/.nexalix-host-test-guard
exec "\$@"
EOF
    in_ov() { nx_run unshare --mount --propagation private bash "$O/ov.sh" "$@"; }
    in_ov true
    [ "$RC" -eq 0 ] || ov_skip_reason="no overlay mount here ($ERR)"
fi

if [ -n "$ov_skip_reason" ]; then
    nx_log "checks on this host's own files (through an overlay) skipped: $ov_skip_reason"
else
    OV_FILES=(/etc/nsswitch.conf /etc/pam.d/sshd /etc/pam.d/login /etc/pam.d/su /etc/pam.d/passwd /etc/ssh/sshd_config)
    in_ov sha256sum "${OV_FILES[@]}"
    OV_BEFORE=$OUT

    in_ov setpriv --reuid=65534 --regid=65534 --clear-groups bash "$HOST_TOOL" enable --skip-module-check
    check_refused "enable as another user than root" "must be run as root"
    in_ov setpriv --reuid=65534 --regid=65534 --clear-groups bash "$HOST_TOOL" status --json
    check_ok "status as another user than root"
    assert_json "status as another user: this host is not wired" "$OUT" '.state' not-wired

    in_ov bash "$HOST_TOOL" enable --no-reload --skip-module-check
    check_ok "enable on this host's files (overlay)"
    assert_match "--no-reload: not reloaded, and says how" "$OUT" 'not reloaded \(--no-reload\); run "systemctl reload ssh.service"'
    in_ov "$SSHD" -T
    check_ok "sshd -T accepts the wired configuration"
    assert_match "sshd uses UsePAM yes" "$OUT" '^usepam yes$'
    assert_match "sshd uses KbdInteractiveAuthentication yes" "$OUT" '^kbdinteractiveauthentication yes$'
    assert_match "sshd asks nexalix-authorized-keys for keys" "$OUT" \
        '^authorizedkeyscommand /usr(/local)?/libexec/nexalix/nexalix-authorized-keys %u$'
    assert_match "... as nexalix-keys" "$OUT" '^authorizedkeyscommanduser nexalix-keys$'
    in_ov bash "$HOST_TOOL" disable --no-reload
    check_ok "disable on this host's files (overlay)"
    in_ov sha256sum "${OV_FILES[@]}"
    assert_eq "disable gives this host's files back" "$OV_BEFORE" "$OUT"
    in_ov test -e /etc/ssh/sshd_config.d/50-nexalix.conf
    assert_ne "disable removed the drop-in" 0 "$RC"

    # An Include nexalix-host does not follow turns keyboard-interactive off
    # first: the plan passes, sshd -T shows the drop-in is not obeyed, and
    # everything goes back.
    in_ov sh -c 'mkdir -p /etc/ssh/nx-test.d &&
        printf "KbdInteractiveAuthentication no\n" >/etc/ssh/nx-test.d/a.conf &&
        sed -i "1i Include /etc/ssh/nx-test.d/*.conf" /etc/ssh/sshd_config'
    check_ok "overlay: an Include read before sshd_config.d"
    in_ov sha256sum "${OV_FILES[@]}"
    OV_BEFORE=$OUT
    in_ov bash "$HOST_TOOL" enable --no-reload --skip-module-check
    check_refused "sshd does not obey the drop-in: enable fails" "sshd does not use the values of 50-nexalix.conf"
    assert_contains "the failure says every file was put back" "$ERR" "restored /etc/pam.d/sshd"
    in_ov sha256sum "${OV_FILES[@]}"
    assert_eq "after the failure every file is as before" "$OV_BEFORE" "$OUT"
    in_ov test -e /etc/ssh/sshd_config.d/50-nexalix.conf
    assert_ne "after the failure the drop-in is gone again" 0 "$RC"

    # A configuration sshd rejects already: refused before any change.
    in_ov sh -c 'sed -i "1d" /etc/ssh/sshd_config && printf "NoSuchSshdKeyword yes\n" >>/etc/ssh/sshd_config'
    in_ov sha256sum "${OV_FILES[@]}"
    OV_BEFORE=$OUT
    in_ov bash "$HOST_TOOL" enable --no-reload --skip-module-check
    check_refused "sshd -t fails before any change" "'sshd -t' fails before any change"
    in_ov sha256sum "${OV_FILES[@]}"
    assert_eq "nothing changed" "$OV_BEFORE" "$OUT"
fi

nx_finish
