"""mix_ref.py - a plain, stdlib-only Python reference of every bmx mixing policy and reward.

Written from /work/shared/ALGORITHMS.md (the spec) and the "exact conventions" block of
include/bmx/mix.h, independently of the C code in src/mix/. It is the audit reference:
it replays scripted rounds (tests/ref/gen_mix_fixtures.py) and can replay the rounds of a
`bmx simulate` log the same way.

A policy's life, as in bmx/mix.h (rounds t = 1, 2, ...):

    m = make_policy("odm:alpha=0.9", k, weights=None, seed=42)
    p = m.probs                       # pi_t
    i = m.draw()                      # one arm ~ pi_t (one uniform double, or none)
    m.observe(i, loss_or_reward)      # any number of times per round
    m.observe_excess(sums, tokens)    # doremi only
    m.step()                          # end of round t: update, compute pi_{t+1}
    m.estimates(), m.counts(), m.average()   # per-arm state, or None

Floating-point arithmetic follows the formulas in the order they are written; softmaxes
subtract the maximum first; draws use the cumulative sum of pi in arm order (bmx_rng.py).
"""

import math

from bmx_rng import Rng, cumulative
from online_ref import Ado, Aioli, Constrained, temperature_probs

# ---------------------------------------------------------------------------------------
# helpers


def normalised(w):
    """w / sum(w), the sum taken left to right."""
    total = 0.0
    for x in w:
        total += x
    return [x / total for x in w]


def stable_softmax(x):
    """exp(x_i - max x) / sum_j exp(x_j - max x); entries of -inf give 0."""
    m = max(x)
    e = [math.exp(v - m) for v in x]
    total = 0.0
    for v in e:
        total += v
    return [v / total for v in e]


def odm_eps(k, t, tscale=1.0):
    """eps_t = min(1/K, sqrt(ln K / (K S t))) with the time scale S (section 2a; S = 1 is the
    papers' form); eps_0 = 1/K."""
    if t == 0:
        return 1.0 / k
    return min(1.0 / k, math.sqrt(math.log(k) / (k * (tscale * t))))


def exp3_probs(k, t, eps_prev, r, tscale=1.0):
    """pi_i = (1 - K eps_t) * softmax(eps_{t-1} R)_i + eps_t (sections 1a and 2a), eps_t at
    S t and eps_{t-1} (given) at S (t - 1)."""
    eps_t = odm_eps(k, t, tscale)
    soft = stable_softmax([eps_prev * ri for ri in r])
    return [(1.0 - k * eps_t) * s + eps_t for s in soft]


def parse_spec(spec):
    """"name" or "name:key=value,key=value" -> (name, {key: float})."""
    name, _, rest = spec.partition(":")
    params = {}
    if rest:
        for item in rest.split(","):
            key, _, value = item.partition("=")
            params[key] = float(value)
    return name, params


# ---------------------------------------------------------------------------------------
# policies


class Policy:
    """What every policy shares: k arms, round t, pi, a generator bmx_rng_seed(seed, 0)."""

    takes = {}  # parameter name -> default

    def __init__(self, k, weights, seed, params):
        if k < 1:
            raise ValueError("k must be >= 1")
        for key in params:
            if key not in self.takes:
                raise ValueError("%s takes no parameter %r" % (self.name, key))
        self.p = dict(self.takes)
        self.p.update(params)
        self.k = k
        self.weights = list(weights) if weights is not None else None
        self.rng = Rng(seed, 0)
        self.t = 1
        self.probs = [1.0 / k] * k

    def draw(self):
        return self.rng.categorical_cdf(cumulative(self.probs))

    def observe(self, arm, value):
        self._check_arm(arm)
        if not math.isfinite(value):
            raise ValueError("value not finite")

    def observe_excess(self, sums, tokens):
        raise ValueError("%s takes no excess losses" % self.name)

    def step(self):
        self.t += 1

    def estimates(self):
        return None

    def counts(self):
        return None

    def average(self):
        return None

    def _check_arm(self, arm):
        if not 0 <= arm < self.k:
            raise ValueError("arm out of range")


