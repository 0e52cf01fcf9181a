"""bmx - bandit-driven online data mixing for your own training loop.

The mixing policies of bmx (ALGORITHMS.md: uniform, natural, weights, odm,
odm-smoothed-mean, exp3, ucb1, explore-only, exploit-only, doremi) through ctypes over
libbmx_mix.so (the C policies alone: libc and libm, no BLAS, no OpenMP). Standard library
only; ``bmx.torch`` adds a PyTorch sampler over bmx token shards.

    import bmx
    pol = bmx.Policy("odm", k=3, alpha=0.9, seed=1)
    for step in range(steps):
        for g in range(G):
            d = pol.draw()
            loss = train_on(domain[d])
            pol.observe(d, loss)            # odm observes losses (pol.observes == "loss")
        pol.step()                          # end of the round: pi_{t+1}
    torch.save({"model": ..., "mix": pol.state_dict()}, "ckpt.pt")

The library is found at $BMX_LIB, next to this package (bmx/libbmx_mix.so, where
``pip install`` puts it), or in the build/ folder of the source tree this package is in.
Errors from the library raise BmxError with the library's message.
"""
import ctypes
import os

__all__ = ["BmxError", "Policy", "Rng", "GradStats", "policies", "reward", "library_path"]

_CODES = {-1: "EINVAL", -2: "ENOMEM", -3: "EIO", -4: "ECORRUPT", -5: "ESTATE"}
_OBS = ("none", "loss", "reward", "excess")
_REWARDS = ("loss", "exp-loss", "ga", "gms", "agg")


class BmxError(Exception):
    """An error the bmx library reported; str(e) is its message, e.code its status name
    (EINVAL, ENOMEM, EIO, ECORRUPT, ESTATE)."""

    def __init__(self, msg, code=None):
        super().__init__(msg)
        self.code = _CODES.get(code, code)


class _Err(ctypes.Structure):
    _fields_ = [("code", ctypes.c_int), ("msg", ctypes.c_char * 512)]


class _Data(ctypes.Structure):
    _fields_ = [("tokens", ctypes.POINTER(ctypes.c_double)), ("draw_tokens", ctypes.c_double),
                ("draw_seqs", ctypes.c_double)]


class _RngState(ctypes.Structure):
    _fields_ = [("s", ctypes.c_uint64 * 4)]


class _Stats(ctypes.Structure):
    _fields_ = [("ab", ctypes.c_double), ("aa", ctypes.c_double), ("bb", ctypes.c_double)]


def _candidates():
    here = os.path.dirname(os.path.abspath(__file__))
    env = os.environ.get("BMX_LIB")
    if env:
        return [env]
    return [os.path.join(here, "libbmx_mix.so"),
            os.path.join(here, "..", "..", "build", "libbmx_mix.so")]


_lib = None
_lib_path = None


def library_path():
    """The path of the libbmx_mix.so this package loaded (loading it if needed)."""
    _load()
    return _lib_path


def _load():
    global _lib, _lib_path
    if _lib is not None:
        return _lib
    tried = []
    for path in _candidates():
        path = os.path.normpath(path)
        if not os.path.exists(path):
            tried.append(path + " (missing)")
            continue
        try:
            lib = ctypes.CDLL(path)
        except OSError as e:
            raise BmxError("cannot load %s: %s (an ASan build cannot load into plain python; "
                           "use the library of a plain 'make')" % (path, e)) from None
        _declare(lib)
        _lib, _lib_path = lib, path
        return lib
    raise BmxError("libbmx_mix.so not found: tried %s; run 'make' in the bmx source tree, or "
                   "set BMX_LIB to the library's path" % ", ".join(tried))


