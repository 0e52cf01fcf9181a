#!/usr/bin/env bash
# The committed mixing fixtures (tests/fixtures/mix) are exactly what the Python reference
# (tests/ref/gen_mix_fixtures.py, stdlib only) writes today: regenerate them into a temporary
# directory and compare byte for byte. Skips (77) without /usr/bin/python3.
set -u
root=${BMX_ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
py=/usr/bin/python3
if [ ! -x "$py" ]; then
    echo "skip: $py not found (install python3 to check the fixtures)"
    exit 77
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# The reference's own self-checks first (generator values; policies against hand-worked values).
(cd "$root/tests/ref" && "$py" -B bmx_rng.py) || { echo "FAIL: tests/ref/bmx_rng.py self-check"; exit 1; }
(cd "$root/tests/ref" && "$py" -B mix_ref.py) || { echo "FAIL: tests/ref/mix_ref.py self-check"; exit 1; }
"$py" -B "$root/tests/ref/gen_mix_fixtures.py" "$tmp" || { echo "FAIL: gen_mix_fixtures.py failed"; exit 1; }
if ! diff -r "$root/tests/fixtures/mix" "$tmp" >"$tmp.diff" 2>&1; then
    head -n 20 "$tmp.diff"
    rm -f "$tmp.diff"
    echo "FAIL: tests/fixtures/mix differs from what tests/ref/gen_mix_fixtures.py writes;"
    echo "      run: python3 tests/ref/gen_mix_fixtures.py, and commit the result"
    exit 1
fi
rm -f "$tmp.diff"
n=$(ls "$tmp" | wc -l)
echo "ok: $n fixtures fresh"
