#!/usr/bin/env bash
# scripture: the King James Version (Debian bible-kjv: the `bible` program run from the
# extracted package) and the World English Bible (sword-text-web, exported with SWORD's
# mod2imp, OSIS markup and footnotes stripped). One document per chapter.
source "$(dirname "$0")/lib.sh"
corpus_init "$@"
out=$(scripture_export) || exit 1
emit_py "$out" <<'PY'
import html, re, sys, corpuslib as c
out = sys.argv[1]
docs = []

# KJV: "Ge1:1 text" per line.
chapters, order = {}, []
with open(out + "/kjv.txt", encoding="utf-8", errors="replace") as f:
    for line in f:
        m = re.match(r"(\d?[A-Za-z]+)(\d+):(\d+) (.*)", line.rstrip("\n"))
        if not m:
            continue
        key = (m.group(1), int(m.group(2)))
        if key not in chapters:
            chapters[key] = []
            order.append(key)
        chapters[key].append("%s %s" % (m.group(3), m.group(4)))
for n, (book, ch) in enumerate(order):
    text = "%s %d\n%s\n" % (book, ch, "\n".join(chapters[(book, ch)]))
    docs.append(c.Doc("kjv:%04d-%s%d" % (n, book, ch), data=text))

# WEB: "$$$Book C:V" then OSIS text.
def clean(s):
    s = re.sub(r"<note\b[^>]*/>", "", s)
    s = re.sub(r"<note\b.*?</note>", "", s, flags=re.S)
    s = re.sub(r"<title\b[^>]*>(.*?)</title>", r"\n\1\n", s, flags=re.S)
    s = re.sub(r"</?(w|q|seg|name|reference|catchWord|rdg|transChange|hi|foreign)\b[^>]*>", "", s)
    s = re.sub(r"<[^>]*>", " ", s)
    s = html.unescape(s)
    lines = [" ".join(l.split()) for l in s.split("\n")]
    return "\n".join(l for l in lines if l)

chapters, order = {}, []
with open(out + "/web.imp", encoding="utf-8", errors="replace") as f:
    raw = f.read()
for m in re.finditer(r"^\$\$\$(.+?) (\d+):(\d+)\n(.*?)(?=^\$\$\$|\Z)", raw, flags=re.M | re.S):
    book, ch, v = m.group(1), int(m.group(2)), int(m.group(3))
    text = clean(m.group(4))
    if not text or ch == 0:
        continue
    key = (book, ch)
    if key not in chapters:
        chapters[key] = []
        order.append(key)
    chapters[key].append(("%d " % v if v else "") + text)
for n, (book, ch) in enumerate(order):
    text = "%s %d\n%s\n" % (book, ch, "\n".join(chapters[(book, ch)]))
    docs.append(c.Doc("web:%04d-%s%d" % (n, book.replace(" ", ""), ch), data=text))
c.emit(docs)
PY
