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

log "installing ${#missing[@]} package(s): ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends \
    -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold \
    "${missing[@]}" </dev/null
log "done"
