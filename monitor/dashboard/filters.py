"""The dashboard view a URL describes: brand, source, category and time range, all in the query string."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from urllib.parse import urlencode

from crisiswatch.mention import CATEGORIES, SOURCES
from index.base import MentionFilter

# range key -> (window, bucket seconds): about 60-170 buckets whatever the range
RANGES: dict[str, tuple[timedelta, int]] = {
    "1h": (timedelta(hours=1), 60),
    "6h": (timedelta(hours=6), 300),
    "24h": (timedelta(hours=24), 900),
    "7d": (timedelta(days=7), 3600),
    "30d": (timedelta(days=30), 6 * 3600),
}
DEFAULT_RANGE = "24h"


@dataclass(frozen=True)
class View:
    brand: str | None = None
    source: str | None = None
    category: str | None = None
    range: str = DEFAULT_RANGE

    @property
    def interval_seconds(self) -> int:
        return RANGES[self.range][1]

    def window(self, now: datetime | None = None) -> tuple[datetime, datetime]:
        now = now or datetime.now(UTC)
        # the window ends at the next bucket edge so the newest bucket is not cut short
        step = self.interval_seconds
        until = datetime.fromtimestamp((int(now.timestamp()) // step + 1) * step, UTC)
        return until - RANGES[self.range][0], until

    def mention_filter(self, now: datetime | None = None, **extra: object) -> MentionFilter:
        since, until = self.window(now)
        return MentionFilter(brand=self.brand, source=self.source, category=self.category,
                             since=since, until=until, **extra)

    def query(self, **changes: object) -> str:
        """The query string of this view (for links that keep the filters)."""
        view = replace(self, **changes) if changes else self
        params = {k: v for k, v in (("brand", view.brand), ("source", view.source),
                                    ("category", view.category)) if v}
        if view.range != DEFAULT_RANGE:
            params["range"] = view.range
        return urlencode(params)


def parse_view(params: dict[str, str], brands: list[str]) -> tuple[View, list[str]]:
    """A view from query parameters; unknown values are dropped and reported, never guessed."""
    errors: list[str] = []

    def pick(name: str, allowed: object) -> str | None:
        value = (params.get(name) or "").strip()
        if not value:
            return None
        if value not in allowed:
            errors.append(f"{name}={value}")
            return None
        return value

    range_key = pick("range", RANGES) or DEFAULT_RANGE
    # a brand not in the config may still be in the index (e.g. renamed), so brand is only length-checked
    brand = (params.get("brand") or "").strip()[:64] or None
    if brand and brands and brand not in brands:
        errors.append(f"brand={brand}")
        brand = None
    return View(brand=brand, source=pick("source", SOURCES), category=pick("category", CATEGORIES),
                range=range_key), errors
