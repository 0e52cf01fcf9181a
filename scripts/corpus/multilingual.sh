#!/usr/bin/env bash
# multilingual: fortune cookie files in German, Italian, Spanish, Russian, Polish, Czech,
# Brazilian Portuguese (fortunes-br, fortunes-mario) and Chinese, as groups of 10
# consecutive fortunes of one file. Labels start with the package name.
source "$(dirname "$0")/lib.sh"
corpus_init "$@"
pkgs="fortunes-de fortunes-it fortunes-es fortunes-ru fortunes-pl fortunes-cs fortunes-br fortunes-zh fortunes-mario"
deb_prefetch $pkgs
dirs=()
for p in $pkgs; do
    dirs+=("$(deb_fetch "$p" GPL-2+ / mixed-free)")
done
emit_py "${dirs[@]}" <<'PY'
import os, sys, corpuslib as c
docs = []
for d in sys.argv[1:]:
    docs += c.fortune_docs(d + "/usr/share/games/fortunes", os.path.basename(d))
c.emit(docs)
PY
