"""Runs the playbooks whose trigger matches an incident change, each step at most once.

A step's completion is recorded in `playbook_runs` before the next starts, so a restart
resumes where it stopped and never opens a second ticket or sends a second alert.
"""

from __future__ import annotations

import json
import logging
import sqlite3
from datetime import UTC, datetime
from pathlib import Path

from alerts.dispatch import AlertDispatcher
from crisiswatch.audit import AuditLog
from crisiswatch.config import Config
from crisiswatch.db import ensure_schema
from crisiswatch.mention import severity_rank
from monitor.incidents.models import Incident, IncidentChange
from playbooks.context import StepContext
from playbooks.schema import Playbook, load_playbooks
from playbooks.steps import STEP_TYPES
from playbooks.tickets.service import TicketService

logger = logging.getLogger(__name__)

DDL = """
CREATE TABLE IF NOT EXISTS playbook_runs (
    incident_id INTEGER NOT NULL,
    playbook TEXT NOT NULL,
    step INTEGER NOT NULL,
    type TEXT NOT NULL,
    outcome TEXT NOT NULL,
    detail TEXT NOT NULL DEFAULT '{}',
    at TEXT NOT NULL,
    PRIMARY KEY (incident_id, playbook, step)
);
"""
SHIPPED_PLAYBOOKS = Path(__file__).parent / "library"
_LEVEL_GRADE = {"warning": "重要", "critical": "紧急"}


def playbook_dir(config: Config) -> Path:
    return config.resolve(config.playbooks.dir) if config.playbooks.dir else SHIPPED_PLAYBOOKS


def incident_severity(incident: Incident) -> str:
    """The grade of an incident: its level's grade, raised to the gravest post behind it."""
    grade = _LEVEL_GRADE.get(incident.level, "一般")
    for post in incident.facts.get("top_posts", []):
        if severity_rank(post.get("severity")) > severity_rank(grade):
            grade = post["severity"]
    return grade


def matches(playbook: Playbook, change: IncidentChange, severity: str) -> bool:
    t, incident = playbook.trigger, change.incident
    rules = [t.rule] if isinstance(t.rule, str) else t.rule
    if change.kind not in t.when or incident.rule not in rules:
        return False
    if t.brands and incident.brand not in t.brands:
        return False
    if severity_rank(severity) < severity_rank(t.min_severity):
        return False
    if t.min_level == "critical" and incident.level != "critical":
        return False
    if t.categories and not set(t.categories) & set(incident.facts.get("categories", {})):
        return False
    if t.keywords:
        facts = incident.facts
        haystack = " ".join([*(p.get("text", "") for p in facts.get("top_posts", [])), *facts.get("top_terms", [])])
        if not any(k in haystack for k in t.keywords):
            return False
    return True


class PlaybookEngine:
    def __init__(self, config: Config, conn: sqlite3.Connection, dispatcher: AlertDispatcher,
                 playbooks: list[Playbook] | None = None) -> None:
        self.config = config
        self.conn = conn
        ensure_schema(conn, "playbook_runs", DDL)
        self.playbooks = playbooks if playbooks is not None else load_playbooks(playbook_dir(config))
        self.tickets = TicketService(conn, timezone=config.alerts.timezone)
        self.dispatcher = dispatcher
        self.audit = AuditLog(conn)

    def _done(self, incident_id: int, playbook: str) -> dict[int, dict]:
        rows = self.conn.execute(
            "SELECT step, outcome, detail FROM playbook_runs WHERE incident_id=? AND playbook=?",
            (incident_id, playbook),
        ).fetchall()
        return {r["step"]: {"outcome": r["outcome"], **json.loads(r["detail"])} for r in rows}

    def handle(self, change: IncidentChange, dry_run: bool = False) -> list[tuple[str, list[str]]]:
        """Runs every matching playbook; returns (playbook, step outcomes) for the operator."""
        severity = incident_severity(change.incident)
        ran = []
        for playbook in self.playbooks:
            if matches(playbook, change, severity):
                ran.append((playbook.name, self.run(playbook, change.incident, severity, dry_run)))
        return ran

    def run(self, playbook: Playbook, incident: Incident, severity: str, dry_run: bool = False) -> list[str]:
        ctx = StepContext(config=self.config, playbook=playbook.name, incident=incident, severity=severity,
                          tickets=self.tickets, dispatcher=self.dispatcher, audit=self.audit, dry_run=dry_run)
        done = {} if dry_run else self._done(incident.id, playbook.name)
        outcomes = []
        for index, spec in enumerate(playbook.steps):
            if index in done:
                if "ticket" in done[index]:
                    ctx.outputs["ticket_number"] = done[index]["ticket"]
                outcomes.append(f"{spec.type}: {done[index]['outcome']} (earlier)")
                continue
            step = STEP_TYPES[spec.type](spec.options)
            try:
                result = step.run(ctx)
            except Exception as exc:  # one broken step must not stop the loop; it is audited and retried
                logger.exception("playbook %s step %d (%s) failed", playbook.name, index, spec.type)
                self.audit.record(f"playbook:{playbook.name}", spec.type, incident.label, "failed", error=str(exc))
                outcomes.append(f"{spec.type}: failed ({exc})")
                break
            outcomes.append(f"{spec.type}: {result.outcome}")
            if dry_run:
                continue
            self.conn.execute(
                "INSERT OR REPLACE INTO playbook_runs(incident_id, playbook, step, type, outcome, detail, at)"
                " VALUES (?,?,?,?,?,?,?)",
                (incident.id, playbook.name, index, spec.type, result.outcome,
                 json.dumps(result.detail, ensure_ascii=False, default=str), datetime.now(UTC).isoformat()),
            )
            self.audit.record(f"playbook:{playbook.name}", spec.type, incident.label, result.outcome, **result.detail)
            if result.outcome == "waiting":
                break
        return outcomes


__all__ = ["PlaybookEngine", "incident_severity", "matches"]
