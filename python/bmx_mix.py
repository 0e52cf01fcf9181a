"""bmx_mix - use bmx's mixing policies from a Python training loop (ctypes, stdlib only).

    from bmx_mix import Policy
    pol = Policy("odm:alpha=0.9", k=len(domains), seed=1, lib="build/libbmx.so")
    for step in range(steps):
        for g in range(G):
            i = pol.draw()
            loss = train_on(domains[i])
            pol.observe(i, loss)
        pol.step()
        print(pol.probs())

Errors from the library raise BmxError with the library's message.

ado and temperature take the domains' training tokens as weights; max-epochs needs them as
tokens= (and draw_tokens=, the tokens one draw takes); ado's n counts draw_seqs sequences a
draw. aioli asks for per-domain validation losses before some draws:

    if pol.needs_validation():
        pol.observe_validation([val_loss(d) for d in domains])
"""
import ctypes
import os


class BmxError(Exception):
    pass


class _Err(ctypes.Structure):
    _fields_ = [("code", ctypes.c_int), ("msg", ctypes.c_char * 512)]


class _Data(ctypes.Structure):
    _fields_ = [("tokens", ctypes.POINTER(ctypes.c_double)), ("draw_tokens", ctypes.c_double),
                ("draw_seqs", ctypes.c_double)]


def _load(path):
    lib = ctypes.CDLL(path)
    P = ctypes.c_void_p
    D = ctypes.POINTER(ctypes.c_double)
    E = ctypes.POINTER(_Err)
    sig = {
        "bmx_mix_create_data": (ctypes.c_int, [ctypes.POINTER(P), ctypes.c_char_p, ctypes.c_int,
                                               D, ctypes.POINTER(_Data), ctypes.c_uint64, E]),
        "bmx_mix_needs_validation": (ctypes.c_int, [P]),
        "bmx_mix_observe_validation": (ctypes.c_int, [P, D, E]),
        "bmx_mix_probing": (ctypes.c_int, [P]),
        "bmx_mix_draw_probs": (D, [P]),
        "bmx_mix_fit": (D, [P]),
        "bmx_mix_free": (None, [P]),
        "bmx_mix_spec": (ctypes.c_char_p, [P]),
        "bmx_mix_arms": (ctypes.c_int, [P]),
        "bmx_mix_round": (ctypes.c_long, [P]),
        "bmx_mix_probs": (D, [P]),
        "bmx_mix_draw": (ctypes.c_int, [P]),
        "bmx_mix_observe": (ctypes.c_int, [P, ctypes.c_int, ctypes.c_double, E]),
        "bmx_mix_observe_excess": (ctypes.c_int, [P, D, D, E]),
        "bmx_mix_step": (ctypes.c_int, [P, E]),
        "bmx_mix_estimates": (D, [P]),
        "bmx_mix_average": (D, [P]),
        "bmx_mix_save": (ctypes.c_int, [P, ctypes.c_void_p, ctypes.c_size_t,
                                        ctypes.POINTER(ctypes.c_size_t), E]),
        "bmx_mix_load": (ctypes.c_int, [P, ctypes.c_char_p, ctypes.c_size_t, E]),
    }
    for name, (res, args) in sig.items():
        fn = getattr(lib, name)
        fn.restype = res
        fn.argtypes = args
    return lib


class Policy:
    """One bmx mixing policy (see include/bmx/mix.h for the names and parameters)."""

    def __init__(self, spec, k, weights=None, seed=0, lib=None, tokens=None, draw_tokens=1.0,
                 draw_seqs=1.0):
        path = lib or os.environ.get("BMX_LIB") or os.path.join(
            os.path.dirname(os.path.abspath(__file__)), "..", "build", "libbmx.so")
        self._lib = _load(path)
        self._h = ctypes.c_void_p()
        w = (ctypes.c_double * k)(*weights) if weights is not None else None
        self._tok = (ctypes.c_double * k)(*tokens) if tokens is not None else None
        data = _Data(self._tok, draw_tokens, draw_seqs)
        self._call(self._lib.bmx_mix_create_data, ctypes.byref(self._h), spec.encode(), k, w,
                   ctypes.byref(data), seed)
        self.k = k

    def _call(self, fn, *args):
        err = _Err()
        if fn(*args, ctypes.byref(err)) != 0:
            raise BmxError(err.msg.decode(errors="replace"))

    def __del__(self):
        if getattr(self, "_h", None):
            self._lib.bmx_mix_free(self._h)
            self._h = None

    @property
    def spec(self):
        return self._lib.bmx_mix_spec(self._h).decode()

    @property
    def round(self):
        return self._lib.bmx_mix_round(self._h)

    def probs(self):
        p = self._lib.bmx_mix_probs(self._h)
        return [p[i] for i in range(self.k)]

    def estimates(self):
        p = self._lib.bmx_mix_estimates(self._h)
        return [p[i] for i in range(self.k)] if p else None

    def average(self):
        p = self._lib.bmx_mix_average(self._h)
        return [p[i] for i in range(self.k)] if p else None

    def draw(self):
        return self._lib.bmx_mix_draw(self._h)

    def observe(self, arm, value):
        self._call(self._lib.bmx_mix_observe, self._h, arm, float(value))

    def observe_excess(self, excess_sum, tokens):
        a = (ctypes.c_double * self.k)(*excess_sum)
        b = (ctypes.c_double * self.k)(*tokens)
        self._call(self._lib.bmx_mix_observe_excess, self._h, a, b)

    def step(self):
        self._call(self._lib.bmx_mix_step, self._h)

    def draw_probs(self):
        """The distribution draws use (min-prob and max-epochs applied)."""
        p = self._lib.bmx_mix_draw_probs(self._h)
        return [p[i] for i in range(self.k)]

    def fit(self):
        """ado: the fitted (a, e, alpha) of every domain, 3k values; None before a fit."""
        p = self._lib.bmx_mix_fit(self._h)
        return [p[i] for i in range(3 * self.k)] if p else None

    def needs_validation(self):
        return bool(self._lib.bmx_mix_needs_validation(self._h))

    def observe_validation(self, losses):
        a = (ctypes.c_double * self.k)(*losses)
        self._call(self._lib.bmx_mix_observe_validation, self._h, a)

    def probing(self):
        return bool(self._lib.bmx_mix_probing(self._h))

    def save(self):
        n = ctypes.c_size_t()
        self._call(self._lib.bmx_mix_save, self._h, None, 0, ctypes.byref(n))
        buf = ctypes.create_string_buffer(n.value)
        self._call(self._lib.bmx_mix_save, self._h, buf, n.value, ctypes.byref(n))
        return buf.raw[:n.value]

    def load(self, state):
        self._call(self._lib.bmx_mix_load, self._h, state, len(state))
