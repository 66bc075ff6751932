"""The "auto" series detector: the series' first day decides whether it is read as counts or as a measurement.

Mention volumes are counts: only rises are news ("surge"). A measurement (latency, temperature,
a price, a speed) can fail either way ("change": rises, falls and turbulence). When nobody says
which a series is, its first day does: counts are non-negative integers whose first differences
vary at least as much as Poisson counts would (variance >= 2 x mean: independent Poisson rows
with mean m differ by a variance of 2m; mention counts are burstier still). Anything else (a
fraction, a negative value, integers steadier than counting noise) is a measurement.

Both detectors run through the first day, when neither may report anyway (`quiet_hours`); at its
end the decision is made once and the other is dropped, so the scores are exactly those of the
detector chosen, run from the first row. Causal: the decision uses the first day's rows only.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from monitor.detectors.surge import Reading, SurgeScorer, SurgeSettings, epoch_seconds


def looks_like_counts(values: list[float]) -> bool:
    """Non-negative integers with at least Poisson dispersion of their first differences."""
    n = len(values)
    if n < 2 or any(v < 0.0 or not float(v).is_integer() for v in values):
        return False
    mean = sum(values) / n
    diffs = [b - a for a, b in zip(values, values[1:], strict=False)]
    d_mean = sum(diffs) / len(diffs)
    d_var = sum((d - d_mean) ** 2 for d in diffs) / len(diffs)
    return mean > 0.0 and d_var >= 2.0 * mean


class AutoScorer:
    """`SurgeScorer` with sides="up" for counts, sides="both" for measurements; see the module docstring."""

    def __init__(self, settings: SurgeSettings | None = None) -> None:
        settings = settings or SurgeSettings()
        self._candidates = {"counts": SurgeScorer(replace(settings, sides="up")),
                            "measurement": SurgeScorer(replace(settings, sides="both"))}
        self._day = settings.quiet_hours * 3600.0
        self._first: float | None = None
        self._values: list[float] = []
        self.chosen: SurgeScorer | None = None
        self.kind: str | None = None  # counts | measurement, once decided

    def update(self, timestamp: datetime, value: float) -> float:
        if self.chosen is not None:
            return self.chosen.update(timestamp, value)
        t = epoch_seconds(timestamp)
        if self._first is None:
            self._first = t
        if t - self._first >= self._day:  # the first day is over: decide once, on its rows
            self.kind = "counts" if looks_like_counts(self._values) else "measurement"
            self.chosen = self._candidates.pop(self.kind)
            self._candidates.clear()
            self._values = []
            return self.chosen.update(timestamp, value)
        self._values.append(value)
        for scorer in self._candidates.values():
            scorer.update(timestamp, value)  # 0.0 from both: nothing is reported in the quiet first day
        return 0.0

    @property
    def last(self) -> Reading | None:
        return self.chosen.last if self.chosen is not None else None
