"""Feeds complete time buckets from the index to the detector rules, persisting their state.

The checkpoint, each rule's baseline and the keys seen so far live in SQLite, so a restart neither
forgets a surge nor re-alerts it: buckets already decided are never decided again. Counts come
from `Backend.counts_over_time` only (one query per dimension for the whole range, not per bucket);
terms come from one `scan` of the range, and only when a rule asks for them.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta

from crisiswatch.config import Config
from crisiswatch.db import StateConnection
from crisiswatch.lease import LeaseLost, Leases, new_holder
from crisiswatch.localtime import local_time
from crisiswatch.mention import Mention, severity_rank
from index.base import Backend, MentionFilter
from index.tokenize import topic_tokens
from monitor.detectors import build_rules
from monitor.detectors.base import Observation, Rule, Signal, floor_time
from monitor.detectors.negative_share import NegativeShareRule
from monitor.explain import explain
from monitor.incidents.models import Incident, IncidentChange, incident_severity
from monitor.incidents.service import IncidentService
from monitor.late_arrivals import LateArrivals

logger = logging.getLogger(__name__)
MAX_LOOKBACK = timedelta(days=7)
DETECTION_LEASE = "detection"
DETECTION_LEASE_TTL = timedelta(minutes=15)  # longer than any pass; a crashed holder frees it after this
EXPLAIN_MINUTES = 30  # the explanation looks at the posts of the last half hour before the bucket
# a source down in a bucket keeps a brand's baselines from learning it when it brought at least this share of the
# brand's posts in the last day: a complaint site blocked for a week must not freeze the brand's baselines
MATERIAL_SHARE = 0.05


@dataclass
class _Counts:
    """Per bucket start: key -> (total, negative), and brand key -> term -> posts."""

    by_key: dict[datetime, dict[str, list[int]]] = field(default_factory=lambda: defaultdict(dict))
    terms: dict[datetime, dict[str, Counter]] = field(default_factory=lambda: defaultdict(dict))
    term_posts: dict[datetime, dict[str, int]] = field(default_factory=lambda: defaultdict(dict))  # posts in terms

    def add(self, start: datetime, key: str, total: int = 0, negative: int = 0) -> None:
        pair = self.by_key[start].setdefault(key, [0, 0])
        pair[0] += total
        pair[1] += negative


class DetectionService:
    """`failing_since(source)`: since when a source's crawls have been failing (None while they succeed), told by
    whoever runs the crawlers (`crawlers.health.source_failing_since`, wired in `monitor.flows`); without it only
    open flatlines say a source was down (a backtest, a dry run)."""

    def __init__(self, config: Config, backend: Backend, conn: StateConnection,
                 failing_since: Callable[[str], datetime | None] | None = None) -> None:
        self.config = config
        self.failing_since = failing_since
        self.backend = backend
        self.conn = conn
        self.incidents = IncidentService(conn)
        self.holder = new_holder("detect")
        settings = config.detection
        self.bucket_minutes = settings.negative_spike.bucket_minutes
        self.join_window = timedelta(minutes=settings.join_window_minutes)
        self.cooldown = timedelta(minutes=settings.cooldown_minutes)
        self.rules: list[Rule] = build_rules(settings, config.alerts.timezone)
        for rule in self.rules:
            rule.restore(self._load(f"rule:{rule.name}") or {})
        self.names = {b.key: tuple(b.names) for b in config.brands}
        self.dimensions = {d for rule in self.rules for d in rule.dimensions}
        self.needs_terms = any(rule.needs_terms for rule in self.rules)
        # every key ever seen per dimension, so a quiet key is still observed (and can flatline)
        self.known: dict[str, set[str]] = {k: set(v) for k, v in (self._load("keys") or {}).items()}
        self.copies = RepeatedCopies(settings.emerging_terms.window_minutes, self._load("copies") or {})

    def _load(self, name: str) -> dict | None:
        return detector_state(self.conn, name)

    def _save(self, name: str, state: dict) -> None:
        self.conn.execute(
            "INSERT INTO detector_state(name, state, updated_at) VALUES (?,?,?)"
            " ON CONFLICT(name) DO UPDATE SET state=excluded.state, updated_at=excluded.updated_at",
            (name, json.dumps(state, ensure_ascii=False), datetime.now(UTC).isoformat()),
        )

    @property
    def checkpoint(self) -> datetime | None:
        state = self._load("checkpoint")
        return datetime.fromisoformat(state["until"]) if state else None

    def start_at(self, when: datetime) -> None:
        """Decide buckets from `when` on (a backtest's warm-up start); only for a fresh state."""
        if self.checkpoint is not None:
            raise ValueError("detection already has a checkpoint; start_at is for a fresh state")
        self._save("checkpoint", {"until": floor_time(when, self.bucket_minutes).isoformat()})

    def _start(self, until: datetime) -> datetime | None:
        if self.checkpoint is not None:
            return self.checkpoint
        first = next(self.backend.scan(MentionFilter(since=until - MAX_LOOKBACK, until=until), batch_size=1), None)
        return floor_time(first.created_at, self.bucket_minutes) if first else None

    def _brands(self, start: datetime, until: datetime) -> list[str]:
        if self.config.brands:
            return [b.key for b in self.config.brands]
        buckets = self.backend.counts_over_time(MentionFilter(since=start, until=until), 86400 * 7, "brand")
        return sorted({b.key for b in buckets if b.key})

    def _gather(self, start: datetime, until: datetime, brands: list[str]) -> _Counts:
        counts = _Counts()
        seconds = self.bucket_minutes * 60

        def grouped(flt: MentionFilter, group_by: str, key, negative: bool = False) -> None:
            for b in self.backend.counts_over_time(flt, seconds, group_by=group_by):
                if b.key:
                    counts.add(b.start, key(b.key), 0 if negative else b.count, b.count if negative else 0)

        for neg in (False, True):
            band = "negative" if neg else None
            grouped(MentionFilter(since=start, until=until, sentiment_band=band), "brand", lambda k: f"brand={k}", neg)
            for brand in brands:
                for dim in ("category", "source"):
                    if f"brand/{dim}" in self.dimensions:
                        flt = MentionFilter(brand=brand, since=start, until=until, sentiment_band=band)
                        grouped(flt, dim, lambda k, b=brand, d=dim: f"brand={b}|{d}={k}", neg)
            if "source" in self.dimensions and not neg:
                grouped(MentionFilter(since=start, until=until), "source", lambda k: f"source={k}")
        if self.needs_terms:
            wanted = set(brands)
            for m in self.backend.scan(MentionFilter(since=start, until=until)):
                bucket = floor_time(m.created_at, self.bucket_minutes)
                words = set(topic_tokens(m.text))
                for brand in wanted.intersection(m.brands):
                    posts = counts.term_posts[bucket]
                    posts[brand] = posts.get(brand, 0)
                    if self.copies.repeated(brand, m, words):
                        continue
                    posts[brand] += 1
                    counts.terms[bucket].setdefault(brand, Counter()).update(words)
        for pairs in counts.by_key.values():
            for key in pairs:
                self.known.setdefault(_dimension(key), set()).add(key)
        return counts

    def advance(self, until: datetime, held: Callable[[], bool] | None = None) -> list[IncidentChange]:
        """Decide every complete bucket from the checkpoint up to `until`; returns incident changes.

        Safe from two processes: the `detection` lease lets one decide at a time (the other returns
        nothing: those buckets are being decided), and the rules' state, the keys and the checkpoint
        are read again under the lease, so nothing decided elsewhere is decided twice.

        `held` says whether the caller still holds what lets it act (the run loop's leases): asked after
        the counts are read and before anything is written, it raises `LeaseLost` when it says no."""
        leases = Leases(self.conn)
        if not leases.acquire(DETECTION_LEASE, self.holder, DETECTION_LEASE_TTL):
            logger.info("another process is deciding buckets; skipping this pass")
            return []
        try:
            self._reload()
            return self._advance(until, held)
        finally:
            leases.release(DETECTION_LEASE, self.holder)

    def _reload(self) -> None:
        for rule in self.rules:
            rule.restore(self._load(f"rule:{rule.name}") or {})
        self.known = {k: set(v) for k, v in (self._load("keys") or {}).items()}
        self.copies = RepeatedCopies(self.config.detection.emerging_terms.window_minutes, self._load("copies") or {})

    def _advance(self, until: datetime, held: Callable[[], bool] | None = None) -> list[IncidentChange]:
        until = floor_time(until, self.bucket_minutes)
        start = self._start(until)
        if start is None or start >= until:
            return []
        brands = self._brands(start, until)
        late = LateArrivals(self.backend, lambda: self._load("late"), lambda s: self._save("late", s),
                            self.config.detection.max_wait_minutes, brands=brands)
        late_brands = []
        if self.checkpoint is not None:
            late_brands = late.late_brands(start)
            late.check(start)
        decided = late.counts(start, until)  # before the detectors read them: a post arriving meanwhile is late
        decided_brands = late.brand_counts(start, until)
        step = timedelta(minutes=self.bucket_minutes)
        for brand in brands:
            self.known.setdefault("brand", set()).add(f"brand={brand}")
        counts = self._gather(start, until, brands)
        outage = self._outage(start, brands, late)
        quiet = timedelta(minutes=self.config.detection.negative_spike.resolve_after_minutes)
        allowed = {f"brand={b}" for b in brands}
        keys = sorted((dim, key) for dim in self.dimensions for key in self.known.get(dim, ())
                      if dim == "source" or key.split("|", 1)[0] in allowed)
        if held is not None and not held():  # the reads are done; from here on incidents are written
            raise LeaseLost("detection stopped before writing incidents: its lease was lost")

        changes: list[IncidentChange] = []
        share = next((rule for rule in self.rules if isinstance(rule, NegativeShareRule)), None)
        for arrived in late_brands if share is not None else ():
            if f"brand={arrived.brand}" in allowed:
                signal = share.late(f"brand={arrived.brand}", arrived.brand, arrived.sources, arrived.first,
                                    arrived.last, at=start, span=self._span(arrived.first, arrived.last))
                if signal is not None:  # explained by the late posts themselves, not the last half hour's
                    changes.append(self._apply(signal, arrived.last, since=arrived.first))
        t = start
        while t < until:
            down = outage.down(t + step)
            here = counts.by_key.get(t, {})
            terms = counts.terms.get(t, {})
            term_posts = counts.term_posts.get(t, {})
            for dim, key in keys:
                brand = key.split("|", 1)[0].removeprefix("brand=") if key.startswith("brand=") else ""
                total, negative = here.get(key, (0, 0))
                obs = Observation(start=t, minutes=self.bucket_minutes, key=key, brand=brand, total=total,
                                  negative=negative, dimension=dim,
                                  terms=terms.get(brand, {}) if dim == "brand" else None,
                                  term_posts=term_posts.get(brand) if dim == "brand" else None,
                                  uncollected=outage.of(key, down))
                for rule in self.rules:
                    if dim in rule.dimensions:
                        for signal in rule.observe_all(obs):
                            changes.append(outage.heard(self._apply(signal, t + step)))
            t += step
            changes.extend(outage.heard(c) for c in self.incidents.resolve_quiet(t, quiet))
        for rule in self.rules:
            self._save(f"rule:{rule.name}", rule.state())
        self._save("keys", {k: sorted(v) for k, v in self.known.items()})
        if self.needs_terms:
            self._save("copies", self.copies.state(until))
        late.remember(decided, until, decided_brands)
        self._save("checkpoint", {"until": until.isoformat()})
        return changes

    def _outage(self, start: datetime, brands: list[str], late: LateArrivals) -> Outage:
        """What this pass knows of the sources that were not collecting: for each source whose crawls are failing
        (any of its spiders'), when its posts were last all in; the sources with an open flatline; and each
        source's share of each brand's posts in the last day."""
        shares = late.source_shares(start) if brands else {}
        sources = {_part(k, "source") for keys in self.known.values() for k in keys} - {None}
        sources |= {source for by_source in shares.values() for source in by_source}
        marks: dict[str, datetime] = {}
        for source in sorted(sources) if self.failing_since else ():
            if (since := self.failing_since(source)) is not None:
                marks[source] = since
        flat = {s for s in sources if self.incidents.open_for(f"source={s}", "flatline") is not None}
        return Outage(marks, flat, shares)

    def _span(self, first: datetime, last: datetime) -> str:
        """06-14 14:00-17:00 CST: a stretch of time in the team's zone, as every line people read."""
        zone = self.config.alerts.timezone
        return f"{local_time(first, zone, '%m-%d %H:%M')}-{local_time(last, zone, '%H:%M %Z')}"

    def _apply(self, signal: Signal, bucket_end: datetime, since: datetime | None = None) -> IncidentChange:
        change = self.incidents.apply(signal, self.join_window, self.cooldown,
                                      primary=signal.rule == self.config.detection.primary_rule)
        since = since or bucket_end - timedelta(minutes=EXPLAIN_MINUTES)
        if change.kind in ("opened", "escalated") and change.incident.brand:
            # joined signals describe themselves in facts["related"]; the explanation is the host's
            host = change.incident
            self.incidents.attach_facts(host.id, **self._explain(host, signal, since, bucket_end))
            change = IncidentChange(change.kind, self.incidents.get(host.id))
        elif change.kind == "updated" and change.incident.brand:
            change = self._regrade(change, signal, since, bucket_end)
        return change

    def _explain(self, host: Incident, signal: Signal, since: datetime, until: datetime) -> dict:
        focus = signal.facts if (host.rule, host.key) == (signal.rule, signal.key) else {}
        return explain(self.backend, host.brand, since=since, until=until, category=_part(host.key, "category"),
                       source=_part(host.key, "source"), term=focus.get("term"), names=self.names.get(host.brand, ()))

    def _regrade(self, change: IncidentChange, signal: Signal, since: datetime, until: datetime) -> IncidentChange:
        """A graver post among the widest-reaching (a media report hours into a crisis of complaints) raises
        the incident's grade, as it would have at the opening, and is said as an escalation: the routes of
        the graver grade (管理层's) hear of it. Its facts were otherwise read only when the level rose."""
        host = change.incident
        grade = incident_severity(host)
        window = MentionFilter(brand=host.brand, since=since, until=until, sentiment_band="negative")
        present = [s for s, _ in self.backend.counts_by(window, "severity", limit=10)]
        if not any(severity_rank(s) > severity_rank(grade) for s in present):
            return change  # one cheap count a minute; the explanation only when there is something graver
        facts = self._explain(host, signal, since, until)
        raised = incident_severity(replace(host, facts={**host.facts, **facts}))
        if severity_rank(raised) <= severity_rank(grade):
            return change
        self.incidents.attach_facts(host.id, **facts)
        return self.incidents.regrade(host.id, was=grade, grade=raised, at=until)


class Outage:
    """Which sources were known not to be collecting as a pass decides its buckets, and whose keys that shorts.

    A source is down for a bucket when its latest crawl failed and its last clean crawl began before the bucket
    ended (the run loop waited `detection.max_wait_minutes` for it, then decided without its posts), or while a
    flatline incident is open for it. A source crawled seldom (hourly) but cleanly is behind, not down: what
    its next crawl brings is said as late (`monitor.late_arrivals`). A source's own keys
    are short by its posts; a brand's are only when the source brought a material share of them."""

    def __init__(self, marks: dict[str, datetime], flatlined: set[str],
                 shares: dict[str, dict[str, float]]) -> None:
        self.marks = marks
        self.flatlined = set(flatlined)
        self.shares = shares

    def down(self, bucket_end: datetime) -> set[str]:
        return self.flatlined | {s for s, mark in self.marks.items() if mark < bucket_end}

    def of(self, key: str, down: set[str]) -> tuple[str, ...]:
        """The down sources whose missing posts short this key's counts."""
        if not down:
            return ()
        source = _part(key, "source")
        if source is not None:
            return (source,) if source in down else ()
        shares = self.shares.get(_part(key, "brand") or "", {})
        return tuple(sorted(s for s in down if shares.get(s, 0.0) >= MATERIAL_SHARE))

    def heard(self, change: IncidentChange) -> IncidentChange:
        """Follows the flatlines this pass opens and resolves."""
        incident = change.incident
        if incident.rule == "flatline" and (source := _part(incident.key, "source")):
            if change.kind == "resolved":
                self.flatlined.discard(source)
            elif change.kind != "suppressed":
                self.flatlined.add(source)
        return change


class RepeatedCopies:
    """An author posting the same text again within the emerging-terms window: counted once for terms.

    One account repeating an ad or a grievance 200 times is one voice, not 200 posts using its words; a
    repost wave (many authors, one text) is many voices and counts in full. A copy is the author's id with the
    post's near-duplicate cluster (enrichment's), or its words when it has none; posts without an author id
    are never taken for copies. Kept as plain state (author copy -> minute first counted), like the rules'."""

    def __init__(self, window_minutes: int, state: dict[str, dict[str, int]]) -> None:
        self.window = window_minutes
        self.seen = {brand: dict(copies) for brand, copies in state.items()}

    def repeated(self, brand: str, mention: Mention, words: set[str]) -> bool:
        if not mention.author.id:
            return False
        what = mention.cluster_id or "\x00".join(sorted(w for w in words if not w.isdigit()))
        copy = hashlib.sha1(f"{mention.author.id}\x00{what}".encode()).hexdigest()[:16]
        minute = int(mention.created_at.timestamp()) // 60
        seen = self.seen.setdefault(brand, {})
        first = seen.get(copy)
        if first is not None and minute - first < self.window:
            return True
        seen[copy] = minute
        return False

    def state(self, until: datetime) -> dict[str, dict[str, int]]:
        """What can still repeat after `until` (older copies are out of every window)."""
        oldest = int(until.timestamp()) // 60 - self.window
        return {brand: {c: m for c, m in copies.items() if m > oldest} for brand, copies in self.seen.items()}


def detector_state(conn: StateConnection, name: str) -> dict | None:
    """One saved part of detection: `checkpoint`, `keys`, `late`, `rule:<name>`."""
    row = conn.execute("SELECT state FROM detector_state WHERE name=?", (name,)).fetchone()
    return json.loads(row[0]) if row else None


def _dimension(key: str) -> str:
    """brand=a -> brand; brand=a|category=b -> brand/category; source=x -> source."""
    return "/".join(part.split("=", 1)[0] for part in key.split("|"))


def _part(key: str, name: str) -> str | None:
    for part in key.split("|"):
        k, _, v = part.partition("=")
        if k == name:
            return v
    return None
