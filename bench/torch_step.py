#!/usr/bin/python3
"""bench/torch_step.py - the PyTorch peer of bench/bench_train.c.

Same GPT-2 architecture as include/bmx/model.h (nn.Linear layers, causal attention, tanh
GELU, tied output layer), float32 on the CPU, torch.optim.AdamW (weight decay on matrices),
gradient-norm clipping.

A worker: it builds the model, runs one warm-up step and prints one JSON line
{"ready": true, "threads": ..., "torch": ...}; then for every line "N" read from stdin it
runs N full steps (forward, backward, clipping, AdamW) and prints one JSON line
{"times": [seconds of each step], "loss": ...}; it exits at the end of stdin. bench_train
keeps one worker per configuration so that C and PyTorch steps can alternate one by one.

    echo 3 | /usr/bin/python3 bench/torch_step.py --layers 12 --heads 12 --width 768 \
        --vocab 50257 --batch 4 --seq 64 --threads 2
"""
import argparse
import json
import math
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F


class Block(nn.Module):
    def __init__(self, c, h):
        super().__init__()
        self.h = h
        self.ln1, self.ln2 = nn.LayerNorm(c), nn.LayerNorm(c)
        self.qkv, self.proj = nn.Linear(c, 3 * c), nn.Linear(c, c)
        self.fc, self.fcproj = nn.Linear(c, 4 * c), nn.Linear(4 * c, c)

    def forward(self, x, mask):
        b, t, c = x.shape
        q, k, v = self.qkv(self.ln1(x)).split(c, dim=2)
        q, k, v = (z.view(b, t, self.h, c // self.h).transpose(1, 2) for z in (q, k, v))
        att = (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(c // self.h))
        att = att.masked_fill(mask[:t, :t] == 0, float("-inf")).softmax(dim=-1)
        y = (att @ v).transpose(1, 2).contiguous().view(b, t, c)
        x = x + self.proj(y)
        return x + self.fcproj(F.gelu(self.fc(self.ln2(x)), approximate="tanh"))


class GPT(nn.Module):
    def __init__(self, v, ctx, l, h, c):
        super().__init__()
        self.wte, self.wpe = nn.Embedding(v, c), nn.Embedding(ctx, c)
        self.blocks = nn.ModuleList(Block(c, h) for _ in range(l))
        self.lnf = nn.LayerNorm(c)
        self.register_buffer("mask", torch.tril(torch.ones(ctx, ctx)))
        for p in self.parameters():
            if p.dim() >= 2:
                nn.init.normal_(p, std=0.02)

    def forward(self, idx, tgt):
        t = idx.shape[1]
        x = self.wte(idx) + self.wpe(torch.arange(t))
        for blk in self.blocks:
            x = blk(x, self.mask)
        logits = self.lnf(x) @ self.wte.weight.T
        return F.cross_entropy(logits.view(-1, logits.size(-1)), tgt.view(-1))


def main():
    ap = argparse.ArgumentParser()
    for name, default in (("layers", 12), ("heads", 12), ("width", 768), ("vocab", 50257),
                          ("batch", 4), ("seq", 64), ("threads", 2)):
        ap.add_argument("--" + name, type=int, default=default)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    model = GPT(a.vocab, max(a.seq, 1024), a.layers, a.heads, a.width)
    decay = [p for p in model.parameters() if p.dim() >= 2]
    rest = [p for p in model.parameters() if p.dim() < 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.1},
                             {"params": rest, "weight_decay": 0.0}], lr=6e-4, betas=(0.9, 0.95))
    idx = torch.randint(0, a.vocab, (a.batch, a.seq))
    tgt = torch.randint(0, a.vocab, (a.batch, a.seq))

    def step():
        t0 = time.perf_counter()
        opt.zero_grad(set_to_none=True)
        loss = model(idx, tgt)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        return time.perf_counter() - t0, loss.item()

    step()
    print(json.dumps({"ready": True, "threads": torch.get_num_threads(),
                      "torch": torch.__version__}), flush=True)
    for line in sys.stdin:
        times, loss = [], 0.0
        for _ in range(max(int(line), 1)):
            t, loss = step()
            times.append(t)
        print(json.dumps({"times": times, "loss": loss}), flush=True)


if __name__ == "__main__":
    main()
