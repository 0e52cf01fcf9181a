"""The bmx Python package against the C library and the independent reference
tests/ref/mix_ref.py: every policy, state round trips, rewards over buffers without copies,
errors with the library's message. Run by tests/cli/test_python_api.sh (stdlib only; the
numpy and torch parts run where those are installed)."""
import math
import os

import bmx
import bmx_rng
import mix_ref
from checks import check, done, optional, raises, type_error


def same(a, b, what, tol=1e-12):
    ok = len(a) == len(b) and all(abs(x - y) <= tol * max(1.0, abs(y)) for x, y in zip(a, b))
    check(ok, "%s: %r != %r" % (what, a, b))


# 1. the library loaded is libbmx_mix.so, and it brings neither BLAS nor OpenMP
check(os.path.basename(bmx.library_path()) == "libbmx_mix.so", "loaded " + bmx.library_path())
with open("/proc/self/maps") as f:
    maps = f.read()
for lib in ("libbmx.so", "openblas", "libgomp"):
    check(lib not in maps, "%s is mapped after loading libbmx_mix" % lib)

# 2. every policy of ALGORITHMS.md, in the library's order
names = ["uniform", "natural", "weights", "odm", "odm-smoothed-mean", "exp3", "ucb1",
         "explore-only", "exploit-only", "doremi", "temperature", "ado", "aioli"]
check(bmx.policies() == names, "policies() = %r" % bmx.policies())
want_obs = {"uniform": "none", "natural": "none", "weights": "none", "odm": "loss",
            "odm-smoothed-mean": "loss", "exp3": "reward", "ucb1": "reward",
            "explore-only": "none", "exploit-only": "reward", "doremi": "excess",
            "temperature": "none", "ado": "loss", "aioli": "loss"}

# 3. each policy (with parameters, keyword form) driven with the same calls as the reference
cases = [
    ("uniform", {}, None), ("natural", {}, [3.0, 1.0, 2.0, 4.0, 1.0]),
    ("weights", {}, [0.0, 1.0, 2.0, 3.0, 4.0]), ("odm", {"alpha": 0.8}, None),
    ("odm", {"tscale": 0.05}, None), ("odm-smoothed-mean", {"alpha": 0.4, "warmup": 3}, None),
    ("exp3", {"beta": 0.5}, None), ("exp3", {"tscale": 0.1}, None), ("ucb1", {"beta": 0.2}, None),
    ("explore-only", {}, None), ("exploit-only", {}, None),
    ("doremi", {"eta": 0.5, "c": 0.01, "vocab": 300}, [1.0, 2.0, 1.0, 1.0, 3.0]),
]
K = 5
for name, params, w in cases:
    pol = bmx.Policy(name, K, weights=w, seed=11, **params)
    spec = pol.spec
    ref = mix_ref.make_policy(spec, k=K, weights=w, seed=11)
    check(pol.observes == want_obs[name], "%s observes %s" % (name, pol.observes))
    check(pol.name == name and pol.k == K, "%s: name %s, k %d" % (name, pol.name, pol.k))
    for key, v in params.items():
        check("%s=%s" % (key, v) in spec.replace("0.050000000000000003", "0.05"),
              "%s: spec %s lacks %s=%s" % (name, spec, key, v))
    for t in range(30):
        same(pol.probs(), ref.probs, "%s round %d probs" % (spec, t))
        if name == "doremi":
            sums = [0.1 * ((i * 7 + t) % 5) for i in range(K)]
            toks = [float(1 + (i + t) % 3) for i in range(K)]
            pol.observe(sums, toks)
            ref.observe_excess(sums, toks)
        else:
            for g in range(3):
                a = pol.draw()
                b = ref.draw()
                check(a == b, "%s round %d draw %d: %d != %d" % (spec, t, g, a, b))
                v = 0.5 + 0.3 * math.sin(1.7 * a + 0.3 * t + g)
                pol.observe(a, v)
                ref.observe(b, v)
        pol.step()
        ref.step()
    check(pol.round == 31, "%s round %d" % (spec, pol.round))
    est = pol.estimates()
    if est is not None:
        same(est, ref.estimates(), spec + " estimates")
    if name == "doremi":
        same(pol.average(), ref.average(), spec + " alpha_bar")
    if name == "ucb1":
        same(pol.counts(), ref.counts(), spec + " counts")

    # state round trip mid-round: restore into a fresh handle and into an old one
    if name != "doremi":
        pol.observe(pol.draw(), 0.7)
    state = pol.state_dict()
    check(isinstance(state, bytes) and len(state) > 16, spec + " state is bytes")
    twin = bmx.Policy.from_state(state)
    other = bmx.Policy(name, K, weights=w, seed=999, **params)
    other.load_state_dict(state)
    check(twin.spec == spec and other.spec == spec, spec + " spec after load")
    for t in range(8):
        for p in (twin, other):
            same(p.probs(), pol.probs(), "%s resumed round %d" % (spec, t), tol=0)
        if name == "doremi":
            for p in (pol, twin, other):
                p.observe([0.2] * K, [1.0] * K)
        else:
            a = pol.draw()
            check(twin.draw() == a and other.draw() == a, "%s resumed draw" % spec)
            for p in (pol, twin, other):
                p.observe(a, 0.25 + 0.1 * t)
        for p in (pol, twin, other):
            p.step()
    check(twin.state_dict() == pol.state_dict(), spec + " same bytes after 8 rounds")