class Uniform(Policy):
    name = "uniform"


class ExploreOnly(Policy):
    """2c: uniform over the auxiliary datasets, no updates."""

    name = "explore-only"


class Weights(Policy):
    """4: pi proportional to the given weights (zeros allowed)."""

    name = "weights"

    def __init__(self, k, weights, seed, params):
        super().__init__(k, weights, seed, params)
        self.probs = normalised(self.weights)


class Natural(Weights):
    """4: pi proportional to each domain's training tokens (given as weights)."""

    name = "natural"


class Odm(Policy):
    """1a, the paper's Algorithm 1.

    L_i sums every observation of arm i in the round; R_i is updated iff L_i != 0, with
    pi_i of the round: R_i = alpha R_i + (1 - alpha) L_i / pi_i.
    """

    name = "odm"
    takes = {"alpha": 0.9, "tscale": 1.0}

    def __init__(self, k, weights, seed, params):
        super().__init__(k, weights, seed, params)
        self.r = [0.0] * k
        self.loss = [0.0] * k
        self.probs = self._probs()

    def _probs(self):
        s = self.p["tscale"]
        return exp3_probs(self.k, self.t, odm_eps(self.k, self.t - 1, s), self.r, s)

    def observe(self, arm, value):
        super().observe(arm, value)
        self.loss[arm] += value

    def step(self):
        alpha = self.p["alpha"]
        for i in range(self.k):
            if self.loss[i] != 0.0:
                self.r[i] = alpha * self.r[i] + (1.0 - alpha) * self.loss[i] / self.probs[i]
        self.loss = [0.0] * self.k
        self.t += 1
        self.probs = self._probs()

    def estimates(self):
        return list(self.r)


class OdmSmoothedMean(Policy):
    """1b, the released code's form.

    Rounds t <= warmup drop their observations and keep the initial weights. After round
    t > warmup: L_i = mean of arm i's observations (seen arms only), eps from this t,
    R_i = alpha R_i + (1 - alpha) exp(L_i), pi_i = (1 - K eps) R_i / sum_j R_j + eps;
    while sum_j R_j = 0, pi stays at the initial weights.
    """

    name = "odm-smoothed-mean"
    takes = {"alpha": 0.5, "warmup": 0.0}

    def __init__(self, k, weights, seed, params):
        super().__init__(k, weights, seed, params)
        self.initial = normalised(self.weights) if self.weights is not None else [1.0 / k] * k
        self.probs = list(self.initial)
        self.r = [0.0] * k
        self.loss_sum = [0.0] * k
        self.loss_n = [0] * k

    def observe(self, arm, value):
        super().observe(arm, value)
        self.loss_sum[arm] += value
        self.loss_n[arm] += 1

    def step(self):
        t = self.t
        if t > self.p["warmup"]:
            alpha = self.p["alpha"]
            k = self.k
            eps = odm_eps(k, t)
            for i in range(k):
                if self.loss_n[i] > 0:
                    mean = self.loss_sum[i] / self.loss_n[i]
                    self.r[i] = alpha * self.r[i] + (1.0 - alpha) * math.exp(mean)
            total = 0.0
            for ri in self.r:
                total += ri
            if total == 0.0:
                self.probs = list(self.initial)
            else:
                self.probs = [(1.0 - k * eps) * ri / total + eps for ri in self.r]
        self.loss_sum = [0.0] * self.k
        self.loss_n = [0] * self.k
        self.t += 1

    def estimates(self):
        return list(self.r)


