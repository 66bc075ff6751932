"""All mentions per bucket, per brand and per brand x category / brand x source, vs a seasonal baseline.

The expected count knows the hour of day and the weekday (`SeasonalRate`); the tail is negative
binomial because real mention counts are burstier than Poisson. Split keys start from a smaller
prior (a share of the brand's), so a new category is sensible from its first post.
"""

from __future__ import annotations

from typing import Any

from crisiswatch.config import VolumeSpikeSettings
from monitor.detectors.base import Observation, Rule, Signal
from monitor.detectors.baseline import SeasonalRate
from monitor.detectors.stats import nbinom_sf

SPLIT_PRIOR_SHARE = 0.25  # a category or source starts at a quarter of a brand's prior rate

_DIMENSION = {"brand": "brand", "category": "brand/category", "source": "brand/source"}


class VolumeSpikeRule(Rule):
    name = "volume_spike"
    dimensions = ("brand", "brand/category", "brand/source")

    def __init__(self, settings: VolumeSpikeSettings) -> None:
        self.settings = settings
        self.wanted = {_DIMENSION[d] for d in settings.dimensions}
        self.baseline = SeasonalRate(settings.prior_rate_per_minute, settings.baseline_halflife_minutes,
                                     settings.season_halflife_days)

    def _prior(self, obs: Observation) -> float:
        prior = self.settings.prior_rate_per_minute
        return prior if obs.dimension == "brand" else prior * SPLIT_PRIOR_SHARE

    def observe(self, obs: Observation) -> Signal | None:
        if obs.dimension not in self.wanted:
            return None
        s = self.settings
        prior = self._prior(obs)
        expected = self.baseline.expected(obs.key, obs.start, obs.minutes, prior)
        p = nbinom_sf(obs.total, expected, s.dispersion)
        if obs.total < s.min_count or p >= s.p_value:
            self.baseline.learn(obs.key, obs.start, obs.minutes, obs.total, prior)
            return None
        ratio = obs.total / expected if expected > 0 else float("inf")
        split = obs.key.split("|", 1)[1] if "|" in obs.key else ""
        return Signal(
            rule=self.name, key=obs.key, brand=obs.brand,
            level="critical" if p < s.critical_p_value else "warning", at=obs.start,
            value=float(obs.total), baseline=expected, p_value=p,
            summary=(f"{obs.total} mentions{' (' + split + ')' if split else ''} in {obs.minutes} min vs "
                     f"{expected:.2f} expected at this hour ({ratio:.0f}x, p={p:.1e})"),
            facts={"total": obs.total, "negative": obs.negative, "expected": round(expected, 3),
                   "ratio": round(ratio, 1) if ratio != float("inf") else None, "p_value": p,
                   "minutes": obs.minutes, "dimension": obs.dimension, "split": split},
        )

    def state(self) -> dict[str, Any]:
        return self.baseline.state()

    def restore(self, state: dict[str, Any]) -> None:
        self.baseline.restore(state)
