"""Replay stored history through the configured detectors (and playbooks, dry-run) with no side effects.

Everything the replay writes (detector baselines, incidents, playbook runs, tickets, outbox rows)
goes to a throw-away SQLite file; the index is only read; nothing is delivered. Detectors first
learn their baselines over a warm-up period before `since`; incidents from the warm-up are dropped.

History is replayed a calendar month (UTC) at a time, as the run loop decides it a little at a time: the
detectors' state is kept between months exactly as between two passes of the loop, a month's counts are
all that is held at once, and after each month `progress` is told how far the replay has come (a replay
of years runs for a long while, and said nothing until it was done).
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from alerts.dispatch import AlertDispatcher
from crisiswatch.config import Config, StateSettings
from crisiswatch.db import connect
from crisiswatch.errors import CrisiswatchError
from index.base import Backend
from monitor.detection import DetectionService
from monitor.incidents.models import Incident
from playbooks.engine import PlaybookEngine, playbook_dir
from playbooks.schema import load_playbooks


@dataclass
class BacktestIncident:
    incident: Incident
    rules: list[str]  # the incident's rule, then every rule that joined it
    playbooks: list[tuple[str, list[str]]] = field(default_factory=list)  # (playbook, dry-run step outcomes)


@dataclass(frozen=True)
class BacktestProgress:
    through: datetime  # replayed up to here
    done: float  # share of the whole replay (warm-up included, by time), 0..1
    warmup: bool  # still learning baselines before `since`
    opened: int  # incidents opened so far after `since`


def months(start: datetime, end: datetime) -> Iterator[datetime]:
    """Where the replay's steps from `start` end: each first of a month (UTC) before `end`, then `end`."""
    at = start.astimezone(UTC)
    while True:
        at = datetime(at.year + at.month // 12, at.month % 12 + 1, 1, tzinfo=UTC)
        if at >= end:
            yield end
            return
        yield at


def backtest(
    config: Config,
    backend: Backend,
    since: datetime,
    until: datetime,
    warmup: timedelta = timedelta(hours=24),
    playbook: str | None = None,
    progress: Callable[[BacktestProgress], None] | None = None,
) -> list[BacktestIncident]:
    """Incidents that would have been opened between `since` and `until`, in order, with their playbooks."""
    if until <= since:
        raise CrisiswatchError(
            f"backtest: --until {until.isoformat()} must be after --since {since.isoformat()}"
        )
    books = load_playbooks(playbook_dir(config))
    if playbook is not None:
        books = [b for b in books if b.name == playbook]
        if not books:
            raise CrisiswatchError(f"backtest: no playbook named {playbook!r} in {playbook_dir(config)}")
    with tempfile.TemporaryDirectory(prefix="crisiswatch-backtest-") as tmp:
        state = Path(tmp) / "state.db"
        scratch = config.model_copy(update={"state_db": str(state), "state": StateSettings()})
        conn = connect(state)
        try:
            detection = DetectionService(scratch, backend, conn)
            start = since - warmup
            detection.start_at(start)

            def told(through: datetime, opened: int) -> None:
                if progress is not None:
                    done = (through - start) / (until - start)
                    progress(BacktestProgress(through, done, through <= since, opened))

            for end in months(start, since) if warmup else ():
                detection.advance(end)
                told(end, 0)
            conn.execute("DELETE FROM incident_events")
            conn.execute("DELETE FROM incidents")  # the warm-up only teaches baselines
            changes = []
            for end in months(since, until):
                changes += detection.advance(end)
                told(end, sum(c.kind == "opened" for c in changes))
            engine = PlaybookEngine(scratch, conn, AlertDispatcher(scratch, conn, {}), playbooks=books)
            found: dict[int, BacktestIncident] = {}
            for change in changes:
                if change.kind == "opened":
                    found[change.incident.id] = BacktestIncident(change.incident, [change.incident.rule])
                if change.kind in ("opened", "escalated") and books:
                    found[change.incident.id].playbooks.extend(engine.handle(change, dry_run=True))
            for item in found.values():
                latest = detection.incidents.get(item.incident.id)
                item.incident = latest
                item.rules += sorted({r["rule"] for r in latest.facts.get("related", [])} - {latest.rule})
            return list(found.values())
        finally:
            conn.close()
