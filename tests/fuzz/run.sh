#!/usr/bin/env bash
# tests/fuzz/run.sh FUZZ_BUILD SECONDS [TARGET...] - run each libFuzzer target (all of
# FUZZ_BUILD/fuzz_* by default) for SECONDS from its committed seeds (tests/fuzz/corpus/NAME;
# what it finds goes to FUZZ_BUILD/corpus/NAME, never into the committed seeds) under
# ASan+UBSan, one job at a time. Prints one line per target: executions, executions per
# second, corpus size, and the outcome. Exits 1 if any target crashed, hung (-timeout),
# leaked, went past the memory limit or reported an error; its input is kept in
# FUZZ_BUILD/artifacts/NAME/ and its log in FUZZ_BUILD/logs/NAME.log.
set -u
build=${1:?usage: run.sh FUZZ_BUILD SECONDS [TARGET...]}
secs=${2:?usage: run.sh FUZZ_BUILD SECONDS [TARGET...]}
shift 2
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
    for b in "$build"/fuzz_*; do
        [ -x "$b" ] && targets+=("$(basename "$b" | sed 's/^fuzz_//')")
    done
fi
[ ${#targets[@]} -gt 0 ] || { echo "fuzz: no targets in $build (make fuzz-build)" >&2; exit 1; }
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1}
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
bad=0 total=0
t0=$(date +%s)
printf '%-12s %12s %10s %8s  %s\n' target executions exec/s corpus outcome
for name in "${targets[@]}"; do
    bin=$build/fuzz_$name
    seeds=tests/fuzz/corpus/$name
    work=$build/corpus/$name
    art=$build/artifacts/$name
    log=$build/logs/$name.log
    mkdir -p "$work" "$art" "$build/logs"
    [ -d "$seeds" ] || { echo "fuzz: no seed corpus $seeds" >&2; bad=1; continue; }
    "$bin" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -malloc_limit_mb=1024 \
        -max_len=65536 -print_final_stats=1 -artifact_prefix="$art/" "$work" "$seeds" \
        >"$log" 2>&1
    rc=$?
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
    rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -n 1)
    size=$(ls "$work" | wc -l)
    outcome=ok
    if [ $rc -ne 0 ] || grep -qE 'ERROR: (AddressSanitizer|LeakSanitizer|libFuzzer)|runtime error:|SUMMARY: ' "$log"; then
        outcome="FAILED (exit $rc; see $log, input in $art/)"
        bad=1
    fi
    total=$((total + ${execs:-0}))
    printf '%-12s %12s %10s %8s  %s\n' "$name" "${execs:-?}" "${rate:-?}" "$size" "$outcome"
done
echo "fuzz: ${#targets[@]} targets, $total executions, $(($(date +%s) - t0)) s, $([ $bad = 0 ] && echo 'no crash, hang or sanitizer report' || echo FAILURES)"
exit $bad
