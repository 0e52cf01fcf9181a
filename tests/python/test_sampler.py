"""bmx.shards and bmx.torch on real shards (made by tests/cli/rundata.sh): the checked
reader, the drawn domains against the policy's probabilities (chi-square at a fixed seed),
windows, no duplicate windows across DataLoader workers, exact resume (with workers too: the
micro-batches in flight are in the state), the observation helper. argv[1]: the shard
folder. Run by tests/cli/test_python_sampler.sh."""
import io
import os
import shutil
import sys
import tempfile

import numpy as np
import torch

import bmx
import bmx.torch as bt
from bmx.shards import Shard, ShardSet
from checks import check, done, raises

data = sys.argv[1]

# 1. the reader: the header's fields, and damaged files refused with the file's name
S = ShardSet(data, split="train")
check(S.names == ["code", "legal", "man"], "domains %r" % S.names)
for name, s in zip(S.names, S.shards):
    raw = open(os.path.join(data, name, "train.bin"), "rb").read()
    n = int.from_bytes(raw[24:32], "little")
    check(s.ntokens == n and s.tokens.shape == (n,), "%s: %d tokens" % (name, s.ntokens))
    check(int(s.tokens[-1]) == s.eot and s.vocab_size == 320, "%s eot/vocab" % name)
    check(np.array_equal(s.tokens[:5], np.frombuffer(raw[64:74], "<u2")), name + " first tokens")
tmp = tempfile.mkdtemp()
src = open(os.path.join(data, "code", "train.bin"), "rb").read()


def damaged(name, b):
    p = os.path.join(tmp, name)
    open(p, "wb").write(b)
    return p


p = damaged("tok.bin", src[:100] + bytes([src[100] ^ 1]) + src[101:])
raises(lambda: Shard(p), p, "token checksum mismatch", code="ECORRUPT")
p = damaged("short.bin", src[:-2])
raises(lambda: Shard(p), p, "size mismatch", "truncated")
p = damaged("magic.bin", b"XMXSHARD" + src[8:])
raises(lambda: Shard(p), p, "bad magic")
p = damaged("hdr.bin", src[:30] + bytes([src[30] ^ 1]) + src[31:])
raises(lambda: Shard(p), p, "header checksum")
p = damaged("ver.bin", src[:8] + (2).to_bytes(4, "little") + src[12:])
raises(lambda: Shard(p), p, "version 2")
raises(lambda: Shard(os.path.join(tmp, "none.bin")), "none.bin", code="EIO")
raises(lambda: ShardSet(tmp), tmp, "bmx data shard")
shutil.rmtree(tmp)

# 2. chi-square: drawn domains against pi at a fixed seed (weights 0.2, 0.3, 0.5)
B, T = 2, 16
pol = bmx.Policy("weights", 3, weights=[2, 3, 5], seed=1)
samp = bt.MixtureSampler(S, pol, B, T, seed=42)
N = 3000
counts = np.bincount([samp.next_index()[0] for _ in range(N)], minlength=3)
exp = np.array(pol.probs()) * N
chi2 = float(((counts - exp) ** 2 / exp).sum())
print("chi-square of %d draws, counts %s vs expected %s: %.3f (df 2)" % (N, counts.tolist(),
                                                                        exp.tolist(), chi2))
check(chi2 < 13.82, "chi-square %.2f >= 13.82 (p = 0.001, df 2)" % chi2)
# and against a moving ODM distribution: draws per round from that round's pi
pol = bmx.Policy("odm", 3, alpha=0.5, seed=2)
samp = bt.MixtureSampler(S, pol, B, T, seed=7)
chi2, R, G = 0.0, 20, 200
for t in range(R):
    p = np.array(pol.probs())
    ds = [samp.next_index()[0] for _ in range(G)]
    c = np.bincount(ds, minlength=3)
    chi2 += float(((c - p * G) ** 2 / (p * G)).sum())
    for d in range(3):
        pol.observe(d, [1.0, 2.5, 4.0][d])
    pol.step()
check(min(pol.probs()) < 0.3, "odm never moved: %r" % pol.probs())
print("odm: summed chi-square over %d rounds of %d draws: %.2f (df %d)" % (R, G, chi2, 2 * R))
check(chi2 < 73.4, "odm chi-square %.2f >= 73.4 (p = 0.001, df 40)" % chi2)

# 3. windows: T + 1 consecutive tokens at multiples of T; no window twice within a pass
pol = bmx.Policy("uniform", 3, seed=1)
ld = bt.MixtureLoader(S, pol, 4, T, seed=3)
for i in range(300):
    d, x, y = next(ld)
    check(x.shape == (4, T) and y.shape == (4, T) and x.dtype == torch.int64, "shape")
    check(torch.equal(x[:, 1:], y[:, :-1]), "targets are inputs shifted")
