#!/usr/bin/env bash
# Install, from Debian 12's archive, everything Nexalix needs to build, to run
# its tests and to run its benchmarks. Safe to run twice: when every package
# is already installed it touches neither the network nor dpkg.
#
# Usage: sudo ./scripts/install-deps.sh
set -euo pipefail

# One package per line, grouped by why it is needed. Add new needs here, not
# in CI: README's first command and .ci/run both come through this list.
PACKAGES=(
    # Build toolchain.
    build-essential meson ninja-build pkg-config
    # Libraries linked by the daemon, the CLI and the modules.
    libpam0g-dev liblmdb-dev libsodium-dev liboath-dev libdbus-1-dev
    libqrencode-dev
    # System bus and its tools (dbus-daemon, dbus-send; gdbus for tests).
    dbus libglib2.0-bin
    # busctl, for raw D-Bus calls in the integration tests.
    systemd
    # Store inspection and backup (mdb_stat, mdb_copy).
    lmdb-utils
    # Tests: real PAM and NSS stacks, TOTP codes, a moved clock, terminals.
    pamtester libpam-wrapper libnss-wrapper oathtool faketime expect
    # Benchmarks: the "db" NSS service the NSS module is compared with.
    libnss-db
    # Test helpers: leak checks, JSON, setpriv/unshare, ps/pkill, killall.
    valgrind jq util-linux procps psmisc
    # Real logins in the tests: sshd and ssh on 127.0.0.1 in a private mount
    # namespace, passwd and su inside the session (see below: installing
    # them does not start an SSH server that was not running).
    openssh-server openssh-client passwd login
    # Password hashes for the tests' local accounts (openssl passwd -6).
    openssl
    # A real mail transfer agent for the mail tests: exim (Debian's own),
    # which tests/integration/test-mail.sh runs in the foreground on a
    # private port with a private configuration. See below: it is not put
    # over another MTA, and its system service is left stopped and disabled.
    exim4-daemon-light
)

log() { printf 'install-deps: %s\n' "$*"; }

if [[ $(id -u) -ne 0 ]]; then
    log "must run as root (try: sudo $0)" >&2
    exit 1
fi

if ! command -v apt-get >/dev/null 2>&1 || ! command -v dpkg-query >/dev/null 2>&1; then
    log "apt-get/dpkg-query not found: this script supports Debian 12 (bookworm) and derivatives" >&2
    exit 1
fi

# Fast path: dpkg-query prints "install ok installed" for each installed
# package; anything else (unknown, half-installed, removed) goes on the list.
missing=()
for pkg in "${PACKAGES[@]}"; do
    status=$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null || true)
    if [[ $status != "install ok installed" ]]; then
        missing+=("$pkg")
    fi
done

if [[ ${#missing[@]} -eq 0 ]]; then
    log "all ${#PACKAGES[@]} packages already installed"
    exit 0
fi

# exim4 would replace a mail system the machine already has (every MTA
# provides mail-transport-agent, and they conflict): keep that one, and let
# the test skip its MTA part.
if [[ " ${missing[*]} " == *" exim4-daemon-light "* ]]; then
    other_mta=$(dpkg-query -W -f='${Package} ${Status} ${Provides}\n' 2>/dev/null |
        awk '/install ok installed/ && /mail-transport-agent/ && $1 !~ /^exim4-daemon/ { print $1; exit }')
    if [[ -n $other_mta ]]; then
        log "not installing exim4-daemon-light over the installed MTA $other_mta (the mail test skips its MTA part)"
        kept=()
        for pkg in "${missing[@]}"; do
            [[ $pkg == exim4-daemon-light ]] || kept+=("$pkg")
        done
        missing=("${kept[@]}")
        if [[ ${#missing[@]} -eq 0 ]]; then
            log "everything else is installed"
            exit 0
        fi
    fi
fi

log "installing ${#missing[@]} package(s): ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
# The tests run their own sshd; a machine that had no SSH server must not get
# one listening on port 22 because its tests were installed. A policy-rc.d
# that answers 101 keeps the package from starting its service (Debian's
# invoke-rc.d convention), and the service is left disabled afterwards.
new_ssh_server=0
new_mta=0
own_policy=0
policy=/usr/sbin/policy-rc.d
if [[ " ${missing[*]} " == *" openssh-server "* ]] && [[ ! -e $policy ]]; then
    new_ssh_server=1
fi
# The same for a mail system: the tests run exim privately; none must
# start listening on port 25 because the tests were installed.
if [[ " ${missing[*]} " == *" exim4-daemon-light "* ]]; then
    new_mta=1
fi
if { [[ $new_ssh_server -eq 1 ]] || [[ $new_mta -eq 1 ]]; } && [[ ! -e $policy ]]; then
    own_policy=1
    printf '#!/bin/sh\n# nexalix install-deps: no services started while installing\nexit 101\n' >"$policy"
    chmod 0755 "$policy"
    trap 'rm -f "$policy"' EXIT
fi
apt-get update -qq
apt-get install -y -qq --no-install-recommends \
    -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold \
    "${missing[@]}" </dev/null
if [[ $own_policy -eq 1 ]]; then
    rm -f "$policy"
    trap - EXIT
fi
if [[ $new_ssh_server -eq 1 ]]; then
    if command -v systemctl >/dev/null 2>&1 && [[ -d /run/systemd/system ]]; then
        systemctl disable --now ssh.service ssh.socket >/dev/null 2>&1 || true
    fi
    log "openssh-server installed for the tests; the host's SSH service is left disabled"
fi
if [[ $new_mta -eq 1 ]]; then
    if command -v systemctl >/dev/null 2>&1 && [[ -d /run/systemd/system ]]; then
        systemctl disable --now exim4.service >/dev/null 2>&1 || true
    elif command -v update-rc.d >/dev/null 2>&1; then
        update-rc.d exim4 disable >/dev/null 2>&1 || true
    fi
    log "exim4 installed for the mail tests; the host's mail service is left stopped and disabled"
fi
log "done"
