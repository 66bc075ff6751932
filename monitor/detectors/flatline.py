"""A source that goes silent against its usual volume: usually a broken or blocked crawler.

Per source (all brands together), the posts over a sliding window vs the seasonal expectation;
fires when so few is improbable (Poisson lower tail) and the source is busy enough for silence to
mean something. Its incidents have no brand: they go to the operator (`alerts/operator.py`), not PR.
"""

from __future__ import annotations

from collections import deque
from typing import Any

from crisiswatch.config import FlatlineSettings
from monitor.detectors.base import Observation, Rule, Signal
from monitor.detectors.baseline import SeasonalRate
from monitor.detectors.stats import poisson_cdf

PRIOR_RATE = 0.0  # an unknown source is expected to be silent: it can only flatline once learned
SEASON_HALFLIFE_DAYS = 7.0
SPIKE_CAP = 3.0  # a burst teaches the baseline at most 3x the expected count, so calm after it is no silence


class FlatlineRule(Rule):
    name = "flatline"
    dimensions = ("source",)

    def __init__(self, settings: FlatlineSettings) -> None:
        self.settings = settings
        self.baseline = SeasonalRate(PRIOR_RATE, settings.baseline_halflife_minutes, SEASON_HALFLIFE_DAYS)
        self.windows: dict[str, deque[tuple[int, float]]] = {}  # per source: (count, expected)

    def observe(self, obs: Observation) -> Signal | None:
        s = self.settings
        size = max(1, s.window_minutes // obs.minutes)
        window = self.windows.get(obs.key)
        if window is None or window.maxlen != size:
            window = self.windows[obs.key] = deque(window or (), maxlen=size)
        window.append((obs.total, self.baseline.expected(obs.key, obs.start, obs.minutes)))
        seen = sum(c for c, _ in window)
        expected = sum(e for _, e in window)
        full = len(window) == size
        p = poisson_cdf(seen, expected)
        if not full or expected < s.min_expected or seen > s.silence_ratio * expected or p >= s.p_value:
            if not obs.uncollected:  # a crawler known to be failing teaches no silence as normal
                self.baseline.learn(obs.key, obs.start, obs.minutes, obs.total, cap=SPIKE_CAP)
            return None
        source = obs.key.split("=", 1)[-1]
        minutes = size * obs.minutes
        return Signal(
            rule=self.name, key=obs.key, brand="", level="critical" if p < s.critical_p_value else "warning",
            at=obs.start, value=float(seen), baseline=expected, p_value=p,
            summary=(f"source {source}: {seen} posts in the last {minutes} min vs {expected:.0f} expected"
                     f" (p={p:.1e}); is its crawler blocked or broken?"),
            facts={"source": source, "seen": seen, "expected": round(expected, 1), "p_value": p, "minutes": minutes},
        )

    def set_zone(self, zone: str) -> None:
        super().set_zone(zone)
        self.baseline.set_zone(zone)

    def state(self) -> dict[str, Any]:
        return {"baseline": self.baseline.state(), "windows": {k: list(v) for k, v in self.windows.items()}}

    def restore(self, state: dict[str, Any]) -> None:
        self.baseline.restore(state.get("baseline", {}))
        self.windows = {k: deque((int(c), float(e)) for c, e in v) for k, v in state.get("windows", {}).items()}
