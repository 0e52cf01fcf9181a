#!/usr/bin/env python3
"""Validate a corpus record stream (scripts/corpus/<domain>.sh output) read from stdin.

  PKG <deb|npm> <name> <version> <licence words...>\\n
  DOC <nbytes> <source-label>\\n<nbytes raw bytes>\\n

Exit 0 and print "ok: P packages, D documents, B bytes" when every record is
well-formed, every DOC length is exact, at least one PKG and one DOC are present, and
(with --max-bytes N) the documents total at most 1.1*N bytes plus one document.
Exit 1 with a message naming the record otherwise.
"""
import argparse
import sys


def fail(msg):
    print("check_stream: " + msg, file=sys.stderr)
    sys.exit(1)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--max-bytes", type=int, default=0)
    ap.add_argument("--min-docs", type=int, default=1)
    args = ap.parse_args()
    data = sys.stdin.buffer.read()
    pos, npkg, ndoc, nbytes, biggest, labels = 0, 0, 0, 0, 0, set()
    while pos < len(data):
        nl = data.find(b"\n", pos)
        if nl < 0:
            fail("record at byte %d has no end of line" % pos)
        head = data[pos:nl].decode("utf-8", "replace")
        words = head.split(" ")
        pos = nl + 1
        if words[0] == "PKG":
            if len(words) < 5 or words[1] not in ("deb", "npm") or not all(words[2:5]):
                fail("bad PKG record: %r" % head)
            if ndoc:
                fail("PKG record after the first DOC: %r" % head)
            npkg += 1
        elif words[0] == "DOC":
            if len(words) < 3 or not words[1].isdigit() or not words[2]:
                fail("bad DOC header: %r" % head)
            n = int(words[1])
            if pos + n + 1 > len(data):
                fail("DOC %r claims %d bytes, only %d left" % (words[2], n, len(data) - pos - 1))
            if data[pos + n:pos + n + 1] != b"\n":
                fail("DOC %r: byte after its %d bytes is not a newline" % (words[2], n))
            if words[2] in labels:
                fail("DOC label repeated: %r" % words[2])
            labels.add(words[2])
            pos += n + 1
            ndoc += 1
            nbytes += n
            biggest = max(biggest, n)
        else:
            fail("unknown record at byte %d: %r" % (pos, head[:80]))
    if npkg == 0:
        fail("no PKG record")
    if ndoc < args.min_docs:
        fail("%d DOC records, expected at least %d" % (ndoc, args.min_docs))
    if args.max_bytes and nbytes > 1.1 * args.max_bytes + biggest:
        fail("%d bytes of documents, far over the cap %d" % (nbytes, args.max_bytes))
    print("ok: %d packages, %d documents, %d bytes" % (npkg, ndoc, nbytes))


main()
