#!/usr/bin/env bash
# GPT-2 ids of `bmx tok encode --gpt2` equal those of the JavaScript encoders gpt-tokenizer and
# js-tiktoken (tests/js/encode_ref.js) on every file of the given paths (default: the fixture
# set tests/fixtures/tok). A path that is a corpus folder (it holds manifest.json, from
# `bmx corpus build`) is checked document by document: each DOC record of its
# DOMAIN/{train,val,test}.txt files becomes one file first. E.g.
#     bash tests/cli/test_tok_gpt2.sh data/corpus-small
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
expanded=()
for p in "${paths[@]}"; do
    if [ -f "$p/manifest.json" ]; then
        out="$tmp/corpus$((${#expanded[@]}))"
        python3 - "$p" "$out" <<'PY' || { echo "FAIL: cannot split the corpus $p into documents"; exit 1; }
import glob, os, sys
root, out = sys.argv[1], sys.argv[2]
magic = b"#bmx-corpus 1\n"
for f in sorted(glob.glob(os.path.join(root, "*", "*.txt"))):
    d = open(f, "rb").read()
    if not d.startswith(magic):
        continue
    od = os.path.join(out, os.path.basename(os.path.dirname(f)), os.path.basename(f)[:-4])
    os.makedirs(od, exist_ok=True)
    i, k = len(magic), 0
    while i < len(d):
        e = d.index(b"\n", i)
        head = d[i:e].split(b" ")
        if head[0] != b"DOC":
            sys.exit("%s: byte %d: DOC record expected" % (f, i))
        n = int(head[1])
        if d[e + 1 + n:e + 2 + n] != b"\n":
            sys.exit("%s: byte %d: document of %d bytes not followed by a newline" % (f, i, n))
        with open(os.path.join(od, "%07d.txt" % k), "wb") as g:
            g.write(d[e + 1:e + 1 + n])
        i, k = e + 2 + n, k + 1
PY
        expanded+=("$out")
    else
        expanded+=("$p")
    fi
done
node tests/js/encode_ref.js "${expanded[@]}" >"$tmp/ref.tsv" || { echo "FAIL: the JS encoders disagree or failed"; exit 1; }
cut -f1 "$tmp/ref.tsv" >"$tmp/files"
n=$(wc -l <"$tmp/files")
[ "$n" -gt 0 ] || { echo "FAIL: no UTF-8 file under ${paths[*]}"; exit 1; }
cut -f2 "$tmp/ref.tsv" >"$tmp/want"
# many files: xargs runs bmx as often as the command line needs, output in file order
tr '\n' '\0' <"$tmp/files" | xargs -0 "$bmx" tok encode --gpt2 >"$tmp/got" ||
    { echo "FAIL: bmx tok encode --gpt2 failed"; exit 1; }
# compare WHAT: per file, line by line, the first difference named
compare() {
    paste -d '\t' "$tmp/files" "$tmp/want" "$tmp/got" | while IFS=$'\t' read -r f want got; do
        if [ "$want" != "$got" ]; then
            w=($want) g=($got) i=0
            while [ $i -lt ${#w[@]} ] && [ "${w[$i]:-}" = "${g[$i]:-}" ]; do i=$((i + 1)); done
            echo "FAIL: $f: $1 differ from JavaScript's at position $i (JS ${w[$i]:-end}, bmx ${g[$i]:-end}; ${#w[@]} vs ${#g[@]})"
            exit 1
        fi
    done
}
compare "GPT-2 ids" || exit 1
tokens=$(wc -w <"$tmp/want")
# the pre-tokens themselves (byte lengths), against the JS regex engine's split
node tests/js/encode_ref.js --split "${expanded[@]}" | cut -f2 >"$tmp/want" || { echo "FAIL: JS split failed"; exit 1; }
tr '\n' '\0' <"$tmp/files" | xargs -0 "$bmx" tok split >"$tmp/got" || { echo "FAIL: bmx tok split failed"; exit 1; }
compare "pre-token lengths" || exit 1
echo "ok: $n files, $tokens GPT-2 ids identical to gpt-tokenizer and js-tiktoken, pre-tokens identical to the JS regex"
