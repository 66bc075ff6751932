"""Streaming anomaly scores for mention-volume (count) series.

Every scorer is online and causal: `update(timestamp, value)` sees one row and returns a score in
[0, 1] for it, computed from that row and earlier ones only, so re-scoring a prefix of a series gives
the same scores. `score_series` runs a fresh scorer over a whole series.

Detectors (see `DETECTORS`):
- "surge" (the default, `monitor/detectors/surge.py`): rarity of the current multi-scale excess over
  a robust weekly level among the last two weeks' hourly peaks, emitted only at onsets. NAB realTweets
  standard score 90.5 in-sample (ARTime 88.1), 84.0 leave-one-series-out (`nab_score.py --loso`).
- "novelty": a surge is scored against the surges already seen. Counts are compared on
  a log1p scale with a robust EWMA baseline; the excess is measured in units of the series' own
  spread, at two time scales (the single point, and a ~2 h smoothed excess that catches sustained
  rises). Each time scale keeps a slowly decaying record of its largest excess; the score is
  b / (b + record), so 0.5 means "as big as the biggest recent surge" and a burst that is no larger
  than one already seen (or the tail of the burst that set the record) scores below that. This is
  what makes it fire once at the onset of a new kind of surge instead of on every noisy row.
- "gaussian": NAB's windowed-Gaussian baseline: the two-sided normal tail of the value under the mean
  and deviation of the last 6400 values, refreshed every 100 rows.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from monitor.detectors.surge import SurgeScorer


class SeriesScorer(Protocol):
    def update(self, timestamp: datetime, value: float) -> float: ...


@dataclass(frozen=True)
class NoveltySettings:
    """All durations in hours, so a series sampled every minute or every hour behaves the same."""

    level_hours: float = 24.0  # memory of the baseline level
    spread_hours: float = 168.0  # memory of the typical deviation (a week: covers weekly rhythm)
    burst_hours: float = 2.0  # smoothing of the second, "sustained rise" time scale
    record_hours: float = 336.0  # a past surge suppresses similar ones for about two weeks
    record_floor: float = 3.0  # an excess below 3 typical deviations is never a record
    clip: float = 3.0  # excess beyond this many deviations does not move the baseline
    warmup_hours: float = 24.0  # score 0 until a day of data has been seen
    min_spread: float = 0.1  # log1p units; keeps near-empty series from dividing by ~0


class NoveltyScorer:
    """Online novelty score of the current count against the series' own history of surges."""

    def __init__(self, settings: NoveltySettings | None = None) -> None:
        self.s = s = settings or NoveltySettings()
        self._last: datetime | None = None
        self._dt = -1.0
        self._age = 0.0
        self._warm = s.warmup_hours * 3600.0
        self._level = 0.0
        self._spread = (0.5, 0.5)
        self._spread_pt = 0.5
        self._spread_burst = 0.5
        self._burst = 0.0
        self._rec_pt = s.record_floor
        self._rec_burst = s.record_floor
        self._a_level = self._a_spread = self._a_burst = 0.0
        self._decay = 1.0

    def _rates(self, dt: float) -> None:
        # Rates depend only on the step, so they are recomputed only when the sampling interval changes.
        s = self.s
        h = dt / 3600.0
        self._a_level = -math.expm1(-h / s.level_hours)
        self._a_spread = -math.expm1(-h / s.spread_hours)
        self._a_burst = -math.expm1(-h / s.burst_hours)
        self._decay = math.exp(-h / s.record_hours)
        self._dt = dt

    def update(self, timestamp: datetime, value: float) -> float:
        x = math.log1p(value) if value > 0.0 else 0.0
        last = self._last
        self._last = timestamp
        if last is None:
            self._level = x
            return 0.0
        dt = (timestamp - last).total_seconds()
        if dt < 0.0:
            dt = 0.0  # out-of-order rows: score them, but do not let time run backwards
        if dt != self._dt:
            self._rates(dt)
        self._age += dt
        s = self.s
        floor = s.record_floor
        min_spread = s.min_spread
        clip = s.clip
        a_spread = self._a_spread

        r = x - self._level
        burst = self._burst + self._a_burst * (r - self._burst)
        self._burst = burst

        sp = self._spread_pt if self._spread_pt > min_spread else min_spread
        sb = self._spread_burst if self._spread_burst > min_spread else min_spread
        b_pt = r / sp
        b_burst = burst / sb
        rec_pt = self._rec_pt * self._decay
        if rec_pt < floor:
            rec_pt = floor
        rec_burst = self._rec_burst * self._decay
        if rec_burst < floor:
            rec_burst = floor
        score = b_pt / (b_pt + rec_pt) if b_pt > 0.0 else 0.0
        if b_burst > 0.0:
            sc2 = b_burst / (b_burst + rec_burst)
            if sc2 > score:
                score = sc2
        if self._age >= self._warm:
            if b_pt > rec_pt:
                rec_pt = b_pt
            if b_burst > rec_burst:
                rec_burst = b_burst
        else:
            score = 0.0
        self._rec_pt = rec_pt
        self._rec_burst = rec_burst

        # Learn the baseline from clipped excess so a surge does not become the new normal at once.
        lim = clip * sp
        rc = r if -lim <= r <= lim else (lim if r > 0.0 else -lim)
        self._level += self._a_level * rc
        self._spread_pt += a_spread * ((rc if rc >= 0.0 else -rc) - self._spread_pt)
        lim = clip * sb
        bc = burst if -lim <= burst <= lim else (lim if burst > 0.0 else -lim)
        self._spread_burst += a_spread * ((bc if bc >= 0.0 else -bc) - self._spread_burst)
        return score