def _declare(lib):
    P, I, D, E = ctypes.c_void_p, ctypes.c_int, ctypes.POINTER(ctypes.c_double), ctypes.POINTER(_Err)
    R, S, U64, SZ = ctypes.POINTER(_RngState), ctypes.POINTER(_Stats), ctypes.c_uint64, ctypes.c_size_t
    sig = {
        "bmx_mix_create_data": (I, [ctypes.POINTER(P), ctypes.c_char_p, I, D,
                                    ctypes.POINTER(_Data), U64, E]),
        "bmx_mix_needs_validation": (I, [P]),
        "bmx_mix_observe_validation": (I, [P, D, E]),
        "bmx_mix_probing": (I, [P]),
        "bmx_mix_draw_probs": (D, [P]),
        "bmx_mix_fit": (D, [P]),
        "bmx_mix_free": (None, [P]),
        "bmx_mix_spec": (ctypes.c_char_p, [P]),
        "bmx_mix_name": (ctypes.c_char_p, [P]),
        "bmx_mix_arms": (I, [P]),
        "bmx_mix_round": (ctypes.c_long, [P]),
        "bmx_mix_tscale": (ctypes.c_double, [P]),
        "bmx_mix_observes": (I, [P]),
        "bmx_mix_round_mean": (I, [P]),
        "bmx_mix_policy_name": (ctypes.c_char_p, [I]),
        "bmx_mix_probs": (D, [P]),
        "bmx_mix_draw": (I, [P]),
        "bmx_mix_draw_rng": (I, [P, R]),
        "bmx_mix_observe": (I, [P, I, ctypes.c_double, E]),
        "bmx_mix_observe_excess": (I, [P, D, D, E]),
        "bmx_mix_step": (I, [P, E]),
        "bmx_mix_estimates": (D, [P]),
        "bmx_mix_counts": (D, [P]),
        "bmx_mix_average": (D, [P]),
        "bmx_mix_save": (I, [P, ctypes.c_void_p, SZ, ctypes.POINTER(SZ), E]),
        "bmx_mix_load": (I, [P, ctypes.c_char_p, SZ, E]),
        "bmx_mix_restore": (I, [ctypes.POINTER(P), ctypes.c_char_p, SZ, E]),
        "bmx_rng_seed": (None, [R, U64, U64]),
        "bmx_rng_u64": (U64, [R]),
        "bmx_rng_double": (ctypes.c_double, [R]),
        "bmx_rng_below": (U64, [R, U64]),
        "bmx_grad_stats_add": (None, [S, ctypes.c_void_p, ctypes.c_void_p, SZ]),
        "bmx_reward_ga": (ctypes.c_double, [S]),
        "bmx_reward_gms": (ctypes.c_double, [S]),
        "bmx_reward_agg": (ctypes.c_double, [S]),
    }
    for name, (res, args) in sig.items():
        fn = getattr(lib, name)
        fn.restype = res
        fn.argtypes = args


def _check(rc, err):
    if rc != 0:
        raise BmxError(err.msg.decode(errors="replace"), rc)


def policies():
    """The names of every policy the library has, in ALGORITHMS.md's order."""
    lib = _load()
    out, i = [], 0
    while True:
        n = lib.bmx_mix_policy_name(i)
        if n is None:
            return out
        out.append(n.decode())
        i += 1


class Rng:
    """bmx's generator (xoshiro256**, bmx/rng.h): Rng(seed, stream). Give one to
    Policy.draw(rng) to draw from the policy's distribution with your own stream."""

    def __init__(self, seed=0, stream=0):
        self._lib = _load()
        self._st = _RngState()
        self._lib.bmx_rng_seed(ctypes.byref(self._st), seed & (2**64 - 1), stream & (2**64 - 1))

    def u64(self):
        return self._lib.bmx_rng_u64(ctypes.byref(self._st))

    def double(self):
        return self._lib.bmx_rng_double(ctypes.byref(self._st))

    def below(self, n):
        if n <= 0:
            raise ValueError("Rng.below(n) needs n > 0, got %r" % (n,))
        return self._lib.bmx_rng_below(ctypes.byref(self._st), n)

    def state(self):
        """The four state words as 32 little-endian bytes."""
        return b"".join(int(w).to_bytes(8, "little") for w in self._st.s)

    def set_state(self, b):
        if not isinstance(b, (bytes, bytearray)) or len(b) != 32:
            raise ValueError("Rng.set_state needs the 32 bytes of Rng.state()")
        for i in range(4):
            self._st.s[i] = int.from_bytes(b[8 * i:8 * i + 8], "little")


def _fmt(v):
    return repr(float(v)) if isinstance(v, float) else str(v)