# 4. draw(rng): the caller's generator, the reference's categorical, the policy's untouched
pol = bmx.Policy("weights", 4, weights=[1, 0, 3, 4], seed=3)
twin = bmx.Policy("weights", 4, weights=[1, 0, 3, 4], seed=3)
r, rr = bmx.Rng(77, 5), bmx_rng.Rng(77, 5)
cdf = bmx_rng.cumulative(pol.probs())
for i in range(200):
    check(pol.draw(r) == rr.categorical_cdf(cdf), "draw(rng) %d" % i)
for i in range(20):
    check(pol.draw() == twin.draw(), "policy generator moved by draw(rng)")
r2, rr2 = bmx.Rng(123, 0), bmx_rng.Rng(123, 0)
check([r2.u64() for _ in range(10)] == [rr2.u64() for _ in range(10)], "Rng.u64 vs bmx_rng.py")
check(r2.below(10) == rr2.below(10), "Rng.below")
st = r2.state()
r3 = bmx.Rng()
r3.set_state(st)
check(r3.u64() == r2.u64(), "Rng state round trip")

# 5. the old binding's checks (tests/cli/test_python_ctypes.sh): odm, exp3, ucb1, 40 rounds
#    of two draws against the reference, save/load continue identically
for spec, k in (("odm:alpha=0.9", 6), ("exp3", 5), ("ucb1", 4)):
    c = bmx.Policy(spec, k, seed=5)
    r = mix_ref.make_policy(spec, k=k, weights=None, seed=5)
    for t in range(40):
        same(c.probs(), r.probs, spec)
        for g in range(2):
            a = c.draw()
            check(a == r.draw(), "%s draw round %d" % (spec, t))
            v = 0.5 + 0.1 * math.sin(3 * a + t)
            c.observe(a, v)
            r.observe(a, v)
        c.step()
        r.step()

# 5b. aioli with its validation losses on demand, and ado's pi, draw distribution (min-prob)
#     and fit, against the reference (keyword keys: min_prob becomes min-prob)
c = bmx.Policy("aioli", 3, seed=4, interval=20, rounds=1, probe=2)
r = mix_ref.make_policy("aioli:interval=20,rounds=1,probe=2", 3, None, 4)
check(c.observes == want_obs["aioli"], "aioli observes %s" % c.observes)
for t in range(70):
    check(c.needs_validation() == r.need, "aioli needs validation, round %d" % t)
    if r.need:
        v = [2.0 + 0.1 * i + 1.0 / (t + 1) for i in range(3)]
        c.observe_validation(v)
        r.validation(v)
    check(c.probing() == r.probing(), "aioli probing, round %d" % t)
    same(c.probs(), r.probs, "aioli probs, round %d" % t, tol=0)
    check(c.draw() == r.draw(), "aioli draw, round %d" % t)
    c.step()
    r.step()
raises(lambda: c.observe_validation([1.0, 2.0]), "3 domains")
w = [3.0, 1.0, 2.0]
c = bmx.Policy("ado", 3, weights=w, seed=6, tokens=w, warmup=5, interval=10, min_prob=0.2)
r = mix_ref.make_policy("ado:warmup=5,interval=10,min-prob=0.2", 3, w, 6, w)
check(c.fit() is None, "ado: no fit before the first refit")
for t in range(25):
    for g in range(2):
        a = c.draw()
        check(a == r.draw(), "ado draw, round %d" % t)
        c.observe(a, 2.0 + a + 3.0 / (t + 1))
        r.observe(a, 2.0 + a + 3.0 / (t + 1))
    c.step()
    r.step()
    same(c.probs(), r.probs, "ado probs, round %d" % t, tol=0)
    same(c.draw_probs(), r.draw_probs(), "ado draw probs, round %d" % t, tol=0)
check(c.fit() is not None, "ado fitted after 25 rounds")
same(c.fit(), r.fitted(), "ado fit", tol=0)

