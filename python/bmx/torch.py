"""bmx.torch - a data-mixing sampler over bmx token shards for a PyTorch training loop.

    shards = bmx.shards.ShardSet("data", split="train")
    policy = bmx.Policy("odm", k=len(shards), seed=1)
    loader = bmx.torch.MixtureLoader(shards, policy, batch_size=8, seq_len=256, seed=1)
    for step in range(steps):
        for g in range(G):                                 # G micro-batches per round
            domain, x, y = next(loader)                    # domain ~ pi_t
            seq_loss = model_loss(x, y)                    # (batch,) per-sequence losses
            seq_loss.mean().backward()
            bmx.torch.observe(policy, domain, seq_loss)    # what the policy consumes
        optimizer.step(); optimizer.zero_grad(); policy.step()
    torch.save({"model": ..., "optim": ..., "mix": loader.state_dict()}, "ckpt.pt")

Windows: domain d's shard is cut into floor((n - 1) / T) non-overlapping windows of T + 1
tokens (starts 0, T, 2T, ...), walked in a shuffled order without replacement, a new order
each pass (numpy PCG64 seeded with (seed, d, pass)): no window repeats within a pass.

Domains: drawn from the policy's distribution with the sampler's own generator
(bmx.Rng(seed, 1); Policy.draw(rng)), in the main process, so the policy's own generator
and state never depend on how far a DataLoader read ahead. DataLoader workers only slice
the memory-mapped shards: every micro-batch index is made once, by the one sampler, so no
two workers ever produce the same windows, and the worker count changes nothing in what
is yielded.

Resume: MixtureLoader.state_dict() holds the policy's state as of the last micro-batch the
loop received, the sampler's state after its latest draw, and the micro-batch indices drawn
but not yet received (with DataLoader workers, the up to prefetch_factor * num_workers the
DataLoader asked for ahead; none with num_workers=0). A resumed loader hands those out
first, then draws on, so a run resumed with the same worker count and prefetch draws
exactly what the uninterrupted one would: each micro-batch's domain is drawn at the same
point of the run, from the same pi (with workers, pi as it was that many micro-batches
earlier, as in the uninterrupted run).
"""
import collections
import math
import struct
import zlib

import numpy as np
import torch
import torch.utils.data

from . import BmxError, Rng
from .shards import ShardSet

_MAGIC = b"BMXSAMPL"
_VERSION = 1
_PEND_MAGIC = b"BMXPENDG"
_PEND_VERSION = 1
SAMPLER_STREAM = 1


class _Walk:
    """Domain d's window order: pass p is a permutation of its windows."""

    def __init__(self, seed, d, nwin):
        self.seed, self.d, self.nwin = seed, d, nwin
        self.pass_, self.pos, self._perm, self._perm_pass = 0, 0, None, -1

    def _order(self):
        if self._perm_pass != self.pass_:
            ss = np.random.SeedSequence([self.seed & (2**64 - 1), self.d, self.pass_])
            self._perm = np.random.Generator(np.random.PCG64(ss)).permutation(self.nwin)
            self._perm_pass = self.pass_
        return self._perm

    def take(self, n):
        out = []
        while len(out) < n:
            order = self._order()
            m = min(n - len(out), self.nwin - self.pos)
            out.extend(int(j) for j in order[self.pos:self.pos + m])
            self.pos += m
            if self.pos == self.nwin:
                self.pass_, self.pos = self.pass_ + 1, 0
        return out


