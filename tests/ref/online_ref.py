"""online_ref.py - stdlib-only Python references of ALGORITHMS.md sections 5-7: temperature,
the min-prob / max-epochs constraints, ADO (with its own plain L-BFGS) and Aioli.

Written from /work/shared/ALGORITHMS.md and the "exact conventions" block of
include/bmx/mix.h (which also fixes the L-BFGS variant ADO's fit uses, documented at the
top of src/mix/lbfgs.c), not from the C code of src/mix/. mix_ref.make_policy builds these
like every other policy; see tests/ref/README.md.
"""

import math

from bmx_rng import cumulative


def _sum(xs):
    total = 0.0
    for x in xs:
        total += x
    return total


# ---------------------------------------------------------------------------------------
# section 5


class Constrained:
    """min-prob=D and max-epochs=E around any policy: draws use pi' (max(pi, D) for arms not
    capped, 0 for capped ones, divided by their sum); each draw adds draw_tokens to the arm's
    drawn tokens; an arm is capped once drawn >= E * tokens. Every draw is random from pi'
    with the policy's own generator; draw() returns -1 once every arm is capped."""

    def __init__(self, inner, d, e, tokens, draw_tokens):
        self.inner = inner
        self.d, self.e = d, e
        self.tokens = tokens
        self.draw_tokens = draw_tokens
        self.drawn = [0.0] * inner.k

    def __getattr__(self, name):
        return getattr(self.inner, name)

    def capped(self, i):
        return self.e > 0.0 and self.tokens is not None and self.drawn[i] >= self.e * self.tokens[i]

    def draw_probs(self):
        v = []
        for i, p in enumerate(self.inner.probs):
            v.append(0.0 if self.capped(i) else max(p, self.d))
        total = _sum(v)
        if not total > 0.0:
            return None
        return [x / total for x in v]

    def draw(self):
        dp = self.draw_probs()
        if dp is None:
            return -1
        arm = self.inner.rng.categorical_cdf(cumulative(dp))
        self.drawn[arm] += self.draw_tokens
        if hasattr(self.inner, "drawn_hook"):
            self.inner.drawn_hook(arm)
        return arm

    def observe(self, arm, value):
        self.inner.observe(arm, value)

    def step(self):
        self.inner.step()


# ---------------------------------------------------------------------------------------
# ADO (section 6)

DELTA = 1e-3


def gauss_solve(a, b, tiny=None):
    """Solve a x = b (lists) by Gaussian elimination with partial pivoting (first of equal
    pivots); with tiny, None when a pivot is <= tiny (aioli)."""
    n = len(b)
    m = [list(a[i]) + [b[i]] for i in range(n)]
    for c in range(n):
        p = c
        for r in range(c + 1, n):
            if abs(m[r][c]) > abs(m[p][c]):
                p = r
        if tiny is not None and not abs(m[p][c]) > tiny:
            return None
        m[c], m[p] = m[p], m[c]
        for r in range(c + 1, n):
            f = m[r][c] / m[c][c]
            for j in range(c, n + 1):
                m[r][j] -= f * m[c][j]
    x = [0.0] * n
    for i in range(n - 1, -1, -1):
        s = m[i][n]
        for j in range(i + 1, n):
            s -= m[i][j] * x[j]
        x[i] = s / m[i][i]
    return x


def savgol_weights(h, j0):
    """Weights over offsets -h..h of the least-squares cubic evaluated at offset j0."""
    g = [[0.0] * 4 for _ in range(4)]
    for j in range(-h, h + 1):
        p = [1.0, float(j), float(j) * j, float(j) * j * j]
        for a in range(4):
            for b in range(4):
                g[a][b] += p[a] * p[b]
    z = gauss_solve(g, [1.0, j0, j0 * j0, j0 * j0 * j0])
    return [z[0] + z[1] * j + z[2] * (float(j) * j) + z[3] * (float(j) * j * j)
            for j in range(-h, h + 1)]


def savgol(values):
    """Savitzky-Golay, order 3, window 101 (or the largest odd window <= n, n >= 5), SciPy's
    mode 'interp' at the ends."""
    n = len(values)
    win = 101 if n >= 101 else (n if n % 2 else n - 1)
    h = win // 2
    out = [0.0] * n
    w = savgol_weights(h, 0.0)
    for i in range(h, n - h):
        s = 0.0
        for j in range(-h, h + 1):
            s += w[j + h] * values[i + j]
        out[i] = s
    for e in range(h):
        c0, c1 = h, n - 1 - h
        w0 = savgol_weights(h, float(e - h))
        s = 0.0
        for j in range(-h, h + 1):
            s += w0[j + h] * values[c0 + j]
        out[e] = s
        w1 = savgol_weights(h, float(e + 1))
        s = 0.0
        for j in range(-h, h + 1):
            s += w1[j + h] * values[c1 + j]
        out[c1 + 1 + e] = s
    return out


