#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# The module exports exactly the NSS entry points (version script), carries
# the soname glibc asks for, and is marked NODELETE.
#
#   test-nss-symbols.sh MODULE
set -eu
MODULE=$1
failures=0 checks=0
check() {  # DESCRIPTION COMMAND...
    local what=$1; shift
    checks=$((checks + 1))
    if "$@"; then echo "ok   $what"; else echo "FAIL: $what" >&2; failures=$((failures + 1)); fi
}

expected="_nss_nexalix_endgrent
_nss_nexalix_endpwent
_nss_nexalix_getgrent_r
_nss_nexalix_getgrgid_r
_nss_nexalix_getgrnam_r
_nss_nexalix_getpwent_r
_nss_nexalix_getpwnam_r
_nss_nexalix_getpwuid_r
_nss_nexalix_initgroups_dyn
_nss_nexalix_setgrent
_nss_nexalix_setpwent"

# Every defined dynamic symbol, whatever its kind (functions, data, TLS).
exported=$(nm -D --defined-only "$MODULE" | awk '{print $3}' | sort)
stray=$(printf '%s\n' "$exported" | grep -v '^_nss_nexalix_' || true)
check "no symbol outside _nss_nexalix_* (stray: ${stray:-none})" test -z "$stray"
check "exactly the 11 entry points" test "$exported" = "$expected"

# Loaded into every process: the snapshot writer stays in the daemon.
writer=$(nm "$MODULE" 2>/dev/null | grep -c 'snapshot_writer\|snapshot_update' || true)
check "carries no snapshot writer code ($writer writer symbols)" test "$writer" -eq 0

dyn=$(readelf -d "$MODULE")
check "soname libnss_nexalix.so.2" grep -q 'Library soname: \[libnss_nexalix.so.2\]' <<< "$dyn"
check "linked with -z nodelete" grep -q 'NODELETE' <<< "$dyn"
check "linked with -z now" grep -q 'BIND_NOW\|Flags: NOW' <<< "$dyn"
# Nothing that could hurt a host program: no libdbus, no libsodium.
needed=$(grep NEEDED <<< "$dyn" | sed 's/.*\[\(.*\)\]/\1/' | sort | tr '\n' ' ')
check "needs only libc and liblmdb (needs: $needed)" test "$needed" = "libc.so.6 liblmdb.so.0 "

echo "$((checks - failures)) passed, $failures failed"
[ "$failures" -eq 0 ]
