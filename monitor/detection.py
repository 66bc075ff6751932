"""Feeds complete time buckets from the index to the detector rules, persisting their state.

The checkpoint and each rule's baseline live in SQLite, so a restart neither forgets a surge
nor re-alerts it: buckets already decided are never decided again.
"""

from __future__ import annotations

import json
import sqlite3
from collections import defaultdict
from datetime import UTC, datetime, timedelta

from crisiswatch.config import Config
from crisiswatch.db import ensure_schema
from index.base import Backend, MentionFilter
from monitor.detectors.base import Observation, Rule
from monitor.detectors.negative_spike import NegativeSpikeRule
from monitor.explain import explain
from monitor.incidents.models import IncidentChange
from monitor.incidents.service import IncidentService

DDL = """
CREATE TABLE IF NOT EXISTS detector_state (
    name TEXT PRIMARY KEY,
    state TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
"""
MAX_LOOKBACK = timedelta(days=7)


def floor_time(value: datetime, minutes: int) -> datetime:
    step = minutes * 60
    return datetime.fromtimestamp(int(value.timestamp()) // step * step, UTC)


class DetectionService:
    def __init__(self, config: Config, backend: Backend, conn: sqlite3.Connection) -> None:
        self.config = config
        self.backend = backend
        self.conn = conn
        ensure_schema(conn, "detector_state", DDL)
        self.incidents = IncidentService(conn)
        self.bucket_minutes = config.detection.negative_spike.bucket_minutes
        self.rules: list[Rule] = [NegativeSpikeRule(config.detection.negative_spike)]
        for rule in self.rules:
            rule.restore(self._load(f"rule:{rule.name}") or {})

    def _load(self, name: str) -> dict | None:
        row = self.conn.execute("SELECT state FROM detector_state WHERE name=?", (name,)).fetchone()
        return json.loads(row[0]) if row else None

    def _save(self, name: str, state: dict) -> None:
        self.conn.execute(
            "INSERT INTO detector_state(name, state, updated_at) VALUES (?,?,?)"
            " ON CONFLICT(name) DO UPDATE SET state=excluded.state, updated_at=excluded.updated_at",
            (name, json.dumps(state), datetime.now(UTC).isoformat()),
        )

    @property
    def checkpoint(self) -> datetime | None:
        state = self._load("checkpoint")
        return datetime.fromisoformat(state["until"]) if state else None

    def _start(self, until: datetime) -> datetime | None:
        if self.checkpoint is not None:
            return self.checkpoint
        first = next(self.backend.scan(MentionFilter(since=until - MAX_LOOKBACK, until=until), batch_size=1), None)
        return floor_time(first.created_at, self.bucket_minutes) if first else None

    def advance(self, until: datetime) -> list[IncidentChange]:
        """Decide every complete bucket from the checkpoint up to `until`; returns incident changes."""
        until = floor_time(until, self.bucket_minutes)
        start = self._start(until)
        if start is None or start >= until:
            return []
        step = timedelta(minutes=self.bucket_minutes)
        flt = MentionFilter(since=start, until=until)
        totals: dict[datetime, dict[str, int]] = defaultdict(dict)
        negatives: dict[datetime, dict[str, int]] = defaultdict(dict)
        for b in self.backend.counts_over_time(flt, self.bucket_minutes * 60, group_by="brand"):
            totals[b.start][b.key] = b.count
        neg_flt = MentionFilter(since=start, until=until, sentiment_band="negative")
        for b in self.backend.counts_over_time(neg_flt, self.bucket_minutes * 60, group_by="brand"):
            negatives[b.start][b.key] = b.count
        brands = [b.key for b in self.config.brands] or sorted({k for d in totals.values() for k in d if k})
        quiet = timedelta(minutes=self.config.detection.negative_spike.resolve_after_minutes)

        changes: list[IncidentChange] = []
        t = start
        while t < until:
            for brand in brands:
                obs = Observation(start=t, minutes=self.bucket_minutes, key=f"brand={brand}", brand=brand,
                                  total=totals[t].get(brand, 0), negative=negatives[t].get(brand, 0))
                for rule in self.rules:
                    signal = rule.observe(obs)
                    if signal is not None:
                        change = self.incidents.apply(signal)
                        if change.kind in ("opened", "escalated"):
                            self.incidents.attach_facts(change.incident.id, **explain(
                                self.backend, brand, since=t - timedelta(minutes=30), until=t + step))
                            change = IncidentChange(change.kind, self.incidents.get(change.incident.id))
                        changes.append(change)
            t += step
            changes.extend(self.incidents.resolve_quiet(t, quiet))
        for rule in self.rules:
            self._save(f"rule:{rule.name}", rule.state())
        self._save("checkpoint", {"until": until.isoformat()})
        return changes