def _per_arm(values, k, spec, what):
    """values (one number per arm) as a C array of k doubles, None for None."""
    if values is None:
        return None
    values = [float(x) for x in values]
    if len(values) != k:
        raise BmxError("Policy %s: %d %s for k = %d arms; give one per arm"
                       % (spec, len(values), what, k), -1)
    return (ctypes.c_double * k)(*values)


class Policy:
    """One mixing policy over k arms.

    Policy(name, k, weights=None, seed=0, **params): name is a policy of bmx.policies()
    (or a whole spec "odm:alpha=0.9"); params are its keys (alpha, beta, eta, c, warmup,
    vocab, tscale, min-prob as min_prob=..., ...; see include/bmx/mix.h); weights are k
    non-negative numbers (natural, weights, temperature and ado need them: the domains'
    training tokens for the last two). max-epochs needs tokens= (each domain's training
    tokens) and draw_tokens= (the tokens one draw takes); ado's n counts draw_seqs sequences a
    draw. aioli asks for per-domain validation losses before some draws:
        if pol.needs_validation(): pol.observe_validation([val_loss(d) for d in domains])
    An unknown name or key, or a value out of range, raises BmxError.
    """

    def __init__(self, name, k, weights=None, seed=0, tokens=None, draw_tokens=1.0,
                 draw_seqs=1.0, **params):
        self._lib = lib = _load()
        self._h = ctypes.c_void_p()
        spec = str(name)
        if params:
            spec += (":" if ":" not in spec else ",") + ",".join(
                "%s=%s" % (key.replace("_", "-"), _fmt(v)) for key, v in params.items())
        if not isinstance(k, int) or isinstance(k, bool):
            raise TypeError("Policy: k must be an int (the number of arms), got %r" % (k,))
        w = _per_arm(weights, k, spec, "weights")
        tok = _per_arm(tokens, k, spec, "token counts")
        data = _Data(tok, float(draw_tokens), float(draw_seqs))
        err = _Err()
        _check(lib.bmx_mix_create_data(ctypes.byref(self._h), spec.encode(), k, w,
                                       ctypes.byref(data), seed & (2**64 - 1),
                                       ctypes.byref(err)), err)
        self._init_fields()

    def _init_fields(self):
        lib = self._lib
        self.k = lib.bmx_mix_arms(self._h)
        #: what observe() takes: "loss", "reward", "excess" (observe(sums, tokens)) or
        #: "none" (static policies and explore-only: checked, then ignored)
        self.observes = _OBS[lib.bmx_mix_observes(self._h)]
        #: True when a round's value of an arm is the mean of its observations
        self.round_mean = bool(lib.bmx_mix_round_mean(self._h))
        self._err = _Err()
        self._errp = ctypes.byref(self._err)
        self._obs = lib.bmx_mix_observe
        self._drawf = lib.bmx_mix_draw
        self._drawr = lib.bmx_mix_draw_rng

    @classmethod
    def from_state(cls, state):
        """A new policy from the bytes of state_dict()."""
        self = cls.__new__(cls)
        self._lib = _load()
        self._h = ctypes.c_void_p()
        state = bytes(state)
        err = _Err()
        _check(self._lib.bmx_mix_restore(ctypes.byref(self._h), state, len(state),
                                         ctypes.byref(err)), err)
        self._init_fields()
        return self

    def __del__(self):
        h = getattr(self, "_h", None)
        if h:
            self._lib.bmx_mix_free(h)
            self._h = None

    def __repr__(self):
        return "bmx.Policy(%r, k=%d, round=%d)" % (self.spec, self.k, self.round)

    @property
    def spec(self):
        """The canonical spec with every parameter, e.g. 'odm:alpha=0.9,tscale=1'."""
        return self._lib.bmx_mix_spec(self._h).decode()

    @property
    def name(self):
        return self._lib.bmx_mix_name(self._h).decode()

    @property
    def round(self):
        """The current round t (1 before the first step)."""
        return self._lib.bmx_mix_round(self._h)

    @property
    def tscale(self):
        return self._lib.bmx_mix_tscale(self._h)

    def _arr(self, p):
        return p[:self.k] if p else None

    def probs(self):
        """pi_t as a list of k floats."""
        return self._lib.bmx_mix_probs(self._h)[:self.k]

    def estimates(self):
        """R (odm*, exp3, ucb1), scores (exploit-only), alpha (doremi), or None."""
        return self._arr(self._lib.bmx_mix_estimates(self._h))

    def counts(self):
        """ucb1's pull counts, or None."""
        return self._arr(self._lib.bmx_mix_counts(self._h))

    def average(self):
        """doremi's alpha_bar (the domain weights to train with), or None."""
        return self._arr(self._lib.bmx_mix_average(self._h))

    def draw(self, rng=None):
        """One arm ~ pi_t: from the policy's own generator (saved in state_dict), or from
        rng (a bmx.Rng), which leaves the policy's generator untouched."""
        if rng is None:
            return self._drawf(self._h)
        return self._drawr(self._h, ctypes.byref(rng._st))

    def observe(self, a, b):
        """Give the policy what it consumes (self.observes): observe(arm, loss) or
        observe(arm, reward); for doremi observe(excess_sums, token_counts), k values each.
        Static policies check observe(arm, value) and ignore it."""
        if self.observes == "excess":
            return self.observe_excess(a, b)
        if self._obs(self._h, a, b, self._errp) != 0:
            raise BmxError(self._err.msg.decode(errors="replace"), self._err.code)

    def observe_excess(self, excess_sums, tokens):
        k = self.k
        try:
            excess_sums, tokens = list(excess_sums), list(tokens)
        except TypeError:
            raise BmxError("policy %s observes excess losses: call observe(excess_sums, tokens) "
                           "with k = %d values each (per-domain sums of max(loss - ref_loss, 0) "
                           "and their token counts)" % (self.name, k), -1) from None
        if len(excess_sums) != k or len(tokens) != k:
            raise BmxError("observe_excess: %d sums and %d token counts for k = %d domains; "
                           "give one of each per domain" % (len(excess_sums), len(tokens), k), -1)
        a = (ctypes.c_double * k)(*map(float, excess_sums))
        t = (ctypes.c_double * k)(*map(float, tokens))
        err = _Err()
        _check(self._lib.bmx_mix_observe_excess(self._h, a, t, ctypes.byref(err)), err)

    def draw_probs(self):
        """The distribution draws use now (pi with min-prob and max-epochs applied)."""
        return self._lib.bmx_mix_draw_probs(self._h)[:self.k]

    def fit(self):
        """ado: the fitted (a, e, alpha) of every domain, 3k values; None before a fit."""
        p = self._lib.bmx_mix_fit(self._h)
        return p[:3 * self.k] if p else None

    def needs_validation(self):
        """aioli: True when per-domain validation losses are due before the next draw."""
        return bool(self._lib.bmx_mix_needs_validation(self._h))

    def observe_validation(self, losses):
        """aioli: the k per-domain validation losses that needs_validation() asked for."""
        losses = [float(x) for x in losses]
        if len(losses) != self.k:
            raise BmxError("observe_validation: %d losses for k = %d domains; give one per "
                           "domain" % (len(losses), self.k), -1)
        a = (ctypes.c_double * self.k)(*losses)
        err = _Err()
        _check(self._lib.bmx_mix_observe_validation(self._h, a, ctypes.byref(err)), err)

    def probing(self):
        """aioli: True while the current round is a probe step."""
        return bool(self._lib.bmx_mix_probing(self._h))

    def step(self):
        """End the round: apply its observations, compute pi_{t+1}."""
        if self._lib.bmx_mix_step(self._h, self._errp) != 0:
            raise BmxError(self._err.msg.decode(errors="replace"), self._err.code)

    def state_dict(self):
        """The whole state as bytes (versioned, little-endian, CRC-32 at the end): put it in
        torch.save with the model; load_state_dict continues bit for bit."""
        n = ctypes.c_size_t()
        err = _Err()
        _check(self._lib.bmx_mix_save(self._h, None, 0, ctypes.byref(n), ctypes.byref(err)), err)
        buf = ctypes.create_string_buffer(n.value)
        _check(self._lib.bmx_mix_save(self._h, buf, n.value, ctypes.byref(n), ctypes.byref(err)),
               err)
        return buf.raw[:n.value]

    def load_state_dict(self, state):
        """Restore state_dict() bytes (same policy name and k); bad bytes raise BmxError
        (code ECORRUPT) and leave the policy as it was."""
        if not isinstance(state, (bytes, bytearray, memoryview)):
            raise TypeError("load_state_dict needs the bytes of Policy.state_dict(), got %s"
                            % type(state).__name__)
        state = bytes(state)
        err = _Err()
        _check(self._lib.bmx_mix_load(self._h, state, len(state), ctypes.byref(err)), err)
        self._init_fields()