class Exp3(Policy):
    """2a, EXP3-FLAD. An observation r of arm a first smooths s_a = (1 - beta) s_a + beta r,
    then R_a += s_a / pi_a with pi_a of the current round."""

    name = "exp3"
    takes = {"beta": 1.0, "tscale": 1.0}

    def __init__(self, k, weights, seed, params):
        super().__init__(k, weights, seed, params)
        self.r = [0.0] * k
        self.s = [0.0] * k
        self.probs = self._probs()

    _probs = Odm._probs

    def observe(self, arm, value):
        super().observe(arm, value)
        beta = self.p["beta"]
        self.s[arm] = (1.0 - beta) * self.s[arm] + beta * value
        self.r[arm] += self.s[arm] / self.probs[arm]

    def step(self):
        self.t += 1
        self.probs = self._probs()

    def estimates(self):
        return list(self.r)


class Ucb1(Policy):
    """2b, UCB1-FLAD, deterministic. While some arm has n_a = 0, pi is one-hot on the lowest
    such arm and its first observation sets R_a = r, n_a = 1. Afterwards pi is one-hot on
    argmax_a R_a + sqrt(2 ln n / n_a) (n = observations so far, ties to the lowest index) and
    an observation does R_a = (1 - beta) R_a + beta r, n_a += 1. pi changes at step()."""

    name = "ucb1"
    takes = {"beta": 0.1}

    def __init__(self, k, weights, seed, params):
        super().__init__(k, weights, seed, params)
        self.r = [0.0] * k
        self.n = [0.0] * k
        self.probs = self._choose()

    def _choose(self):
        k = self.k
        chosen = None
        for a in range(k):
            if self.n[a] == 0.0:
                chosen = a
                break
        if chosen is None:
            total = 0.0
            for na in self.n:
                total += na
            best = None
            for a in range(k):
                ucb = self.r[a] + math.sqrt(2.0 * math.log(total) / self.n[a])
                if best is None or ucb > best:
                    best, chosen = ucb, a
        probs = [0.0] * k
        probs[chosen] = 1.0
        return probs

    def draw(self):
        return self.probs.index(1.0)  # deterministic: no randomness consumed

    def observe(self, arm, value):
        super().observe(arm, value)
        if self.n[arm] == 0.0:
            self.r[arm] = value
        else:
            beta = self.p["beta"]
            self.r[arm] = (1.0 - beta) * self.r[arm] + beta * value
        self.n[arm] += 1.0

    def step(self):
        self.t += 1
        self.probs = self._choose()

    def estimates(self):
        return list(self.r)

    def counts(self):
        return list(self.n)


class ExploitOnly(Policy):
    """2c. While some arm is unscored, pi is uniform and draw() returns the lowest unscored
    arm; an arm's first observation is its score. Once every arm has a score, pi ~ max(score,
    0), or one-hot on the lowest index of the highest score when no score is > 0; it never
    changes again. "Once" is at the observation that scores the last arm, within the round:
    ALGORITHMS.md scores every arm "then" samples by the scores, so a draw after the scoring
    pass must not fall back to the uniform pi of a scoring round."""

    name = "exploit-only"

    def __init__(self, k, weights, seed, params):
        super().__init__(k, weights, seed, params)
        self.score = [0.0] * k
        self.scored = [False] * k

    def draw(self):
        for a in range(self.k):
            if not self.scored[a]:
                return a  # the scoring pass: no randomness consumed
        return super().draw()

    def observe(self, arm, value):
        super().observe(arm, value)
        if not self.scored[arm]:
            self.score[arm] = value
            self.scored[arm] = True
            if all(self.scored):
                self._fix()

    def _fix(self):
        w = [max(s, 0.0) for s in self.score]
        if any(x > 0.0 for x in w):
            self.probs = normalised(w)
        else:
            top = max(self.score)
            best = self.score.index(top)
            self.probs = [0.0] * self.k
            self.probs[best] = 1.0

    def estimates(self):
        return list(self.score)