class MixtureSampler(torch.utils.data.Sampler):
    """Yields one index per micro-batch: (domain, window starts, its draw number, 1 for the
    first). The domain is drawn from policy's distribution with the sampler's generator; the
    batch_size windows of T + 1 tokens come from that domain's walk. Use it with
    ShardWindows in a DataLoader(batch_size=None), or through MixtureLoader."""

    def __init__(self, shards, policy, batch_size, seq_len, seed=0):
        if policy.k != len(shards):
            raise BmxError("MixtureSampler: the policy has k = %d arms for %d domains (%s); "
                           "create it with k = %d" % (policy.k, len(shards),
                                                      ", ".join(shards.names), len(shards)), -1)
        if batch_size < 1 or seq_len < 1:
            raise BmxError("MixtureSampler: batch_size = %d and seq_len = %d must be >= 1"
                           % (batch_size, seq_len), -1)
        for name, s in zip(shards.names, shards.shards):
            if s.windows(seq_len) < 1:
                raise BmxError("shard %s holds %d tokens, too few for a window of %d + 1; use a "
                               "shorter seq_len or a bigger corpus" % (s.path, s.ntokens, seq_len),
                               -1)
        self.shards, self.policy = shards, policy
        self.B, self.T, self.seed = batch_size, seq_len, seed
        self.rng = Rng(seed, SAMPLER_STREAM)
        self.walks = [_Walk(seed, d, s.windows(seq_len)) for d, s in enumerate(shards.shards)]
        self.drawn = 0

    def __iter__(self):
        while True:
            yield self.next_index()

    def next_index(self):
        d = self.policy.draw(self.rng)
        starts = tuple(j * self.T for j in self.walks[d].take(self.B))
        self.drawn += 1
        return d, starts, self.drawn

    def state_dict(self):
        """The sampler's state as bytes (versioned, CRC-32 at the end)."""
        k = len(self.walks)
        b = bytearray(_MAGIC)
        b += struct.pack("<IIQQQQ", _VERSION, k, self.seed & (2**64 - 1), self.B, self.T,
                         self.drawn)
        b += self.rng.state()
        for w in self.walks:
            b += struct.pack("<QQ", w.pass_, w.pos)
        b += struct.pack("<I", zlib.crc32(b))
        return bytes(b)

    def load_state_dict(self, state):
        state = bytes(state)
        k = len(self.walks)
        size = 8 + 40 + 32 + 16 * k + 4
        if len(state) < 12 or state[:8] != _MAGIC:
            raise BmxError("sampler state: bad magic (not the bytes of "
                           "MixtureSampler.state_dict())", -4)
        (version,) = struct.unpack_from("<I", state, 8)
        if version != _VERSION:
            raise BmxError("sampler state: version %d, this bmx reads version %d"
                           % (version, _VERSION), -4)
        if len(state) != size or struct.unpack_from("<I", state, size - 4)[0] != zlib.crc32(
                state[:size - 4]):
            raise BmxError("sampler state: %d bytes, checksum or size wrong (damaged); "
                           "expected %d bytes for %d domains" % (len(state), size, k), -4)
        _, sk, seed, B, T, drawn = struct.unpack_from("<IIQQQQ", state, 8)
        if (sk, seed, B, T) != (k, self.seed & (2**64 - 1), self.B, self.T):
            raise BmxError("sampler state is for %d domains, seed %d, batch %d, seq_len %d; this "
                           "sampler has %d, %d, %d, %d: resume with the same settings"
                           % (sk, seed, B, T, k, self.seed, self.B, self.T), -1)
        walks = []
        for d in range(k):
            p, pos = struct.unpack_from("<QQ", state, 8 + 40 + 32 + 16 * d)
            if pos >= self.walks[d].nwin:
                raise BmxError("sampler state: domain %d at window %d of %d (damaged, or "
                               "another shard)" % (d, pos, self.walks[d].nwin), -4)
            walks.append((p, pos))
        self.rng.set_state(state[48:80])
        self.drawn = drawn
        for w, (p, pos) in zip(self.walks, walks):
            w.pass_, w.pos = p, pos


class ShardWindows(torch.utils.data.Dataset):
    """Map-style dataset: index (domain, starts, n) -> (domain, inputs, targets, n),
    inputs[b] = tokens[start_b : start_b + T], targets[b] = tokens[start_b + 1 : + T + 1],
    int64 tensors of shape (len(starts), T)."""

    def __init__(self, shards, seq_len):
        self.shards, self.T = shards, seq_len

    def __getitem__(self, index):
        d, starts, n = index
        tok = self.shards.shards[d].tokens
        w = np.stack([tok[s:s + self.T + 1] for s in starts]).astype(np.int64)
        w = torch.from_numpy(w)
        return d, w[:, :-1], w[:, 1:], n


def _keep(x):
    return x


class _InFlight:
    """MixtureLoader's sampler: first the indices a saved state had in flight, then the
    sampler's draws; remembers every index it handed out until the loop receives it."""

    def __init__(self, sampler, replay):
        self.sampler, self.replay = sampler, collections.deque(replay)
        self.out = collections.deque()

    def __iter__(self):
        while True:
            idx = self.replay.popleft() if self.replay else self.sampler.next_index()
            self.out.append(idx)
            yield idx

    def received(self, n):
        while self.out and self.out[0][2] <= n:
            self.out.popleft()

    def pending(self):
        return list(self.out) + list(self.replay)


def _pending_bytes(pending, B):
    b = bytearray(_PEND_MAGIC)
    b += struct.pack("<III", _PEND_VERSION, len(pending), B)
    for d, starts, n in pending:
        b += struct.pack("<IQ", d, n) + struct.pack("<%dQ" % B, *starts)
    b += struct.pack("<I", zlib.crc32(b))
    return bytes(b)


