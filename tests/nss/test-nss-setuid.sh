#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# NEXALIX_RUNTIME_DIR is a test hook read with secure_getenv(): a setuid
# program must ignore it and only ever read /run/nexalix. The same lookup
# helper runs twice as user nobody against a readable test snapshot: once
# started by setpriv (no secure mode: the override applies, the user is
# found), once through its setuid bit (secure mode: the override is ignored,
# the user is not found). Needs root; skips otherwise.
#
#   test-nss-setuid.sh MODULE NSS_PUBLISH NSS_LOOKUP
MODULE=$1 PUBLISH=$2 LOOKUP=$3
if [ "$(id -u)" != 0 ]; then
    echo "SKIP: needs root to make a setuid binary"
    exit 77
fi
. "$(dirname "$0")/nss-lib.sh"

NOBODY=$(id -u nobody 2> /dev/null || echo 65534)
chmod 0755 "$WORK"
# A name no real snapshot in /run/nexalix would have.
printf 'nxsetuidprobe:x:61234:61234:Probe:/nonexistent:/bin/false\n' > "$WORK/passwd"
printf 'nxsetuidprobe:x:61234:\n' > "$WORK/group"
"$PUBLISH" "$RUNTIME" "$WORK/passwd" "$WORK/group" > /dev/null

# The module must be readable by nobody wherever the build tree is.
cp "$MODULE" "$WORK/libnss_nexalix.so.2"
cp "$LOOKUP" "$WORK/nss-lookup"
chmod 0755 "$WORK/libnss_nexalix.so.2" "$WORK/nss-lookup"
chown "$NOBODY" "$WORK/nss-lookup"

plain=$(NEXALIX_RUNTIME_DIR="$RUNTIME" setpriv --reuid "$NOBODY" --regid "$NOBODY" --clear-groups \
        "$WORK/nss-lookup" "$WORK/libnss_nexalix.so.2" nxsetuidprobe)
expect_eq "not setuid: the override applies" "SUCCESS 61234" "$plain"

chmod 4755 "$WORK/nss-lookup"
if findmnt -n -o OPTIONS -T "$WORK" | grep -qw nosuid; then
    echo "SKIP setuid half: $WORK is on a nosuid mount"
else
    secure=$(NEXALIX_RUNTIME_DIR="$RUNTIME" "$WORK/nss-lookup" "$WORK/libnss_nexalix.so.2" nxsetuidprobe)
    checks=$((checks + 1))
    case "$secure" in
        SUCCESS*) fail "setuid: the override was honoured ($secure)" ;;
        NOTFOUND|UNAVAIL) echo "ok   setuid: the override is ignored ($secure)" ;;
        *) fail "setuid: unexpected answer '$secure'" ;;
    esac
fi

finish
