#!/usr/bin/env bash
# GPT-2 ids of `bmx tok encode --gpt2` equal those of the JavaScript encoders gpt-tokenizer and
# js-tiktoken (tests/js/encode_ref.js) on every file of the given paths (default: the fixture
# set tests/fixtures/tok; e.g. a small corpus folder: tests/cli/test_tok_gpt2.sh DIR).
set -u
cd "${BMX_ROOT:-$(dirname "$0")/../..}"
bmx=${BMX_BUILD:-build}/bmx
paths=("$@")
[ ${#paths[@]} -gt 0 ] || paths=(tests/fixtures/tok)
if ! command -v node >/dev/null; then
    echo "skip: node is not installed (apt-get install nodejs; see scripts/deps-apt.txt)"
    exit 77
fi
for p in gpt-3-encoder gpt-tokenizer js-tiktoken; do
    [ -d "node_modules/$p" ] || { echo "FAIL: node_modules/$p missing: run 'make deps'"; exit 1; }
done
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
node tests/js/encode_ref.js "${paths[@]}" >"$tmp/ref.tsv" || { echo "FAIL: the JS encoders disagree or failed"; exit 1; }
cut -f1 "$tmp/ref.tsv" >"$tmp/files"
n=$(wc -l <"$tmp/files")
[ "$n" -gt 0 ] || { echo "FAIL: no UTF-8 file under ${paths[*]}"; exit 1; }
cut -f2 "$tmp/ref.tsv" >"$tmp/want"
mapfile -t files <"$tmp/files"
"$bmx" tok encode --gpt2 "${files[@]}" >"$tmp/got" || { echo "FAIL: bmx tok encode --gpt2 failed"; exit 1; }
fail=0
paste -d '\t' "$tmp/files" "$tmp/want" "$tmp/got" | while IFS=$'\t' read -r f want got; do
    if [ "$want" != "$got" ]; then
        w=($want) g=($got) i=0
        while [ $i -lt ${#w[@]} ] && [ "${w[$i]:-}" = "${g[$i]:-}" ]; do i=$((i + 1)); done
        echo "FAIL: $f: ids differ from the JS encoders at position $i (JS ${w[$i]:-end}, bmx ${g[$i]:-end}; ${#w[@]} vs ${#g[@]} ids)"
        exit 1
    fi
done || fail=1
[ $fail -eq 0 ] || exit 1
tokens=$(wc -w <"$tmp/want")
echo "ok: $n files, $tokens GPT-2 ids identical to gpt-tokenizer and js-tiktoken"
