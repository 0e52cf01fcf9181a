#!/usr/bin/env python3
"""examples/torch_odm.py - a small GPT trained in plain PyTorch on bmx token shards, with
its data mixture chosen online by a bmx policy (ODM by default).

    PYTHONPATH=python python3 examples/torch_odm.py --data DATA --out runs/torch-odm \
        --policy odm --steps 200
    build/bmx report runs/torch-odm runs/train-uniform --out report.html

DATA is the --out folder of 'bmx data shard' (DATA/<domain>/{train,val}.bin). One optimizer
step is one round of the policy: --accum micro-batches, each of one domain drawn from pi_t
and observed (its mean loss) right after its backward pass; then the optimizer step and
policy.step(). OUT/log.jsonl is in bmx's run-log format (include/bmx/run.h: header, step
and eval records), so 'bmx report' plots these runs next to those of 'bmx train'.
OUT/checkpoint.pt (torch.save of the model, the optimizer, the policy and sampler state,
the step and the log's length) is written every --ckpt-every steps and at the end;
--resume continues from it and writes the same log.jsonl as a run that never stopped.
"""
import argparse
import json
import math
import os
import sys
import time

here = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(here, "..", "python"))

import torch  # noqa: E402
import torch.nn as nn  # noqa: E402
import torch.nn.functional as F  # noqa: E402

import bmx  # noqa: E402
import bmx.torch as btorch  # noqa: E402
from bmx.shards import ShardSet  # noqa: E402


