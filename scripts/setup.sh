#!/usr/bin/env bash
# README's first command: install the dependencies, build, install, and start
# nexalixd on the system bus so that `nexalixctl status` answers.
#
#   ./scripts/setup.sh
#
# Run it as root, or as a user who may use sudo: it builds as whoever runs
# it and does only what needs root (packages, installing, starting services)
# through sudo. Safe to run twice: it reconfigures the existing build, never
# overwrites /etc/nexalix/nexalixd.conf, reuses a running system bus and
# restarts the daemon. Works with systemd as PID 1 and in containers without
# it (then it starts the system dbus-daemon and nexalixd itself).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=${BUILD:-build}
PREFIX=/usr
SYSCONFDIR=/etc
LOCALSTATEDIR=/var
CONF_DIR=$SYSCONFDIR/nexalix
CONF=$CONF_DIR/nexalixd.conf
EXAMPLE=$PREFIX/share/doc/nexalix/examples/nexalixd.conf
NEXALIXD=$PREFIX/sbin/nexalixd
NEXALIXCTL=$PREFIX/bin/nexalixctl
BUS_SOCKET=/run/dbus/system_bus_socket
DAEMON_LOG=$LOCALSTATEDIR/log/nexalixd.log

step() { printf '\n==> %s\n' "$*"; }
info() { printf '    %s\n' "$*"; }
die() { printf 'setup: error: %s\n' "$*" >&2; exit 1; }

if [[ ${1:-} == --install-and-start ]]; then
    PHASE=install
else
    PHASE=all
fi

# as_root CMD...: CMD as root (through sudo when we are not root).
if [[ $(id -u) -eq 0 ]]; then
    as_root() { "$@"; }
elif command -v sudo >/dev/null 2>&1; then
    as_root() { sudo "$@"; }
else
    die "installing needs root: run this as root, or install sudo"
fi
cd "$ROOT"