def _pending_load(b, sampler):
    """The in-flight indices of MixtureLoader.state_dict()["pending"], checked against the
    sampler just restored: draw numbers drawn - P + 1 .. drawn, domains and windows in range."""
    b, B, k = bytes(b), sampler.B, len(sampler.walks)
    if len(b) < 24 or b[:8] != _PEND_MAGIC:
        raise BmxError("in-flight state: bad magic (not MixtureLoader.state_dict()"
                       "['pending'])", -4)
    ver, cnt, sb = struct.unpack_from("<III", b, 8)
    if ver != _PEND_VERSION:
        raise BmxError("in-flight state: version %d, this bmx reads version %d"
                       % (ver, _PEND_VERSION), -4)
    size = 20 + cnt * (12 + 8 * B) + 4
    if sb != B or len(b) != size or struct.unpack_from("<I", b, size - 4)[0] != zlib.crc32(
            b[:size - 4]):
        raise BmxError("in-flight state: %d bytes, checksum or size wrong (damaged), or another "
                       "batch size (%d, this loader %d)" % (len(b), sb, B), -4)
    out, off = [], 20
    for i in range(cnt):
        d, n = struct.unpack_from("<IQ", b, off)
        starts = struct.unpack_from("<%dQ" % B, b, off + 12)
        off += 12 + 8 * B
        if d >= k or n != sampler.drawn - cnt + 1 + i or any(
                st % sampler.T or st // sampler.T >= sampler.walks[d].nwin for st in starts):
            raise BmxError("in-flight state: index %d (domain %d, draw %d) does not fit the "
                           "sampler's state (damaged, or another shard)" % (i, d, n), -4)
        out.append((d, tuple(starts), n))
    return out


class MixtureLoader:
    """Iterator of (domain, inputs, targets) micro-batches: a MixtureSampler and
    ShardWindows in a torch DataLoader. state_dict() / load_state_dict() hold the policy
    as of the last micro-batch received, the sampler and the micro-batches in flight."""

    def __init__(self, shards, policy, batch_size, seq_len, seed=0, num_workers=0, **loader_kw):
        self.policy = policy
        self.sampler = MixtureSampler(shards, policy, batch_size, seq_len, seed)
        self.dataset = ShardWindows(shards, seq_len)
        self.num_workers, self.loader_kw = num_workers, loader_kw
        self._it = None
        self._flight = _InFlight(self.sampler, [])

    def __iter__(self):
        return self

    def __next__(self):
        if self._it is None:
            dl = torch.utils.data.DataLoader(self.dataset, sampler=self._flight, batch_size=None,
                                             collate_fn=_keep, num_workers=self.num_workers,
                                             **self.loader_kw)
            self._it = iter(dl)
        d, x, y, n = next(self._it)
        self._flight.received(n)
        return d, x, y

    def state_dict(self):
        return {"policy": self.policy.state_dict(), "sampler": self.sampler.state_dict(),
                "pending": _pending_bytes(self._flight.pending(), self.sampler.B)}

    def load_state_dict(self, sd):
        if not isinstance(sd, dict) or "policy" not in sd or "sampler" not in sd:
            raise BmxError("MixtureLoader.load_state_dict needs the dict of "
                           "MixtureLoader.state_dict() (keys 'policy', 'sampler', 'pending')", -1)
        before = self.sampler.state_dict()
        self.sampler.load_state_dict(sd["sampler"])
        try:
            replay = _pending_load(sd["pending"], self.sampler) if "pending" in sd else []
            self.policy.load_state_dict(sd["policy"])
        except BmxError:
            self.sampler.load_state_dict(before)  # a refused state changes nothing
            raise
        self._it = None  # workers restart; the in-flight indices go out first
        self._flight = _InFlight(self.sampler, replay)


def observe(policy, domain, losses, reward="loss", ref_losses=None):
    """Turn one micro-batch's losses (a tensor of per-sequence or per-token losses of
    domain `domain`) into the policy's observation, and return the value observed:
    loss policies (odm*) get the mean loss; reward policies (exp3, ucb1, exploit-only) the
    reward "loss" (the mean loss) or "exp-loss" (its exp); doremi the summed excess
    max(loss - ref_loss, 0) and the element count (ref_losses, same shape, needed);
    static policies check the mean loss and ignore it."""
    kind = policy.observes
    if kind == "excess":
        if ref_losses is None:
            raise BmxError("policy %s observes excess losses: give ref_losses (the reference "
                           "model's losses of the same tokens)" % policy.name, -1)
        ex = (losses.detach() - ref_losses.detach()).clamp_min(0)
        sums, toks = [0.0] * policy.k, [0.0] * policy.k
        sums[domain], toks[domain] = float(ex.double().sum()), float(ex.numel())
        policy.observe_excess(sums, toks)
        return sums[domain]
    v = float(losses.detach().double().mean())
    if kind == "reward":
        if reward == "exp-loss":
            v = math.exp(v)
        elif reward != "loss":
            raise BmxError("reward '%s': a loss-based reward is 'loss' or 'exp-loss' (gradient "
                           "rewards: bmx.reward)" % reward, -1)
    policy.observe(domain, v)
    return v


__all__ = ["ShardSet", "MixtureSampler", "ShardWindows", "MixtureLoader", "observe"]