idx = []
pol = bmx.Policy("uniform", 3, seed=1)
samp = bt.MixtureSampler(S, pol, 4, T, seed=3)
for i in range(300):
    d, starts, _ = samp.next_index()
    for s in starts:
        check(s % T == 0, "start %d not a multiple of T" % s)
        idx.append((d, s))
check(len(set(idx)) == len(idx), "a window repeated within a pass")
win = S.shards[2].windows(T)
d2 = [s for d, s in idx if d == 2]
check(len(d2) < win, "test covers less than one pass")
# the whole of a small pass: every window exactly once, then a new order
pol1 = bmx.Policy("weights", 3, weights=[0, 0, 1], seed=1)
big = bt.MixtureSampler(S, pol1, 7, 512, seed=5)
n2 = S.shards[2].windows(512)
first = []
while len(first) < n2:
    first.extend(big.next_index()[1])
check(sorted(first[:n2]) == [j * 512 for j in range(n2)], "a pass is not every window once")
second = list(first[n2:])
while len(second) < n2:
    second.extend(big.next_index()[1])
check(sorted(second[:n2]) == [j * 512 for j in range(n2)] and second[:n2] != first[:n2],
      "the second pass is not a new order of every window")

# 4. DataLoader workers: the same micro-batches as in-process, none twice, every worker used


class Spy(bt.ShardWindows):
    def __getitem__(self, index):
        out = super().__getitem__(index)
        info = torch.utils.data.get_worker_info()
        return out[0], out[1], out[2], (out[3], info.id if info else -1)


def run(workers, n=60):
    pol = bmx.Policy("weights", 3, weights=[1, 1, 2], seed=4)
    samp = bt.MixtureSampler(S, pol, 4, T, seed=9)
    dl = torch.utils.data.DataLoader(Spy(S, T), sampler=samp, batch_size=None,
                                     collate_fn=bt._keep, num_workers=workers)
    out, it = [], iter(dl)
    for _ in range(n):
        d, x, y, (_, wid) = next(it)
        out.append((d, x, wid))
    del it
    return out


a, b = run(0), run(2)
check(all(da == db and torch.equal(xa, xb) for (da, xa, _), (db, xb, _) in zip(a, b)),
      "workers changed the micro-batches")
check({w for _, _, w in b} == {0, 1}, "not both workers used: %r" % {w for _, _, w in b})
rows = [(d, tuple(r.tolist())) for d, x, _ in b for r in x]
check(len(set(rows)) == len(rows), "a window yielded twice across workers")
ld = bt.MixtureLoader(S, bmx.Policy("uniform", 3, seed=1), 4, T, seed=3, num_workers=2)
check(all(next(ld)[1].shape == (4, T) for _ in range(10)), "MixtureLoader with workers")

# 5. exact resume: stop after 4 rounds (mid-pass), torch.save/load, continue


def train_like(loader, policy, rounds, G=3, log=None):
    for t in range(rounds):
        for g in range(G):
            d, x, y = next(loader)
            seq_loss = (x.double() % 7 + d).mean(dim=1) / 3  # stands in for a model's losses
            v = bt.observe(policy, d, seq_loss)
            if log is not None:
                log.append((d, x.clone(), v))
        policy.step()


for spec in ("odm:alpha=0.7", "exp3", "ucb1"):
    full, part = [], []
    pa = bmx.Policy(spec, 3, seed=6)
    la = bt.MixtureLoader(S, pa, 4, T, seed=8)
    train_like(la, pa, 9, log=full)
    pb = bmx.Policy(spec, 3, seed=6)
    lb = bt.MixtureLoader(S, pb, 4, T, seed=8)
    train_like(lb, pb, 4, log=part)
    buf = io.BytesIO()
    torch.save({"mix": lb.state_dict()}, buf)
    buf.seek(0)
    pc = bmx.Policy(spec, 3, seed=123)
    lc = bt.MixtureLoader(S, pc, 4, T, seed=8)
    lc.load_state_dict(torch.load(buf)["mix"])
    train_like(lc, pc, 5, log=part)
    check(len(full) == len(part) and all(
        a[0] == b[0] and torch.equal(a[1], b[1]) and a[2] == b[2] for a, b in zip(full, part)),
        spec + ": resumed run differs from the uninterrupted one")
    check(pc.probs() == pa.probs() and pc.state_dict() == pa.state_dict(), spec + " final state")

