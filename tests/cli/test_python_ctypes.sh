#!/usr/bin/env bash
# The policy library used from Python through build/libbmx.so (python/bmx_mix.py): the
# same calls give the same draws and probabilities as tests/ref/mix_ref.py, errors carry the
# library's message, and save/load continues identically.
set -euo pipefail
py=/usr/bin/python3
[ -x "$py" ] || { echo "no /usr/bin/python3"; exit 77; }
so="$BMX_BUILD/libbmx.so"
[ -f "$so" ] || { echo "missing $so (run make)"; exit 1; }
# ASan builds cannot be dlopen'ed into an uninstrumented python: skip there.
if ldd "$so" 2>/dev/null | grep -c libasan >/dev/null; then echo "sanitizer build: skipped"; exit 77; fi
BMX_LIB="$so" PYTHONPATH="$BMX_ROOT/python:$BMX_ROOT/tests/ref" "$py" - <<'PY'
import math
from bmx_mix import Policy, BmxError
import mix_ref

def same(a, b):
    assert len(a) == len(b)
    for x, y in zip(a, b):
        assert abs(x - y) <= 1e-12 * max(1.0, abs(y)), (a, b)

# Drive the C library (through ctypes) and the independent reference with the same calls.
for spec, k in (("odm:alpha=0.9", 6), ("exp3", 5), ("ucb1", 4)):
    c = Policy(spec, k, seed=5)
    r = mix_ref.make_policy(spec, k=k, weights=None, seed=5)
    for t in range(40):
        same(c.probs(), r.probs)
        for g in range(2):
            a = c.draw()
            assert a == r.draw(), (spec, t)
            v = 0.5 + 0.1 * math.sin(3 * a + t)
            c.observe(a, v)
            r.observe(a, v)
        c.step()
        r.step()
    # save mid-run, continue two copies, they agree bit for bit
    state = c.save()
    d = Policy(spec, k, seed=99)
    d.load(state)
    for t in range(10):
        assert c.probs() == d.probs()
        a, b = c.draw(), d.draw()
        assert a == b
        c.observe(a, 0.3); d.observe(b, 0.3)
        c.step(); d.step()

# Errors carry the library's message and leave the policy usable.
pol = Policy("odm", 3, seed=1)
for bad in (lambda: pol.observe(7, 1.0), lambda: pol.observe(0, float("nan"))):
    try:
        bad()
    except BmxError as e:
        assert "arm" in str(e) or "finite" in str(e), str(e)
    else:
        raise AssertionError("no error")
try:
    Policy("no-such-policy", 3)
except BmxError as e:
    assert "odm" in str(e), str(e)  # the message lists the valid names
else:
    raise AssertionError("no error")
# aioli through the binding against the reference, validation losses included; ado's pi
# and fit against the reference's
from mix_ref import make_policy
c = Policy("aioli:interval=20,rounds=1,probe=2", 3, seed=4)
r = make_policy("aioli:interval=20,rounds=1,probe=2", 3, None, 4)
for t in range(70):
    assert c.needs_validation() == r.need
    if r.need:
        v = [2.0 + 0.1 * i + 1.0 / (t + 1) for i in range(3)]
        c.observe_validation(v)
        r.validation(v)
    assert c.probing() == r.probing()
    assert c.probs() == r.probs, (t, c.probs(), r.probs)
    a = c.draw()
    assert a == r.draw()
    c.step()
    r.step()
w = [3.0, 1.0, 2.0]
c = Policy("ado:warmup=5,interval=10,min-prob=0.2", 3, weights=w, seed=6, tokens=w)
r = make_policy("ado:warmup=5,interval=10,min-prob=0.2", 3, w, 6, w)
for t in range(25):
    for g in range(2):
        a = c.draw()
        assert a == r.draw()
        c.observe(a, 2.0 + a + 3.0 / (t + 1))
        r.observe(a, 2.0 + a + 3.0 / (t + 1))
    c.step()
    r.step()
    assert c.probs() == r.probs and c.draw_probs() == r.draw_probs(), t
assert c.fit() is not None and c.fit() == r.fitted()
print("ok: python ctypes binding agrees with tests/ref/mix_ref.py")
PY
