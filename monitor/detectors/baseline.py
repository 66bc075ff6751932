"""An expected count per bucket that knows the hour of day and the day of week, as plain state.

Per key: `level`, the overall rate; `hours[h]`, the rate seen at hour h of the day; `days[d]`, how
weekday d runs against its hours (a factor). The expected rate is the hour's rate (blended with the
level while that hour has little data) times the weekday factor. Each is an EWMA, but until it has
more data than its half-life it is the plain mean so far with the prior worth `PRIOR_MINUTES`: fast
to learn a new key, steady once learned, and the first hour is already sensible (prior rate).
Callers only `learn` from buckets that did not fire, so a surge never becomes the new normal.

The weekday is the team's (`zone`): Saturday begins at midnight in Shanghai, not eight hours later at
midnight UTC, so Friday night is not a weekend's and Monday's 07:00 rush is not Sunday's. Hour slots are
only labels of the same hour every day and stay in UTC (a learned shape is kept across an upgrade).
"""

from __future__ import annotations

from datetime import datetime
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
