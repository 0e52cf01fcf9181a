#!/usr/bin/env bash
# quotes: the English fortune cookie files (Debian fortunes, fortunes-min), as groups
# of 10 consecutive fortunes of one category.
source "$(dirname "$0")/lib.sh"
corpus_init "$@"
a=$(deb_fetch fortunes-min BSD-4-clause / public-domain)
b=$(deb_fetch fortunes BSD-4-clause / public-domain)
emit_py "$a" "$b" <<'PY'
import sys, corpuslib as c
docs = []
for root, name in ((sys.argv[1], "fortunes-min"), (sys.argv[2], "fortunes")):
    docs += c.fortune_docs(root + "/usr/share/games/fortunes", name)
c.emit(docs)
PY
