#!/usr/bin/env bash
# formal-math: Metamath databases (metamath-databases: set.mm, iset.mm, ...; cut into
# pieces of about 64 kB at blank lines), HOL Light proof scripts (hol-light: .ml, .hl),
# the Maxima share library (maxima-share: .mac, .dem) and the GAP library (gap-libs:
# .g, .gd, .gi, .grp); one source file (or piece) a document, files over 1 MB left out.
source "$(dirname "$0")/lib.sh"
corpus_init "$@"
deb_prefetch metamath-databases hol-light maxima-share gap-libs
mm=$(deb_fetch metamath-databases CC0-1.0)
hl=$(deb_fetch hol-light BSD-2-clause)
mx=$(deb_fetch maxima-share GPL-2+)
gp=$(deb_fetch gap-libs GPL-2+)
emit_py "$mm" "$hl" "$mx" "$gp" <<'PY'
import sys, corpuslib as c
mm, hl, mx, gp = sys.argv[1:5]
docs = []
root = mm + "/usr/share/metamath/databases"
for rel in c.list_files(root, ("*.mm",)):
    with open(root + "/" + rel, "rb") as f:
        docs += c.split_text("metamath:" + rel, f.read(), 64000)
docs += c.file_docs(hl + "/usr/share/hol-light", "hol-light", include=("*.ml", "*.hl"),
                    max_file=1000000)
docs += c.file_docs(mx + "/usr/share/maxima", "maxima-share", include=("*.mac", "*.dem"),
                    max_file=1000000)
docs += c.file_docs(gp + "/usr/share/gap", "gap-libs", include=("*.g", "*.gd", "*.gi", "*.grp"),
                    max_file=1000000)
c.emit(docs)
PY
