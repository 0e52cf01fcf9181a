#!/usr/bin/env bash
# dictionary: GCIDE, the Collaborative International Dictionary of English (Webster's
# 1913 + WordNet glosses; Debian dict-gcide), as groups of 50 consecutive entries.
source "$(dirname "$0")/lib.sh"
corpus_init "$@"
d=$(deb_fetch dict-gcide GPL-3+)
emit_py "$d" <<'PY'
import sys, corpuslib as c
root = sys.argv[1] + "/usr/share/dictd/"
c.emit(c.dict_docs(root + "gcide.dict.dz", root + "gcide.index", "gcide"))
PY