# with DataLoader workers too: the DataLoader asks for prefetch_factor * num_workers = 4
# micro-batches ahead; they are in the state and go out first after the resume, so the
# resumed run equals the uninterrupted one with the same workers; dropped, the resumed run
# differs.
for spec in ("odm:alpha=0.7", "exp3"):
    pa = bmx.Policy(spec, 3, seed=6)
    wa = bt.MixtureLoader(S, pa, 4, T, seed=8, num_workers=2, prefetch_factor=2)
    full = []
    train_like(wa, pa, 9, log=full)
    del wa
    pb = bmx.Policy(spec, 3, seed=6)
    wb = bt.MixtureLoader(S, pb, 4, T, seed=8, num_workers=2, prefetch_factor=2)
    part = []
    train_like(wb, pb, 4, log=part)
    sd = wb.state_dict()
    del wb
    check(len(sd["pending"]) == 20 + 4 * (12 + 8 * 4) + 4, "%s: 4 micro-batches in flight, "
          "state of %d bytes" % (spec, len(sd["pending"])))
    tails = []
    for variant in ("with", "without"):
        pc = bmx.Policy(spec, 3, seed=123)
        wc = bt.MixtureLoader(S, pc, 4, T, seed=8, num_workers=2, prefetch_factor=2)
        if variant == "with":
            wc.load_state_dict(sd)
        else:  # the in-flight micro-batches dropped (a state without "pending")
            wc.load_state_dict({"policy": sd["policy"], "sampler": sd["sampler"]})
        tail = []
        train_like(wc, pc, 5, log=tail)
        del wc
        tails.append((pc, tail))
    same = [len(full) == len(part) + len(t) and all(
        a[0] == b[0] and torch.equal(a[1], b[1]) and a[2] == b[2]
        for a, b in zip(full, part + t)) for _, t in tails]
    check(same[0], spec + ": resumed with workers differs from the uninterrupted run")
    check(tails[0][0].state_dict() == pa.state_dict(), spec + " final state with workers")
    check(not same[1], spec + ": the in-flight micro-batches made no difference (test too weak)")

sd = lb.state_dict()
bad = bytearray(sd["sampler"])
bad[60] ^= 1
raises(lambda: lc.load_state_dict({"policy": sd["policy"], "sampler": bytes(bad)}),
       "sampler state", "checksum", code="ECORRUPT")
# the in-flight part: damaged, or naming draws the sampler's state does not end with;
# a refused state leaves the loader as it was
was = lc.state_dict()
pend = bytearray(sd["pending"])
pend[12] ^= 1  # the count
raises(lambda: lc.load_state_dict(dict(sd, pending=bytes(pend))), "in-flight state", "checksum",
       code="ECORRUPT")
wrong = bt._pending_bytes([(0, (0, T, 2 * T, 3 * T), 99)], 4)
raises(lambda: lc.load_state_dict(dict(sd, pending=wrong)), "in-flight state", "draw 99",
       code="ECORRUPT")
check(lc.state_dict() == was, "a refused in-flight state changed the loader")
other = bt.MixtureLoader(S, bmx.Policy("odm", 3), 4, 2 * T, seed=8)
raises(lambda: other.load_state_dict(sd), "seq_len", "same settings")
raises(lambda: bt.MixtureSampler(S, bmx.Policy("odm", 4), 4, T), "k = 4", "3 domains")
raises(lambda: bt.MixtureSampler(S, bmx.Policy("odm", 3), 4, 10 ** 6), "too few", "seq_len")

# 6. the observation helper: the form each policy consumes
p = bmx.Policy("odm", 3, seed=1)
q = bmx.Policy("odm", 3, seed=1)
v = bt.observe(p, 1, torch.tensor([1.0, 2.0, 4.5]))
q.observe(1, 2.5)
p.step(), q.step()
check(v == 2.5 and p.probs() == q.probs(), "odm observe helper")
p = bmx.Policy("exp3", 3, seed=1)
check(abs(bt.observe(p, 0, torch.tensor([1.0]), reward="exp-loss") - np.e) < 1e-12, "exp-loss")
p = bmx.Policy("doremi", 3, seed=1)
q = bmx.Policy("doremi", 3, seed=1)
v = bt.observe(p, 2, torch.tensor([[3.0, 1.0], [2.0, 5.0]]),
               ref_losses=torch.tensor([[1.0, 2.0], [2.0, 1.0]]))
q.observe([0, 0, 6.0], [0, 0, 4.0])
p.step(), q.step()
check(v == 6.0 and p.average() == q.average(), "doremi observe helper")
raises(lambda: bt.observe(bmx.Policy("doremi", 3), 0, torch.ones(2)), "ref_losses")

done()
