"""The "surge" series detector: how rare is this row for this series, reported at the onset of each episode.

Simple statistics of y = log(1 + value) (a ratio scale for counts), each a question a person asks of
a mention series:
- spike: this row against the median of the last day (`baseline_hours`);
- shift: the last hour's level (EWMA) against that median: a sustained rise or fall;
- season: the last hour's level against the same time of day over the last week (`season_days`):
  busy for a Tuesday 03:00, even if ordinary for an afternoon;
- slow: the last six hours' level (`slow_hours`) against that median: a drift over hours (a
  slowly filling disk, a warming machine, a story that builds all afternoon) that the hour reads as noise;
- level: the last hour's level itself, whatever the time of day: the busiest (or, with sides="both",
  the quietest) hour in weeks;
- swing (only with sides="both", the "change" detector): the last hour's mean absolute change
  against its usual size: turbulence, or a flat line;
- gauss: the row as a z-score against the mean and deviation of the rows of recent weeks (each
  weighted by its age, a time constant of half `history_days`): how far it is from what weeks of
  this series look like, where spike and shift compare with the last day, which a fault or a story
  that lasts a day has already moved (with sides="up", only its upper side). Read to a tenth of a
  deviation, and the deviation is at least 1 % (`GAUSS_MIN_SD`), so a series that hardly ever
  moves does not make its first small step a crisis.

Each statistic is turned into a tail probability by its own history (`TailCalibration`: the rank
among samples of the last `history_days`, an exponential tail past the 90th percentile), so the
units are the same for a brand with 5 mentions an hour and one with 5,000. The calibration keeps the
peak (and trough) of each statistic over each sampling interval (`history_days` / `samples`, about
80 minutes), so "rare" means rarer than nearly all recent intervals' peaks. The row's evidence is the
smallest probability over the statistics and sides, times their number (Bonferroni), and its
surprise S = -log10 of that: S = 2 means a peak like this comes once in about 100 intervals.

Onsets, not rows: NAB (and an on-call team) counts the first alert of an episode and charges every
other one. An episode starts when S reaches `floor` and ends after `rest_hours` below it; within an
episode a row is reported only when its S beats the episode's last report by `ladder` (so a surge
that keeps growing is reported again as it grows, and a plateau is not). Every other row scores 0.
The score is S / (S + 1): 0.75 for S = 3, 0.8 for S = 4. Nothing is reported in the first
`quiet_hours`, and a statistic is used only once it has `min_samples` of history.

All of it is causal and online: a row's score depends on that row and earlier ones only.
`last` explains the latest report in numbers a person reads (which statistic, level against
baseline, since when, how rare).
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from crisiswatch.localtime import local_time
from monitor.detectors.calibration import DecayingMoments, RollingMedian, TailCalibration, compact, surprise

STATISTICS = ("spike", "shift", "season", "swing", "slow", "level", "gauss")
SWING = STATISTICS.index("swing")  # the one statistic without a direction
# gauss's deviation is at least 1 % (on the log scale): a series that never moved does not page at S = 30
# for its first 1 % step (a floor far below the spread of any series with noise, counts or measurements)
GAUSS_MIN_SD = 0.01


@dataclass(frozen=True)
class SurgeSettings:
    """Durations in hours or days, so a series sampled every minute or every hour behaves the same."""

    sides: str = "up"  # "up": only rises are news (spike, shift, season: mention volume); "both": also
    # falls and turbulence (measurements that can fail either way: the "change" detector)
    history_days: float = 28.0  # history behind each statistic's calibration
    samples: int = 512  # calibration samples kept (spread evenly over history_days: one per ~80 min)
    block_minutes: float = 15.0  # resolution of the day-long baseline and of the time-of-day profile
    baseline_hours: float = 24.0
    level_hours: float = 1.0  # EWMA of the level and of the absolute change
    slow_hours: float = 6.0  # EWMA of the slow level
    season_days: int = 7
    floor: float = 1.0  # S at which an episode starts (>= 1: the scorer skips exact ranks below 1 in 10)
    rest_hours: float = 3.0  # an episode ends after this long below floor
    ladder: float = 1.5  # within an episode, a new report needs S this many times the last one
    quiet_hours: float = 24.0
    min_samples: int = 24

    def __post_init__(self) -> None:
        if self.floor < 1.0:
            raise ValueError(f"floor must be >= 1 (S of a 1-in-10 interval), got {self.floor}")


@dataclass(frozen=True)
class Reading:
    """Why the latest row was reported, in the series' own units."""

    statistic: str  # one of STATISTICS
    direction: str  # up | down
    surprise: float  # -log10 p after the Bonferroni factor
    p_value: float
    value: float  # the row (spike, gauss) or the last hour's level (others), in the series' units
    baseline: float  # what the statistic compares it with, in the series' units
    since: float  # epoch seconds when the episode began (S first reached floor)
    at: float  # epoch seconds of the row
    once_in_hours: float  # how rare: a peak like this comes about once in this many hours here
    history_hours: float = math.inf  # how much history the statistic's calibration holds

    @property
    def ratio(self) -> float:
        return (self.value + 1.0) / (self.baseline + 1.0)


