#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# nexalixd as a system service:
# - a default meson build (prefix /usr/local) installs a working service:
#   an absolute configuration path, the bus policy where the system bus reads
#   it, the unit where systemd finds it, the NSS and PAM modules where glibc
#   and libpam load them (checked in a DESTDIR install of this build);
# - the installed unit rates 2.0 or better in
#   `systemd-analyze security --offline=yes`;
# - the readiness protocol: READY=1 once it serves, WATCHDOG=1 within the
#   period, STOPPING=1 on SIGTERM;
# - log lines carry their priority for the journal ("<3>" for errors), without
#   the C function's name;
# - Introspect answers exactly data/org.nexalix.Identity1.xml.

. "$(dirname "$0")/lib.sh"
: "${NEXALIX_BUILD_ROOT:?the build directory to install from}"
nx_init python3 systemd-analyze

# --- a DESTDIR install of this build -------------------------------------
DEST=$NX_TMP/dest
nx_run meson install -C "$NEXALIX_BUILD_ROOT" --destdir "$DEST" --no-rebuild --quiet
check_ok "meson install --destdir"
PREFIX=$(meson introspect "$NEXALIX_BUILD_ROOT" --buildoptions | jq -r '.[] | select(.name == "prefix") | .value')
nx_log "prefix of this build: $PREFIX"
MULTIARCH=$(gcc -print-multiarch 2>/dev/null || echo x86_64-linux-gnu)

NEXALIXD_INSTALLED=$DEST$PREFIX/sbin/nexalixd
[ -x "$NEXALIXD_INSTALLED" ] && ok "nexalixd installed in $PREFIX/sbin" ||
    fail "nexalixd installed in $PREFIX/sbin" "$(find "$DEST" -name nexalixd)"
nx_run "$NEXALIXD_INSTALLED" --help
CONFIG_PATH=$(grep -o '(default [^)]*)' <<<"$OUT" | head -n 1 | sed 's/(default //; s/)//')
assert_match "the default configuration path is absolute" "$CONFIG_PATH" '^/'
if [ "$PREFIX" = /usr ]; then
    assert_eq "under /usr it is /etc/nexalix/nexalixd.conf" /etc/nexalix/nexalixd.conf "$CONFIG_PATH"
else
    assert_eq "under $PREFIX it is in $PREFIX/etc" "$PREFIX/etc/nexalix/nexalixd.conf" "$CONFIG_PATH"
fi

# The system bus reads policies only from these two directories.
POLICY=
for d in /usr/share/dbus-1/system.d /etc/dbus-1/system.d; do
    [ -f "$DEST$d/org.nexalix.Identity1.conf" ] && POLICY=$d/org.nexalix.Identity1.conf
done
assert_ne "the bus policy goes where the system bus reads it" "" "$POLICY"
grep -q 'includedir>/usr/share/dbus-1/system.d<\|system.d' /usr/share/dbus-1/system.conf &&
    ok "the system bus configuration includes the policy directory" ||
    fail "the system bus configuration includes /usr/share/dbus-1/system.d"

UNIT=
for d in /lib/systemd/system /usr/lib/systemd/system; do
    [ -f "$DEST$d/nexalixd.service" ] && UNIT=$DEST$d/nexalixd.service
done
assert_ne "the unit goes where systemd finds it" "" "$UNIT"
assert_eq "the unit starts the installed daemon" "ExecStart=$PREFIX/sbin/nexalixd --foreground" \
    "$(grep '^ExecStart=' "$UNIT")"

found=
for d in "/lib/$MULTIARCH" "/usr/lib/$MULTIARCH"; do
    [ -f "$DEST$d/libnss_nexalix.so.2" ] && found=$d
done
assert_ne "the NSS module goes to the multiarch library directory glibc searches" "" "$found"
if [ -d "$DEST/lib/$MULTIARCH/security" ] || [ -d "$DEST/usr/lib/$MULTIARCH/security" ]; then
    found=$(find "$DEST/lib/$MULTIARCH/security" "$DEST/usr/lib/$MULTIARCH/security" -name 'pam_nexalix.so' 2>/dev/null)
    [ -n "$found" ] && ok "pam_nexalix.so goes where libpam loads modules"
