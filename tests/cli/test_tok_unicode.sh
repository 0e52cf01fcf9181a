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
