#!/usr/bin/env bash
# README's second command: run every test.
#
#   ./scripts/test.sh
#
# Run it as root, or as a user who may use sudo: it builds as whoever runs
# it and runs the tests as root (through sudo), because most of them start
# their own dbus-daemon, nexalixd and sshd and switch uids. Without root and
# without sudo the tests that need root skip with a message.
#
# 1. build-test/: the whole suite (`meson test`), warnings as errors.
# 2. build-asan/: AddressSanitizer + UndefinedBehaviorSanitizer build running
#    the C tests of the suites "unit" and "nss", failing on the first report.
# Ends with one line "N passed, N failed[, N skipped]" counted from both runs'
# meson-logs/testlog.json, and exits non-zero when anything failed.
#
# Dependencies come from README's first command (scripts/setup.sh) or
# scripts/install-deps.sh.
#
# Environment: MESON_TEST_ARGS adds arguments to every `meson test` run
# (e.g. MESON_TEST_ARGS="--timeout-multiplier 3").
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"

log() { printf '\n==> %s\n' "$*"; }
die() { printf 'test: error: %s\n' "$*" >&2; exit 2; }

for tool in meson ninja jq; do
    command -v "$tool" >/dev/null 2>&1 ||
        die "$tool not found: install the dependencies first with 'sudo ./scripts/setup.sh' (or 'sudo ./scripts/install-deps.sh')"
done
# as_root CMD...: CMD as root, through sudo when we are not root (keeping
# the variables the tests read); as ourselves when there is no sudo.
if [[ $(id -u) -eq 0 ]]; then
    as_root() { "$@"; }
elif command -v sudo >/dev/null 2>&1; then
    as_root() {
        sudo env ASAN_OPTIONS="${ASAN_OPTIONS:-}" UBSAN_OPTIONS="${UBSAN_OPTIONS:-}" \
            TMPDIR="${TMPDIR:-/tmp}" "$@"
    }
else
    printf 'test: note: not root and no sudo; tests that need root will be skipped\n'
    as_root() { "$@"; }
fi

read -r -a extra_args <<<"${MESON_TEST_ARGS:-}"

# Each finished `meson test` run leaves its testlog.json here; a stage that
# could not produce one (configure or build failed) is counted as a failure.
RESULTS=$(mktemp -d)
trap 'rm -rf "$RESULTS"' EXIT
stage_failures=0

# configure BUILDDIR MESON_OPTIONS...: set up, or reconfigure an existing dir.
configure() {
    local dir=$1; shift
    if [[ -f $dir/meson-private/coredata.dat ]]; then
        meson setup --reconfigure "$dir" "$@" ||
            meson setup --wipe "$dir" "$@"
    else
        meson setup "$dir" "$@"
    fi
}

# run_tests LABEL BUILDDIR [meson test args...]: run, then keep the log.
run_tests() {
    local label=$1 dir=$2; shift 2
    local rc=0
    rm -f "$dir"/meson-logs/testlog.*
    # Built already (as ourselves): the tests only run, as root.
    as_root meson test -C "$dir" --no-rebuild --print-errorlogs "${extra_args[@]}" "$@" || rc=$?
    if [[ -s $dir/meson-logs/testlog.json ]]; then
        cp "$dir/meson-logs/testlog.json" "$RESULTS/$label.json"
    elif [[ $rc -ne 0 ]]; then
        printf 'test: %s: meson test failed (exit %d) before running any test\n' "$label" "$rc" >&2
        stage_failures=$((stage_failures + 1))
    fi
    return 0
}

# tests_of_suite BUILDDIR SUITE [c]: names of the tests of SUITE; with "c",
# only those whose command is an executable the project compiles (C tests, as
# opposed to shell scripts, which may LD_PRELOAD nss_wrapper or pam_wrapper:
# that cannot be combined with an ASan runtime, which must come first).
tests_of_suite() {
    local dir=$1 suite=$2 only_c=${3:-}
    local exes='null'
    if [[ $only_c == c ]]; then
        exes=$(meson introspect "$dir" --targets |
            jq -c '[.[] | select(.type == "executable") | .filename[]]')
    fi
    meson introspect "$dir" --tests |
        jq -r --argjson exes "$exes" --arg suite "$suite" '
            .[] | select(any(.suite[]; . == $suite or endswith(":" + $suite)))
                | select($exes == null or ((.cmd[0] as $c | $exes | index($c))
                                           and ((.env // {}) | has("LD_PRELOAD") | not)))
                | .name'
}

log "Build build-test/ (-Dwerror=true) and run the whole suite"
if configure build-test -Dwerror=true && ninja -C build-test; then
    run_tests full build-test
else
    printf 'test: build-test: configure or build failed\n' >&2
    stage_failures=$((stage_failures + 1))
fi

log "Build build-asan/ (address,undefined sanitizers) and run the C unit tests"
export ASAN_OPTIONS=halt_on_error=1:abort_on_error=1:print_stacktrace=1:detect_leaks=1
export UBSAN_OPTIONS=halt_on_error=1:abort_on_error=1:print_stacktrace=1
if configure build-asan -Db_sanitize=address,undefined -Db_lundef=false -Dwerror=true &&
   ninja -C build-asan; then
    # Only C tests: a test wrapped in valgrind or driven by a script that
    # preloads a wrapper cannot run under ASan.
    mapfile -t unit_c_tests < <(tests_of_suite build-asan unit c)
    if [[ ${#unit_c_tests[@]} -gt 0 ]]; then
        run_tests asan-unit build-asan --suite unit "${unit_c_tests[@]}"
    else
        printf 'test: build-asan: suite "unit" has no C tests yet\n'
    fi
    mapfile -t nss_c_tests < <(tests_of_suite build-asan nss c)
    if [[ ${#nss_c_tests[@]} -gt 0 ]]; then
        run_tests asan-nss build-asan --suite nss "${nss_c_tests[@]}"
    fi
else
    printf 'test: build-asan: configure or build failed\n' >&2
    stage_failures=$((stage_failures + 1))
fi

# meson's results: OK and EXPECTEDFAIL pass; SKIP is skipped; FAIL, ERROR,
# TIMEOUT, UNEXPECTEDPASS and INTERRUPT fail.
passed=0 failed=0 skipped=0
shopt -s nullglob
logs=("$RESULTS"/*.json)
if [[ ${#logs[@]} -gt 0 ]]; then
    read -r passed failed skipped < <(cat "${logs[@]}" | jq -rs '
        (map(select(.result == "OK" or .result == "EXPECTEDFAIL")) | length) as $p
        | (map(select(.result == "SKIP")) | length) as $s
        | "\($p) \(length - $p - $s) \($s)"')
    failed_names=$(cat "${logs[@]}" | jq -r 'select(.result != "OK" and .result != "EXPECTEDFAIL" and .result != "SKIP") | "  \(.result): \(.name)"')
    if [[ -n $failed_names ]]; then
        printf '\nFailed tests:\n%s\n' "$failed_names"
    fi
fi
failed=$((failed + stage_failures))

echo
if [[ $skipped -gt 0 ]]; then
    printf '%d passed, %d failed, %d skipped\n' "$passed" "$failed" "$skipped"
else
    printf '%d passed, %d failed\n' "$passed" "$failed"
fi
[[ $failed -eq 0 ]]
