#!/usr/bin/env bash
# go-code: the Go 1.19 standard library, tools and test suite (Debian golang-1.19-src),
# one .go file a document; files over 1 MB (generated tables) left out.
source "$(dirname "$0")/lib.sh"
corpus_init "$@"
d=$(deb_fetch golang-1.19-src BSD-3-clause)
emit_py "$d" <<'PY'
import sys, corpuslib as c
c.emit(c.file_docs(sys.argv[1] + "/usr/share/go-1.19", "golang-1.19-src", include=("*.go",),
                   max_file=1000000))
PY
