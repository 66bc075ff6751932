"""The share of negative posts over a sliding window vs the brand's baseline share (binomial tail).

Catches a turn in tone when volume does not move: 30 % negative against a usual 10 % is news even
at an ordinary volume. The baseline is a decayed ratio of negative to all posts with a prior, fed
only by buckets that did not fire. Once a key has a day of history, the surge detector on the
window's share (in percent) decides when (`gate.py`); the binomial tail only has to beat noise.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from crisiswatch.config import NegativeShareSettings
from monitor.detectors.base import Observation, Rule, Signal
from monitor.detectors.baseline import BaselineGaps, gaps_said
from monitor.detectors.gate import SurgeGateByKey, surge_facts
from monitor.detectors.stats import binom_sf
from monitor.detectors.surge import describe

SOURCE_PRIOR_POSTS = 10  # a source's own day of posts soon outweighs the brand's share as its late posts' prior


class NegativeShareRule(Rule):
    name = "negative_share"

    def __init__(self, settings: NegativeShareSettings) -> None:
        self.settings = settings
        self.windows: dict[str, deque[tuple[int, int]]] = {}
        self.sums: dict[str, tuple[float, float]] = {}  # decayed (negative, total) posts
        self.surge = SurgeGateByKey(settings, sides="up")
        self.gaps = BaselineGaps()

    def share(self, key: str) -> float:
        s = self.settings
        neg, tot = self.sums.get(key, (0.0, 0.0))
        return (neg + s.prior_share * s.prior_weight) / (tot + s.prior_weight)

    def observe(self, obs: Observation) -> Signal | None:
        s = self.settings
        size = max(1, s.window_minutes // obs.minutes)
        window = self.windows.get(obs.key)
        if window is None or window.maxlen != size:  # new key, or restored from state
            window = self.windows[obs.key] = deque(window or (), maxlen=size)
        window.append((obs.total, obs.negative))
        n = sum(t for t, _ in window)
        k = sum(g for _, g in window)
        base = self.share(obs.key)
        p = binom_sf(k, n, base) if n else 1.0
        verdict = self.surge.decide(obs.key, obs.start, 100.0 * k / n if n else 0.0, p, s.p_value,
                                    s.critical_p_value)
        if n < s.min_total or k < s.min_negative or not verdict.fired:
            if obs.uncollected:  # the share of the sources still collected is not the brand's
                self.gaps.skip(obs.key, obs.start, obs.minutes, obs.uncollected)
                return None
            decay = 0.5 ** (obs.minutes / s.baseline_halflife_minutes)
            neg, tot = self.sums.get(obs.key, (0.0, 0.0))
            self.sums[obs.key] = (neg * decay + obs.negative, tot * decay + obs.total)
            return None
        minutes = len(window) * obs.minutes
        gaps = self.gaps.facts(obs.key, obs.start)
        summary = f"{k} of {n} mentions negative in {minutes} min ({k / n:.0%}) vs a usual {base:.0%} (p={p:.1e})"
        if verdict.reading is not None:
            summary += "; " + describe(verdict.reading, "% negative", self.zone)
        summary += gaps_said(gaps)
        return Signal(
            rule=self.name, key=obs.key, brand=obs.brand, level=verdict.level, at=obs.start,
            value=k / n, baseline=base, p_value=p, summary=summary,
            facts={"negative": k, "total": n, "share": round(k / n, 3), "baseline_share": round(base, 3),
                   "p_value": p, "minutes": minutes, **surge_facts(verdict.reading), **gaps},
        )

    def late(self, key: str, brand: str, sources: Mapping[str, tuple[int, int, int, int]], first: datetime,
             last: datetime, at: datetime, span: str = "") -> Signal | None:
        """Posts that arrived after their minutes were decided (a crawler's backlog), judged together: the turn
        in tone the detectors could not see while the crawler was behind. Per source: (late posts, late
        negative, posts known before in the last day, negative among those). Each source's late posts are
        expected at that source's own share (the brand's as its prior), so a complaint site that always
        publishes after review, and always negatively, is no news. By the count tail alone, at the rule's own
        strict `p_value` and minimum counts; it learns nothing. `span` is when they were created as the team
        reads it (`first`-`last` in UTC without it)."""
        s = self.settings
        total, negative = sum(v[0] for v in sources.values()), sum(v[1] for v in sources.values())
        if total < s.min_total or negative < s.min_negative:
            return None
        prior = self.share(key)
        expected = sum(n * (known_negative + prior * SOURCE_PRIOR_POSTS) / (known + SOURCE_PRIOR_POSTS)
                       for n, _, known, known_negative in sources.values())
        base = expected / total
        p = binom_sf(negative, total, base)
        if p >= s.p_value:
            return None
        span = span or f"{first:%H:%M}-{last:%H:%M} UTC"
        summary = (f"{negative} of {total} mentions created {span} that arrived late are negative"
                   f" ({negative / total:.0%}) vs a usual {base:.0%} (p={p:.1e}); a crawler was behind, so the"
                   " detectors decided those minutes without them")
        return Signal(
            rule=self.name, key=key, brand=brand, level="critical" if p < s.critical_p_value else "warning", at=at,
            value=negative / total, baseline=base, p_value=p, summary=summary,
            facts={"negative": negative, "total": total, "share": round(negative / total, 3),
                   "baseline_share": round(base, 3), "p_value": p, "late": True,
                   "late_sources": {src: v[0] for src, v in sources.items()},
                   "created_from": first.isoformat(), "created_until": last.isoformat()},
        )

    def state(self) -> dict[str, Any]:
        return {"windows": {k: list(v) for k, v in self.windows.items()},
                "sums": {k: list(v) for k, v in self.sums.items()}, "surge": self.surge.state(),
                "gaps": self.gaps.state()}

    def restore(self, state: dict[str, Any]) -> None:
        self.windows = {k: deque(tuple(x) for x in v) for k, v in state.get("windows", {}).items()}
        self.sums = {k: (float(v[0]), float(v[1])) for k, v in state.get("sums", {}).items()}
        self.surge.restore(state.get("surge", {}))
        self.gaps.restore(state.get("gaps", {}))