class DoReMi(Policy):
    """3, DoReMi's proxy run. pi = q = uniform. At the end of each round, for every domain with
    tokens: lambda_i = (summed excess) / (summed tokens); then alpha = softmax(log alpha +
    eta lambda), alpha = (1 - c) alpha + c / K, alpha_bar = mean of alpha_0 .. alpha_t."""

    name = "doremi"
    takes = {"eta": 1.0, "c": 1e-3, "vocab": 8192.0}

    def __init__(self, k, weights, seed, params):
        super().__init__(k, weights, seed, params)
        self.alpha = normalised(self.weights) if self.weights is not None else [1.0 / k] * k
        self.alpha_sum = list(self.alpha)  # alpha_0 + alpha_1 + ... in order
        self.n_alphas = 1
        self.lam = [math.log(self.p["vocab"])] * k
        self.excess = [0.0] * k
        self.tokens = [0.0] * k

    def observe(self, arm, value):
        raise ValueError("doremi takes excess losses (observe_excess)")

    def observe_excess(self, sums, tokens):
        if len(sums) != self.k or len(tokens) != self.k:
            raise ValueError("need k sums and k token counts")
        for i in range(self.k):
            self.excess[i] += sums[i]
            self.tokens[i] += tokens[i]

    def step(self):
        k = self.k
        eta, c = self.p["eta"], self.p["c"]
        for i in range(k):
            if self.tokens[i] > 0.0:
                self.lam[i] = self.excess[i] / self.tokens[i]
        logits = [_log0(self.alpha[i]) + eta * self.lam[i] for i in range(k)]
        alpha = stable_softmax(logits)
        self.alpha = [(1.0 - c) * a + c / k for a in alpha]
        self.alpha_sum = [s + a for s, a in zip(self.alpha_sum, self.alpha)]
        self.n_alphas += 1
        self.excess = [0.0] * k
        self.tokens = [0.0] * k
        self.t += 1

    def estimates(self):
        return list(self.alpha)

    def average(self):
        return [s / self.n_alphas for s in self.alpha_sum]


def _log0(x):
    """log x with log 0 = -inf, as C's log()."""
    return math.log(x) if x > 0.0 else -math.inf


POLICIES = {
    cls.name: cls
    for cls in (Uniform, Natural, Weights, Odm, OdmSmoothedMean, Exp3, Ucb1, ExploreOnly,
                ExploitOnly, DoReMi)
}


class Temperature(Weights):
    """5: pi ~ n^(1/tau), n = the weights (training tokens); online_ref.temperature_probs."""

    name = "temperature"
    takes = {"tau": 1.0}

    def __init__(self, k, weights, seed, params):
        Policy.__init__(self, k, weights, seed, params)
        self.probs = temperature_probs(self.weights, self.p["tau"])


POLICIES["temperature"] = Temperature


def make_policy(spec, k, weights=None, seed=0, tokens=None, draw_tokens=1.0, draw_seqs=1.0):
    """A policy from its spec; tokens, draw_tokens, draw_seqs are bmx_mix_data's fields.
    min-prob and max-epochs wrap any policy in online_ref.Constrained."""
    name, params = parse_spec(spec)
    d = params.pop("min-prob", 0.0)
    e = params.pop("max-epochs", 0.0)
    if name == "ado":
        pol = Ado(k, weights, seed, params, Rng(seed, 0), draw_seqs)
    elif name == "aioli":
        pol = Aioli(k, weights, seed, params, Rng(seed, 0))
    else:
        if name not in POLICIES:
            raise ValueError("unknown policy %r" % name)
        cls = POLICIES[name]
        if cls in (Natural, Weights, Temperature) and weights is None:
            raise ValueError("%s needs weights" % name)
        pol = cls(k, weights, seed, params)
    if d > 0.0 or e > 0.0:
        pol = Constrained(pol, d, e, tokens, draw_tokens)
    return pol


# ---------------------------------------------------------------------------------------
# rewards (section 2): inner products in double, zero norm -> every gradient reward is 0


