#!/usr/bin/env bash
# tech-docs: the Linux kernel documentation sources (linux-doc-6.1: Documentation/
# .rst and .txt), the Python 3.11 documentation sources (python3.11-doc: .rst.txt) and
# Perl's documentation (perl-doc: .pod); one source file a document, over 1 MB left out.
source "$(dirname "$0")/lib.sh"
corpus_init "$@"
deb_prefetch linux-doc-6.1 python3.11-doc perl-doc
l=$(deb_fetch linux-doc-6.1 GPL-2)
p=$(deb_fetch python3.11-doc PSF-2.0)
r=$(deb_fetch perl-doc Artistic-1.0 / GPL-1+)
emit_py "$l" "$p" "$r" <<'PY'
import sys, corpuslib as c
l, p, r = sys.argv[1:4]
docs = c.file_docs(l + "/usr/share/doc/linux-doc-6.1/Documentation", "linux-doc-6.1",
                   include=("*.rst", "*.rst.gz", "*.txt", "*.txt.gz"), gz_ok=True, max_file=1000000)
docs += c.file_docs(p + "/usr/share/doc/python3.11/html/_sources", "python3.11-doc",
                    include=("*.rst.txt", "*.rst.txt.gz"), gz_ok=True, max_file=1000000)
docs += c.file_docs(r + "/usr/share/perl", "perl-doc", include=("*.pod", "*.pod.gz"),
                    gz_ok=True, max_file=1000000)
c.emit(docs)
PY
