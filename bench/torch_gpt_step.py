#!/usr/bin/env python3
"""bench/torch_gpt_step.py - the PyTorch peer of bench/bench_cuda.c, on the GPU.

The same GPT-2 architecture as include/bmx/model.h (token + position embeddings, pre-LayerNorm
blocks with causal attention and a tanh-GELU MLP of width 4C, final LayerNorm, output layer
tied to the token embedding, vocabulary padded to a multiple of 64; the softmax runs over the
padded vocabulary as in nanoGPT, where bmx leaves the padding out), trained as bmx trains it:
bf16 autocast over fp32 master weights, cross-entropy, gradient accumulation, global norm
clipping at 1, torch.optim.AdamW(fused=True) with weight decay 0.1 on matrices only.
Attention is F.scaled_dot_product_attention(is_causal=True) (PyTorch's flash kernel).

Runs `--mode eager` or `--mode compile` (torch.compile of the model), `--warmup` untimed steps
then `--steps` timed ones (CUDA events around each whole step), on random tokens, and prints
one JSON line: {"mode", "tok_s" (median step), "step_ms" (every step), "loss", "params",
"torch", "gpu"}.

    python3 bench/torch_gpt_step.py --mode eager --layers 6 --heads 8 --width 512 \
        --vocab 8192 --seq 512 --batch 64 --accum 1 --steps 10
"""
import argparse
import json
import statistics
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F

import torch_step  # bench/torch_step.py: the CPU peer


class Block(torch_step.Block):
    """The CPU peer's block (the same layers), its attention by scaled_dot_product_attention."""

    def forward(self, x):
        b, t, c = x.shape
        q, k, v = self.qkv(self.ln1(x)).split(c, dim=2)
        q, k, v = (z.view(b, t, self.h, c // self.h).transpose(1, 2) for z in (q, k, v))
        y = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        x = x + self.proj(y.transpose(1, 2).contiguous().view(b, t, c))
        return x + self.fcproj(F.gelu(self.fc(self.ln2(x)), approximate="tanh"))


class GPT(nn.Module):
    def __init__(self, v, ctx, l, h, c):
        super().__init__()
        vp = (v + 63) // 64 * 64
        self.v = v
        self.wte, self.wpe = nn.Embedding(vp, c), nn.Embedding(ctx, c)
        self.blocks = nn.ModuleList(Block(c, h) for _ in range(l))
        self.lnf = nn.LayerNorm(c)
        for p in self.parameters():
            if p.dim() >= 2:
                nn.init.normal_(p, std=0.02)

    def forward(self, idx, tgt):
        t = idx.shape[1]
        x = self.wte(idx) + self.wpe(torch.arange(t, device=idx.device))
        for blk in self.blocks:
            x = blk(x)
        # over the padded vocabulary, as nanoGPT does (no slice copy); bmx masks the padding
        logits = self.lnf(x) @ self.wte.weight.T
        return F.cross_entropy(logits.view(-1, logits.size(-1)), tgt.reshape(-1))


def main():
    ap = argparse.ArgumentParser()
    for name, default in (("layers", 12), ("heads", 12), ("width", 768), ("vocab", 50257),
                          ("batch", 16), ("seq", 1024), ("accum", 1), ("steps", 10),
                          ("warmup", 3)):
        ap.add_argument("--" + name, type=int, default=default)
    ap.add_argument("--mode", choices=("eager", "compile"), default="eager")
    a = ap.parse_args()
    if not torch.cuda.is_available():
        print(json.dumps({"mode": a.mode, "skipped": "torch sees no CUDA device"}))
        return 0
    torch.manual_seed(0)
    torch.backends.cuda.matmul.allow_tf32 = True
    torch.backends.cudnn.allow_tf32 = True
    dev = "cuda"
    model = GPT(a.vocab, a.seq, a.layers, a.heads, a.width).to(dev)
    nparams = sum(p.numel() for p in model.parameters())
    decay = [p for p in model.parameters() if p.dim() >= 2]
    rest = [p for p in model.parameters() if p.dim() < 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.1},
                             {"params": rest, "weight_decay": 0.0}], lr=6e-4,
                            betas=(0.9, 0.95), eps=1e-8, fused=True)
    fwd = torch.compile(model) if a.mode == "compile" else model
    g = torch.Generator(device=dev)
    g.manual_seed(1)
    data = torch.randint(0, a.vocab, (a.accum, a.batch, a.seq + 1), device=dev, generator=g)

    def step():
        for k in range(a.accum):
            with torch.autocast(device_type="cuda", dtype=torch.bfloat16):
                loss = fwd(data[k, :, :-1], data[k, :, 1:])
            (loss / a.accum).backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        opt.zero_grad(set_to_none=True)
        return loss

    for _ in range(a.warmup):
        loss = step()
    torch.cuda.synchronize()
    times = []
    for _ in range(a.steps):
        e0, e1 = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        e0.record()
        loss = step()
        e1.record()
        e1.synchronize()
        times.append(e0.elapsed_time(e1))
    med = statistics.median(times)
    tokens = a.batch * a.seq * a.accum
    print(json.dumps({"mode": a.mode, "tok_s": tokens / (med / 1000.0), "step_ms": times,
                      "loss": float(loss), "params": nparams, "torch": torch.__version__,
                      "gpu": torch.cuda.get_device_name(0)}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