def ado_objective(x, lx, ly):
    """sum_i huber(log y_i - logsumexp(a - alpha log x_i, e)) + the penalties; and its
    gradient (subgradient 0 at the kinks of the penalties)."""
    a, e, al = x
    f = ga = ge = gal = 0.0
    for i in range(len(lx)):
        u = a - al * lx[i]
        # logsumexp(u, e) = max(u, e) + log1p(exp(-|u - e|)); the softmax weights from the
        # same z
        z = math.exp(e - u if u > e else u - e)
        lse = (u if u > e else e) + math.log1p(z)
        big, small = 1.0 / (1.0 + z), z / (1.0 + z)
        wu, we = (big, small) if u > e else (small, big)
        r = ly[i] - lse
        if abs(r) <= DELTA:
            f += r * r / 2.0
            dr = r
        else:
            f += DELTA * (abs(r) - 5e-4)
            dr = DELTA if r > 0.0 else -DELTA
        ga -= dr * wu
        ge -= dr * we
        gal += dr * wu * lx[i]
    f += al - 0.8 if al - 0.8 > 0.0 else 0.0
    f -= al if al < 0.001 else 0.001
    f += a - 6.5 if a - 6.5 > 0.0 else 0.0
    f -= e - 0.5 if e - 0.5 < 0.0 else 0.0
    if al > 0.8:
        gal += 1.0
    if al < 0.001:
        gal -= 1.0
    if a > 6.5:
        ga += 1.0
    if e < 0.5:
        ge -= 1.0
    return f, [ga, ge, gal]


def _dot(a, b):
    s = 0.0
    for i in range(len(a)):
        s += a[i] * b[i]
    return s


def lbfgs(fun, x, max_iter=200, tol=1e-5, mem=10):
    """Plain L-BFGS (two-loop recursion, strong-Wolfe line search by doubling and
    bisection: c1 = 1e-4, c2 = 0.9, 20 trials, 30 halvings). Returns (x, f)."""
    c1, c2 = 1e-4, 0.9
    n = len(x)
    fx, g = fun(x)
    pairs = []  # (s, y, rho), oldest first

    def at(a, d):
        xa = [x[i] + a * d[i] for i in range(n)]
        fa, gr = fun(xa)
        return (a, fa, xa, gr)

    def search(d, dg0, a0):
        lo = (0.0, fx, None, None)
        hi_a = a0
        bracket = None
        for i in range(20):
            cur = at(hi_a, d)
            dga = _dot(cur[3], d)
            if not (cur[1] <= fx + c1 * cur[0] * dg0) or (i > 0 and cur[1] >= lo[1]):
                bracket = (lo, cur[0])
                break
            if abs(dga) <= -c2 * dg0:
                return cur
            if dga >= 0.0:
                bracket = (cur, lo[0])
                break
            lo = cur
            hi_a = 2.0 * cur[0]
        if bracket is None:
            return None
        lo, hi_a = bracket
        flo = lo[1]
        for _ in range(30):
            cur = at(0.5 * (lo[0] + hi_a), d)
            dga = _dot(cur[3], d)
            if not (cur[1] <= fx + c1 * cur[0] * dg0) or cur[1] >= flo:
                hi_a = cur[0]
            else:
                if abs(dga) <= -c2 * dg0:
                    return cur
                if dga * (hi_a - lo[0]) >= 0.0:
                    hi_a = lo[0]
                lo = cur
                flo = cur[1]
        return lo if lo[0] > 0.0 else None

    for _ in range(max_iter):
        if not math.isfinite(fx):
            break
        gn = math.sqrt(_dot(g, g))
        if gn <= tol:
            break
        q = list(g)
        alphas = []
        for s, y, rho in reversed(pairs):
            a = rho * _dot(s, q)
            alphas.append(a)
            q = [q[i] - a * y[i] for i in range(n)]
        if pairs:
            s, y, _ = pairs[-1]
            gam = _dot(s, y) / _dot(y, y)
            q = [v * gam for v in q]
        for (s, y, rho), a in zip(pairs, reversed(alphas)):
            b = rho * _dot(y, q)
            q = [q[i] + s[i] * (a - b) for i in range(n)]
        d = [-v for v in q]
        dg = _dot(g, d)
        if not dg < 0.0:
            d = [-v for v in g]
            dg = -gn * gn
            pairs = []
        a0 = 1.0 if pairs else min(1.0, 1.0 / gn)
        p = search(d, dg, a0)
        if p is None:
            break
        s = [p[2][i] - x[i] for i in range(n)]
        y = [p[3][i] - g[i] for i in range(n)]
        sy = _dot(s, y)
        if sy > 1e-10:
            pairs.append((s, y, 1.0 / sy))
            if len(pairs) > mem:
                pairs.pop(0)
        x, fx, g = p[2], p[1], p[3]
    return x, fx


