#!/usr/bin/env bash
# social: Donald Trump's tweets 2009-2018 (r-cran-dslabs trump_tweets, exported with
# Rscript), 50 consecutive tweets (by time) a document, one tweet a line.
# CORPUS.md also names r-cran-modeldata's small_fine_foods reviews, but Debian 12's
# modeldata 1.1.0 does not ship that dataset, so the domain is tweets only.
source "$(dirname "$0")/lib.sh"
corpus_init "$@"
ds=$(deb_fetch r-cran-dslabs public-domain-tweets "(package: Artistic-2.0)")
out=$CACHE/data/social
r_export "$ds" "$out" trump_tweets
emit_py "$out" <<'PY'
import sys, corpuslib as c
rows = []
with open(sys.argv[1] + "/trump_tweets.txt", encoding="utf-8", errors="replace") as f:
    header = f.readline().rstrip("\n").split("\t")
    ti, ci, ii = header.index("text"), header.index("created_at"), header.index("id_str")
    for line in f:
        v = line.rstrip("\n").split("\t")
        if len(v) == len(header) and v[ti].strip():
            rows.append((v[ci], v[ii], v[ti].strip()))
rows.sort()
docs = [c.Doc("dslabs:trump_tweets#%04d" % k, data="".join(r[2] + "\n" for r in g))
        for k, g in enumerate(c.groups(rows, 50))]
c.emit(docs)
PY
