"""Posts that reach the index after detection decided their minutes: stored and shown, not counted, and said.

Detection decides each minute once (its detectors' state only moves forward), when every source has been
crawled past it or `detection.max_wait_minutes` after it. A post collected later still (a source blocked for
an hour, a site that publishes complaints after review) is in the index, the dashboard and the reports, but
no detector saw it. Each pass compares the hourly counts of the last day of decided minutes, per source,
with what was there when they were decided; the difference is logged in one line and kept for
`crisiswatch status`, so an operator sees which source arrives late and can give it more time.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from index.base import Backend, MentionFilter
from monitor.detectors.base import floor_time

logger = logging.getLogger(__name__)
WINDOW = timedelta(days=1)  # how far back a late post is noticed
HOUR_MINUTES = 60  # late posts are counted by the hour

Hours = dict[str, dict[str, int]]  # hour start (ISO) -> source -> posts
BrandHours = dict[str, dict[str, list[int]]]  # hour start (ISO) -> "brand|source" -> [posts, negative posts]


@dataclass(frozen=True)
class LateBrand:
    """A brand's posts that came after their minutes were decided, per source: (late posts, late negative,
    posts known before in the last day, negative among those), and the hours they were created in."""

    brand: str
    sources: dict[str, tuple[int, int, int, int]]
    first: datetime  # the hour of the earliest, and the end of the latest
    last: datetime

    @property
    def total(self) -> int:
        return sum(s[0] for s in self.sources.values())

    @property
    def negative(self) -> int:
        return sum(s[1] for s in self.sources.values())


class LateArrivals:
    """What detection had decided, by hour and source, and what has arrived there since."""

    def __init__(self, backend: Backend, load: Callable[[], dict | None], save: Callable[[dict], None],
                 max_wait_minutes: int, clock: Callable[[], datetime] = lambda: datetime.now(UTC),
                 brands: list[str] = ()) -> None:
        self.backend = backend
        self.load = load
        self.save = save
        self.max_wait_minutes = max_wait_minutes
        self.clock = clock
        self.brands = list(brands)  # whose posts are counted by source and tone, for their late tone
        self._brands_cache: tuple[datetime, BrandHours] | None = None  # one count per pass for both checks

    def counts(self, since: datetime, until: datetime) -> Hours:
        out: Hours = {}
        for b in self.backend.counts_over_time(MentionFilter(since=since, until=until), HOUR_MINUTES * 60, group_by="source"):
            out.setdefault(b.start.isoformat(), {})[b.key or "?"] = b.count
        return out

    def brand_counts(self, since: datetime, until: datetime) -> BrandHours:
        out: BrandHours = {}
        for brand in self.brands:
            for negative in (False, True):
                flt = MentionFilter(brand=brand, since=since, until=until,
                                    sentiment_band="negative" if negative else None)
                for b in self.backend.counts_over_time(flt, HOUR_MINUTES * 60, group_by="source"):
                    pair = out.setdefault(b.start.isoformat(), {}).setdefault(f"{brand}|{b.key or '?'}", [0, 0])
                    pair[int(negative)] += b.count
        return out

    def _brands_now(self, decided_until: datetime) -> BrandHours:
        if self._brands_cache is None or self._brands_cache[0] != decided_until:
            since = floor_time(decided_until - WINDOW, HOUR_MINUTES)
            self._brands_cache = (decided_until, self.brand_counts(since, decided_until))
        return self._brands_cache[1]

    def source_shares(self, decided_until: datetime) -> dict[str, dict[str, float]]:
        """Per brand, each source's share of its posts in the last day of decided minutes."""
        totals: dict[str, Counter] = {}
        for counts in self._brands_now(decided_until).values():
            for key, (total, _) in counts.items():
                brand, _, source = key.partition("|")
                totals.setdefault(brand, Counter())[source] += total
        return {brand: {s: n / sum(c.values()) for s, n in c.items()} for brand, c in totals.items() if c.total()}

    def late_brands(self, decided_until: datetime) -> list[LateBrand]:
        """Per brand, the posts (and negative posts) that arrived in the last day of decided minutes since they
        were decided: what a crawler's backlog brought, for the tone the detectors could not see. Call it
        before `check`, which takes in what arrived."""
        state = self.load() or {}
        if "brands" not in state:  # nothing decided yet was counted by brand (a first pass, an upgrade)
            return []
        now = self._brands_now(decided_until)
        known: dict[str, list[int]] = {}  # brand|source -> what was there before: [posts, negative]
        for counts in state["brands"].values():
            for key, (total, negative) in counts.items():
                pair = known.setdefault(key, [0, 0])
                pair[0], pair[1] = pair[0] + total, pair[1] + negative
        late: dict[str, dict[str, list[int]]] = {}
        hours: dict[str, list[datetime]] = {}
        for hour, counts in now.items():
            for key, (total, negative) in counts.items():
                before = state["brands"].get(hour, {}).get(key, [0, 0])
                extra, extra_negative = max(0, total - before[0]), max(0, negative - before[1])
                if extra:
                    brand, _, source = key.partition("|")
                    pair = late.setdefault(brand, {}).setdefault(source, [0, 0])
                    pair[0], pair[1] = pair[0] + extra, pair[1] + extra_negative
                    hours.setdefault(brand, []).append(datetime.fromisoformat(hour))
        return [LateBrand(brand, {source: (n, k, *known.get(f"{brand}|{source}", (0, 0))) for source, (n, k)
                                  in sorted(sources.items())},
                          min(hours[brand]), min(max(hours[brand]) + timedelta(minutes=HOUR_MINUTES), decided_until))
                for brand, sources in sorted(late.items())]

    def check(self, decided_until: datetime) -> Counter:
        """Posts by source that arrived in the last day of decided minutes since they were decided; logs them."""
        state = self.load() or {}
        now = self.counts(floor_time(decided_until - WINDOW, HOUR_MINUTES), decided_until)
        late: Counter = Counter()
        hours = []
        if "hours" in state:  # the first pass after an upgrade has nothing to compare with
            for hour, sources in now.items():
                before = state["hours"].get(hour, {})
                for source, n in sources.items():
                    if n > before.get(source, 0):
                        late[source] += n - before.get(source, 0)
                        hours.append(hour)
        if late:
            total = sum(late.values())
            first = datetime.fromisoformat(min(hours))
            logger.warning(
                "%d post(s) reached the index after detection had decided their minutes (%s; created from %s UTC):"
                " stored and shown, not counted by the detectors (detection.max_wait_minutes is %d)",
                total, ", ".join(f"{s} {n}" for s, n in late.most_common()), f"{first:%m-%d %H}:00",
                self.max_wait_minutes)
            by_source = Counter(state.get("by_source", {}))
            by_source.update(late)
            state.update(total=state.get("total", 0) + total, by_source=dict(by_source),
                         last_at=self.clock().isoformat(), last=total)
        brands = self._brands_now(decided_until)
        if late or state.get("hours") != now or state.get("brands") != brands:
            self.save({**state, "hours": now, "brands": brands})
        return late

    def remember(self, decided: Hours, until: datetime, decided_brands: BrandHours | None = None) -> None:
        """Adds the minutes just decided (counted before the detectors read them, so a post arriving while they
        read is reported late rather than absorbed) and forgets what falls out of the window."""
        state = self.load() or {}
        hours = {h: dict(s) for h, s in state.get("hours", {}).items()}
        for hour, sources in decided.items():
            into = hours.setdefault(hour, {})
            for source, n in sources.items():
                into[source] = into.get(source, 0) + n
        brands = {h: {b: list(c) for b, c in v.items()} for h, v in state.get("brands", {}).items()}
        for hour, counts in (decided_brands or {}).items():
            into_brands = brands.setdefault(hour, {})
            for brand, (total, negative) in counts.items():
                pair = into_brands.setdefault(brand, [0, 0])
                pair[0], pair[1] = pair[0] + total, pair[1] + negative
        oldest = floor_time(until - WINDOW, HOUR_MINUTES).isoformat()
        self.save({**state, "hours": {h: s for h, s in hours.items() if h >= oldest},
                   "brands": {h: b for h, b in brands.items() if h >= oldest}})


def late_summary(state: dict | None, local: Callable[[str], str]) -> str:
    """`status`'s words: how many posts came too late for detection, from which sources, the last when."""
    if not state or not state.get("total"):
        return "no post arrived after its minutes were decided"
    sources = ", ".join(f"{s} {n}" for s, n in Counter(state.get("by_source", {})).most_common())
    return (f"{state['total']} post(s) arrived after their minutes were decided ({sources}), not counted by the"
            f" detectors; the last {state['last']} at {local(state['last_at'])}")
