#!/usr/bin/env bash
# scripts/test-stress.sh BUILD_DIR [N] - the whole test suite (tests/run.sh) N times in a row
# (20 unless given) with a CPU hog on every core, to show that no test passes or fails by the
# machine's load. `make test-stress` (N=5 to change the count); not part of CI.
# Prints one line per passing run, the full output of every failing run, and ends with
#   test-stress: N runs under load (H CPU hogs), F failed
set -u
build=${1:-build}
n=${2:-20}
root=$(cd "$(dirname "$0")/.." && pwd)
case $n in
'' | *[!0-9]* | 0*)
    echo "test-stress: N must be a whole number from 1 up, got '$n' (make test-stress N=20)" >&2
    exit 2
    ;;
esac
[ -d "$build/tests" ] || {
    echo "test-stress: $build/tests does not exist; build the tests first (make test-stress does)" >&2
    exit 2
}

log=$(mktemp /tmp/bmx_stress_XXXXXX)
hogs=()
stop_hogs() {
    for p in "${hogs[@]}"; do kill "$p" 2>/dev/null; done
    for p in "${hogs[@]}"; do wait "$p" 2>/dev/null; done
    hogs=()
}
trap 'stop_hogs; rm -f "$log"' EXIT
trap 'exit 130' INT TERM

cores=$(nproc)
for ((i = 0; i < cores; i++)); do
    yes >/dev/null &
    hogs+=($!)
done
echo "test-stress: $n runs of the suite in $build with $cores CPU hogs (yes >/dev/null)"

failed=0
for ((r = 1; r <= n; r++)); do
    t0=$SECONDS
    bash "$root/tests/run.sh" "$build" >"$log" 2>&1
    rc=$?
    summary=$(tail -n 1 "$log")
    if [ $rc -eq 0 ]; then
        echo "run $r/$n: $summary ($((SECONDS - t0)) s)"
    else
        failed=$((failed + 1))
        echo "run $r/$n FAILED (exit $rc, $((SECONDS - t0)) s): $summary"
        echo "---- full output of run $r ----"
        cat "$log"
        echo "---- end of run $r ----"
    fi
done
stop_hogs
echo "test-stress: $n runs under load ($cores CPU hogs), $failed failed"
[ $failed -eq 0 ]