# The part that needs root: install, configure, start. Run through as_root,
# so that the build above stays owned by whoever ran the script.
install_and_start() {
    step "Installing into $PREFIX"
    ninja -C "$BUILD" install
    # The NSS module goes to the multiarch library directory: refresh the cache
    # so glibc finds libnss_nexalix.so.2 by its soname.
    ldconfig

    step "Configuration"
    if [[ -e $CONF ]]; then
        info "keeping existing $CONF"
    else
        mkdir -p "$CONF_DIR"
        src=$EXAMPLE
        [[ -f $src ]] || src=$ROOT/data/nexalixd.conf
        install -m 0644 "$src" "$CONF"
        info "created $CONF from $src (every key commented: defaults apply)"
    fi

    # sshd runs nexalix-authorized-keys (its AuthorizedKeysCommand) as this
    # system user; its group is the only one besides root that may read the
    # SSH keys snapshot ([ssh] keys_group in nexalixd.conf). Looked up in the
    # files themselves, not through NSS, where a Nexalix user of that name
    # could answer.
    step "SSH keys user"
    if grep -q '^nexalix-keys:' /etc/group; then
        info "group nexalix-keys exists"
    elif command -v addgroup >/dev/null 2>&1; then
        addgroup --quiet --system nexalix-keys
        info "created system group nexalix-keys"
    else
        groupadd --system nexalix-keys
        info "created system group nexalix-keys"
    fi
    if grep -q '^nexalix-keys:' /etc/passwd; then
        info "user nexalix-keys exists"
    elif command -v adduser >/dev/null 2>&1; then
        adduser --quiet --system --ingroup nexalix-keys --no-create-home --home /nonexistent \
            --shell /usr/sbin/nologin --disabled-login nexalix-keys
        info "created system user nexalix-keys (sshd's AuthorizedKeysCommandUser)"
    else
        useradd --system --gid nexalix-keys --no-create-home --home-dir /nonexistent \
            --shell /usr/sbin/nologin nexalix-keys
        info "created system user nexalix-keys (sshd's AuthorizedKeysCommandUser)"
    fi

    # Answers when a system bus listens on the socket: an ordinary method call to
    # the bus itself, with a short timeout so a dead socket never hangs us.
    bus_answers() {
        [[ -S $BUS_SOCKET ]] || return 1
        timeout 5 dbus-send --system --print-reply --reply-timeout=2000 \
            --dest=org.freedesktop.DBus /org/freedesktop/DBus \
            org.freedesktop.DBus.GetId >/dev/null 2>&1
    }

    step "System bus"
    if bus_answers; then
        info "system dbus-daemon is running; reloading its configuration"
        # The newly installed policy (org.nexalix.Identity1.conf) applies only
        # after a reload.
        dbus-send --system --print-reply --type=method_call \
            --dest=org.freedesktop.DBus / org.freedesktop.DBus.ReloadConfig >/dev/null
    elif [[ -d /run/systemd/system ]]; then
        info "starting dbus through systemd"
        systemctl start dbus.socket dbus.service
    else
        info "no system bus answers on $BUS_SOCKET; starting dbus-daemon --system"
        mkdir -p /run/dbus
        # dbus-daemon refuses to start while its pid file exists; remove it when
        # the process it names is gone (a container restarted, a killed bus).
        pidfile=/run/dbus/pid
        if [[ -f $pidfile ]]; then
            oldpid=$(cat "$pidfile" 2>/dev/null || true)
            if [[ -n $oldpid && -d /proc/$oldpid ]] &&
               [[ $(cat "/proc/$oldpid/comm" 2>/dev/null) == dbus-daemon ]]; then
                die "dbus-daemon (pid $oldpid) runs but does not answer on $BUS_SOCKET"
            fi
            info "removing stale $pidfile"
            rm -f "$pidfile"
        fi
        # The bus needs a machine id (absent in minimal containers).
        dbus-uuidgen --ensure
        dbus-daemon --system --fork
    fi
    for _ in $(seq 1 50); do
        bus_answers && break
        sleep 0.1
    done
    bus_answers || die "the system bus does not answer on $BUS_SOCKET"
    info "system bus answers on $BUS_SOCKET"

    # The runtime directory (pid file) from the configuration, default /run/nexalix.
    runtime_dir() {
        local dir=""
        if [[ -r $CONF ]]; then
            dir=$(awk -F= '
                /^[[:space:]]*\[/ { sect = $0; gsub(/[][[:space:]]/, "", sect); next }
                sect == "paths" && $1 ~ /^[[:space:]]*runtime[[:space:]]*$/ {
                    v = substr($0, index($0, "=") + 1); gsub(/^[[:space:]]+|[[:space:]]+$/, "", v); print v }
            ' "$CONF" | tail -n 1)
        fi
        printf '%s\n' "${dir:-/run/nexalix}"
    }

    # Stop a daemonised nexalixd through its pid file: SIGTERM, then wait for a
    # clean shutdown (it commits and closes the store).
    stop_daemon() {
        local pidfile pid
        pidfile=$(runtime_dir)/nexalixd.pid
        [[ -f $pidfile ]] || return 0
        pid=$(cat "$pidfile" 2>/dev/null || true)
        if [[ ! $pid =~ ^[0-9]+$ ]] || [[ ! -d /proc/$pid ]] ||
           [[ $(cat "/proc/$pid/comm" 2>/dev/null) != nexalixd ]]; then
            info "removing stale $pidfile"
            rm -f "$pidfile"
            return 0
        fi
        info "stopping nexalixd (pid $pid)"
        kill -TERM "$pid" 2>/dev/null || true
        for _ in $(seq 1 100); do
            [[ -d /proc/$pid ]] || return 0
            sleep 0.1
        done
        die "nexalixd (pid $pid) did not stop within 10 s of SIGTERM; stop it and run again"
    }

    step "Starting nexalixd"
    [[ -x $NEXALIXD ]] || die "$NEXALIXD was not installed"
    if [[ -d /run/systemd/system ]]; then
        systemctl daemon-reload
        systemctl enable nexalixd.service
        systemctl restart nexalixd.service
        info "nexalixd.service (re)started by systemd"
    else
        stop_daemon
        mkdir -p "$(dirname "$DAEMON_LOG")"
        # nexalixd daemonises (without --foreground) and returns once it serves
        # the bus; its early output goes to the log so that nothing holds our
        # standard output open after we exit.
        if ! "$NEXALIXD" --config "$CONF" </dev/null >>"$DAEMON_LOG" 2>&1; then
            tail -n 20 "$DAEMON_LOG" >&2 || true
            die "nexalixd failed to start (log: $DAEMON_LOG)"
        fi
        info "nexalixd started (log: $DAEMON_LOG)"
    fi

    step "Waiting for nexalixctl status"
    for _ in $(seq 1 100); do
        if "$NEXALIXCTL" status >/dev/null 2>&1; then
            "$NEXALIXCTL" status
            printf '\nNexalix is installed and running. Next: see README.md, "Five-minute tour".\n'
            # Offered, never done: rewiring a machine's logins is the
            # administrator's decision.
            if [[ $("$PREFIX/sbin/nexalix-host" status --json 2>/dev/null | jq -r .state 2>/dev/null) == wired ]]; then
                printf 'This host'"'"'s logins are wired to Nexalix (nexalix-host status).\n'
            else
                printf 'This host'"'"'s logins are not wired to Nexalix; to let Nexalix users log in\n'
                printf '(NSS, PAM for sshd/login/su/passwd, sshd), see what would change with\n'
                printf '    %s enable --dry-run\n' "$PREFIX/sbin/nexalix-host"
                printf 'and apply it without --dry-run (undo: nexalix-host disable).\n'
            fi
            exit 0
        fi
        sleep 0.2
    done
    "$NEXALIXCTL" status || true
    if [[ ! -d /run/systemd/system ]]; then
        tail -n 20 "$DAEMON_LOG" >&2 || true
    else
        systemctl status --no-pager nexalixd.service >&2 || true
    fi
    die "nexalixctl status does not answer after 20 s"
}

if [[ $PHASE == install ]]; then
    [[ $(id -u) -eq 0 ]] || die "--install-and-start must run as root"
    install_and_start
    exit 0
fi

step "Installing build and test dependencies"
as_root bash "$ROOT/scripts/install-deps.sh"

step "Configuring $BUILD/ (prefix $PREFIX)"
meson_opts=(--prefix="$PREFIX" --sysconfdir="$SYSCONFDIR" --localstatedir="$LOCALSTATEDIR")
if [[ -f $BUILD/meson-private/coredata.dat ]]; then
    # An existing build directory: apply the options again, and start over
    # if it cannot be reconfigured (e.g. made by another meson version).
    if ! meson setup --reconfigure "$BUILD" "${meson_opts[@]}"; then
        info "reconfigure failed; wiping $BUILD/ and configuring again"
        meson setup --wipe "$BUILD" "${meson_opts[@]}"
    fi
else
    meson setup "$BUILD" "${meson_opts[@]}"
fi

step "Building"
ninja -C "$BUILD"

step "Installing and starting (as root)"
as_root env BUILD="$BUILD" "$ROOT/scripts/setup.sh" --install-and-start
