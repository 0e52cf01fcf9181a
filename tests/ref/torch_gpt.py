#!/usr/bin/python3
"""tests/ref/torch_gpt.py - PyTorch reference outputs for the bmx GPT trainer (issue 4).

Builds the GPT-2 architecture of include/bmx/model.h in plain torch ops (float64), with
float32 weights drawn here, and writes fixtures to tests/fixtures/gpt/ that
tests/test_torch_ref.c reads:

  config.bin  i32  [V, ctx, L, H, C, B, T, accum, steps]
  hyper.bin   f64  [lr, min_lr, warmup, total, beta1, beta2, eps, weight_decay, clip]
  tokens.bin  i32  [accum][B][T] inputs, then [accum][B][T] targets (-1 = ignored)
  params.bin  f32  initial parameters, bmx flat layout (padded vocabulary rows 0)
  logits.bin  f64  [B][T][V] logits of micro-batch 0
  loss.bin    f64  [1 + B + B*T] mean loss, per-sequence, per-token losses of micro-batch 0
  grads.bin   f64  gradient of micro-batch 0's mean loss, flat layout
  steps.bin   f64  [steps][3] lr, grad norm (before clipping), loss of each AdamW step
  params10.bin f64 parameters after `steps` AdamW steps (accum micro-batches each, clipping,
                   warm-up then cosine decay), flat layout

Each file: 32-byte header (magic "BMXFIX01", u32 dtype 1=f64 2=i32 3=f32, u32 CRC-32 of the
data, u64 element count, u64 zero) then little-endian data.

Run: /usr/bin/python3 tests/ref/torch_gpt.py   (Debian python3-torch; CI only reads fixtures)
"""
import math
import os
import struct
import sys
import zlib

import torch
import torch.nn.functional as F

V, CTX, L, H, C = 61, 16, 2, 4, 32
B, T, ACCUM, STEPS = 3, 11, 2, 10
VP = (V + 63) // 64 * 64
HYPER = dict(lr=1e-2, min_lr=1e-3, warmup=3, total=10, beta1=0.9, beta2=0.95, eps=1e-8,
             weight_decay=0.1, clip=1.0)
NAMES = ["wte", "wpe", "ln1w", "ln1b", "qkvw", "qkvb", "attprojw", "attprojb",
         "ln2w", "ln2b", "fcw", "fcb", "fcprojw", "fcprojb", "lnfw", "lnfb"]
SHAPES = {"wte": (V, C), "wpe": (CTX, C), "ln1w": (L, C), "ln1b": (L, C),
          "qkvw": (L, 3 * C, C), "qkvb": (L, 3 * C), "attprojw": (L, C, C),
          "attprojb": (L, C), "ln2w": (L, C), "ln2b": (L, C), "fcw": (L, 4 * C, C),
          "fcb": (L, 4 * C), "fcprojw": (L, C, 4 * C), "fcprojb": (L, C),
          "lnfw": (C,), "lnfb": (C,)}
MATRICES = {"wte", "wpe", "qkvw", "attprojw", "fcw", "fcprojw"}
OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "fixtures", "gpt")


def write(name, dtype, values):
    code, fmt = {"f64": (1, "<f8"), "i32": (2, "<i4"), "f32": (3, "<f4")}[dtype]
    import numpy as np
    data = np.asarray(values, dtype=fmt).ravel().tobytes()
    count = len(data) // int(fmt[-1])
    head = b"BMXFIX01" + struct.pack("<IIQQ", code, zlib.crc32(data) & 0xFFFFFFFF, count, 0)
    with open(os.path.join(OUT, name), "wb") as f:
        f.write(head + data)


def flat(tensors):
    """bmx flat layout of a dict of tensors (wte padded to VP rows with zeros)."""
    parts = []
    for n in NAMES:
        t = tensors[n].detach().to(torch.float64)
        if n == "wte":
            t = torch.cat([t, torch.zeros(VP - V, C, dtype=torch.float64)])
        parts.append(t.reshape(-1))
    return torch.cat(parts).numpy()


def init_params(gen):
    p = {}
    for n in NAMES:
        shape = SHAPES[n]
        if n in ("ln1w", "ln2w", "lnfw"):
            t = torch.ones(shape)
        elif n in MATRICES:
            sd = 0.02 / math.sqrt(2 * L) if n in ("attprojw", "fcprojw") else 0.02
            t = torch.randn(shape, generator=gen) * sd
        else:  # biases: small random values, so that their gradients are checked in full
            t = torch.randn(shape, generator=gen) * 0.01
        p[n] = t.to(torch.float32)
    return p


