#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# Publishing into a full runtime directory fails with an error and leaves
# the previous snapshot in place; it never crashes the publisher (the writer
# maps its file writable, where a sparse file on a full tmpfs means SIGBUS).
# Usage: test-nss-full.sh NSS_PUBLISH
set -u
publish=$1

[ "$(id -u)" = 0 ] || { echo "SKIP: needs root to mount a small tmpfs"; exit 77; }
unshare -m true 2>/dev/null || { echo "SKIP: cannot create a mount namespace"; exit 77; }

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
for i in $(seq 1 50000); do
    printf 'user%d:x:%d:%d:User %d:/home/user%d:/bin/sh\n' "$i" $((300000 + i)) $((300000 + i)) "$i" "$i"
done >"$tmp/passwd"
printf 'small:x:300000:user1\n' >"$tmp/group"
printf 'one:x:299999:299999:One:/home/one:/bin/sh\n' >"$tmp/passwd-small"
mkdir "$tmp/run"

# In a private mount namespace: a 8 MiB tmpfs, one small snapshot that
# fits, then a 50,000-user one that does not.
unshare -m --propagation private bash -c '
    set -u
    mount -t tmpfs -o size=8m tmpfs "$1/run" || exit 90
    "$2" "$1/run" "$1/passwd-small" "$1/group" || exit 91
    "$2" "$1/run" "$1/passwd" "$1/group" 2>"$1/err"
    echo "rc=$?"
    ls -A "$1/run" | tr "\n" " "
' _ "$tmp" "$publish" >"$tmp/out" 2>&1
out=$(cat "$tmp/out")
echo "$out"
fails=0
rc=$(grep -o 'rc=[0-9]*' <<<"$out" | cut -d= -f2)
if [ -z "$rc" ]; then
    echo "not ok - the namespace set-up failed"
    exit 1
fi
if [ "$rc" -ge 128 ]; then
    echo "not ok - the publisher died of signal $((rc - 128)) instead of failing cleanly"; fails=1
elif [ "$rc" -eq 0 ]; then
    echo "not ok - a 50,000-user snapshot cannot fit in 8 MiB, yet publishing succeeded"; fails=1
else
    echo "ok - publishing into a full directory failed cleanly (exit $rc: $(cat "$tmp/err"))"
fi
if grep -q 'nss.mdb' <<<"$out" && ! grep -q '\.nss\.mdb\.' <<<"$out"; then
    echo "ok - the previous snapshot stays, no temporary file is left"
else
    echo "not ok - runtime directory after the failure: $(tail -n 1 <<<"$out")"; fails=1
fi
exit $fails
