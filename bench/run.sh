#!/usr/bin/env bash
# bench/run.sh BUILD_DIR - run every benchmark binary; each prints one JSON object last.
set -u
build=${1:-build}
cd "$(dirname "$0")/.."
rc=0
for b in "$build"/bench/bench_*; do
    [ -x "$b" ] || continue
    echo "== $(basename "$b")"
    "$b" || rc=1
done
exit $rc
