#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# The real host configuration, in a private mount namespace: an
# /etc/nsswitch.conf with `passwd: files nexalix` and `group: files nexalix`
# bind-mounted over the real one, so that unmodified programs (id, getent,
# ls, setpriv) resolve Nexalix users through glibc exactly as on a machine
# where the module is installed. Needs root (mount namespace); skips
# otherwise.
#
#   test-nss-namespace.sh MODULE NSS_PUBLISH
MODULE=$1 PUBLISH=$2
if [ "$(id -u)" != 0 ]; then
    echo "SKIP: needs root for a mount namespace (CI runs as root)"
    exit 77
fi
if ! unshare -m true 2> /dev/null; then
    echo "SKIP: cannot create a mount namespace here"
    exit 77
fi
. "$(dirname "$0")/nss-lib.sh"

write_fixture
printf 'passwd: files nexalix\ngroup: files nexalix\nshadow: files\n' > "$WORK/nsswitch.conf"
touch "$WORK/owned"
chown 60001:70001 "$WORK/owned"

# Everything below runs inside the namespace; its output is checked outside.
cat > "$WORK/inside.sh" <<'EOT'
set -eu
mount --bind "$WORK/nsswitch.conf" /etc/nsswitch.conf
echo "id=$(id alice)"
echo "getent-uid=$(getent passwd 60002)"
echo "getent-root=$(getent passwd root | cut -d: -f1,3)"
echo "enum-has-root=$(getent passwd | grep -c '^root:')"
echo "enum-has-alice=$(getent passwd | grep -c '^alice:')"
echo "enum-groups=$(getent group | grep -c '^acme-')"
echo "ls=$(ls -l "$WORK/owned" | awk '{print $3, $4}')"
echo "setpriv=$(setpriv --reuid alice --regid alice --init-groups id -G)"
echo "missing=$(getent passwd nosuchuser || echo "exit $?")"
# With the snapshot gone the module is UNAVAIL and files still answers.
mv "$NEXALIX_RUNTIME_DIR/nss.mdb" "$WORK/saved.mdb"
echo "gone-root=$(getent passwd root | cut -d: -f1)"
echo "gone-alice=$(getent passwd alice || echo "exit $?")"
mv "$WORK/saved.mdb" "$NEXALIX_RUNTIME_DIR/nss.mdb"
EOT
out=$(WORK="$WORK" NEXALIX_RUNTIME_DIR="$RUNTIME" LD_LIBRARY_PATH="$MODULE_DIR" \
      unshare -m --propagation private bash "$WORK/inside.sh")
get() { printf '%s\n' "$out" | sed -n "s/^$1=//p"; }

expect_eq "id alice" \
    "uid=60001(alice) gid=60001(alice) groups=60001(alice),70001(acme-support),70002(acme-org-admin),70003(acme-member)" \
    "$(get id)"
expect_eq "getent passwd UID" "bob:x:60002:60002:Bob Builder:/home/bob:/bin/sh" "$(get getent-uid)"
expect_eq "local root still from files" "root:0" "$(get getent-root)"
expect_eq "enumeration has root (files)" 1 "$(get enum-has-root)"
expect_eq "enumeration has alice (nexalix)" 1 "$(get enum-has-alice)"
expect_eq "group enumeration has the 3 acme groups" 3 "$(get enum-groups)"
expect_eq "ls -l shows names" "alice acme-support" "$(get ls)"
expect_eq "setpriv --init-groups sets the supplementary groups" "60001 70001 70002 70003" "$(get setpriv)"
expect_eq "unknown user" "exit 2" "$(get missing)"
expect_eq "no snapshot: files still answers" "root" "$(get gone-root)"
expect_eq "no snapshot: nexalix user gone" "exit 2" "$(get gone-alice)"

finish