def ado_fit_domain(lx, ly):
    """The lowest objective over the 512 starts (a outer, e, alpha inner; ties: first)."""
    best = None
    for ia in range(8):
        for ie in range(8):
            for il in range(8):
                x0 = [-2.0 + ia, -2.0 + 0.5 * ie, il / 10.0]
                x, f = lbfgs(lambda v: ado_objective(v, lx, ly), x0)
                if math.isfinite(f) and (best is None or f < best[0]):
                    best = (f, x)
    return best


class Ado:
    """Section 6 (the released code's form). One observation per draw; B = draw_seqs times
    the round's observations."""

    name = "ado"
    takes = {"warmup": 500.0, "interval": 1000.0}

    def __init__(self, k, weights, seed, params, rng, draw_seqs=1.0):
        self.k = k
        self.p = dict(self.takes)
        self.p.update(params)
        self.rng = rng
        self.t = 1
        self.seqs = draw_seqs
        total = _sum(weights)
        self.mu = [w / total for w in weights]
        self.h = list(self.mu)
        self.pibar = list(self.mu)
        self.probs = list(self.mu)
        self.theta = None
        self.rows = []  # (B, [L_1..L_k]) per step
        self.sums = [0.0] * k
        self.cnt = [0.0] * k

    def draw(self):
        return self.rng.categorical_cdf(cumulative(self.probs))

    def observe(self, arm, value):
        self.sums[arm] += value
        self.cnt[arm] += 1.0

    def fit(self):
        w = int(self.p["warmup"])
        n = len(self.rows)
        if n < 5:
            return
        lx = []
        x = 0.0
        for t in range(n):
            x += self.rows[t][0]
            if t >= w and (t - w) % 10 == 0:
                lx.append(math.log(x))
        theta = []
        for k in range(self.k):
            y = savgol([r[1][k] for r in self.rows])
            ly = [math.log(y[t]) for t in range(w, n, 10)]
            best = ado_fit_domain(lx, ly)
            if best is None or not all(math.isfinite(v) for v in best[1]):
                return
            theta.append(list(best[1]))
        self.theta = theta

    def step(self):
        k = self.k
        t = self.t - 1
        nobs = _sum(self.cnt)
        total = _sum(self.sums)
        if nobs == 0.0:
            raise ValueError("ado: a step without observations")
        big_b = nobs * self.seqs
        row = []
        for i in range(k):
            if self.cnt[i] > 0.0:
                row.append(self.sums[i] / self.cnt[i])
            else:
                row.append(self.rows[-1][1][i] if self.rows else total / nobs)
        self.rows.append((big_b, row))
        self.h = [0.9 * self.h[i] + 0.1 * (self.cnt[i] * self.seqs) / big_b for i in range(k)]
        self.sums = [0.0] * k
        self.cnt = [0.0] * k
        w, u = int(self.p["warmup"]), int(self.p["interval"])
        if t >= w and t % u == 0 and t >= w + u:
            self.fit()
        if self.theta is not None:
            nn = float(t + 1) * big_b
            rho = []
            for i in range(k):
                a, e, al = self.theta[i]
                lhat = math.exp(e) + math.exp(a) * nn ** (-al)
                g = max(al, 0.05) * (lhat - math.exp(e)) / nn
                rho.append(g * self.mu[i] * self.h[i] ** 0.5)
            s = _sum(rho)
            if s > 0.0 and math.isfinite(s):
                rho = [max(r / s, 0.01) for r in rho]
                s2 = _sum(rho)
                rho = [r / s2 for r in rho]
                self.probs = [0.9 * self.pibar[i] + 0.1 * rho[i] for i in range(k)]
                self.pibar = [(1.0 - 1.0 / (t + 1)) * self.pibar[i] + rho[i] / (t + 1)
                              for i in range(k)]
        self.t += 1

    def estimates(self):
        return list(self.h)

    def average(self):
        return list(self.pibar)

    def counts(self):
        return None

    def fitted(self):
        return None if self.theta is None else [v for th in self.theta for v in th]


# ---------------------------------------------------------------------------------------
# Aioli (section 7)


