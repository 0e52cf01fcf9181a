#!/usr/bin/env bash
# tests/run.sh BUILD_DIR - run every test of bmx and print one closing summary line.
#
# Runs each C test binary BUILD_DIR/tests/test_* and each shell test tests/cli/test_*.sh.
# A C binary reports "# name: P passed, F failed, S skipped" (tests/check.h); a shell test
# counts as one case: exit 0 passed, 77 skipped, anything else failed. A binary that dies
# without its summary line (a crash, a sanitizer report) counts as one failure.
# The last line is "tests: P passed, F failed, S skipped".
set -u
build=${1:-build}
root=$(cd "$(dirname "$0")/.." && pwd)
export BMX_BUILD=$(cd "$build" && pwd)
export BMX_ROOT=$root
pass=0 fail=0 skip=0
failed_names=()
log=$(mktemp)
trap 'rm -f "$log"' EXIT

for t in "$BMX_BUILD"/tests/test_*; do
    [ -x "$t" ] || continue
    name=$(basename "$t")
    echo "== $name"
    (cd "$root" && "$t") >"$log" 2>&1
    rc=$?
    cat "$log"
    line=$(grep -E '^# [^ ]+: [0-9]+ passed, [0-9]+ failed, [0-9]+ skipped$' "$log" | tail -n 1)
    if [ -z "$line" ]; then
        echo "FAIL $name: exited $rc without a summary line"
        fail=$((fail + 1)); failed_names+=("$name"); continue
    fi
    read -r p f s < <(echo "$line" | sed -E 's/.*: ([0-9]+) passed, ([0-9]+) failed, ([0-9]+) skipped/\1 \2 \3/')
    pass=$((pass + p)); fail=$((fail + f)); skip=$((skip + s))
    if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
        echo "FAIL $name: exited $rc after its summary line"
        fail=$((fail + 1))
    fi
    [ "$f" -gt 0 ] || [ "$rc" -ne 0 ] && failed_names+=("$name")
done

for t in "$root"/tests/cli/test_*.sh; do
    [ -f "$t" ] || continue
    name=$(basename "$t")
    echo "== $name"
    (cd "$root" && bash "$t") >"$log" 2>&1
    rc=$?
    cat "$log"
    case $rc in
    0) echo "ok $name"; pass=$((pass + 1)) ;;
    77) echo "skip $name"; skip=$((skip + 1)) ;;
    *) echo "FAIL $name: exit $rc"; fail=$((fail + 1)); failed_names+=("$name") ;;
    esac
done

if [ ${#failed_names[@]} -gt 0 ]; then
    echo "failed: ${failed_names[*]}"
fi
echo "tests: $pass passed, $fail failed, $skip skipped"
[ "$fail" -eq 0 ]
