"""Detector rules registered by name; `build_rules` makes the enabled ones from `DetectionSettings`.

Order matters: within a bucket, rules run in this order, so the primary negative_spike opens the
incident that the other rules' signals for the same brand then join.
"""

from __future__ import annotations

from crisiswatch.config import DetectionSettings
from monitor.detectors.base import Rule
from monitor.detectors.emerging_terms import EmergingTermsRule
from monitor.detectors.flatline import FlatlineRule
from monitor.detectors.negative_share import NegativeShareRule
from monitor.detectors.negative_spike import NegativeSpikeRule
from monitor.detectors.volume_spike import VolumeSpikeRule

RULES: dict[str, type[Rule]] = {
    rule.name: rule
    for rule in (NegativeSpikeRule, NegativeShareRule, VolumeSpikeRule, EmergingTermsRule, FlatlineRule)
}


def build_rules(settings: DetectionSettings, zone: str = "UTC") -> list[Rule]:
    """The enabled rules; `zone` is the team's, in which their summaries give clock times."""
    rules = []
    for name, cls in RULES.items():
        options = getattr(settings, name)
        if getattr(options, "enabled", True):
            rule = cls(options)
            rule.set_zone(zone)
            rules.append(rule)
    return rules
