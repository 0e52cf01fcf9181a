#!/usr/bin/env bash
# scripts/ci-corpus.sh [BUILD_DIR] - the real small corpus, end to end, as CI can run it.
#
#  1. bmx corpus build --preset small (all 19 domains, ~2 MB each; --strict: any domain that
#     fails fails the script) into $BMX_CORPUS_OUT (data/corpus-small), downloading into the
#     cache $BMX_CORPUS_CACHE (data/cache; keep it between CI runs to skip the downloads);
#  2. bmx data shard --gpt2: every document tokenized, decoded back and compared byte for byte;
#  3. GPT-2 ids (and pre-tokens) of every document equal to gpt-tokenizer's and js-tiktoken's
#     (tests/cli/test_tok_gpt2.sh on the corpus folder: one file per document).
# Needs root for packages that must be installed (R, groff), Debian's archive and the npm
# registry on a cold cache, and `make deps` done. $BMX_CORPUS_DOMAINS (a comma list) limits
# the build to some domains. Prints the time of each phase last.
set -euo pipefail
build=${1:-build}
cd "$(dirname "$0")/.."
cache=${BMX_CORPUS_CACHE:-data/cache}
out=${BMX_CORPUS_OUT:-data/corpus-small}
sel=()
[ -z "${BMX_CORPUS_DOMAINS:-}" ] || sel=(--domains "$BMX_CORPUS_DOMAINS")

t0=$(date +%s)
"$build/bmx" corpus build --preset small --out "$out" --cache "$cache" --jobs 2 --strict "${sel[@]}"
t1=$(date +%s)
echo "ci-corpus: corpus built in $((t1 - t0)) s"
"$build/bmx" data shard --corpus "$out" --gpt2
t2=$(date +%s)
echo "ci-corpus: shards written and round trips checked in $((t2 - t1)) s"
BMX_BUILD=$(cd "$build" && pwd) bash tests/cli/test_tok_gpt2.sh "$out"
t3=$(date +%s)
echo "ci-corpus: build $((t1 - t0)) s, shard + round trip $((t2 - t1)) s, GPT-2 ids vs JS $((t3 - t2)) s; corpus $(du -sh "$out" | cut -f1), cache $(du -sh "$cache" | cut -f1)"
