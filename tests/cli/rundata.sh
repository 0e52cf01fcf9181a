#!/usr/bin/env bash
# tests/cli/rundata.sh OUT - a tiny three-domain data folder for the run tests, made by the
# real pipeline (bmx corpus build with fake extractors over tests/fixtures/tok texts, bmx tok
# train, bmx data shard). Sourced helpers are not tests: this file is not named test_*.
set -euo pipefail
out=$1
bmx="$BMX_BUILD/bmx"
fx="$BMX_ROOT/tests/fixtures/tok"
mkdir -p "$out/scripts" "$out/cache"
printf 'code\nlegal\nman\n' >"$out/scripts/domains.txt"
# each extractor emits its files cut into documents of 12 lines
gen() {
    local name=$1
    shift
    cat >"$out/scripts/$name.sh" <<SH
set -euo pipefail
echo "PKG deb fixture-$name 1.0 test-fixture"
for f in $*; do
    python3 - "\$f" <<'PY'
import sys
lines = open(sys.argv[1], "rb").read().split(b"\n")
for i in range(0, len(lines), 12):
    d = b"\n".join(lines[i:i + 12])
    sys.stdout.buffer.write(b"DOC %d %s/%d\n" % (len(d), sys.argv[1].rsplit("/", 1)[-1].encode(), i) + d + b"\n")
PY
done
SH
}
gen code "$fx/c-stdio.h" "$fx/python-textwrap.py"
gen legal "$fx/legal-apache2.txt" "$fx/legal-gpl3.txt"
gen man "$fx/man-grep.txt" "$fx/man-ls.txt"
"$bmx" corpus build --scripts "$out/scripts" --cache "$out/cache" --out "$out/corpus" \
    --split 75/25/0 >/dev/null 2>"$out/corpus.log" || { cat "$out/corpus.log" >&2; exit 1; }
"$bmx" tok train --input "$out/corpus/code/train.txt" "$out/corpus/legal/train.txt" \
    "$out/corpus/man/train.txt" --vocab-size 320 --out "$out/v.tok" --threads 1 2>/dev/null
"$bmx" data shard --corpus "$out/corpus" --vocab "$out/v.tok" --threads 1 2>"$out/shard.log" ||
    { cat "$out/shard.log" >&2; exit 1; }
