"""Document selection and DOC records for the per-domain corpus extractors.

A domain script builds a list of Doc objects (in a fixed, sorted order), then calls
emit(docs). emit() keeps every document when they fit in MAX_BYTES; otherwise it picks
documents in the order of a seeded hash of their labels (a spread over the whole
source, not its first files) until about MAX_BYTES are taken, and writes the chosen
ones in their original order. Same inputs, same output bytes.

Environment (set by lib.sh's emit_py): CORPUS_CACHE, CORPUS_MAX_BYTES, CORPUS_DOMAIN.
With BMX_CORPUS_STATS=1, one line of figures goes to stderr:
  stats DOMAIN available_docs=N available_bytes=B docs=n bytes=b
"""

import fnmatch
import gzip
import hashlib
import os
import sys

CACHE = os.environ.get("CORPUS_CACHE", "")
MAX_BYTES = int(os.environ.get("CORPUS_MAX_BYTES", "0"))
DOMAIN = os.environ.get("CORPUS_DOMAIN", "domain")
SEED = b"bmx-corpus-1"

BINARY_EXT = {
    ".png", ".jpg", ".jpeg", ".gif", ".bmp", ".ico", ".svg", ".pdf", ".gz", ".xz",
    ".bz2", ".zip", ".tar", ".tgz", ".zst", ".so", ".a", ".o", ".pyc", ".mo", ".wasm",
    ".ttf", ".otf", ".woff", ".woff2", ".bin", ".dat", ".db", ".exe", ".dll", ".der",
    ".p12", ".pem", ".crt", ".tiff", ".wav", ".mp3", ".ogg", ".flac", ".webp", ".jar",
    ".class", ".rdb", ".rdx", ".rds", ".rda", ".dz", ".syso", ".elc",
}


class Doc:
    """One document: bytes in memory (data) or a file (path; gzip when gz)."""

    __slots__ = ("label", "data", "path", "gz", "size")

    def __init__(self, label, data=None, path=None, gz=False):
        self.label = "_".join(label.split()) or "doc"
        self.data = data
        self.path = path
        self.gz = gz
        if data is not None:
            if isinstance(data, str):
                self.data = data.encode("utf-8")
            self.size = len(self.data)
        elif gz:
            self.data = read_gz(path)
            self.size = len(self.data)
        else:
            self.size = os.path.getsize(path)

    def content(self):
        if self.data is not None:
            return self.data
        with open(self.path, "rb") as f:
            return f.read()


def read_gz(path):
    with gzip.open(path, "rb") as f:
        return f.read()


def rank(label):
    return hashlib.sha1(SEED + label.encode("utf-8", "surrogateescape")).digest()


def select(docs, max_bytes):
    """The indices of the documents to emit, in their original order."""
    total = sum(d.size for d in docs)
    if total <= max_bytes:
        return list(range(len(docs)))
    order = sorted(range(len(docs)), key=lambda i: rank(docs[i].label))
    chosen, taken = [], 0
    for i in order:
        if taken >= max_bytes * 0.98:
            break
        size = docs[i].size
        if taken > 0 and taken + size > max_bytes * 1.05:
            continue  # too big for what is left; a smaller one may fit
        chosen.append(i)
        taken += size
    chosen.sort()
    return chosen


def emit(docs, max_bytes=None, out=None):
    """Write DOC records for a selection of docs under max_bytes (default MAX_BYTES)."""
    if max_bytes is None:
        max_bytes = MAX_BYTES
    out = out or sys.stdout.buffer
    docs = [d for d in docs if d.size > 0]
    chosen = select(docs, max_bytes)
    if not chosen:
        print("%s: no documents found (is the package layout as expected?)" % DOMAIN, file=sys.stderr)
        sys.exit(1)
    written = 0
    for i in chosen:
        d = docs[i]
        body = d.content()
        out.write(b"DOC %d %s\n" % (len(body), d.label.encode("utf-8", "surrogateescape")))
        out.write(body)
        out.write(b"\n")
        written += len(body)
    out.flush()
    if os.environ.get("BMX_CORPUS_STATS") == "1":
        avail = sum(d.size for d in docs)
        print("stats %s available_docs=%d available_bytes=%d docs=%d bytes=%d"
              % (DOMAIN, len(docs), avail, len(chosen), written), file=sys.stderr)
    return len(chosen), written