class Aioli:
    """Section 7 (the released code's EMA form). pi is the current step's distribution;
    validation losses are due at each round's start and after each probe's S steps."""

    name = "aioli"
    takes = {"eta": 0.2, "warmup": 0.0, "interval": 250.0, "rounds": 4.0, "probe": 4.0,
             "f": 0.625, "gamma": 0.1}

    def __init__(self, k, weights, seed, params, rng):
        self.k = k
        self.p = dict(self.takes)
        self.p.update(params)
        self.rng = rng
        self.t = 1
        if weights is None:
            self.prior = [1.0 / k] * k
        else:
            total = _sum(weights)
            self.prior = [w / total for w in weights]
        self.pvec = list(self.prior)
        self.probs = list(self.prior)
        self.P = int(self.p["warmup"])
        self.U = int(self.p["interval"])
        self.R = int(self.p["rounds"])
        self.S = int(self.p["probe"])
        self.need = self.P == 0
        self.abar = None
        self.order = []
        self.cnt = [0.0] * k

    def _pos(self):
        s = self.t - 1
        return -1 if s < self.P else (s - self.P) % self.U

    def probing(self):
        r = self._pos()
        return 0 <= r < self.R * self.k * self.S

    def draw(self):
        arm = self.rng.categorical_cdf(cumulative(self.probs))
        self.drawn_hook(arm)
        return arm

    def drawn_hook(self, arm):
        self.cnt[arm] += 1.0

    def observe(self, arm, value):
        pass

    def _q(self, j):
        f = self.p["f"]
        q = [(1.0 - f) / (self.k - 1)] * self.k
        q[j] = f
        return q

    def validation(self, loss):
        k = self.k
        r = self._pos()
        if r == 0:
            self.prev = list(loss)
            self.M = [[0.0] * k for _ in range(k)]
            self.W = [[0.0] * k for _ in range(k)]
            self.order = []
            for _ in range(self.R):
                perm = list(range(k))
                for i in range(k - 1, 0, -1):
                    j = self.rng.below(i + 1)
                    perm[i], perm[j] = perm[j], perm[i]
                self.order += perm
            self.probs = self._q(self.order[0])
        else:
            idx = r // self.S - 1
            j = self.order[idx]
            nd = _sum(self.cnt)
            for i in range(k):
                self.M[i][j] += self.prev[i] - loss[i]
                self.prev[i] = loss[i]
                self.W[j][i] += self.cnt[i] / nd
            if idx + 1 < len(self.order):
                self.probs = self._q(self.order[idx + 1])
            else:
                self._finish()
        self.cnt = [0.0] * k
        self.need = False

    def _finish(self):
        k, R = self.k, float(self.R)
        M = [[v / R for v in row] for row in self.M]
        ok = True
        if self.p["f"] < 1.0:
            W = [[v / R for v in row] for row in self.W]
            big = max(abs(v) for row in W for v in row)
            A = []
            for i in range(k):
                x = gauss_solve(W, M[i], 1e-12 * big)
                if x is None:
                    ok = False
                    break
                A.append(x)
        else:
            A = M
        if ok:
            mn = min(v for row in A for v in row)
            if mn < 0.0:
                A = [[v - mn for v in row] for row in A]
            s = _sum(v for row in A for v in row)
            if s != 0.0 and math.isfinite(s):
                A = [[v / s for v in row] for row in A]
            else:
                ok = False
        if ok:
            g = self.p["gamma"]
            if self.abar is None:
                self.abar = A
            else:
                self.abar = [[(1.0 - g) * A[i][j] + g * self.abar[i][j] for j in range(k)]
                             for i in range(k)]
            col = [self.p["eta"] * _sum(self.abar[i][j] for i in range(k)) for j in range(k)]
            mx = max(col)
            e = [math.exp(c - mx) for c in col]
            tot = _sum(e)
            self.pvec = [v / tot for v in e]
        else:
            self.pvec = [1.0 / k] * k
        self.probs = list(self.pvec)

    def step(self):
        if self.need:
            raise ValueError("aioli: validation losses are due")
        self.t += 1
        r = self._pos()
        rks = self.R * self.k * self.S
        if r == 0 or (0 < r <= rks and r % self.S == 0):
            self.need = True

    def estimates(self):
        return list(self.pvec)

    def average(self):
        return None

    def counts(self):
        return None


def temperature_probs(tokens, tau):
    """pi ~ n^(1/tau), as exp((ln n - ln max n) / tau); 0 for n = 0."""
    mx = max(tokens)
    w = [math.exp((math.log(n) - math.log(mx)) / tau) if n > 0.0 else 0.0 for n in tokens]
    total = _sum(w)
    return [x / total for x in w]
