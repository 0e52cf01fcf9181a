#!/usr/bin/env python3
"""bench/bench_python.py BUILD_DIR - the cost of bmx's Python policy and sampler per
micro-batch, paired in one run against a plain PyTorch sampler of the same shards, and
against the step time of examples/torch_odm.py's model.

  draw+observe   us per Policy.draw() + Policy.observe() from Python (odm, K = 3), with
                 one Policy.step() per G of them included;
  plain          us per micro-batch from a torch DataLoader(ConcatDataset of per-domain
                 window datasets, RandomSampler, batch_size = B): the usual PyTorch way;
  bmx            us per micro-batch from bmx.torch.MixtureLoader with odm, including the
                 observe helper on a (B,) loss tensor and one policy.step() per G micro-batches;
  step           ms per optimizer step of the example's default model (dim 64, 2 layers,
                 seq 64, batch 8, G = 4 micro-batches), forward + backward + AdamW;
  overhead       (bmx - plain) * G / step, and bmx * G / step (the whole data path).
Both loaders run in the main process (num_workers = 0), one torch thread, repetitions
interleaved (plain, bmx, plain, bmx, ...), medians of 7. Shards: 3 domains of 2^20 random
tokens (vocabulary 2048, as the demo's) written to a temporary folder. Prints one JSON object last.
"""
import json
import os
import statistics
import struct
import sys
import tempfile
import time
import zlib

root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
build = sys.argv[1] if len(sys.argv) > 1 else "build"
os.environ.setdefault("BMX_LIB", os.path.join(os.path.abspath(build), "libbmx_mix.so"))
sys.path.insert(0, os.path.join(root, "python"))
sys.path.insert(0, os.path.join(root, "examples"))

import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.utils.data as tud  # noqa: E402

import bmx  # noqa: E402
import bmx.torch as bt  # noqa: E402
import torch_odm  # noqa: E402

torch.set_num_threads(1)
B, T, G, VOCAB, NTOK, REPS = 8, 64, 4, 2048, 1 << 20, 7


def write_shard(path, tokens, vocab, eot):
    body = tokens.astype("<u2").tobytes()
    h = bytearray(64)
    h[:8] = b"BMXSHARD"
    struct.pack_into("<IIIIQQI", h, 8, 1, 2, vocab, eot, len(tokens), int((tokens == eot).sum()),
                     zlib.crc32(body))
    struct.pack_into("<I", h, 60, zlib.crc32(bytes(h[:60])))
    with open(path, "wb") as f:
        f.write(bytes(h) + body)


tmp = tempfile.mkdtemp()
rs = np.random.default_rng(1)
for d in ("a", "b", "c"):
    os.makedirs(os.path.join(tmp, d))
    t = rs.integers(0, VOCAB - 1, NTOK).astype(np.int64)
    t[-1] = VOCAB - 1
    write_shard(os.path.join(tmp, d, "train.bin"), t, VOCAB, VOCAB - 1)
shards = bt.ShardSet(tmp)


class Windows(tud.Dataset):
    """Plain PyTorch: one domain's non-overlapping windows of T + 1 tokens."""

    def __init__(self, tok):
        self.tok = tok

    def __len__(self):
        return (len(self.tok) - 1) // T

    def __getitem__(self, j):
        w = torch.from_numpy(self.tok[j * T:j * T + T + 1].astype(np.int64))
        return w[:-1], w[1:]


plain_ds = tud.ConcatDataset([Windows(s.tokens) for s in shards.shards])


def time_plain(n):
    dl = tud.DataLoader(plain_ds, batch_size=B, sampler=tud.RandomSampler(plain_ds),
                        num_workers=0)
    it = iter(dl)
    next(it)
    t0 = time.perf_counter()
    for _ in range(n):
        x, y = next(it)
    return (time.perf_counter() - t0) / n


def time_bmx(n):
    pol = bmx.Policy("odm", 3, seed=1)
    ld = bt.MixtureLoader(shards, pol, B, T, seed=1)
    loss = torch.full((B,), 2.5)
    next(ld)
    t0 = time.perf_counter()
    for i in range(n):
        d, x, y = next(ld)
        bt.observe(pol, d, loss + 0.1 * d)
        if i % G == G - 1:
            pol.step()
    return (time.perf_counter() - t0) / n


def time_draw_observe(n):
    """us per draw + observe, with the round's step (one per G) included in the share."""
    pol = bmx.Policy("odm", 3, seed=1)
    t0 = time.perf_counter()
    for i in range(n):
        d = pol.draw()
        pol.observe(d, 2.0 + 0.1 * d)
        if i % G == G - 1:
            pol.step()
    return (time.perf_counter() - t0) / n


def time_step(n):
    torch.manual_seed(1)
    model = torch_odm.GPT(VOCAB, T, 64, 2, 4)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=0.0)
    x = torch.randint(0, VOCAB, (B, T))
    y = torch.randint(0, VOCAB, (B, T))
    out = []
    for r in range(n + 1):
        t0 = time.perf_counter()
        for g in range(G):
            (model.seq_losses(x, y).mean() / G).backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        opt.zero_grad(set_to_none=True)
        if r:
            out.append(time.perf_counter() - t0)
    return statistics.median(out)


plain, mine, drawobs = [], [], []
for r in range(REPS):
    plain.append(time_plain(400))
    mine.append(time_bmx(400))
    drawobs.append(time_draw_observe(20000))
step_s = time_step(7)
res = {
    "bench": "python",
    "policy": "odm", "K": 3, "B": B, "T": T, "G": G,
    "draw_observe_us": statistics.median(drawobs) * 1e6,
    "plain_us_per_microbatch": statistics.median(plain) * 1e6,
    "bmx_us_per_microbatch": statistics.median(mine) * 1e6,
    "step_ms": step_s * 1e3,
}
res["extra_us_per_microbatch"] = res["bmx_us_per_microbatch"] - res["plain_us_per_microbatch"]
res["extra_pct_of_step"] = 100 * res["extra_us_per_microbatch"] * G / (step_s * 1e6)
res["bmx_data_path_pct_of_step"] = 100 * res["bmx_us_per_microbatch"] * G / (step_s * 1e6)
res["goals"] = {"draw_observe_under_20us": res["draw_observe_us"] < 20,
                "extra_under_1pct_of_step": res["extra_pct_of_step"] < 1}
print("draw+observe (+ step / G) %.2f us; per micro-batch: plain PyTorch %.1f us, "
      "bmx %.1f us (%+.1f us); step %.1f ms: extra %.3f%% of a step, the whole bmx data path "
      "%.3f%%" % (res["draw_observe_us"], res["plain_us_per_microbatch"],
                  res["bmx_us_per_microbatch"], res["extra_us_per_microbatch"], res["step_ms"],
                  res["extra_pct_of_step"], res["bmx_data_path_pct_of_step"]))
for d in ("a", "b", "c"):
    os.remove(os.path.join(tmp, d, "train.bin"))
    os.rmdir(os.path.join(tmp, d))
os.rmdir(tmp)
print(json.dumps(res))
