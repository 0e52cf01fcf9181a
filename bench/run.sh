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
# the Python package's policy and sampler against plain PyTorch (needs python3-torch)
if /usr/bin/python3 -c 'import torch, numpy' 2>/dev/null; then
    echo "== bench_python.py"
    /usr/bin/python3 bench/bench_python.py "$build" || rc=1
else
    echo "== bench_python.py: skipped (python3-torch is not installed)"
fi
exit $rc