class GradStats:
    """<a,b>, <a,a>, <b,b> of two gradient vectors. Products of two floats are exact in a
    double; each sum is rounded once (math.fsum), the most accurate answer there is."""

    def __init__(self):
        self.ab_terms, self.aa_terms, self.bb_terms = [], [], []

    def add(self, a, b):
        for x, y in zip(a, b):
            self.ab_terms.append(x * y)
            self.aa_terms.append(x * x)
            self.bb_terms.append(y * y)

    @property
    def ab(self):
        return math.fsum(self.ab_terms)

    @property
    def aa(self):
        return math.fsum(self.aa_terms)

    @property
    def bb(self):
        return math.fsum(self.bb_terms)


def reward_ga(s):
    if s.aa == 0.0 or s.bb == 0.0:
        return 0.0
    return s.ab / (math.sqrt(s.aa) * math.sqrt(s.bb))


def reward_gms(s):
    if s.aa == 0.0 or s.bb == 0.0:
        return 0.0
    return 2.0 * math.sqrt(s.aa) * math.sqrt(s.bb) / (s.aa + s.bb)


def reward_agg(s):
    if s.aa == 0.0 or s.bb == 0.0:
        return 0.0
    return (1.0 + reward_ga(s)) / 2.0 + reward_gms(s)


def reward_value(kind, s=None, loss=0.0):
    if kind == "loss":
        return loss
    if kind == "exp-loss":
        return math.exp(loss)
    return {"ga": reward_ga, "gms": reward_gms, "agg": reward_agg}[kind](s)


# ---------------------------------------------------------------------------------------
# self-check against values worked out by hand from ALGORITHMS.md


def _close(a, b, tol=1e-15):
    assert abs(a - b) <= tol * max(1.0, abs(b)), (a, b)