def forward(P, idx, tgt):
    b, t = idx.shape
    hs = C // H
    x = P["wte"][idx] + P["wpe"][:t]
    mask = torch.ones(t, t, dtype=torch.bool).tril()
    for l in range(L):
        h = F.layer_norm(x, (C,), P["ln1w"][l], P["ln1b"][l], 1e-5)
        qkv = h @ P["qkvw"][l].T + P["qkvb"][l]
        q, k, v = qkv.split(C, dim=-1)
        q = q.view(b, t, H, hs).transpose(1, 2)
        k = k.view(b, t, H, hs).transpose(1, 2)
        v = v.view(b, t, H, hs).transpose(1, 2)
        att = (q @ k.transpose(-2, -1)) / math.sqrt(hs)
        att = att.masked_fill(~mask, float("-inf")).softmax(dim=-1)
        y = (att @ v).transpose(1, 2).reshape(b, t, C)
        x = x + y @ P["attprojw"][l].T + P["attprojb"][l]
        h = F.layer_norm(x, (C,), P["ln2w"][l], P["ln2b"][l], 1e-5)
        h = F.gelu(h @ P["fcw"][l].T + P["fcb"][l], approximate="tanh")
        x = x + h @ P["fcprojw"][l].T + P["fcprojb"][l]
    x = F.layer_norm(x, (C,), P["lnfw"], P["lnfb"], 1e-5)
    logits = x @ P["wte"].T
    tok = F.cross_entropy(logits.reshape(-1, V), tgt.reshape(-1), ignore_index=-1,
                          reduction="none").view(b, t)
    valid = (tgt >= 0).to(tok.dtype)
    loss = tok.sum() / valid.sum()
    seq = tok.sum(1) / valid.sum(1)
    return logits, loss, seq, tok


def lr_at(s):
    h = HYPER
    if s < h["warmup"]:
        return h["lr"] * (s + 1) / h["warmup"]
    if s >= h["total"]:
        return h["min_lr"]
    r = (s - h["warmup"]) / (h["total"] - h["warmup"])
    return h["min_lr"] + (h["lr"] - h["min_lr"]) * 0.5 * (1 + math.cos(math.pi * r))


def main():
    os.makedirs(OUT, exist_ok=True)
    gen = torch.Generator().manual_seed(4)
    p32 = init_params(gen)
    toks = torch.randint(0, V, (ACCUM, B, T + 1), generator=gen)
    inputs, targets = toks[..., :-1].contiguous(), toks[..., 1:].clone()
    targets[1, 0, 3] = -1  # one ignored position in micro-batch 1
    targets[0, 2, 0] = -1  # and one in micro-batch 0
    P = {n: p32[n].to(torch.float64).requires_grad_(True) for n in NAMES}

    logits, loss, seq, tok = forward(P, inputs[0], targets[0])
    loss.backward()
    write("config.bin", "i32", [V, CTX, L, H, C, B, T, ACCUM, STEPS])
    write("hyper.bin", "f64", [HYPER[k] for k in ("lr", "min_lr", "warmup", "total", "beta1",
                                                  "beta2", "eps", "weight_decay", "clip")])
    write("tokens.bin", "i32", torch.cat([inputs.reshape(-1), targets.reshape(-1)]).numpy())
    write("params.bin", "f32", flat(p32))
    write("logits.bin", "f64", logits.detach().numpy())
    write("loss.bin", "f64", torch.cat([loss.detach().view(1), seq.detach(),
                                        tok.detach().reshape(-1)]).numpy())
    write("grads.bin", "f64", flat({n: P[n].grad for n in NAMES}))

    for n in NAMES:
        P[n].grad = None
    decay = [P[n] for n in NAMES if n in MATRICES]
    rest = [P[n] for n in NAMES if n not in MATRICES]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": HYPER["weight_decay"]},
                             {"params": rest, "weight_decay": 0.0}], lr=HYPER["lr"],
                            betas=(HYPER["beta1"], HYPER["beta2"]), eps=HYPER["eps"])
    steps = []
    for s in range(STEPS):
        lr = lr_at(s)
        for g in opt.param_groups:
            g["lr"] = lr
        opt.zero_grad(set_to_none=True)
        total = 0.0
        for k in range(ACCUM):
            _, loss, _, _ = forward(P, inputs[k], targets[k])
            (loss / ACCUM).backward()
            total += loss.item() / ACCUM
        norm = torch.nn.utils.clip_grad_norm_([P[n] for n in NAMES], HYPER["clip"])
        opt.step()
        steps.append([lr, norm.item(), total])
        print(f"step {s}: lr {lr:.5f} norm {norm.item():.4f} loss {total:.5f}"
              f"{' (clipped)' if norm.item() > HYPER['clip'] else ''}", file=sys.stderr)
    write("steps.bin", "f64", steps)
    write("params10.bin", "f64", flat(P))


if __name__ == "__main__":
    torch.manual_seed(0)
    main()
