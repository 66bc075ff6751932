"""The "surge" series scorer: how unusual is this surge for this series, emitted only at its onset.

NAB (and a PR team) wants one alert at the start of each surge that matters for *this* brand: a
brand whose mentions spike every day needs a far bigger spike to be news than a quiet one. So:

1. Level: the median of the hourly means of log1p(count) over the last week (robust to the very
   surges it must detect).
2. Excess at several time scales (5 min, 1 h, 4 h: EWMAs of log1p(count)) minus the level, in
   units of that scale's own spread (median |excess| of hourly samples over the last week), z.
   The short scale catches spikes; the long ones catch slow rises and level shifts.
3. Rarity: each scale keeps the peak z of every hour for two weeks; a row's score is the empirical
   CDF of its z among those peaks (hours of missing history count as quiet ones), so 0.995 means
   "bigger than all but one or two hourly peaks in two weeks". This calibrates one threshold
   across series of very different volume and burstiness.
4. Onset only (NAB counts the first detection per window and charges every false one): a scale
   re-fires only when z exceeds `rearm_ratio` x its last firing z (that memory fading over
   `rearm_hours`), and the output as a whole is emitted only when its surprise -log(1 - score)
   beats the last emitted one by `gate_ratio` (fading over `gate_hours`); otherwise it is 0.

Nothing is emitted in the first `quiet_hours` (three days): until then "rare" has too little
history to mean anything. All of it is online and causal: the score of a row depends on that row
and earlier ones only.
"""

from __future__ import annotations

import math
from bisect import bisect_left, insort
from collections import deque
from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class SurgeSettings:
    """Durations in hours, so any sampling interval behaves the same."""

    scales_hours: tuple[float, ...] = (5 / 60, 1.0, 4.0)
    baseline_hours: int = 168  # hourly means behind the median level
    spread_hours: int = 168  # hourly |excess| samples behind each scale's spread
    history_hours: int = 336  # hourly peaks behind the rarity score
    floor: float = 2.5  # z below this (spreads above the level) never fires
    rearm_ratio: float = 3.0
    rearm_hours: float = 6.0
    gate_ratio: float = 1.3
    gate_hours: float = 72.0
    warmup_hours: float = 24.0  # before this, nothing is learned into the rarity history
    quiet_hours: float = 72.0  # before this, nothing is emitted (three days to learn what is rare)
    min_spread: float = 0.05  # log1p units; keeps near-empty series from dividing by ~0


