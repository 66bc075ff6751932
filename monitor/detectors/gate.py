"""How a live rule asks the surge detector (the one benchmarks/nab_score.py measures) whether to fire.

Each rule has a series per key (mentions per bucket, the negative share of a window, the most
surprising term of a bucket) and a count tail of its own (negative binomial, binomial) that says
whether a bucket is beyond sampling noise. Per key:
- cold (the detector's first day: too little history for "rare" to mean anything): the rule decides
  by its count tail alone, at its strict `p_value`;
- warm: the surge detector decides when (the onset of an episode at least `alert_surprise` rare for
  this key), and the count tail only has to beat `noise_p_value`, so a key's own noise never pages.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from crisiswatch.config.detection import SurgeGate
from monitor.detectors.base import Level
from monitor.detectors.surge import Reading, SurgeByKey, SurgeSettings


@dataclass(frozen=True)
class Verdict:
    fired: bool
    level: Level
    warm: bool
    reading: Reading | None  # the detector's explanation when it decided


class SurgeGateByKey:
    def __init__(self, settings: SurgeGate, sides: str = "up") -> None:
        self.settings = settings
        self.keys = SurgeByKey(SurgeSettings(sides=sides))

    def decide(self, key: str, at: datetime, value: float, tail_p: float, p_value: float,
               critical_p_value: float) -> Verdict:
        """Feed this bucket's value to the key's detector and decide; `p_value`s are the rule's cold ones."""
        score, scorer = self.keys.update(key, at, value)
        if not scorer.warm:
            return Verdict(tail_p < p_value, "critical" if tail_p < critical_p_value else "warning", False, None)
        s = self.settings
        surprise = score / (1.0 - score) if score > 0.0 else 0.0
        fired = surprise >= s.alert_surprise and tail_p < s.noise_p_value
        level: Level = "critical" if surprise >= s.critical_surprise else "warning"
        return Verdict(fired, level, True, scorer.last if fired else None)

    def state(self) -> dict[str, Any]:
        return self.keys.state()

    def restore(self, state: dict[str, Any]) -> None:
        self.keys.restore(state)


def surge_facts(reading: Reading | None) -> dict[str, Any]:
    """The detector's numbers for an incident's facts (empty while the key is cold)."""
    if reading is None:
        return {}
    return {"surge": {"statistic": reading.statistic, "direction": reading.direction,
                      "surprise": round(reading.surprise, 2), "value": round(reading.value, 3),
                      "baseline": round(reading.baseline, 3), "since": reading.since,
                      "once_in_hours": round(reading.once_in_hours, 1)}}
