#!/usr/bin/env bash
# docs/ARCHITECTURE.md's module picture is the code's: scripts/arch.py --check draws it again
# from the #include lines and fails on a difference, a cycle between modules, libbmx_mix's
# modules (mix, rng, core) using anything else, or a private header used across modules.
# Then the checker itself: a cycle and a cross-module private include, planted in a copy.
set -u
cd "${BMX_ROOT:-$(dirname "$0")/../..}"
command -v python3 >/dev/null || { echo "skip: no python3"; exit 77; }
python3 scripts/arch.py --check || { echo "FAIL: see above; python3 scripts/arch.py prints the block"; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp/r/docs" "$tmp/r/scripts"
cp -r src include "$tmp/r/"
cp scripts/arch.py "$tmp/r/scripts/"
cp docs/ARCHITECTURE.md "$tmp/r/docs/"
python3 "$tmp/r/scripts/arch.py" --check >/dev/null 2>&1 || { echo "FAIL: the copy does not check"; exit 1; }
# core uses mix: a cycle (mix uses core) and libbmx_mix's core... still inside; the picture changes too
printf '#include "bmx/mix.h"\n' >>"$tmp/r/src/core/err.c"
out=$(python3 "$tmp/r/scripts/arch.py" --check 2>&1) && { echo "FAIL: a planted cycle passed"; exit 1; }
echo "$out" | grep -q "cycle: " || { echo "FAIL: the cycle was not named: $out"; exit 1; }
echo "$out" | grep -q "out of date" || { echo "FAIL: the changed picture was not reported"; exit 1; }
cp src/core/err.c "$tmp/r/src/core/err.c"
printf '#include "../run/run_int.h"\n' >>"$tmp/r/src/data/dataset.c"
out=$(python3 "$tmp/r/scripts/arch.py" --check 2>&1) && { echo "FAIL: a private include passed"; exit 1; }
echo "$out" | grep -q "another module's private header" || { echo "FAIL: not named: $out"; exit 1; }
echo "ok: docs/ARCHITECTURE.md matches the code; a planted cycle and a private include are refused"
