"""Replay stored history through the configured detectors (and playbooks, dry-run) with no side effects.

Everything the replay writes (detector baselines, incidents, playbook runs, tickets, outbox rows)
goes to a throw-away SQLite file; the index is only read; nothing is delivered. Detectors first
learn their baselines over a warm-up period before `since`; incidents from the warm-up are dropped.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass, field
from datetime import datetime, timedelta
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


def backtest(
    config: Config,
    backend: Backend,
    since: datetime,
    until: datetime,
    warmup: timedelta = timedelta(hours=24),
    playbook: str | None = None,
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
            detection.start_at(since - warmup)
            detection.advance(since)
            conn.execute("DELETE FROM incident_events")
            conn.execute("DELETE FROM incidents")  # the warm-up only teaches baselines
            changes = detection.advance(until)
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
