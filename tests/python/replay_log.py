"""Replay a run log's policy from its own observations with the independent reference
(tests/ref/mix_ref.py): at every step record, pi must equal the reference's pi, then the
reference observes each drawn domain's logged loss (a sum for odm: the same sum the
policy formed; odm-smoothed-mean logs the mean) and steps. argv: LOG [LOG...]."""
import json
import sys

import mix_ref

for path in sys.argv[1:]:
    recs = [json.loads(line) for line in open(path)]
    h = recs[0]
    assert h["type"] == "header" and h["version"] == 1, path
    K = len(h["domains"])
    w = h["train_tokens"] if h["policy"].split(":")[0] == "natural" else None
    ref = mix_ref.make_policy(h["policy"], k=K, weights=w, seed=h["seed"])
    steps = [r for r in recs if r["type"] == "step"]
    assert len(steps) == h["steps"], (path, len(steps), h["steps"])
    worst = 0.0
    for r in steps:
        for a, b in zip(r["probs"], ref.probs):
            worst = max(worst, abs(a - b))
        assert worst <= 1e-12, (path, r["step"], r["probs"], ref.probs)
        assert sum(r["domain_count"]) > 0
        for d in range(K):
            if r["domain_count"][d]:
                ref.observe(d, r["domain_loss"][d])
            else:
                assert r["domain_loss"][d] is None
        ref.step()
    moved = max(abs(p - 1.0 / K) for p in steps[-1]["probs"])
    print("replayed %s: %s, %d steps, pi within %.1e of the reference, final pi %s "
          "(%.3f from uniform)" % (path, h["policy"], len(steps), worst,
                                   [round(p, 4) for p in steps[-1]["probs"]], moved))
