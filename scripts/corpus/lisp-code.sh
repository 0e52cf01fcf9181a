#!/usr/bin/env bash
# lisp-code: the Emacs Lisp sources of GNU Emacs 28 (Debian emacs-el, .el.gz files),
# one source file a document; files over 1 MB (generated tables) left out.
source "$(dirname "$0")/lib.sh"
corpus_init "$@"
d=$(deb_fetch emacs-el GPL-3+)
emit_py "$d" <<'PY'
import sys, corpuslib as c
c.emit(c.file_docs(sys.argv[1] + "/usr/share/emacs", "emacs-el", include=("*.el.gz", "*.el"),
                   gz_ok=True, max_file=1000000))
PY