def list_files(root, include=("*",), exclude=(), skip_binary=True):
    """Paths relative to root of regular files matching include globs, sorted (C locale)."""
    found = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        for name in filenames:
            full = os.path.join(dirpath, name)
            rel = os.path.relpath(full, root)
            if not any(fnmatch.fnmatchcase(name, p) or fnmatch.fnmatchcase(rel, p) for p in include):
                continue
            if any(fnmatch.fnmatchcase(rel, p) or fnmatch.fnmatchcase(name, p) for p in exclude):
                continue
            if skip_binary and os.path.splitext(name)[1].lower() in BINARY_EXT and not name.endswith(".gz"):
                continue
            if not os.path.isfile(full) or os.path.islink(full):
                continue
            found.append(rel)
    found.sort(key=lambda s: s.encode("utf-8", "surrogateescape"))
    return found


def file_docs(root, prefix, include=("*",), exclude=(), gz_ok=False, max_file=None):
    """Docs for the files under root (list_files), labelled PREFIX:relative/path.
    gz_ok: also take NAME.gz files, decompressed, labelled without .gz (and NAME itself
    is then not listed twice). max_file: leave out files bigger than this many bytes
    (generated tables and the like)."""
    docs = []
    for rel in list_files(root, include, exclude):
        full = os.path.join(root, rel)
        if rel.endswith(".gz"):
            if not gz_ok:
                continue
            if max_file is not None and os.path.getsize(full) > max_file:
                continue  # even compressed it is too big
            doc = Doc("%s:%s" % (prefix, rel[:-3]), path=full, gz=True)
        else:
            if max_file is not None and os.path.getsize(full) > max_file:
                continue
            doc = Doc("%s:%s" % (prefix, rel), path=full)
        if max_file is None or doc.size <= max_file:
            docs.append(doc)
    return docs


def groups(items, n):
    """Consecutive groups of n items."""
    return [items[i:i + n] for i in range(0, len(items), n)]


def fortune_docs(root, prefix, per_doc=10, encoding=None):
    """Docs from the fortune files under root (every file but the .dat/.u8 indexes):
    groups of per_doc consecutive fortunes of one file, joined by '%' lines as in the
    source. encoding: convert from it to UTF-8 (None: keep the bytes)."""
    docs = []
    for rel in list_files(root, ("*",), ("*.dat", "*.u8")):
        full = os.path.join(root, rel)
        with open(full, "rb") as f:
            raw = f.read()
        if encoding:
            raw = raw.decode(encoding, "replace").encode("utf-8")
        items, cur = [], []
        for line in raw.split(b"\n"):
            if line.rstrip(b"\r") == b"%":
                if cur:
                    items.append(b"\n".join(cur) + b"\n")
                cur = []
            else:
                cur.append(line)
        if any(x.strip() for x in cur):
            items.append(b"\n".join(cur).rstrip(b"\n") + b"\n")
        items = [x for x in items if x.strip()]
        for k, g in enumerate(groups(items, per_doc)):
            docs.append(Doc("%s:%s#%d" % (prefix, rel, k), data=b"%\n".join(g)))
    return docs


def split_text(label, data, max_size=100000):
    """Docs for data, cut at blank lines into pieces of at most about max_size bytes
    (labels LABEL, LABEL#1, ...); one Doc when data is small."""
    if isinstance(data, str):
        data = data.encode("utf-8")
    if len(data) <= max_size:
        return [Doc(label, data=data)]
    pieces, start = [], 0
    while start < len(data):
        end = start + max_size
        if end < len(data):
            cut = data.rfind(b"\n\n", start + max_size // 2, end)
            end = cut + 2 if cut >= 0 else end
        pieces.append(data[start:end])
        start = end
    return [Doc(label if k == 0 else "%s#%d" % (label, k), data=p) for k, p in enumerate(pieces)]


B64 = {ch: i for i, ch in enumerate("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/")}


def b64num(s):
    n = 0
    for ch in s:
        n = n * 64 + B64[ch]
    return n


def dict_entries(dict_path, index_path):
    """The entries of a dictd database (.dict or .dict.dz + .index) in file order:
    a list of bytes, one per distinct (offset, length), metadata entries
    (00-database-*, 00database*) left out."""
    with open(index_path, "rb") as f:
        index = f.read().decode("utf-8", "replace").split("\n")
    spans = set()
    for line in index:
        parts = line.split("\t")
        if len(parts) < 3 or parts[0].startswith(("00-database", "00database")):
            continue
        try:
            spans.add((b64num(parts[1]), b64num(parts[2])))
        except KeyError:
            continue
    data = read_gz(dict_path) if dict_path.endswith(".dz") else open(dict_path, "rb").read()
    return [data[o:o + n] for o, n in sorted(spans) if n > 0]


def dict_docs(dict_path, index_path, prefix, per_doc=50):
    """Docs of per_doc consecutive dictd entries each, labelled PREFIX#k."""
    entries = dict_entries(dict_path, index_path)
    return [Doc("%s#%05d" % (prefix, k), data=b"".join(g))
            for k, g in enumerate(groups(entries, per_doc))]
