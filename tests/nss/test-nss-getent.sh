#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# glibc loads the module: `getent -s nexalix` (the module found through
# LD_LIBRARY_PATH, as glibc dlopen()s libnss_nexalix.so.2 by name), then
# nss_wrapper with `files nexalix` semantics for id(1) and ls(1).
#
#   test-nss-getent.sh MODULE NSS_PUBLISH
MODULE=$1 PUBLISH=$2
. "$(dirname "$0")/nss-lib.sh"

write_fixture
export NEXALIX_RUNTIME_DIR="$RUNTIME"
nx() { LD_LIBRARY_PATH="$MODULE_DIR" getent -s nexalix "$@"; }

expect_eq "getent passwd alice" \
    "alice:x:60001:60001:Alice Liddell:/home/alice:/bin/bash" "$(nx passwd alice)"
expect_eq "getent passwd UID" \
    "bob:x:60002:60002:Bob Builder:/home/bob:/bin/sh" "$(nx passwd 60002)"
expect_eq "getent passwd (enumeration)" "$(cat "$WORK/passwd")" "$(nx passwd)"
expect_eq "getent group NAME" "acme-support:x:70001:alice,bob" "$(nx group acme-support)"
expect_eq "getent group GID" "alice:x:60001:" "$(nx group 60001)"
expect_eq "getent group (enumeration)" "$(cat "$WORK/group")" "$(nx group)"
expect_eq "getent initgroups alice" "alice 70001 70002 70003" "$(nx initgroups alice | tr -s ' ')"

set +e
nx passwd nosuchuser > /dev/null; rc=$?
expect_eq "unknown user: exit 2" 2 "$rc"
nx passwd 'Not A Name' > /dev/null; rc=$?
expect_eq "invalid name: exit 2" 2 "$rc"
start=$(date +%s%N)
NEXALIX_RUNTIME_DIR="$WORK/nothing-here" timeout 10 \
    env LD_LIBRARY_PATH="$MODULE_DIR" getent -s nexalix passwd alice > /dev/null; rc=$?
elapsed_ms=$(( ($(date +%s%N) - start) / 1000000 ))
set -e
expect_eq "no snapshot: exit 2" 2 "$rc"
checks=$((checks + 1))
if [ "$elapsed_ms" -lt 2000 ]; then echo "ok   no snapshot: answered in ${elapsed_ms} ms"
else fail "no snapshot: took ${elapsed_ms} ms"; fi

# A publication is visible to the next process at once.
sed -i 's/Alice Liddell/Alice Pleasance Liddell/' "$WORK/passwd"
"$PUBLISH" "$RUNTIME" "$WORK/passwd" "$WORK/group" > /dev/null
expect_eq "new publication seen" \
    "alice:x:60001:60001:Alice Pleasance Liddell:/home/alice:/bin/bash" "$(nx passwd alice)"

# nss_wrapper: local files first, then the module, through the whole of
# glibc's NSS (id uses getgrouplist, so initgroups_dyn).
WRAPPER=
for d in /usr/lib/x86_64-linux-gnu /usr/lib64 /usr/lib /usr/lib/*-linux-gnu; do
    [ -e "$d/libnss_wrapper.so" ] && WRAPPER="$d/libnss_wrapper.so" && break
done
if [ -z "$WRAPPER" ]; then
    echo "SKIP nss_wrapper checks: libnss_wrapper.so not installed (apt-get install libnss-wrapper)"
else
    printf 'root:x:0:0:root:/root:/bin/bash\nalice:x:1000:1000:Local Alice:/home/la:/bin/sh\n' > "$WORK/local-passwd"
    printf 'root:x:0:\nusers:x:100:bob\n' > "$WORK/local-group"
    wrapped() {
        LD_PRELOAD="$WRAPPER" NSS_WRAPPER_PASSWD="$WORK/local-passwd" \
        NSS_WRAPPER_GROUP="$WORK/local-group" NSS_WRAPPER_MODULE_SO_PATH="$MODULE" \
        NSS_WRAPPER_MODULE_FN_PREFIX=nexalix "$@"
    }
    expect_eq "id bob (files + nexalix groups)" \
        "uid=60002(bob) gid=60002(bob) groups=60002(bob),100(users),70001(acme-support),70003(acme-member)" \
        "$(wrapped id bob)"
    # A name taken by a local account: the local entry wins (files first).
    expect_eq "local account wins" "uid=1000(alice)" "$(wrapped id alice | cut -d' ' -f1)"
    expect_eq "uid of a nexalix user resolves" "alice" "$(wrapped getent passwd 60001 | cut -d: -f1)"
    touch "$WORK/owned"
    if [ "$(id -u)" = 0 ]; then
        chown 60002:70001 "$WORK/owned"
        expect_eq "ls -l shows names" "bob acme-support" \
            "$(wrapped ls -l "$WORK/owned" | awk '{print $3, $4}')"
    else
        echo "SKIP ls -l check: chown needs root"
    fi
fi

finish