fi
[ -f "$DEST$PREFIX/share/bash-completion/completions/nexalixctl" ] &&
    ok "bash completion installed" || fail "bash completion installed in $PREFIX/share/bash-completion/completions"
[ -f "$DEST$PREFIX/share/man/man8/nexalixd.8" ] && ok "nexalixd(8) installed" || fail "nexalixd(8) installed"

# --- the unit's exposure ---------------------------------------------------
nx_run systemd-analyze security --offline=yes "$UNIT"
SCORE=$(sed -n 's/.*Overall exposure level for [^:]*: \([0-9.]*\).*/\1/p' <<<"$OUT$ERR")
nx_log "systemd-analyze security --offline=yes: $SCORE"
if [ -n "$SCORE" ] && awk -v s="$SCORE" 'BEGIN { exit !(s <= 2.0) }'; then
    ok "the installed unit's exposure is $SCORE (at most 2.0)"
else
    fail "the installed unit's exposure is at most 2.0" "$(tail -n 25 <<<"$OUT$ERR")"
fi

# --- readiness, watchdog, journal priorities --------------------------------
NOTIFY=$NX_TMP/notify.sock
python3 - "$NOTIFY" "$NX_TMP/notify.log" <<'PY' &
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
with open(sys.argv[2], 'a', buffering=1) as log:
    while True:
        log.write(s.recv(4096).decode().replace('\n', '|') + '\n')
PY
NX_BG_PIDS+=("$!")
for _ in $(seq 1 50); do [ -S "$NOTIFY" ] && break; sleep 0.05; done
: >"$NX_TMP/notify.log"

nx_bus_start main
JOURNAL=$(stat -c '%d:%i' "$NX_DAEMON_LOG")
NX_DAEMON_PREFIX=(env NOTIFY_SOCKET="$NOTIFY" WATCHDOG_USEC=300000 JOURNAL_STREAM="$JOURNAL")
nx_daemon_start
for _ in $(seq 1 40); do grep -q WATCHDOG=1 "$NX_TMP/notify.log" && break; sleep 0.05; done
assert_match "READY=1 once the daemon serves" "$(cat "$NX_TMP/notify.log")" '^READY=1\|STATUS=Serving'
assert_match "WATCHDOG=1 within the period" "$(cat "$NX_TMP/notify.log")" '^WATCHDOG=1'

ctl org create acme
# An error the daemon logs: a second daemon on the same store, writing to
# the same "journal" stream.
timeout 20 env JOURNAL_STREAM="$JOURNAL" "$NEXALIXD" --config "$NX_DAEMON_CONF" --foreground \
    </dev/null >>"$NX_DAEMON_LOG" 2>&1
nx_daemon_stop
assert_match "STOPPING=1 on SIGTERM" "$(cat "$NX_TMP/notify.log")" '^STOPPING=1'
assert_match "informational lines carry priority 6 for the journal" "$(cat "$NX_DAEMON_LOG")" '^<6>nexalixd [0-9.]+ ready'
assert_match "errors carry priority 3" "$(cat "$NX_DAEMON_LOG")" '^<3>.*already running'
assert_not_match "no C function names in the lines" "$(cat "$NX_DAEMON_LOG")" \
    '^<[0-9]>[a-z_]+: |manager_|main: '

# --- Introspect is the contract -----------------------------------------------
nx_daemon_start
nx_run gdbus call --system --dest org.nexalix.Identity1 --object-path /org/nexalix/Identity1 \
    --method org.freedesktop.DBus.Introspectable.Introspect
INTRO=$(python3 -c 'import ast, sys; print(ast.literal_eval(sys.stdin.read().strip())[0], end="")' <<<"$OUT")
assert_eq "Introspect answers data/org.nexalix.Identity1.xml byte for byte" \
    "$(cat "$NEXALIX_SRCDIR/data/org.nexalix.Identity1.xml")" "$INTRO"

nx_finish
