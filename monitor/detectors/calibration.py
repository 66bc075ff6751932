"""Scale-free building blocks of the series detectors: rarity against a series' own history.

`TailCalibration` turns any statistic into a tail probability ("how often was it at least this
high before?"): the empirical rank among sampled past values, and beyond the 90th percentile an
exponential tail fitted through the 90th and 99th percentiles, so a value past everything seen
still gets a finite, ordered probability. A series of counts in the thousands and one in single
digits both come out in the same units, which is what lets one threshold serve every series.

`RollingMedian` is the robust level under the statistics: the median of the last `size` values.
Both keep their values sorted as they arrive (insort, O(log n) search), and both serialise to
plain lists so the rules can persist them.

`DecayingMoments` is what weeks of a series look like in a few numbers: the mean and deviation of
every row so far, weighted by age (the surge detector's gauss statistic).
"""

from __future__ import annotations

import math
from bisect import bisect_left, bisect_right, insort
from collections import deque

_LN10 = math.log(10.0)


class RollingMedian:
    def __init__(self, size: int) -> None:
        self.size = size
        self.fifo: deque[float] = deque()
        self.sorted: list[float] = []

    def push(self, value: float) -> None:
        self.fifo.append(value)
        insort(self.sorted, value)
        if len(self.fifo) > self.size:
            del self.sorted[bisect_left(self.sorted, self.fifo.popleft())]

    def median(self) -> float:
        s = self.sorted
        n = len(s)
        return s[n // 2] if n % 2 else 0.5 * (s[n // 2 - 1] + s[n // 2])

    def state(self) -> list[float]:
        return list(self.fifo)

    def restore(self, values: list[float]) -> None:
        self.fifo = deque(float(v) for v in values[-self.size :])
        self.sorted = sorted(self.fifo)


class TailCalibration:
    """Upper and lower tail probabilities of a statistic against its last `size` sampled values."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.fifo: deque[float] = deque()
        self.sorted: list[float] = []
        self._hi = (math.inf, 1.0)  # (90th percentile, exponential scale) of the upper tail
        self._lo = (-math.inf, 1.0)
        # Where the tails begin: a value below q90 has upper() > 0.1, one above q10 has lower() > 0.1.
        self.q90 = math.inf
        self.q10 = -math.inf

    def __len__(self) -> int:
        return len(self.fifo)

    def push(self, value: float) -> None:
        self.fifo.append(value)
        insort(self.sorted, value)
        if len(self.fifo) > self.size:
            del self.sorted[bisect_left(self.sorted, self.fifo.popleft())]
        self._fit()

    def _fit(self) -> None:
        s = self.sorted
        n = len(s)
        q10, q90 = s[n // 10], s[(9 * n) // 10]
        q01, q99 = s[n // 100], s[min(n - 1, (99 * n) // 100)]
        # The fitted tail may not call a value already seen rarer than it was (the extremes are
        # about 1 in n): that keeps sparse spikes, beyond the 99th percentile, from scoring as
        # unheard of every time. A tail with no spread at all (counts that never exceeded their
        # 90th percentile) says only "higher than everything seen": 1 in n + 1, no extrapolation.
        seen = math.log(max(n / 10.0, 1.5))
        hi = max((q99 - q90) / _LN10, (s[-1] - q90) / seen)
        lo = max((q10 - q01) / _LN10, (q10 - s[0]) / seen)
        self._hi = (q90, hi if hi > 0.0 else math.inf)
        self._lo = (q10, lo if lo > 0.0 else math.inf)
        self.q90, self.q10 = q90, q10

    def _beyond(self, excess: float, scale: float) -> float:
        if scale == math.inf:
            return 0.1 if excess == 0.0 else 1.0 / (len(self.sorted) + 1)
        return 0.1 * math.exp(-excess / scale) if excess < 600.0 * scale else 0.0

    def upper(self, x: float) -> float:
        """P(a past value >= x), with the fitted tail past the 90th percentile."""
        q90, scale = self._hi
        if x >= q90:
            return self._beyond(x - q90, scale)
        s = self.sorted
        return (len(s) - bisect_left(s, x) + 1) / (len(s) + 1)

    def lower(self, x: float) -> float:
        """P(a past value <= x), with the fitted tail below the 10th percentile."""
        q10, scale = self._lo
        if x <= q10:
            return self._beyond(q10 - x, scale)
        s = self.sorted
        return (bisect_right(s, x) + 1) / (len(s) + 1)

    def state(self) -> list[float]:
        return list(self.fifo)

    def restore(self, values: list[float]) -> None:
        self.fifo = deque(float(v) for v in values[-self.size :])
        self.sorted = sorted(self.fifo)
        if self.sorted:
            self._fit()


class DecayingMoments:
    """Mean and standard deviation of all rows so far, each weighted exp(-age / tau), from three sums.

    Weighted sums normalised by the sum of the weights, so a short history is its plain mean (the first
    row does not pull the first day towards itself); values are summed less the first one seen, so a
    large, steady level does not cancel the variance away. `mean` and `sd` stay nan until `warmup`
    seconds of rows are in."""

    def __init__(self, tau: float, warmup: float) -> None:
        self.tau, self.warmup = tau, warmup
        self._shift: float | None = None
        self._first = self._last = 0.0
        self._w = self._s1 = self._s2 = 0.0
        self._dt, self._decay = -1.0, 1.0

    def add(self, t: float, value: float) -> None:
        if self._shift is None:
            self._shift, self._first, self._last = value, t, t
        dt = max(0.0, t - self._last)
        if dt != self._dt:
            self._dt, self._decay = dt, math.exp(-dt / self.tau)
        decay, d = self._decay, value - self._shift
        self._w = self._w * decay + 1.0
        self._s1 = self._s1 * decay + d
        self._s2 = self._s2 * decay + d * d
        self._last = max(t, self._last)

    @property
    def mean(self) -> float:
        return self._s1 / self._w + self._shift if self._warm() else math.nan

    @property
    def sd(self) -> float:
        var = self._var() if self._warm() else 0.0
        return math.sqrt(var) if var > 1e-12 else math.nan

    def standardise(self, value: float, min_sd: float = 0.0) -> tuple[float, float]:
        """(how many deviations `value` lies from the mean, the mean); nan before `warmup`, and with no
        spread unless `min_sd` gives the deviation a floor."""
        if not self._warm():
            return math.nan, math.nan
        m = self._s1 / self._w
        sd = max(math.sqrt(max(self._var(), 0.0)), min_sd)
        return ((value - self._shift - m) / sd if sd > 1e-6 else math.nan), m + self._shift

    def _warm(self) -> bool:
        return self._shift is not None and self._last - self._first >= self.warmup

    def _var(self) -> float:
        m = self._s1 / self._w
        return self._s2 / self._w - m * m

    def state(self) -> list:
        return [self._shift, self._first, self._last, self._w, self._s1, self._s2]

    def restore(self, state: list) -> None:
        self._shift, self._first, self._last, self._w, self._s1, self._s2 = state
        self._dt = -1.0


def surprise(p: float) -> float:
    """-log10 p, capped at 30 (p below 1e-30 says no more than that)."""
    return -math.log10(p) if p > 1e-30 else 30.0


def compact(values: list[float]) -> list[float]:
    """Values rounded for persistence: six significant digits are plenty for ranks and medians."""
    return [float(f"{v:.6g}") for v in values]

