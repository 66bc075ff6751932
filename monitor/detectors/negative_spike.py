"""Negative mentions per bucket against a rolling baseline, fired when the count is improbable.

The baseline is an exponentially weighted rate with a prior, so it is sensible from the first
hour; buckets that fire do not feed it, so a surge cannot teach the baseline that it is normal, nor do
buckets in which a source was known not to be collecting (an outage is no quieter normal).
"""

from __future__ import annotations

import math
from typing import Any

from crisiswatch.config import NegativeSpikeSettings
from monitor.detectors.base import Observation, Rule, Signal
from monitor.detectors.baseline import BaselineGaps, gaps_said
from monitor.detectors.stats import poisson_sf

__all__ = ["NegativeSpikeRule", "poisson_sf"]


class NegativeSpikeRule(Rule):
    name = "negative_spike"

    def __init__(self, settings: NegativeSpikeSettings) -> None:
        self.settings = settings
        self.rates: dict[str, float] = {}     # per key: expected negatives per minute
        self.weights: dict[str, float] = {}   # per key: how much data the rate rests on (minutes)
        self.gaps = BaselineGaps()

    def baseline(self, key: str) -> float:
        return self.rates.get(key, self.settings.prior_rate_per_minute)

    def observe(self, obs: Observation) -> Signal | None:
        s = self.settings
        rate = self.baseline(obs.key)
        expected = rate * obs.minutes
        p = poisson_sf(obs.negative, expected)
        fired = obs.negative >= s.min_count and p < s.p_value
        if not fired:
            if obs.uncollected:
                self.gaps.skip(obs.key, obs.start, obs.minutes, obs.uncollected)
            else:
                self._learn(obs.key, obs.negative / obs.minutes, obs.minutes)
            return None
        gaps = self.gaps.facts(obs.key, obs.start)
        level = "critical" if p < s.critical_p_value else "warning"
        ratio = obs.negative / expected if expected > 0 else float("inf")
        return Signal(
            rule=self.name, key=obs.key, brand=obs.brand, level=level, at=obs.start,
            value=float(obs.negative), baseline=expected, p_value=p,
            summary=(f"{obs.negative} negative mentions in {obs.minutes} min vs {expected:.2f} expected "
                     f"({ratio:.0f}x, p={p:.1e})" + gaps_said(gaps)),
            facts={"negative": obs.negative, "total": obs.total, "expected": round(expected, 3),
                   "ratio": round(ratio, 1) if math.isfinite(ratio) else None, "p_value": p,
                   "minutes": obs.minutes, **gaps},
        )

    def _learn(self, key: str, observed_rate: float, minutes: int) -> None:
        # EWMA with a half-life; early on the prior dominates, then data takes over
        alpha = 1 - 0.5 ** (minutes / self.settings.baseline_halflife_minutes)
        current = self.baseline(key)
        self.rates[key] = current + alpha * (observed_rate - current)
        self.weights[key] = self.weights.get(key, 0.0) + minutes

    def state(self) -> dict[str, Any]:
        return {"rates": dict(self.rates), "weights": dict(self.weights), "gaps": self.gaps.state()}

    def restore(self, state: dict[str, Any]) -> None:
        self.rates = {k: float(v) for k, v in state.get("rates", {}).items()}
        self.weights = {k: float(v) for k, v in state.get("weights", {}).items()}
        self.gaps.restore(state.get("gaps", {}))

