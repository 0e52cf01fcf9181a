#!/usr/bin/env bash
# python-code: CPython 3.11's standard library (libpython3.11-stdlib) and test suite
# (libpython3.11-testsuite), and SymPy 1.11 (python3-sympy); one .py file a document,
# files over 1 MB left out.
source "$(dirname "$0")/lib.sh"
corpus_init "$@"
deb_prefetch libpython3.11-stdlib libpython3.11-testsuite python3-sympy
a=$(deb_fetch libpython3.11-stdlib PSF-2.0)
b=$(deb_fetch libpython3.11-testsuite PSF-2.0)
s=$(deb_fetch python3-sympy BSD-3-clause)
emit_py "$a" "$b" "$s" <<'PY'
import os, sys, corpuslib as c
docs = []
for d in sys.argv[1:]:
    docs += c.file_docs(d + "/usr/lib", os.path.basename(d), include=("*.py",), max_file=1000000)
c.emit(docs)
PY