# ---- rewards over flat float32 buffers, without copies ----

def _address(buf, what):
    """(address, number of float32 values) of a flat float32 buffer, without a copy:
    a torch CPU tensor, a numpy array, or anything with a writable buffer of format 'f'."""
    if hasattr(buf, "data_ptr") and hasattr(buf, "is_contiguous"):  # torch.Tensor
        if getattr(buf, "device", None) is not None and buf.device.type != "cpu":
            raise TypeError("%s: a %s tensor; give a CPU tensor (t.cpu())" % (what, buf.device))
        if str(buf.dtype) != "torch.float32" or not buf.is_contiguous():
            raise TypeError("%s: need a contiguous float32 tensor, got %s%s"
                            % (what, buf.dtype, "" if buf.is_contiguous() else " (not contiguous)"))
        return buf.data_ptr(), buf.numel()
    ai = getattr(buf, "__array_interface__", None)
    if ai is not None:  # numpy (read-only arrays too)
        if ai["typestr"] != "<f4" or (ai.get("strides") not in (None, (4,)) and
                                      buf.ndim != 0 and not buf.flags["C_CONTIGUOUS"]):
            raise TypeError("%s: need a contiguous float32 array, got %s" % (what, ai["typestr"]))
        n = 1
        for s in ai["shape"]:
            n *= s
        return ai["data"][0], n
    mv = memoryview(buf)
    if mv.format != "f" or not mv.c_contiguous:
        raise TypeError("%s: need a contiguous buffer of float32 (format 'f'), got format %r"
                        % (what, mv.format))
    if mv.readonly:
        raise TypeError("%s: a read-only buffer; give a numpy array or a writable buffer" % what)
    return ctypes.addressof(ctypes.c_char.from_buffer(mv)), mv.nbytes // 4