class _RollingMedian:
    """Median of the last `size` values, kept sorted as they arrive (no re-sort each hour)."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._fifo: deque[float] = deque()
        self._sorted: list[float] = []

    def push(self, value: float) -> float:
        self._fifo.append(value)
        insort(self._sorted, value)
        if len(self._fifo) > self.size:
            del self._sorted[bisect_left(self._sorted, self._fifo.popleft())]
        s = self._sorted
        mid = len(s) // 2
        return s[mid] if len(s) % 2 else 0.5 * (s[mid - 1] + s[mid])


class _Rarity:
    """Empirical CDF of recent hourly peaks, interpolated between neighbours for a smooth score."""

    def __init__(self, size: int, floor: float) -> None:
        self.size, self.floor = size, floor
        self._fifo: deque[float] = deque()
        self._sorted: list[float] = []

    def push(self, peak: float) -> None:
        self._fifo.append(peak)
        insort(self._sorted, peak)
        if len(self._fifo) > self.size:
            old = self._fifo.popleft()
            del self._sorted[bisect_left(self._sorted, old)]

    def score(self, z: float) -> float:
        s = self._sorted
        n = len(s)
        pad = self.size - n if n < self.size else 0  # missing history counts as quiet hours
        j = bisect_left(s, z)
        lo = s[j - 1] if j > 0 else self.floor
        if j < n:
            hi = s[j]
            frac = (z - lo) / (hi - lo) if hi > lo else 0.0
        else:
            frac = 1.0 - lo / z if z > lo else 0.0
        return (j + pad + frac) / (n + pad + 1)


class SurgeScorer:
    """Online onset score of a count series; see the module docstring."""

    def __init__(self, settings: SurgeSettings | None = None) -> None:
        self.s = s = settings or SurgeSettings()
        k = len(s.scales_hours)
        self._last: datetime | None = None
        self._hour_start: datetime | None = None
        self._age = 0.0
        self._hour_sum = 0.0
        self._hour_n = 0
        self._hour_means = _RollingMedian(s.baseline_hours)
        self._level = 0.0
        self._ewma = [0.0] * k
        self._devs = [_RollingMedian(s.spread_hours) for _ in range(k)]
        self._spread = [0.5] * k
        self._peak = [0.0] * k
        self._rarity = [_Rarity(s.history_hours, s.floor) for _ in range(k)]
        self._armed_at = [0.0] * k  # last firing z per scale, fading
        self._gate = 0.0  # surprise of the last emitted score, fading
        self._dt = -1.0
        self._alpha = [1.0] * k
        self._rearm_decay = self._gate_decay = 1.0

    def _rates(self, dt: float) -> None:
        h = dt / 3600.0
        s = self.s
        self._alpha = [1.0 if sc <= h else -math.expm1(-h / sc) for sc in s.scales_hours]
        self._rearm_decay = math.exp(-h / s.rearm_hours)
        self._gate_decay = math.exp(-h / s.gate_hours)
        self._dt = dt

    def _close_hour(self, timestamp: datetime, warm: bool) -> None:
        s = self.s
        self._level = level = self._hour_means.push(self._hour_sum / self._hour_n)
        for i, devs in enumerate(self._devs):
            spread = devs.push(abs(self._ewma[i] - level))
            self._spread[i] = spread if spread > s.min_spread else s.min_spread
            if warm:
                self._rarity[i].push(self._peak[i])
            self._peak[i] = 0.0
        self._hour_sum, self._hour_n, self._hour_start = 0.0, 0, timestamp

    def update(self, timestamp: datetime, value: float) -> float:
        x = math.log1p(value) if value > 0.0 else 0.0
        if self._last is None:
            self._last = self._hour_start = timestamp
            self._level = x
            self._ewma = [x] * len(self._ewma)
            self._hour_sum, self._hour_n = x, 1
            return 0.0
        dt = (timestamp - self._last).total_seconds()
        if dt < 0.0:
            dt = 0.0  # out-of-order rows: score them, but do not let time run backwards
        self._last = timestamp
        self._age += dt
        if dt != self._dt:
            self._rates(dt)
        s = self.s
        warm = self._age >= s.warmup_hours * 3600.0
        if (timestamp - self._hour_start).total_seconds() >= 3600.0:
            self._close_hour(timestamp, warm)
        self._hour_sum += x
        self._hour_n += 1

        level, floor, ratio, decay = self._level, s.floor, s.rearm_ratio, self._rearm_decay
        ewma, alpha, spread, peak, armed = self._ewma, self._alpha, self._spread, self._peak, self._armed_at
        score = 0.0
        for i in range(len(ewma)):
            m = ewma[i] + alpha[i] * (x - ewma[i])
            ewma[i] = m
            z = (m - level) / spread[i]
            if z > peak[i]:
                peak[i] = z
            last = armed[i] * decay
            if z > floor and z > last * ratio:
                armed[i] = z
                if warm:
                    r = self._rarity[i].score(z)
                    if r > score:
                        score = r
            else:
                armed[i] = last
        gate = self._gate * self._gate_decay
        if score > 0.0:
            surprise = -math.log(1.0 - score) if score < 1.0 else 30.0
            if surprise > gate * s.gate_ratio:
                self._gate = surprise
                return score if self._age >= s.quiet_hours * 3600.0 else 0.0
        self._gate = gate
        return 0.0
