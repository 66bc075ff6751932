"""All mentions per bucket, per brand and per brand x category / brand x source, vs a seasonal baseline.

The expected count knows the hour of day and the weekday (`SeasonalRate`); the tail is negative
binomial because real mention counts are burstier than Poisson. Split keys start from a smaller
prior (a share of the brand's), so a new category is sensible from its first post. Once a key has a
day of history, the surge detector decides (`gate.py`): it fires at the onset of a rise that is rare
for this key, and the tail only has to be beyond noise.
"""

from __future__ import annotations

from typing import Any

from crisiswatch.config import VolumeSpikeSettings
from monitor.detectors.base import Observation, Rule, Signal
from monitor.detectors.baseline import BaselineGaps, SeasonalRate, gaps_said
from monitor.detectors.gate import SurgeGateByKey, surge_facts
from monitor.detectors.stats import nbinom_sf
from monitor.detectors.surge import describe

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
        self.surge = SurgeGateByKey(settings, sides="up")
        self.gaps = BaselineGaps()

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
        verdict = self.surge.decide(obs.key, obs.start, obs.total, p, s.p_value, s.critical_p_value)
        if obs.total < s.min_count or not verdict.fired:
            if obs.uncollected:
                self.gaps.skip(obs.key, obs.start, obs.minutes, obs.uncollected)
            else:
                self.baseline.learn(obs.key, obs.start, obs.minutes, obs.total, prior)
            return None
        gaps = self.gaps.facts(obs.key, obs.start)
        ratio = obs.total / expected if expected > 0 else float("inf")
        split = obs.key.split("|", 1)[1] if "|" in obs.key else ""
        summary = (f"{obs.total} mentions{' (' + split + ')' if split else ''} in {obs.minutes} min vs "
                   f"{expected:.2f} expected at this hour ({ratio:.0f}x, p={p:.1e})")
        if verdict.reading is not None:
            summary += "; " + describe(verdict.reading, "mentions per bucket", self.zone)
        summary += gaps_said(gaps)
        return Signal(
            rule=self.name, key=obs.key, brand=obs.brand, level=verdict.level, at=obs.start,
            value=float(obs.total), baseline=expected, p_value=p, summary=summary,
            facts={"total": obs.total, "negative": obs.negative, "expected": round(expected, 3),
                   "ratio": round(ratio, 1) if ratio != float("inf") else None, "p_value": p,
                   "minutes": obs.minutes, "dimension": obs.dimension, "split": split,
                   **surge_facts(verdict.reading), **gaps},
        )

    def set_zone(self, zone: str) -> None:
        super().set_zone(zone)
        self.baseline.set_zone(zone)

    def state(self) -> dict[str, Any]:
        return {"baseline": self.baseline.state(), "surge": self.surge.state(), "gaps": self.gaps.state()}

    def restore(self, state: dict[str, Any]) -> None:
        if "surge" not in state:  # a state saved before the surge detector: the baseline alone
            state = {"baseline": state, "surge": {}}
        self.baseline.restore(state["baseline"])
        self.surge.restore(state["surge"])
        self.gaps.restore(state.get("gaps", {}))
