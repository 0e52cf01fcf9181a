#!/usr/bin/env bash
# man-pages: the Linux man-pages project (Debian manpages, manpages-dev) rendered to
# plain UTF-8 text with groff (tbl, man macros, no bold/underline), one page a document.
# Pages that only include another (.so) are left out. Rendered text is cached.
source "$(dirname "$0")/lib.sh"
corpus_init "$@"
need_tool groff groff
deb_prefetch manpages manpages-dev
a=$(deb_fetch manpages Linux-man-pages-copyleft)
b=$(deb_fetch manpages-dev Linux-man-pages-copyleft)
emit_py "$a" "$b" <<'PY'
import gzip, os, subprocess, sys, corpuslib as c
from concurrent.futures import ThreadPoolExecutor
out = os.path.join(c.CACHE, "data", "man-pages")

def render(src, dst):
    if os.path.exists(dst):
        return
    page = gzip.open(src).read() if src.endswith(".gz") else open(src, "rb").read()
    if page.lstrip().startswith(b".so ") and page.count(b"\n") <= 2:
        text = b""
    else:
        env = dict(os.environ, LC_ALL="C.UTF-8", MANWIDTH="80")
        r = subprocess.run(["groff", "-k", "-t", "-man", "-Tutf8", "-P", "-cbou", "-rLL=78n"],
                           input=page, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env)
        text = r.stdout
    os.makedirs(os.path.dirname(dst), exist_ok=True)
    with open(dst + ".tmp", "wb") as f:
        f.write(text)
    os.replace(dst + ".tmp", dst)

docs, jobs = [], []
for d in sys.argv[1:]:
    pkg = os.path.basename(d)
    root = d + "/usr/share/man"
    for rel in c.list_files(root, ("man*/*",)):
        name = rel[:-3] if rel.endswith(".gz") else rel
        dst = os.path.join(out, pkg, name + ".txt")
        jobs.append((os.path.join(root, rel), dst))
        docs.append((pkg + ":" + name, dst))
with ThreadPoolExecutor(2) as ex:
    list(ex.map(lambda j: render(*j), jobs))
c.emit([c.Doc(label, path=dst) for label, dst in docs])
PY
