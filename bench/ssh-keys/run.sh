#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# SSH keys benchmark: what sshd pays per key login to ask
# nexalix-authorized-keys (its AuthorizedKeysCommand) for a user's keys,
# process start included, at 100,000 users with keys; side by side with the
# floor of any AuthorizedKeysCommand (/bin/true) and with
# `cat ~/.ssh/authorized_keys` as a command; and the daemon's whole
# publication of the keys snapshot at that size.
#
#   sudo bench/ssh-keys/run.sh [--users N] [--calls N] [--reps N] BUILD_DIR
#
# --users  users with one Ed25519 key each (default 100000)
# --calls  calls per command measured (default 3000; median, p90, p99)
# --reps   whole publications timed (default 10)
#
# The store is made on disk (/var/tmp) with the daemon's own account logic
# (keys-bench populate); the runtime directory is on a tmpfs (/dev/shm), as
# /run is. sss_ssh_authorizedkeys (SSSD) and kanidm_ssh_authorizedkeys are
# measured too when installed, against no server (what they cost to start
# and give up); they are not installed here, and setting up their servers is
# out of scope. Prints Markdown; bench/README.md explains it.
set -euo pipefail

USERS=100000
CALLS=3000
REPS=10
while [ $# -gt 1 ]; do
    case "$1" in
        --users) USERS=$2; shift 2 ;;
        --calls) CALLS=$2; shift 2 ;;
        --reps) REPS=$2; shift 2 ;;
        *) echo "unknown option $1" >&2; exit 2 ;;
    esac
done
BUILD=$(cd "${1:?usage: run.sh [options] BUILD_DIR}" && pwd)
BENCH=$BUILD/bench/ssh-keys/keys-bench
AUTHKEYS=$BUILD/tools/nexalix-authorized-keys
[ "$(id -u)" = 0 ] || { echo "run.sh needs root (it reads the keys snapshot like sshd's command user)" >&2; exit 1; }
[ -x "$BENCH" ] && [ -x "$AUTHKEYS" ] ||
    { echo "build first: ninja -C $BUILD bench/ssh-keys/keys-bench tools/nexalix-authorized-keys" >&2; exit 1; }

WORK=$(mktemp -d /var/tmp/keys-bench.XXXXXX)
RUN=$(mktemp -d /dev/shm/keys-bench-run.XXXXXX)
trap 'rm -rf "$WORK" "$RUN"' EXIT
chmod 0755 "$RUN"
ln -s "$RUN" "$WORK/run"

echo "## SSH keys: nexalix-authorized-keys at $USERS users with keys"
echo
echo "Machine: $(nproc) cores, $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1), $(. /etc/os-release && echo "$PRETTY_NAME"), load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo
"$BENCH" populate "$WORK" "$USERS" "$REPS" | sed 's/^/    /'
echo

# One authorized_keys file per user, for the first 1,000 users (enough for
# the file cache to matter as little as it does for one user's login).
HOMES=$WORK/home
N_HOMES=$((USERS < 1000 ? USERS : 1000))
for ((i = 0; i < N_HOMES; i++)); do
    u=$(printf 'u%06d' "$i")
    mkdir -p "$HOMES/$u/.ssh"
    "$AUTHKEYS" --runtime "$RUN" "$u" >"$HOMES/$u/.ssh/authorized_keys"
done
CAT_WRAPPER=$WORK/cat-keys
cat >"$CAT_WRAPPER.c" <<'EOF'
/* cat HOMES/USER/.ssh/authorized_keys, as an AuthorizedKeysCommand would:
 * a static-free, minimal C program, so that the comparison is about the
 * lookup, not about a shell. */
#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>
int main(int argc, char **argv) {
        char path[4096], buf[65536];
        ssize_t n;
        int fd;
        if (argc != 3)
                return 2;
        snprintf(path, sizeof(path), "%s/%s/.ssh/authorized_keys", argv[1], argv[2]);
        fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return 0;
        while ((n = read(fd, buf, sizeof(buf))) > 0)
                if (write(1, buf, (size_t) n) != n)
                        return 1;
        return 0;
}
EOF
cc -O2 -o "$CAT_WRAPPER" "$CAT_WRAPPER.c"

measure() {  # LABEL N -- CMD...
    local label=$1 n=$2
    shift 3
    printf '| %s | %s |\n' "$label" "$("$BENCH" spawn "$CALLS" "$n" -- "$@")"
}

echo "| command (each call a new process, stdout read to the end) | per call |"
echo "|---|---|"
measure "\`/bin/true\` (the floor of any command)" "$USERS" -- /bin/true
measure "\`nexalix-authorized-keys USER\` (random user of $USERS)" "$USERS" -- "$AUTHKEYS" --runtime "$RUN" %u
measure "\`nexalix-authorized-keys USER\` (unknown user)" "$USERS" -- "$AUTHKEYS" --runtime "$RUN" %x
measure "\`cat ~USER/.ssh/authorized_keys\` as a command (C, random user of $N_HOMES)" "$N_HOMES" -- "$CAT_WRAPPER" "$HOMES" %u
measure "\`/bin/cat ~USER/.ssh/authorized_keys\`" "$N_HOMES" -- /bin/cat "$HOMES/u000000/.ssh/authorized_keys"
for other in sss_ssh_authorizedkeys kanidm_ssh_authorizedkeys; do
    if p=$(command -v "$other"); then
        measure "\`$other USER\` (no server running)" "$USERS" -- "$p" %u || true
    else
        printf '| `%s` | not installed on this machine |\n' "$other"
    fi
done
echo
# CPU time per call (perf stat task-clock, user + system of the process):
# what a busy machine cannot inflate the way it inflates wall time.
if command -v perf >/dev/null 2>&1; then
    cpu() {  # LABEL CMD...
        local label=$1 ms
        shift
        ms=$(perf stat -x, -e task-clock -r 500 "$@" 2>&1 >/dev/null | awk -F, '/task-clock/ { print $1 }')
        printf '| %s | %.0f us |\n' "$label" "$(awk -v m="$ms" 'BEGIN { print m * 1000 }')"
    }
    echo "| command | CPU time per call (perf stat, 500 runs) |"
    echo "|---|---|"
    cpu "\`/bin/true\`" /bin/true
    cpu "\`nexalix-authorized-keys u004242\`" "$AUTHKEYS" --runtime "$RUN" u004242
    cpu "\`nexalix-authorized-keys nosuchuser\`" "$AUTHKEYS" --runtime "$RUN" nosuchuser
    cpu "\`cat ~u000042/.ssh/authorized_keys\` (C)" "$CAT_WRAPPER" "$HOMES" u000042
    echo
fi
echo "Snapshot: $(stat -c '%s bytes, mode %a' "$RUN/keys.mdb"); generation file $(stat -c '%s bytes' "$RUN/keys.gen")."
