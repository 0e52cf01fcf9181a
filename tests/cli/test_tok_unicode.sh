#!/usr/bin/env bash
# src/tok/utab.c is what scripts/gen_unicode_tables.py makes: regenerate it and compare
# (skipped when python3's Unicode database is not the 14.0.0 the committed table came from).
set -u
cd "${BMX_ROOT:-$(dirname "$0")/../..}"
command -v python3 >/dev/null || { echo "skip: no python3"; exit 77; }
v=$(python3 -c 'import unicodedata; print(unicodedata.unidata_version)')
[ "$v" = 14.0.0 ] || { echo "skip: python3 has Unicode $v, the table is from 14.0.0"; exit 77; }
tmp=$(mktemp)
trap 'rm -f "$tmp"' EXIT
python3 scripts/gen_unicode_tables.py --out "$tmp" >/dev/null || { echo "FAIL: generator failed"; exit 1; }
cmp -s "$tmp" src/tok/utab.c || { echo "FAIL: src/tok/utab.c differs from the generator's output"; exit 1; }
echo "ok: src/tok/utab.c regenerates identically"

# Every boundary of the table (each range's first and last code point and its neighbours)
# plus 2000 random assigned code points, each in letter, number and space contexts: the GPT-2
# ids of bmx must equal the JavaScript encoders' (whose classes come from the JS engine).
command -v node >/dev/null || { echo "skip: node missing for the JS comparison"; exit 77; }
mkdir -p "$tmp.d"
trap 'rm -rf "$tmp" "$tmp.d"' EXIT
python3 - "$tmp.d/boundaries.txt" <<'PY' || { echo "FAIL: cannot write the boundary text"; exit 1; }
import random, re, sys, unicodedata
cps = set()
for lo, hi in re.findall(r"\{0x([0-9A-F]+), 0x([0-9A-F]+), \d\}", open("src/tok/utab.c").read()):
    lo, hi = int(lo, 16), int(hi, 16)
    cps.update([lo - 1, lo, lo + 1, hi - 1, hi, hi + 1])
rnd = random.Random(1)
while len(cps) < 7000:
    cps.add(rnd.randrange(0x80, 0x30000))
lines = []
for cp in sorted(cps):
    if cp < 0x80 or 0xD800 <= cp <= 0xDFFF or cp > 0x10FFFF:
        continue
    if unicodedata.category(chr(cp)) == "Cn":  # unassigned in Unicode 14: JS may know it
        continue
    c = chr(cp)
    lines.append("a%s 1%s %s!%s\t%s%sx" % (c, c, c, c, c, c))
open(sys.argv[1], "w", encoding="utf-8").write("\n".join(lines) + "\n")
PY
bash tests/cli/test_tok_gpt2.sh "$tmp.d/boundaries.txt"