def selfcheck():
    # odm, K = 2: K ln K = 1.39, so round 1 is uniform and round 2 is not.
    m = make_policy("odm:alpha=0.9", 2)
    assert m.probs == [0.5, 0.5]
    m.observe(0, 1.0)
    m.observe(0, 2.0)  # L_0 = 3, arm 1 unseen
    m.step()
    _close(m.r[0], 0.1 * 3.0 / 0.5)  # R_0 = 0.6
    assert m.r[1] == 0.0
    eps2 = math.sqrt(math.log(2.0) / 4.0)  # 0.4163
    e = math.exp(0.5 * 0.6)  # eps_1 = 1/2
    _close(m.probs[0], (1.0 - 2.0 * eps2) * e / (e + 1.0) + eps2)
    _close(m.probs[1], (1.0 - 2.0 * eps2) * 1.0 / (e + 1.0) + eps2)

    # exp3, K = 2, beta = 0.5: s = 0.5 r, R += s / pi within the round.
    m = make_policy("exp3:beta=0.5", 2)
    m.observe(1, 1.0)  # s_1 = 0.5, R_1 = 1
    m.observe(1, 1.0)  # s_1 = 0.75, R_1 = 2.5
    _close(m.r[1], 2.5)
    m.step()
    e = math.exp(0.5 * 2.5)
    _close(m.probs[1], (1.0 - 2.0 * eps2) * e / (1.0 + e) + eps2)

    # exp3, K = 2, tscale 4: eps_1 = eps(4) = sqrt(ln 2 / 8) = 0.2944 < 1/2 already, but
    # R = 0 keeps round 1 uniform; reward 1 for arm 0 -> R_0 = 2, and pi_2 mixes with
    # eps(8) = sqrt(ln 2 / 16) = 0.2081 a softmax at eps(4).
    m = make_policy("exp3:tscale=4", 2)
    assert m.probs == [0.5, 0.5]
    m.observe(0, 1.0)
    m.step()
    e4, e8 = math.sqrt(math.log(2.0) / 8.0), math.sqrt(math.log(2.0) / 16.0)
    e = math.exp(e4 * 2.0)
    _close(m.probs[0], (1.0 - 2.0 * e8) * e / (e + 1.0) + e8)
    _close(m.probs[0], 0.5835120151031199, 1e-12)  # 0.375378 + 0.208139

    # ucb1, K = 2: scoring pass 0.2 and 0.5; n = 2, both bonuses sqrt(ln 2) -> arm 1.
    m = make_policy("ucb1", 2)
    assert m.probs == [1.0, 0.0] and m.draw() == 0
    m.observe(0, 0.2)
    m.observe(1, 0.5)
    m.step()
    assert m.probs == [0.0, 1.0]
    m.observe(1, 1.5)  # R_1 = 0.9 * 0.5 + 0.1 * 1.5 = 0.6, n = (1, 2)
    m.step()
    _close(m.r[1], 0.6)
    # UCB_0 = 0.2 + sqrt(2 ln 3) = 1.682, UCB_1 = 0.6 + sqrt(ln 3) = 1.648 -> arm 0
    assert m.probs == [1.0, 0.0]

    # exploit-only: scores (-1, 2, 0, 2) -> pi = (0, 1/2, 0, 1/2); all <= 0 -> top-1.
    m = make_policy("exploit-only", 4)
    for a, s in enumerate([-1.0, 2.0, 0.0, 2.0]):
        assert m.probs == [0.25] * 4
        assert m.draw() == a
        m.observe(a, s)
    assert m.probs == [0.0, 0.5, 0.0, 0.5]  # from the last score on, before the step
    m.step()
    assert m.probs == [0.0, 0.5, 0.0, 0.5]
    m = make_policy("exploit-only", 3)
    for a, s in enumerate([-3.0, -1.0, -1.0]):
        m.observe(a, s)
    m.step()
    assert m.probs == [0.0, 1.0, 0.0]

    # odm-smoothed-mean, K = 2, warmup 1: round 1 dropped; round 2 sees arm 0 twice.
    m = make_policy("odm-smoothed-mean:alpha=0.5,warmup=1", 2, [3.0, 1.0])
    assert m.probs == [0.75, 0.25]
    m.observe(0, 9.0)
    m.step()
    assert m.r == [0.0, 0.0] and m.probs == [0.75, 0.25]
    m.observe(0, 1.0)
    m.observe(0, 2.0)
    m.step()
    _close(m.r[0], 0.5 * math.exp(1.5))
    eps2 = math.sqrt(math.log(2.0) / 4.0)
    _close(m.probs[0], (1.0 - 2.0 * eps2) + eps2)
    _close(m.probs[1], eps2)

    # doremi, K = 2, alpha_0 = (1/2, 1/2), eta = 1, c = 0.1, vocab = e^2: lambda = (2, 2);
    # domain 0 gets excess 1.0 over 4 tokens -> lambda = (0.25, 2).
    m = make_policy("doremi:eta=1,c=0.1,vocab=7.38905609893065", 2)
    m.observe_excess([0.5, 0.0], [2.0, 0.0])
    m.observe_excess([0.5, 0.0], [2.0, 0.0])
    m.step()
    a0 = 1.0 / (1.0 + math.exp(2.0 - 0.25))
    _close(m.alpha[0], 0.9 * a0 + 0.05)
    _close(m.average()[0], (0.5 + 0.9 * a0 + 0.05) / 2.0)
    assert m.probs == [0.5, 0.5]

    # rewards: a = (1, 0), b = (1, 1): GA = 1/sqrt 2, GMS = 2 sqrt 2 / 3
    s = GradStats()
    s.add([1.0, 0.0], [1.0, 1.0])
    _close(reward_ga(s), 1.0 / math.sqrt(2.0))
    _close(reward_gms(s), 2.0 * math.sqrt(2.0) / 3.0)
    _close(reward_agg(s), (1.0 + 1.0 / math.sqrt(2.0)) / 2.0 + 2.0 * math.sqrt(2.0) / 3.0)
    z = GradStats()
    z.add([0.0, 0.0], [1.0, 2.0])
    assert reward_ga(z) == reward_gms(z) == reward_agg(z) == 0.0


if __name__ == "__main__":
    selfcheck()
    print("mix_ref.py: ok")
