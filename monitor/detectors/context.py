"""What level the rows just before predict for this row: a sequence model of one series.

The level statistics of `surge.py` compare a level with a baseline of the whole day (or of this
time of day). This one asks what the series usually does *next*, after the last few rows: a square
wave that skips a beat, a curve that stays flat where it always rises, a machine that hesitates
before a fault: every value is ordinary, the order is not, and a baseline of the day cannot see it.

- Symbols: y (the caller's scale: the signed log1p of `surge.py`) falls in one of `levels`
  equal-width levels across the range (min, max) of y over the rows before it; a row beyond that
  range is at the end level (the range then takes it in). The range only ever widens, so it is
  causal (a model given the whole file's range in advance, as NAB gives its detectors, is not).
  A series that has not varied yet is at level 0.
- Prediction: a variable-order Markov model over the last 0..`order` symbols, with the counts of
  every row so far, interpolated from order 0 (a uniform prior) upwards by Witten-Bell: a context
  seen n times with d different successors trusts its own counts by n / (n + d), and a context
  never seen is skipped. So a noisy series is predicted by its short contexts, a regular one by its
  long contexts. The prediction is the expected level under that distribution, back on the y scale.
- `update(y)` returns the y predicted for this row from the rows before it, then the row is learned.

Why the expected level and not the row's surprise -log2 P(level | context): on a noisy series the
surprise is dominated by a jitter into a level the context never saw (each order multiplies in its
escape probability: 20 to 30 bits for a two-sigma blip), so it reports rare levels, which the level
statistics already do, louder than a break of the rhythm. The distance from the expected level
weighs a miss by how far off it is.

Integer codes keep it fast: the last `order` symbols are one base-`levels` number, and the context
of order k is that number modulo levels**k.
"""

from __future__ import annotations

import math


class SequenceModel:
    """Online prediction of each value from the values just before it; see the module docstring."""

    def __init__(self, levels: int = 8, order: int = 6) -> None:
        self.levels, self.order = levels, order
        # counts[k][code] = [count of each level after the context..., total, distinct successors,
        # sum of the successors' levels]: the last three give Witten-Bell's weight and mean in O(1)
        self.counts: list[dict[int, list[int]]] = [{} for _ in range(order + 1)]
        self._mods = [levels**k for k in range(order + 1)]
        self._history = 0  # the last `order` symbols as one number, the latest in the lowest digit
        self._seen = 0  # rows learned (orders above it have no context yet)
        self.lo, self.hi = math.inf, -math.inf  # the range of y over the rows learned
        self._contexts: list[list[int]] = []  # the current row's count lists, orders 0..k
        self._symbol = -1  # the current row's symbol, learned when the next row arrives

    def symbol(self, y: float) -> int:
        lo, hi = self.lo, self.hi
        if y <= lo or lo > hi:  # at or below the lowest seen, or the first row
            return 0
        if y >= hi:
            return self.levels - 1
        return min(self.levels - 1, int(self.levels * (y - lo) / (hi - lo)))

    def update(self, y: float) -> float:
        """The y expected for this row from the rows before it (nan for the first row); then it is learned."""
        self._learn()
        lo, hi = self.lo, self.hi
        s = self.symbol(y)
        n_levels = self.levels
        total, distinct, level_sum = n_levels, n_levels + 1, n_levels + 2
        mean = (n_levels - 1) / 2.0  # order "-1": every level alike
        h, counts, mods = self._history, self.counts, self._mods
        contexts = []
        for k in range(min(self._seen, self.order) + 1):
            table = counts[k]
            code = h % mods[k]
            c = table.get(code)
            if c is None:
                c = table[code] = [0] * (n_levels + 3)
            elif c[total]:
                d = c[distinct]
                mean = (c[level_sum] + d * mean) / (c[total] + d)
            contexts.append(c)
        self._contexts, self._symbol = contexts, s
        if y < lo:
            self.lo = y
        if y > hi:
            self.hi = y
        if lo > hi:
            return math.nan
        if not hi > lo:
            return lo
        return lo + (mean + 0.5) * (hi - lo) / n_levels

    def _learn(self) -> None:
        s = self._symbol
        if s < 0:
            return
        n_levels = self.levels
        for c in self._contexts:
            if c[s] == 0:
                c[n_levels + 1] += 1
            c[s] += 1
            c[n_levels] += 1
            c[n_levels + 2] += s
        self._history = (self._history * n_levels + s) % self._mods[self.order]
        self._seen += 1
        self._symbol = -1
