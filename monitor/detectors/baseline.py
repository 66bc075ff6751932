"""An expected count per bucket that knows the hour of day and the day of week, as plain state.

Per key: `level`, the overall rate; `hours[h]`, the rate seen at hour h of the day; `days[d]`, how
weekday d runs against its hours (a factor). The expected rate is the hour's rate (blended with the
level while that hour has little data) times the weekday factor. Each is an EWMA, but until it has
more data than its half-life it is the plain mean so far with the prior worth `PRIOR_MINUTES`: fast
to learn a new key, steady once learned, and the first hour is already sensible (prior rate).
Callers only `learn` from buckets that did not fire, so a surge never becomes the new normal, and not from
buckets in which a source was known not to be collecting (`BaselineGaps`), so an outage's near-zero hours
never become a lower normal that the next days' ordinary volume would read as a rise against.

The weekday is the team's (`zone`): Saturday begins at midnight in Shanghai, not eight hours later at
midnight UTC, so Friday night is not a weekend's and Monday's 07:00 rush is not Sunday's. Hour slots are
only labels of the same hour every day and stay in UTC (a learned shape is kept across an upgrade).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

PRIOR_MINUTES = 60.0
_BLEND_MINUTES = 15.0  # an hour slot with this much data counts as much as the overall level
_CLIP = 5.0  # a weekday factor stays within [1/5, 5]
_DAY_AFTER = 1440.0  # an hour slot needs a day's worth of data before weekday factors are learned


def _alpha(minutes: float, halflife: float, seen: float) -> float:
    """EWMA weight of a new bucket, but never less than its share of a plain mean so far."""
    return max(1 - 0.5 ** (minutes / halflife), minutes / (seen + minutes + PRIOR_MINUTES))


class SeasonalRate:
    def __init__(self, prior_rate: float, halflife_minutes: float, season_halflife_days: float) -> None:
        self.prior_rate = prior_rate
        self.halflife = halflife_minutes
        # An hour slot is visited 60 minutes a day, a weekday 1440 minutes a week: half-lives in
        # slot-minutes that forget over about `season_halflife_days` of their own visits.
        self.hour_halflife = 60.0 * season_halflife_days
        self.day_halflife = 1440.0 * season_halflife_days
        self.level: dict[str, float] = {}
        self.hours: dict[str, list[float]] = {}
        self.days: dict[str, list[float]] = {}
        self.seen: dict[str, list[float]] = {}  # minutes learned: [total, per hour x24, per weekday x7]
        self.zone = ZoneInfo("UTC")  # whose weekday (`set_zone`)

    def set_zone(self, zone: str) -> None:
        self.zone = ZoneInfo(zone)

    def _weekday(self, at: datetime) -> int:
        return at.astimezone(self.zone).weekday()

    def _hour_rate(self, key: str, hour: int, level: float) -> float:
        hours, seen = self.hours.get(key), self.seen.get(key)
        if not hours:
            return level
        w = seen[1 + hour] / (seen[1 + hour] + _BLEND_MINUTES)
        return w * hours[hour] + (1 - w) * level

    def expected(self, key: str, at: datetime, minutes: int, prior_rate: float | None = None) -> float:
        level = self.level.get(key, self.prior_rate if prior_rate is None else prior_rate)
        days = self.days.get(key)
        return self._hour_rate(key, at.hour, level) * (days[self._weekday(at)] if days else 1.0) * minutes

    def learn(self, key: str, at: datetime, minutes: int, count: int, prior_rate: float | None = None,
              cap: float | None = None) -> None:
        """Fold one bucket in; with `cap`, a count above cap x expected counts as that (robust to spikes)."""
        rate = count / minutes
        level = self.level.get(key, self.prior_rate if prior_rate is None else prior_rate)
        if cap is not None and self.seen.get(key, [0.0])[0] >= PRIOR_MINUTES:
            rate = min(rate, cap * self.expected(key, at, 1, prior_rate) + 1.0 / minutes)
        hours = self.hours.setdefault(key, [level] * 24)
        days = self.days.setdefault(key, [1.0] * 7)
        seen = self.seen.setdefault(key, [0.0] * 32)
        h, d = at.hour, self._weekday(at)
        hour_rate = self._hour_rate(key, h, level)
        if seen[1 + h] >= _DAY_AFTER and hour_rate > 0:
            ratio = min(max(rate / hour_rate, 1 / _CLIP), _CLIP)
            days[d] += _alpha(minutes, self.day_halflife, seen[25 + d]) * (ratio - days[d])
        # the hour's rate learns the de-weekdayed rate, the level the plain one
        hours[h] += _alpha(minutes, self.hour_halflife, seen[1 + h]) * (rate / days[d] - hours[h])
        self.level[key] = level + _alpha(minutes, self.halflife, seen[0]) * (rate - level)
        seen[0] += minutes
        seen[1 + h] += minutes
        seen[25 + d] += minutes

    def state(self) -> dict[str, Any]:
        return {"level": dict(self.level), "hours": dict(self.hours), "days": dict(self.days),
                "seen": dict(self.seen)}

    def restore(self, state: dict[str, Any]) -> None:
        self.level = {k: float(v) for k, v in state.get("level", {}).items()}
        self.hours = {k: [float(x) for x in v] for k, v in state.get("hours", {}).items()}
        self.days = {k: [float(x) for x in v] for k, v in state.get("days", {}).items()}
        self.seen = {k: [float(x) for x in v] for k, v in state.get("seen", {}).items()}


GAP_MEMORY_MINUTES = 7 * 1440  # gaps older than a week are no longer said: the baseline has mostly forgotten them
_MAX_GAPS = 50  # spans kept per key


class BaselineGaps:
    """Per key, the stretches a baseline did not learn because a source was known not to be collecting (its
    crawler failing, or flatlined): said with the signals the baseline decides, so a reader knows it."""

    def __init__(self) -> None:
        self.spans: dict[str, list[list]] = {}  # per key: [first minute, end minute, sources], oldest first

    def skip(self, key: str, at: datetime, minutes: int, sources: tuple[str, ...]) -> None:
        start = int(at.timestamp()) // 60
        spans = self.spans.setdefault(key, [])
        names = ",".join(sorted(sources))
        if spans and spans[-1][1] == start and spans[-1][2] == names:
            spans[-1][1] = start + minutes
        else:
            spans.append([start, start + minutes, names])
            del spans[:-_MAX_GAPS]

    def facts(self, key: str, at: datetime) -> dict[str, Any]:
        """{"baseline_gaps": {"hours", "sources", "last_start", "last_end"}} for the last week, or nothing."""
        oldest = int(at.timestamp()) // 60 - GAP_MEMORY_MINUTES
        spans = [s for s in self.spans.get(key, ()) if s[1] > oldest]
        self.spans[key] = spans
        if not spans:
            return {}
        sources = sorted({name for s in spans for name in s[2].split(",") if name})
        return {"baseline_gaps": {"hours": round(sum(e - max(b, oldest) for b, e, _ in spans) / 60, 1),
                                  "sources": sources,
                                  "last_start": datetime.fromtimestamp(spans[-1][0] * 60, UTC).isoformat(),
                                  "last_end": datetime.fromtimestamp(spans[-1][1] * 60, UTC).isoformat()}}

    def state(self) -> dict[str, list[list]]:
        return {k: [list(s) for s in v] for k, v in self.spans.items() if v}

    def restore(self, state: dict[str, list[list]]) -> None:
        self.spans = {k: [[int(b), int(e), str(n)] for b, e, n in v] for k, v in state.items()}


def gaps_said(facts: dict[str, Any]) -> str:
    """The summary's words for `BaselineGaps.facts`: '' without gaps."""
    gaps = facts.get("baseline_gaps")
    if not gaps:
        return ""
    return (f"; the baseline leaves out {gaps['hours']:g} h of the last week when {', '.join(gaps['sources'])}"
            " was not collected")
