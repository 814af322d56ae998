# SPDX-License-Identifier: LGPL-2.1-or-later
# Sourced by the NSS shell tests: a fixture snapshot published with the
# writer API (nss-publish), and small assertion helpers.
#
# The caller sets MODULE (path of libnss_nexalix.so.2) and PUBLISH (path of
# nss-publish) before sourcing.

set -eu

TEST_NAME=$(basename "$0" .sh)
WORK=$(mktemp -d "${TMPDIR:-/tmp}/$TEST_NAME.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
MODULE_DIR=$(dirname "$MODULE")
RUNTIME="$WORK/run"
failures=0
checks=0

fail() {
    echo "FAIL: $*" >&2
    failures=$((failures + 1))
}

# expect_eq DESCRIPTION EXPECTED ACTUAL
expect_eq() {
    checks=$((checks + 1))
    if [ "$2" = "$3" ]; then
        echo "ok   $1"
    else
        fail "$1"
        printf '  expected: %s\n  actual:   %s\n' "$2" "$3" >&2
    fi
}

finish() {
    echo "$((checks - failures)) passed, $failures failed"
    [ "$failures" -eq 0 ]
}

# The fixture: two users with private groups, a department group and two
# role groups, as nexalixd publishes them (docs/nss.md).
write_fixture() {
    cat > "$WORK/passwd" <<'EOT'
alice:x:60001:60001:Alice Liddell:/home/alice:/bin/bash
bob:x:60002:60002:Bob Builder:/home/bob:/bin/sh
EOT
    cat > "$WORK/group" <<'EOT'
alice:x:60001:
bob:x:60002:
acme-support:x:70001:alice,bob
acme-org-admin:x:70002:alice
acme-member:x:70003:alice,bob
EOT
    "$PUBLISH" "$RUNTIME" "$WORK/passwd" "$WORK/group" > /dev/null
}
