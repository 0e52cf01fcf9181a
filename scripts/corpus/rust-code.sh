#!/usr/bin/env bash
# rust-code: the Rust 1.63 compiler and standard library sources (Debian rust-src), one .rs file a
# document; files over 1 MB left out.
source "$(dirname "$0")/lib.sh"
corpus_init "$@"
d=$(deb_fetch rust-src MIT / Apache-2.0)
emit_py "$d" <<'PY'
import sys, corpuslib as c
c.emit(c.file_docs(sys.argv[1] + "/usr/src", "rust-src", include=("*.rs",),
                   max_file=1000000))
PY