class Block(nn.Module):
    def __init__(self, dim, heads):
        super().__init__()
        self.heads = heads
        self.ln1, self.ln2 = nn.LayerNorm(dim), nn.LayerNorm(dim)
        self.qkv, self.proj = nn.Linear(dim, 3 * dim), nn.Linear(dim, dim)
        self.fc, self.out = nn.Linear(dim, 4 * dim), nn.Linear(4 * dim, dim)

    def forward(self, x):
        B, T, C = x.shape
        q, k, v = self.qkv(self.ln1(x)).split(C, dim=2)
        q, k, v = (t.view(B, T, self.heads, C // self.heads).transpose(1, 2) for t in (q, k, v))
        att = (q @ k.transpose(-2, -1)) / math.sqrt(C // self.heads)
        mask = torch.ones(T, T, dtype=torch.bool, device=x.device).tril()
        att = att.masked_fill(~mask, float("-inf")).softmax(dim=-1)
        x = x + self.proj((att @ v).transpose(1, 2).reshape(B, T, C))
        return x + self.out(F.gelu(self.fc(self.ln2(x))))


class GPT(nn.Module):
    def __init__(self, vocab, seq, dim, layers, heads):
        super().__init__()
        self.tok, self.pos = nn.Embedding(vocab, dim), nn.Embedding(seq, dim)
        self.blocks = nn.ModuleList(Block(dim, heads) for _ in range(layers))
        self.ln = nn.LayerNorm(dim)
        for m in self.modules():
            if isinstance(m, (nn.Linear, nn.Embedding)):
                nn.init.normal_(m.weight, std=0.02)
                if getattr(m, "bias", None) is not None:
                    nn.init.zeros_(m.bias)

    def seq_losses(self, x, y):
        """Per-sequence mean token losses, shape (batch,)."""
        T = x.shape[1]
        h = self.tok(x) + self.pos(torch.arange(T, device=x.device))
        for b in self.blocks:
            h = b(h)
        logits = self.ln(h) @ self.tok.weight.t()  # tied head
        tl = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), y.reshape(-1), reduction="none")
        return tl.view(y.shape).mean(dim=1)


def val_windows(shard, T, max_windows):
    """bmx_shard_val_windows(shard, T, max_windows, seed 0): the same windows as bmx train."""
    K = (shard.ntokens - 1) // T if shard.ntokens else 0
    m = min(K, max_windows)
    idx = list(range(K))
    if m < K:
        r = bmx.Rng(0, 0)
        for i in range(m):
            j = i + r.below(K - i)
            idx[i], idx[j] = idx[j], idx[i]
        idx = sorted(idx[:m])
    return [i * T for i in idx[:m]]


@torch.no_grad()
def evaluate(model, val, starts, T, batch):
    model.eval()
    out = []
    for s, st in zip(val.shards, starts):
        tot, n = 0.0, 0
        for i in range(0, len(st), batch):
            w = torch.stack([torch.from_numpy(s.tokens[a:a + T + 1].astype("int64"))
                             for a in st[i:i + batch]])
            tot += float(model.seq_losses(w[:, :-1], w[:, 1:]).double().sum())
            n += w.shape[0]
        out.append(tot / n if n else float("nan"))
    model.train()
    return out


def lr_at(step, a):
    """Linear warm-up over --warmup steps, then cosine down to lr / 10 at --steps."""
    if step <= a.warmup:
        return a.lr * step / a.warmup
    f = (step - a.warmup) / max(1, a.steps - a.warmup)
    return a.lr * (0.1 + 0.45 * (1 + math.cos(math.pi * min(1.0, f))))


def dumps(rec):
    return json.dumps(rec, separators=(",", ":"), allow_nan=False)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", required=True, help="folder of DOMAIN/{train,val}.bin shards")
    ap.add_argument("--domains", help="comma-separated domains (default: every folder)")
    ap.add_argument("--out", required=True, help="run folder (log.jsonl, checkpoint.pt)")
    ap.add_argument("--policy", default="odm",
                    help="a bmx policy spec: uniform, natural, odm[:alpha=A,tscale=S], "
                         "odm-smoothed-mean, exp3, ucb1, explore-only, exploit-only, weights "
                         "(with --weights)")
    ap.add_argument("--weights", help="comma-separated weights for policy 'weights'")
    ap.add_argument("--reward", default="loss", help="exp3/ucb1/exploit-only: loss or exp-loss")
    ap.add_argument("--steps", type=int, default=200)
    ap.add_argument("--accum", type=int, default=4, help="micro-batches per step (one round)")
    ap.add_argument("--batch", type=int, default=8, help="sequences per micro-batch")
    ap.add_argument("--seq", type=int, default=64)
    ap.add_argument("--dim", type=int, default=64)
    ap.add_argument("--layers", type=int, default=2)
    ap.add_argument("--heads", type=int, default=4)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--warmup", type=int, default=10)
    ap.add_argument("--clip", type=float, default=1.0)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--eval-every", type=int, default=20)
    ap.add_argument("--eval-windows", type=int, default=16)
    ap.add_argument("--ckpt-every", type=int, default=0, help="0: only at the end")
    ap.add_argument("--stop-after", type=int, default=0,
                    help="checkpoint and exit after this many steps (to test --resume)")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--workers", type=int, default=0, help="DataLoader workers")
    ap.add_argument("--resume", action="store_true")
    a = ap.parse_args(argv)
    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)

    domains = a.domains.split(",") if a.domains else None
    train = ShardSet(a.data, domains, "train")
    val = ShardSet(a.data, train.names, "val")
    K = len(train)
    weights = None
    if a.policy.split(":")[0] == "natural":
        weights = [float(n) for n in train.ntokens]
    elif a.weights:
        weights = [float(x) for x in a.weights.split(",")]
    policy = bmx.Policy(a.policy, K, weights=weights, seed=a.seed)
    if policy.observes == "excess":
        sys.exit("torch_odm.py: policy %s needs a reference model's losses (DoReMi); train it "
                 "with 'bmx doremi'" % policy.name)
    loader = btorch.MixtureLoader(train, policy, a.batch, a.seq, seed=a.seed,
                                  num_workers=a.workers)
    model = GPT(train.vocab_size, a.seq, a.dim, a.layers, a.heads)
    opt = torch.optim.AdamW(model.parameters(), lr=a.lr, weight_decay=0.0)
    starts = [val_windows(s, a.seq, a.eval_windows) for s in val.shards]
    os.makedirs(a.out, exist_ok=True)
    log_path, ckpt_path = os.path.join(a.out, "log.jsonl"), os.path.join(a.out, "checkpoint.pt")
    step, tokens = 0, 0
    if a.resume:
        ck = torch.load(ckpt_path)
        model.load_state_dict(ck["model"])
        opt.load_state_dict(ck["optim"])
        loader.load_state_dict(ck["mix"])
        step, tokens = ck["step"], ck["tokens"]
        with open(log_path, "r+b") as f:
            f.truncate(ck["log_len"])
        log = open(log_path, "a")
    else:
        log = open(log_path, "w")
        nparams = sum(p.numel() for p in model.parameters())
        log.write(dumps({
            "type": "header", "version": 1, "method": "torch-" + policy.name, "policy": policy.spec,
            "seed": a.seed, "domains": train.names, "train_tokens": train.ntokens,
            "val_windows": [len(s) for s in starts], "params": nparams,
            "tokens_per_step": a.batch * a.seq * a.accum, "steps": a.steps,
            "config": "examples/torch_odm.py " + " ".join(
                "--%s=%s" % (k.replace("_", "-"), v) for k, v in sorted(vars(a).items())
                if k not in ("resume", "stop_after", "out", "workers"))}) + "\n")

    def eval_record():
        losses = evaluate(model, val, starts, a.seq, a.batch)
        log.write(dumps({"type": "eval", "step": step, "loss": losses,
                         "ppl": [math.exp(x) for x in losses],
                         "avg_loss": sum(losses) / K,
                         "avg_ppl": sum(math.exp(x) for x in losses) / K}) + "\n")

    def checkpoint():
        log.flush()
        os.fsync(log.fileno())
        tmp = ckpt_path + ".tmp"
        torch.save({"model": model.state_dict(), "optim": opt.state_dict(),
                    "mix": loader.state_dict(), "step": step, "tokens": tokens,
                    "log_len": os.path.getsize(log_path)}, tmp)
        os.replace(tmp, ckpt_path)

    if step == 0:
        eval_record()
    timing = open(os.path.join(a.out, "timing.jsonl"), "a")
    while step < a.steps:
        t0 = time.perf_counter()
        lr = lr_at(step + 1, a)
        for g in opt.param_groups:
            g["lr"] = lr
        probs = policy.probs()
        dloss, dcount, total = [0.0] * K, [0] * K, 0.0
        for _ in range(a.accum):
            d, x, y = next(loader)
            seq_loss = model.seq_losses(x, y)
            (seq_loss.mean() / a.accum).backward()
            v = btorch.observe(policy, d, seq_loss, reward=a.reward)
            loss = float(seq_loss.detach().double().mean())
            total += loss
            dloss[d] += loss
            dcount[d] += 1
            del v
        gn = float(torch.nn.utils.clip_grad_norm_(model.parameters(), a.clip))
        opt.step()
        opt.zero_grad(set_to_none=True)
        policy.step()
        step += 1
        tokens += a.batch * a.seq * a.accum
        if policy.round_mean:
            dloss = [dl / c if c else 0.0 for dl, c in zip(dloss, dcount)]
        log.write(dumps({"type": "step", "step": step, "loss": total / a.accum, "lr": lr,
                         "grad_norm": gn, "tokens": tokens,
                         "domain_loss": [dl if c else None for dl, c in zip(dloss, dcount)],
                         "domain_count": dcount, "probs": probs}) + "\n")
        if step % a.eval_every == 0 or step == a.steps:
            eval_record()
        timing.write(dumps({"step": step, "step_s": time.perf_counter() - t0}) + "\n")
        if (a.ckpt_every and step % a.ckpt_every == 0) or step == a.steps or \
                step == a.stop_after:
            checkpoint()
        if step == a.stop_after:
            break
    log.close()
    timing.close()
    print("torch_odm.py: %s, %d steps, final pi = %s -> %s" % (
        policy.spec, step, " ".join("%.3f" % p for p in policy.probs()), log_path))


if __name__ == "__main__":
    main()