# 6. errors: the library's message, the policy unchanged
pol = bmx.Policy("odm", 3, seed=1)
before = pol.state_dict()
raises(lambda: pol.observe(7, 1.0), "arm 7", "out of range", code="EINVAL")
raises(lambda: pol.observe(0, float("nan")), "finite")
check(pol.state_dict() == before, "a failed observe changed the state")
msg = raises(lambda: bmx.Policy("no-such-policy", 3), "unknown policy", "odm", "doremi")
raises(lambda: bmx.Policy("odm", 3, beta=0.5), "beta")
raises(lambda: bmx.Policy("odm", 3, alpha=1.5), "alpha")
raises(lambda: bmx.Policy("weights", 3, weights=[1, 2]), "Policy weights: 2 weights for k = 3")
raises(lambda: bmx.Policy("max-epochs", 2, tokens=[5.0]), "1 token counts for k = 2 arms")
raises(lambda: bmx.Policy("exp3", 3, tscale=1e9), "tscale")
raises(lambda: bmx.Policy("weights", 3), "weights")
raises(lambda: bmx.Policy("weights", 3, weights=[1, 2]), "2 weights", "k = 3")
raises(lambda: bmx.Policy("doremi", 3).observe(0, 1.0), "excess")
raises(lambda: bmx.Policy("doremi", 3).observe([1.0], [1.0]), "k = 3")
bad = bytearray(before)
bad[len(bad) // 2] ^= 0x40
raises(lambda: pol.load_state_dict(bytes(bad)), "checksum", code="ECORRUPT")
raises(lambda: pol.load_state_dict(before[:-5]), code="ECORRUPT")
raises(lambda: pol.load_state_dict(b"not a state at all, long enough to be parsed" * 2),
       code="ECORRUPT")
raises(lambda: bmx.Policy("exp3", 3).load_state_dict(before), "odm", code="EINVAL")
raises(lambda: bmx.Policy("odm", 4).load_state_dict(before), code="EINVAL")
check(pol.state_dict() == before, "a failed load changed the state")
raises(lambda: bmx.reward("cosine", [], []), "ga, gms, agg")

# 7. rewards over flat float32 buffers, read in place
import array  # noqa: E402

va = array.array("f", [0.5, -1.0, 2.0, 0.25])
vb = array.array("f", [1.0, 0.5, -0.5, 4.0])
s = mix_ref.GradStats()
s.add(list(va), list(vb))
for kind in ("ga", "gms", "agg"):
    same([bmx.reward(kind, va, vb)], [mix_ref.reward_value(kind, s)], "reward %s (array)" % kind)
same([bmx.reward("exp-loss", loss=0.5)], [math.exp(0.5)], "exp-loss")
z = array.array("f", [0.0] * 4)
check(bmx.reward("agg", z, vb) == 0.0, "zero-norm reward is 0")
type_error(lambda: bmx.reward("ga", array.array("d", [1.0]), array.array("d", [1.0])),
           "float32", "float64 buffer")
np = optional("numpy", "python3-numpy")
if np is not None:
    rng = np.random.default_rng(5)
    a = rng.standard_normal(1000).astype(np.float32)
    b = rng.standard_normal(1000).astype(np.float32)
    s = mix_ref.GradStats()
    s.add(a.tolist(), b.tolist())
    gs = bmx.GradStats().add(a[:600], b[:600]).add(a[600:], b[600:])
    same([gs.ab, gs.aa, gs.bb], [s.ab, s.aa, s.bb], "grad stats over two ranges", tol=1e-12)
    same([gs.ga, gs.gms, gs.agg], [mix_ref.reward_ga(s), mix_ref.reward_gms(s),
                                   mix_ref.reward_agg(s)], "numpy rewards")
    check(bmx._address(a, "a")[0] == a.ctypes.data, "numpy array copied")
    check(bmx._address(a[600:], "a")[0] == a[600:].ctypes.data, "numpy slice copied")
    ro = a.copy()
    ro.flags.writeable = False
    check(bmx._address(ro, "ro")[0] == ro.ctypes.data, "read-only numpy array copied")
    type_error(lambda: bmx.reward("ga", a[::2], b[::2]), "contiguous", "strided array")
    torch = optional("torch", "python3-torch")
    if torch is not None:
        ta, tb = torch.from_numpy(a), torch.from_numpy(b)
        same([bmx.reward("agg", ta, tb)], [mix_ref.reward_agg(s)], "torch reward")
        check(bmx._address(ta, "t")[0] == ta.data_ptr() == a.ctypes.data, "torch tensor copied")
        type_error(lambda: bmx.reward("ga", ta.double(), tb.double()), "float32", "float64 tensor")

done()
