"""bmx token shards (include/bmx/data.h), memory-mapped and checked like the C reader:
magic, version, token width, header CRC-32, file size, token CRC-32, token range, the
end-of-text count, the last token. Every error names the file. Needs numpy."""
import mmap
import os
import struct
import zlib

import numpy as np

from . import BmxError

MAGIC = b"BMXSHARD"
VERSION = 1
HEADER = 64


def _bad(path, what):
    return BmxError("shard %s: %s; rebuild it with 'bmx data shard'" % (path, what), -4)


class Shard:
    """One shard: .tokens is a read-only numpy view (uint16 or uint32) of the mapped file."""

    def __init__(self, path):
        self.path = path
        try:
            with open(path, "rb") as f:
                size = os.fstat(f.fileno()).st_size
                if size < HEADER:
                    raise _bad(path, "truncated: %d bytes, shorter than the %d-byte header"
                               % (size, HEADER))
                self._map = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
        except OSError as e:
            raise BmxError("cannot open shard %s: %s" % (path, e.strerror or e), -3) from None
        h = self._map[:HEADER]
        if h[:8] != MAGIC:
            raise _bad(path, "bad magic (not a bmx token shard)")
        (self.version,) = struct.unpack_from("<I", h, 8)
        if self.version != VERSION:
            raise _bad(path, "unsupported version %d (this bmx reads version %d)"
                       % (self.version, VERSION))
        if struct.unpack_from("<I", h, 60)[0] != zlib.crc32(h[:60]):
            raise _bad(path, "header checksum mismatch (the header is damaged)")
        (self.width, self.vocab_size, self.eot, self.ntokens, self.ndocs,
         self.data_crc32) = struct.unpack_from("<IIIQQI", h, 12)
        if (self.width != (2 if self.vocab_size <= 65536 else 4) or self.vocab_size == 0
                or self.eot >= self.vocab_size):
            raise _bad(path, "inconsistent header: width %d, vocabulary %d, eot %d"
                       % (self.width, self.vocab_size, self.eot))
        want = HEADER + self.ntokens * self.width
        if size != want:
            raise _bad(path, "size mismatch: the file has %d bytes, the header promises %d "
                       "tokens (%d bytes)%s" % (size, self.ntokens, want,
                                                " - truncated" if size < want else ""))
        body = memoryview(self._map)[HEADER:]
        if zlib.crc32(body) != self.data_crc32:
            raise _bad(path, "token checksum mismatch (the tokens are damaged)")
        self.tokens = np.frombuffer(self._map, dtype="<u2" if self.width == 2 else "<u4",
                                    count=self.ntokens, offset=HEADER)
        if self.ntokens:
            top = int(self.tokens.max())
            if top >= self.vocab_size:
                at = int(np.argmax(self.tokens >= self.vocab_size))
                raise _bad(path, "token %d at %d is outside the vocabulary (%d)"
                           % (int(self.tokens[at]), at, self.vocab_size))
        eots = int(np.count_nonzero(self.tokens == self.eot))
        if eots != self.ndocs or (self.ntokens and int(self.tokens[-1]) != self.eot):
            raise _bad(path, "%d end-of-text tokens for %d documents, or the last token is "
                       "not end-of-text" % (eots, self.ndocs))

    def __getstate__(self):
        # a DataLoader worker started with 'spawn' maps (and checks) the file anew
        return {"path": self.path}

    def __setstate__(self, state):
        self.__init__(state["path"])

    def windows(self, T):
        """How many non-overlapping windows of T + 1 tokens (starts 0, T, 2T, ...) it has."""
        return (self.ntokens - 1) // T if self.ntokens else 0


class ShardSet:
    """The shards DIR/<domain>/<split>.bin of several domains (bmx data shard's layout);
    domains default to every sub-folder of DIR holding <split>.bin, sorted. Every shard
    must have the same vocabulary and end-of-text id."""

    def __init__(self, root, domains=None, split="train"):
        self.root, self.split = root, split
        if domains is None:
            try:
                domains = sorted(d for d in os.listdir(root)
                                 if os.path.isfile(os.path.join(root, d, split + ".bin")))
            except OSError as e:
                raise BmxError("cannot read data folder %s: %s (give the --out folder of "
                               "'bmx data shard')" % (root, e.strerror), -3) from None
            if not domains:
                raise BmxError("data folder %s has no <domain>/%s.bin shards (give the --out "
                               "folder of 'bmx data shard')" % (root, split), -1)
        self.names = list(domains)
        self.shards = [Shard(os.path.join(root, d, split + ".bin")) for d in self.names]
        s0 = self.shards[0]
        for s in self.shards[1:]:
            if (s.vocab_size, s.eot) != (s0.vocab_size, s0.eot):
                raise BmxError("shard %s has vocabulary %d and end-of-text %d, shard %s has %d "
                               "and %d: shard every domain with the same vocabulary"
                               % (s.path, s.vocab_size, s.eot, s0.path, s0.vocab_size, s0.eot), -1)
        self.vocab_size, self.eot = s0.vocab_size, s0.eot

    def __len__(self):
        return len(self.shards)

    @property
    def ntokens(self):
        return [s.ntokens for s in self.shards]
