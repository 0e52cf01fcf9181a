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
    # Byte for byte is what this machine gives. Another machine's libm may round exp/log
    # differently in the last bit (glibc picks FMA code paths by CPU), so accept a difference
    # only when every line has the same fields and every number agrees to 1e-13 relative;
    # any change of a scenario or of the reference moves numbers far more (and draws).
    if "$py" -B - "$root/tests/fixtures/mix" "$tmp" <<'PY'
import os, sys
a_dir, b_dir = sys.argv[1], sys.argv[2]
if sorted(os.listdir(a_dir)) != sorted(os.listdir(b_dir)):
    print("the set of fixture files differs"); sys.exit(1)
def same(x, y):
    if x == y:
        return True
    try:
        u, v = float(x), float(y)
    except ValueError:
        return False
    return abs(u - v) <= 1e-13 * max(abs(u), abs(v))
for name in sorted(os.listdir(a_dir)):
    la = open(os.path.join(a_dir, name)).read().split("\n")
    lb = open(os.path.join(b_dir, name)).read().split("\n")
    if len(la) != len(lb):
        print("%s: %d lines, fresh %d" % (name, len(la), len(lb))); sys.exit(1)
    for i, (x, y) in enumerate(zip(la, lb)):
        tx, ty = x.split(), y.split()
        if len(tx) != len(ty) or not all(same(p, q) for p, q in zip(tx, ty)):
            print("%s:%d differs:\n  committed %.200s\n  fresh     %.200s" % (name, i + 1, x, y))
            sys.exit(1)
print("note: fixtures differ from a fresh run only in last bits (this machine's libm)")
PY
    then
        rm -f "$tmp.diff"
    else
        head -n 20 "$tmp.diff"
        rm -f "$tmp.diff"
        echo "FAIL: tests/fixtures/mix differs from what tests/ref/gen_mix_fixtures.py writes;"
        echo "      run: python3 tests/ref/gen_mix_fixtures.py, and commit the result"
        exit 1
    fi
fi
rm -f "$tmp.diff"
n=$(ls "$tmp" | wc -l)
echo "ok: $n fixtures fresh"