class WindowedGaussianScorer:
    """NAB's windowed-Gaussian baseline, online: statistics of the last `window` values, refreshed
    every `step` rows; score = 1 - two-sided normal tail probability of the current value.

    The window's sum and sum of squares are kept as values enter and leave (shifted by the first value
    so the variance does not cancel catastrophically), so a refresh costs O(1), not O(window)."""

    def __init__(self, window: int = 6400, step: int = 100) -> None:
        self.window, self.step = window, step
        self._values: deque[float] = deque()
        self._shift: float | None = None
        self._sum = 0.0
        self._sumsq = 0.0
        self._mean = 0.0
        self._std = 0.0
        self._n = 0

    def update(self, timestamp: datetime, value: float) -> float:
        std = self._std
        score = math.erf(abs(value - self._mean) / (std * math.sqrt(2.0))) if std > 0.0 else 0.0
        if self._shift is None:
            self._shift = value
        d = value - self._shift
        values = self._values
        values.append(d)
        self._sum += d
        self._sumsq += d * d
        if len(values) > self.window:
            old = values.popleft()
            self._sum -= old
            self._sumsq -= old * old
        self._n += 1
        if self._n % self.step == 0:
            n = len(values)
            mean = self._sum / n
            self._mean = mean + self._shift
            var = self._sumsq / n - mean * mean
            self._std = math.sqrt(var) if var > 0.0 else 0.0
        return score


DETECTORS: dict[str, Callable[[], SeriesScorer]] = {
    "surge": SurgeScorer,
    "novelty": NoveltyScorer,
    "gaussian": WindowedGaussianScorer,
}
DEFAULT = "surge"
# A score above this means "bigger than anything seen in the last couple of weeks, by ~20 %" for
# "novelty"; it is close to the threshold NAB's optimiser picks for it on the realTweets series.
# "surge": bigger than all but one or two hourly peaks of the last two weeks (NAB's optimiser: 0.9946).
ALERT_THRESHOLD = {"surge": 0.995, "novelty": 0.55, "gaussian": 0.9999}


def make_scorer(detector: str = "default") -> SeriesScorer:
    name = DEFAULT if detector == "default" else detector
    try:
        return DETECTORS[name]()
    except KeyError:
        raise ValueError(f"unknown detector {detector!r}; choose from {', '.join(DETECTORS)}") from None


def score_series(
    timestamps: Sequence[datetime], values: Sequence[float], detector: str = "default"
) -> list[float]:
    """Scores of a whole series from a fresh scorer (identical to calling `update` row by row)."""
    if len(timestamps) != len(values):
        raise ValueError("timestamps and values differ in length")
    update = make_scorer(detector).update
    return [update(t, v) for t, v in zip(timestamps, values, strict=True)]