def epoch_seconds(timestamp: datetime) -> float:
    return (timestamp if timestamp.tzinfo else timestamp.replace(tzinfo=UTC)).timestamp()


def _unlog(y: float) -> float:
    return math.copysign(math.expm1(abs(y)), y)


class SurgeScorer:
    """Online onset score of one series; see the module docstring."""

    def __init__(self, settings: SurgeSettings | None = None) -> None:
        self.s = s = settings or SurgeSettings()
        self._sides = ("up", "down") if s.sides == "both" else ("up",)
        # the statistics tested: "up" leaves out swing (turbulence has no direction)
        self._tested = tuple(i for i in range(len(STATISTICS)) if s.sides == "both" or i != SWING)
        # gauss's weeks of rows: weighted by exp(-age / (history_days / 2)), the mean age of a history_days window
        self._weeks = DecayingMoments(s.history_days * 43200.0, 86400.0)
        self._typical = math.nan  # gauss's baseline for the latest row (the weighted mean before it)
        self._block_s = s.block_minutes * 60.0
        self._blocks_per_day = max(1, round(86400.0 / self._block_s))
        self._baseline = RollingMedian(max(1, round(s.baseline_hours * 3600.0 / self._block_s)))
        self._season: dict[int, deque[float]] = {}
        # Per statistic: the peaks (for the upper tail) and troughs (lower) of each sampling interval.
        self._peaks = [TailCalibration(s.samples) for _ in STATISTICS]
        self._troughs = [TailCalibration(s.samples) for _ in STATISTICS]
        self._hi = [-math.inf] * len(STATISTICS)
        self._lo = [math.inf] * len(STATISTICS)
        self._ready = [False] * len(STATISTICS)  # has min_samples of calibration
        self._sample_every = s.history_days * 86400.0 / s.samples
        self._first: float | None = None
        self._last = 0.0
        self._y = 0.0
        self._level = 0.0
        self._swing = 0.0
        self._slow = 0.0
        self._block = 0
        self._block_sum = 0.0
        self._block_n = 0
        self._base = math.nan  # median of the last day's block means
        self._seasonal = math.nan  # median of this block's time of day over the last week
        self._next_sample = 0.0
        self._dt = -1.0
        self._alpha = 1.0
        self._alpha_slow = 1.0
        self._episode = 0.0  # S of the episode's last report (0: no episode)
        self._since = 0.0
        self._below_since: float | None = None
        self.last: Reading | None = None

    # ------------------------------------------------------------------ streaming

    def update(self, timestamp: datetime, value: float) -> float:
        return self.update_seconds(epoch_seconds(timestamp), value)

    def update_seconds(self, t: float, value: float) -> float:
        y = math.log1p(value) if value >= 0.0 else -math.log1p(-value)
        if self._first is None:
            self._start(t, y)
            return 0.0
        dt = t - self._last
        if dt < 0.0:
            dt = 0.0  # out-of-order rows: score them, but do not let time run backwards
        if dt != self._dt:
            h = dt / 3600.0
            self._alpha = 1.0 if h >= self.s.level_hours else -math.expm1(-h / self.s.level_hours)
            self._alpha_slow = 1.0 if h >= self.s.slow_hours else -math.expm1(-h / self.s.slow_hours)
            self._dt = dt
        self._last = t
        block = int(t // self._block_s)
        if block != self._block:
            self._close_block(block)
        a = self._alpha
        self._level += a * (y - self._level)
        self._slow += self._alpha_slow * (y - self._slow)
        self._swing += a * (abs(y - self._y) - self._swing)
        self._y = y
        self._block_sum += y
        self._block_n += 1
        # against the rows before this one, read to a tenth of a deviation: a z that creeps by hundredths (the
        # weighted deviation of a steady series shrinking after one blip) ties with itself instead of looking
        # like a spread to the calibration, whose fitted tail would then call the next blip unheard of
        z, self._typical = self._weeks.standardise(y, GAUSS_MIN_SD)
        gauss = round(z, 1)
        self._weeks.add(t, y)

        base, seasonal = self._base, self._seasonal
        level = self._level
        # level is sampled from the first baseline on, like the others, so that all are tested together
        stats = (y - base, level - base, level - seasonal, self._swing, self._slow - base,
                 level if base == base else math.nan, gauss)
        both = len(self._sides) == 2
        peaks, troughs, hi, lo, ready = self._peaks, self._troughs, self._hi, self._lo, self._ready
        best_p, best_i, best_side, tests = 1.0, -1, "up", 0
        for i in self._tested:
            x = stats[i]
            if x != x:  # nan: no baseline yet
                continue
            if ready[i]:
                # Inside the body of a calibration (below its q90, above its q10) the tail probability
                # is above 0.1, so the row's S stays below floor (>= 1) whatever it is: only the tails
                # need their exact probability (most rows have none, which keeps the detector fast).
                tests += 1
                if x >= peaks[i].q90:
                    q = peaks[i].upper(x)
                    if q < best_p:
                        best_p, best_i, best_side = q, i, "up"
                if both:
                    tests += 1
                    if x <= troughs[i].q10:
                        q = troughs[i].lower(x)
                        if q < best_p:
                            best_p, best_i, best_side = q, i, "down"
            if x > hi[i]:
                hi[i] = x
            if x < lo[i]:
                lo[i] = x
        if t >= self._next_sample:
            self._next_sample = t + self._sample_every
            for i in self._tested:  # only what is tested: "up" keeps no troughs and no swing
                if hi[i] > -math.inf:
                    peaks[i].push(hi[i])
                    if both:
                        troughs[i].push(lo[i])
                    ready[i] = len(peaks[i]) >= self.s.min_samples
                hi[i], lo[i] = -math.inf, math.inf
        if not tests:
            return 0.0
        p = min(1.0, best_p * tests)
        return self._report(t, p, best_i, best_side, stats)

    def _start(self, t: float, y: float) -> None:
        self._first = self._last = t
        self._y = self._level = self._slow = y
        self._block = int(t // self._block_s)
        self._block_sum, self._block_n = y, 1
        self._weeks.add(t, y)
        self._next_sample = t

    def _close_block(self, block: int) -> None:
        if self._block_n:
            mean = self._block_sum / self._block_n
            self._baseline.push(mean)
            self._base = self._baseline.median()
            slot = self._block % self._blocks_per_day
            days = self._season.get(slot)
            if days is None:
                days = self._season[slot] = deque(maxlen=self.s.season_days)
            days.append(self._level)
        self._block, self._block_sum, self._block_n = block, 0.0, 0
        days = self._season.get(block % self._blocks_per_day)
        if days:
            ordered = sorted(days)
            n = len(ordered)
            self._seasonal = ordered[n // 2] if n % 2 else 0.5 * (ordered[n // 2 - 1] + ordered[n // 2])
        else:
            self._seasonal = math.nan

    def _report(self, t: float, p: float, i: int, side: str, stats: tuple) -> float:
        s = self.s
        S = surprise(p)
        if S < s.floor:
            if self._below_since is None:
                self._below_since = t
            elif t - self._below_since >= s.rest_hours * 3600.0:
                self._episode = 0.0
            return 0.0
        self._below_since = None
        if self._episode == 0.0:
            self._since = t
        if S <= s.ladder * self._episode or t - self._first < s.quiet_hours * 3600.0:
            return 0.0
        self._episode = S
        name = STATISTICS[i]
        calibration = (self._peaks if side == "up" else self._troughs)[i]  # the reported side's history
        if name == "spike":
            value, baseline = _unlog(self._y), _unlog(self._base)
        elif name == "season":
            value, baseline = _unlog(self._level), _unlog(self._seasonal)
        elif name == "shift":
            value, baseline = _unlog(self._level), _unlog(self._base)
        elif name == "gauss":  # the weeks' mean on the log scale: a typical row (a geometric mean), in units
            value, baseline = _unlog(self._y), _unlog(self._typical)
        elif name == "slow":
            value, baseline = _unlog(self._slow), _unlog(self._base)
        elif name == "level":  # against the usual peak (or trough) of the level over a sampling interval
            usual = calibration.sorted
            value, baseline = _unlog(self._level), _unlog(usual[len(usual) // 2])
        else:  # swing: mean absolute change per row (log scale) now vs its usual size
            usual = self._peaks[i].sorted
            value, baseline = self._swing, usual[len(usual) // 2]
        self.last = Reading(name, side, S, p, value, baseline, self._since, t,
                            min(10.0**S, 1e12) * self._sample_every / 3600.0,
                            len(calibration) * self._sample_every / 3600.0)
        return S / (S + 1.0)

    @property
    def warm(self) -> bool:
        """Past the quiet start, with every statistic calibrated: its scores now mean what they say."""
        return (self._first is not None and self._last - self._first >= self.s.quiet_hours * 3600.0
                and len(self._peaks[0]) >= self.s.min_samples)

    # ------------------------------------------------------------------ persistence (for the rules)

    def state(self) -> dict[str, Any]:
        return {
            "scalars": [self._first, self._last, self._y, self._level, self._swing, self._block, self._block_sum,
                        self._block_n, self._next_sample, self._episode, self._since, self._below_since,
                        self._slow],
            "baseline": compact(self._baseline.state()),
            "season": {str(k): compact(list(v)) for k, v in self._season.items()},
            "peaks": [compact(c.state()) for c in self._peaks],
            "troughs": [compact(c.state()) for c in self._troughs],
            "open": [compact(self._hi), compact(self._lo)],
            "weeks": self._weeks.state(),  # sums: rounding them would cancel the variance away
        }

    def restore(self, state: dict[str, Any]) -> None:
        if not state:
            return
        scalars = state["scalars"]
        (self._first, self._last, self._y, self._level, self._swing, block, self._block_sum, block_n,
         self._next_sample, self._episode, self._since, self._below_since) = scalars[:12]
        # A state saved before the slow and level statistics: they start from the current level, with
        # empty calibrations (they are tested once they have min_samples, as on a new key).
        self._slow = scalars[12] if len(scalars) > 12 else self._level
        self._block, self._block_n = int(block), int(block_n)
        self._baseline.restore(state["baseline"])
        self._base = self._baseline.median() if self._baseline.sorted else math.nan
        self._season = {int(k): deque(v, maxlen=self.s.season_days) for k, v in state["season"].items()}
        k = len(STATISTICS)
        for calibrations, saved in ((self._peaks, state["peaks"]), (self._troughs, state["troughs"])):
            for c, values in zip(calibrations, saved[:k], strict=False):
                c.restore(values)
        self._ready = [len(c) >= self.s.min_samples for c in self._peaks]
        self._weeks = DecayingMoments(self._weeks.tau, self._weeks.warmup)
        if "weeks" in state:  # else a state saved before gauss: it is tested a day from now, as on a new key
            self._weeks.restore(state["weeks"])
        hi, lo = (list(map(float, v)) for v in state["open"])
        self._hi = hi + [-math.inf] * (k - len(hi))
        self._lo = lo + [math.inf] * (k - len(lo))
        days = self._season.get(self._block % self._blocks_per_day)
        ordered = sorted(days) if days else []
        n = len(ordered)
        self._seasonal = (ordered[n // 2] if n % 2 else 0.5 * (ordered[n // 2 - 1] + ordered[n // 2])) if n else math.nan
        self._dt = -1.0


class SurgeByKey:
    """One `SurgeScorer` per key (brand, brand x category, ...) for the live rules, with their state."""

    def __init__(self, settings: SurgeSettings) -> None:
        self.settings = settings
        self.scorers: dict[str, SurgeScorer] = {}

    def update(self, key: str, at: datetime, value: float) -> tuple[float, SurgeScorer]:
        scorer = self.scorers.get(key)
        if scorer is None:
            scorer = self.scorers[key] = SurgeScorer(self.settings)
        return scorer.update(at, value), scorer

    def state(self) -> dict[str, Any]:
        return {k: v.state() for k, v in self.scorers.items()}

    def restore(self, state: dict[str, Any]) -> None:
        self.scorers = {}
        for key, value in state.items():
            scorer = self.scorers[key] = SurgeScorer(self.settings)
            scorer.restore(value)


_EXTRAPOLATES = 10.0  # "once in N hours" is said up to ten times the history it is measured on


def describe(reading: Reading, unit: str, zone: str = "UTC") -> str:
    """One line a person reads: what, how far from usual, since when (in `zone`, the team's), how rare."""
    since = local_time(datetime.fromtimestamp(reading.since, UTC), zone, "%H:%M %Z")
    what = {"spike": f"{reading.value:.0f} {unit} vs a usual {reading.baseline:.1f} today",
            "shift": f"the last hour at {reading.value:.1f} {unit} vs a usual {reading.baseline:.1f} today",
            "season": f"the last hour at {reading.value:.1f} {unit} vs {reading.baseline:.1f} at this time of day",
            "slow": f"the last six hours at {reading.value:.1f} {unit} vs a usual {reading.baseline:.1f} today",
            "level": f"the last hour at {reading.value:.1f} {unit} vs a usual hourly "
                     f"{'peak' if reading.direction == 'up' else 'low'} of {reading.baseline:.1f} in recent weeks",
            "gauss": f"{reading.value:.1f} {unit} vs a typical {reading.baseline:.1f} over recent weeks",
            "swing": f"swings {reading.value / max(reading.baseline, 1e-9):.1f}x their usual size"}[reading.statistic]
    days = reading.once_in_hours / 24.0
    history = reading.history_hours
    if 0.0 < history < math.inf and reading.once_in_hours > _EXTRAPOLATES * history:
        # the calibration's fitted tail ranks such rows, but "once in 50 billion days" is not a fact to page with
        span = f"{history / 24.0:,.0f} days" if history >= 48.0 else f"{history:,.0f} hours"
        rare = f"rarer than anything in the last {span}"
    elif days >= 2:
        rare = f"about once in {days:,.0f} days"
    else:
        rare = f"about once in {reading.once_in_hours:,.0f} hours"
    return f"{what}, {reading.direction} since {since}; {rare} for this series"
