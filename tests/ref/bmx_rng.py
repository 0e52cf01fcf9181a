"""bmx_rng.py - the bmx generator in plain Python (stdlib only), bit for bit as bmx/rng.h.

    xoshiro256** seeded through splitmix64:
      seed(s, stream): x = s ^ (stream * 0x9E3779B97F4A7C15); the four state words are
                       four successive splitmix64(x) outputs
      double():        (u64 >> 11) * 2^-53, in [0, 1)
      below(n):        draw u64 until x >= (2^64 - n) mod n, return x mod n
      categorical_cdf: target = double() * c[k-1]; the first i with c[i] > target

Every 64-bit operation is done on Python ints and masked to 64 bits.
"""

MASK64 = (1 << 64) - 1
GOLDEN = 0x9E3779B97F4A7C15


def _rotl(x, k):
    return ((x << k) | (x >> (64 - k))) & MASK64


class SplitMix64:
    """splitmix64: x += golden; mix x into an output."""

    def __init__(self, x):
        self.x = x & MASK64

    def next(self):
        self.x = (self.x + GOLDEN) & MASK64
        z = self.x
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK64
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK64
        return z ^ (z >> 31)


class Rng:
    """xoshiro256** with the state words s[0..3]."""

    def __init__(self, seed=0, stream=0, state=None):
        if state is not None:
            self.s = [w & MASK64 for w in state]
            return
        sm = SplitMix64((seed ^ (stream * GOLDEN)) & MASK64)
        self.s = [sm.next() for _ in range(4)]

    def u64(self):
        s = self.s
        result = (_rotl((s[1] * 5) & MASK64, 7) * 9) & MASK64
        t = (s[1] << 17) & MASK64
        s[2] ^= s[0]
        s[3] ^= s[1]
        s[1] ^= s[2]
        s[0] ^= s[3]
        s[2] ^= t
        s[3] = _rotl(s[3], 45)
        return result

    def double(self):
        # (u64 >> 11) has 53 bits, so the product is exact in a Python float.
        return (self.u64() >> 11) * (1.0 / 9007199254740992.0)

    def below(self, n):
        if n <= 0:
            raise ValueError("below(n) needs n > 0")
        threshold = ((1 << 64) - n) % n
        while True:
            x = self.u64()
            if x >= threshold:
                return x % n

    def categorical_cdf(self, cdf):
        """First i with cdf[i] > double() * cdf[-1]."""
        target = self.double() * cdf[-1]
        for i, c in enumerate(cdf):
            if c > target:
                return i
        # Not reachable for target < cdf[-1]; a rounding of target up to cdf[-1] would land
        # here: fall back to the last arm with positive mass.
        for i in range(len(cdf) - 1, 0, -1):
            if cdf[i] > cdf[i - 1]:
                return i
        return 0


def cumulative(p):
    """Cumulative sum in arm order (left to right), as the C draws build it."""
    out = []
    acc = 0.0
    for x in p:
        acc += x
        out.append(acc)
    return out


if __name__ == "__main__":
    # Self-check against the values tests/test_rng.c also holds.
    r = Rng(state=[1, 2, 3, 4])
    assert [r.u64() for _ in range(4)] == [11520, 0, 1509978240, 1215971899390074240]
    r = Rng(0, 0)
    assert r.s == [0xE220A8397B1DCDAF, 0x6E789E6AA1B965F4, 0x06C45D188009454F,
                   0xF88BB8A8724C81EC]
    print("bmx_rng.py: ok")