class GradStats:
    """<a,b>, <a,a>, <b,b> of two gradient vectors, accumulated in double over as many
    pairs of flat float32 buffers as the parameter subset has (numpy arrays, torch CPU
    tensors; read in place). .ga, .gms, .agg are the rewards of ALGORITHMS.md 2
    (0 when either vector has zero norm)."""

    def __init__(self):
        self._lib = _load()
        self._s = _Stats()

    def add(self, a, b):
        pa, na = _address(a, "GradStats.add: a")
        pb, nb = _address(b, "GradStats.add: b")
        if na != nb:
            raise ValueError("GradStats.add: a has %d values, b has %d; give the same ranges of "
                             "both gradients" % (na, nb))
        self._lib.bmx_grad_stats_add(ctypes.byref(self._s), pa, pb, na)
        return self

    ab = property(lambda self: self._s.ab)
    aa = property(lambda self: self._s.aa)
    bb = property(lambda self: self._s.bb)
    ga = property(lambda self: self._lib.bmx_reward_ga(ctypes.byref(self._s)))
    gms = property(lambda self: self._lib.bmx_reward_gms(ctypes.byref(self._s)))
    agg = property(lambda self: self._lib.bmx_reward_agg(ctypes.byref(self._s)))


def reward(kind, a=None, b=None, loss=None):
    """A reward of ALGORITHMS.md 2: "loss" (loss), "exp-loss" (exp(loss)), or "ga", "gms",
    "agg" of the gradients a and b (flat float32 buffers, or lists of pairs' firsts and
    seconds: a and b may be lists of buffers of the same lengths)."""
    import math
    if kind == "loss":
        return float(loss)
    if kind == "exp-loss":
        return math.exp(loss)
    if kind not in _REWARDS:
        raise BmxError("reward '%s' is unknown: give one of %s" % (kind, ", ".join(_REWARDS)), -1)
    s = GradStats()
    if isinstance(a, (list, tuple)):
        for x, y in zip(a, b):
            s.add(x, y)
    else:
        s.add(a, b)
    return getattr(s, kind)
