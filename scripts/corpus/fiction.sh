#!/usr/bin/env bash
# fiction: Jane Austen's six novels (r-cran-janeaustenr), Moby Dick (r-cran-tokenizers'
# mobydick), exported from the R data with Rscript, one chapter a document; and Ambrose
# Bierce's The Devil's Dictionary (dict-devil), 50 entries a document.
source "$(dirname "$0")/lib.sh"
corpus_init "$@"
deb_prefetch r-cran-janeaustenr r-cran-tokenizers dict-devil
ja=$(deb_fetch r-cran-janeaustenr public-domain "(package: MIT)")
tk=$(deb_fetch r-cran-tokenizers public-domain "(package: MIT)")
dv=$(deb_fetch dict-devil public-domain)
out=$CACHE/data/fiction
books="emma mansfieldpark northangerabbey persuasion prideprejudice sensesensibility"
r_export "$ja" "$out" $books
r_export "$tk" "$out" mobydick
emit_py "$out" "$dv" <<'PY'
import re, sys, corpuslib as c
out, dv = sys.argv[1], sys.argv[2]
docs = []
chapter = re.compile(r"^\s*(CHAPTER|Chapter)\s+[0-9IVXLC]+\b")
for book in ("emma", "mansfieldpark", "northangerabbey", "persuasion", "prideprejudice",
             "sensesensibility", "mobydick"):
    with open("%s/%s.txt" % (out, book), encoding="utf-8", errors="replace") as f:
        lines = f.read().replace("\r\n", "\n").replace("\ufeff", "").split("\n")
    parts, cur = [], []
    for line in lines:
        if chapter.match(line) and cur:
            parts.append(cur)
            cur = []
        cur.append(line)
    parts.append(cur)
    for k, p in enumerate(parts):
        text = "\n".join(p).strip("\n") + "\n"
        docs.append(c.Doc("%s:%s#%03d" % ("janeaustenr" if book != "mobydick" else "tokenizers", book, k), data=text))
d = dv + "/usr/share/dictd/"
docs += c.dict_docs(d + "devil.dict.dz", d + "devil.index", "devil")
c.emit(docs)
PY
