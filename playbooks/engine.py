"""Runs the playbooks whose trigger matches an incident change, each step at most once.

A step's outcome is recorded in `playbook_runs` before the next starts, so a restart resumes
where it stopped and never opens a second ticket or sends a second alert. A step that waits
(for a duration, an approval, a condition) is recorded as `waiting` with its own state; `tick`
runs it again later and the playbook carries on once it is done. A step whose wait has a life of
its own (`holds_playbook = False`: a statement's approvals and publication) waits beside the
steps after it instead, so an escalation never waits for a statement.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from alerts.dispatch import AlertDispatcher
from crisiswatch.audit import AuditLog
from crisiswatch.config import Config
from crisiswatch.db import StateConnection
from crisiswatch.mention import severity_rank
from index.base import Backend
from monitor.incidents.models import Incident, IncidentChange, incident_severity
from monitor.incidents.service import IncidentService
from playbooks.context import StepContext
from playbooks.schema import Playbook, load_playbooks
from playbooks.steps import STEP_TYPES
from playbooks.steps.notify import page_operator
from playbooks.steps.open_ticket import OpenTicketStep
from playbooks.tickets.mirror import mirror_for
from playbooks.tickets.models import TicketError
from playbooks.tickets.service import TicketService

logger = logging.getLogger(__name__)

SHIPPED_PLAYBOOKS = Path(__file__).parent / "library"
WAITING = "waiting"


def playbook_dir(config: Config) -> Path:
    return config.resolve(config.playbooks.dir) if config.playbooks.dir else SHIPPED_PLAYBOOKS


def category_share(facts: dict[str, Any], categories: list[str]) -> float:
    counts = facts.get("categories", {})
    total = sum(counts.values())
    return sum(counts.get(c, 0) for c in categories) / total if total else 0.0


def matches(playbook: Playbook, change: IncidentChange, severity: str) -> bool:
    t, incident = playbook.trigger, change.incident
    facts = incident.facts
    rules = [t.rule] if isinstance(t.rule, str) else t.rule
    if change.kind not in t.when or incident.rule not in rules:
        return False
    if t.brands and incident.brand not in t.brands:
        return False
    if severity_rank(severity) < severity_rank(t.min_severity):
        return False
    if t.min_level == "critical" and incident.level != "critical":
        return False
    if t.categories and category_share(facts, t.categories) < max(t.min_category_share, 1e-9):
        return False
    posts = facts.get("top_posts", [])
    if t.min_mentions and facts.get("mentions", 0) < t.min_mentions:
        return False
    if t.min_followers and max([p.get("followers", 0) for p in [*posts, *facts.get("top_authors", [])]] or [0]) \
            < t.min_followers:
        return False
    if t.min_cluster_size and max([p.get("cluster_size", 1) for p in posts] or [0]) < t.min_cluster_size:
        return False
    if t.keywords:
        haystack = " ".join([*(p.get("text", "") for p in posts), *facts.get("top_terms", [])])
        if not any(k in haystack for k in t.keywords):
            return False
    return True


class PlaybookEngine:
    def __init__(self, config: Config, conn: StateConnection, dispatcher: AlertDispatcher,
                 playbooks: list[Playbook] | None = None, clock: Callable[[], datetime] | None = None,
                 backend: Backend | None = None) -> None:
        self.config = config
        self.conn = conn
        books = playbooks if playbooks is not None else load_playbooks(playbook_dir(config))
        self.playbooks = sorted(books, key=lambda b: (b.order, b.name))
        self.clock = clock or (lambda: datetime.now(UTC))
        self.tickets = TicketService.from_config(config, conn, clock=self.clock,
                                                 mirror=mirror_for(config.index.url, conn))
        self.incidents = IncidentService(conn)
        self.dispatcher = dispatcher
        self.backend = backend
        self.audit = AuditLog(conn)
        self.trace: list[dict[str, Any]] = []  # every step run by this engine, with its detail (for dry runs)

    def _done(self, incident_id: int, playbook: str) -> dict[int, dict]:
        rows = self.conn.execute(
            "SELECT step, outcome, detail FROM playbook_runs WHERE incident_id=? AND playbook=?",
            (incident_id, playbook),
        ).fetchall()
        return {r["step"]: {"outcome": r["outcome"], "detail": json.loads(r["detail"])} for r in rows}

    def handle(self, change: IncidentChange, dry_run: bool = False) -> list[tuple[str, list[str]]]:
        """Runs every matching playbook; returns (playbook, step outcomes) for the operator."""
        severity = incident_severity(change.incident)
        if change.kind == "escalated" and not dry_run:
            self.follow_grade(change.incident, severity)
        ran = []
        for playbook in self.playbooks:
            if matches(playbook, change, severity):
                ran.append((playbook.name, self.run(playbook, change.incident, severity, dry_run)))
        return ran

    def follow_grade(self, incident: Incident, severity: str) -> list[str]:
        """The tickets opened for the incident (no customer's) take its graver grade, as `ticket regrade` does
        (deadlines from when their clocks started, an approved extension kept), the timeline saying why: a
        crisis regraded 紧急 → 重大 on a media report kept its ticket 紧急, with 紧急's deadlines, all day.
        Never lowered: an agent's graver reading stands. Returns the tickets regraded."""
        regraded = []
        for ticket in self.tickets.all_for_incident(incident.id):
            if not ticket.is_open or ticket.customer or severity_rank(severity) <= severity_rank(ticket.severity):
                continue
            try:
                self.tickets.classify(ticket.id, actor="crisiswatch", expected_version=ticket.version,
                                      severity=severity, now=self.clock(),
                                      note=f"事件 {incident.label} 等级由{ticket.severity}升为{severity}")
                regraded.append(ticket.number)
            except TicketError as exc:  # changed meanwhile: the next escalation tries again
                logger.warning("%s is %s: its ticket %s kept its grade: %s", incident.label, severity,
                               ticket.number, exc)
        return regraded

    def tick(self, now: datetime | None = None) -> list[tuple[str, str, list[str]]]:
        """Resumes every waiting playbook; returns (incident, playbook, outcomes) for those it ran."""
        if now is not None:
            self.clock = lambda: now
            self.tickets.now = self.clock
        rows = self.conn.execute(
            "SELECT DISTINCT incident_id, playbook FROM playbook_runs WHERE outcome=? ORDER BY incident_id",
            (WAITING,)).fetchall()
        by_name = {b.name: b for b in self.playbooks}
        ran = []
        for row in rows:
            playbook, incident = by_name.get(row["playbook"]), self.incidents.get(row["incident_id"])
            if playbook is None or incident is None:
                continue  # a playbook removed from the folder no longer runs
            ran.append((incident.label, playbook.name, self.run(playbook, incident, incident_severity(incident))))
        return ran

    def run(self, playbook: Playbook, incident: Incident, severity: str, dry_run: bool = False) -> list[str]:
        now = self.clock()
        ctx = StepContext(config=self.config, playbook=playbook.name, incident=incident, severity=severity,
                          tickets=self.tickets, dispatcher=self.dispatcher, audit=self.audit, dry_run=dry_run,
                          now=now, conn=self.conn, backend=self.backend)
        done = {} if dry_run else self._done(incident.id, playbook.name)
        outcomes = []
        for index, spec in enumerate(playbook.steps):
            earlier = done.get(index)
            if earlier and "ticket" in earlier["detail"]:
                ctx.outputs["ticket_number"] = earlier["detail"]["ticket"]
            if earlier and earlier["outcome"] != WAITING:
                outcomes.append(f"{spec.type}: {earlier['outcome']} (earlier)")
                continue
            ctx.state = dict(earlier["detail"]) if earlier else {}
            step = STEP_TYPES[spec.type](spec.options)
            try:
                result = step.run(ctx)
            except Exception as exc:  # one broken step must not stop the loop; it is audited and retried
                logger.exception("playbook %s step %d (%s) failed", playbook.name, index, spec.type)
                self.audit.record(ctx.actor, spec.type, incident.label, "failed", at=now, error=str(exc))
                self.trace.append({"incident": incident.label, "playbook": playbook.name, "step": index,
                                   "type": spec.type, "outcome": "failed", "detail": {"error": str(exc)}})
                outcomes.append(f"{spec.type}: failed ({exc})")
                if not dry_run:
                    outcomes += self._fail_safe(ctx, playbook, index, spec.type, exc)
                break
            if "ticket" in result.detail:
                ctx.outputs["ticket_number"] = result.detail["ticket"]
            outcomes.append(f"{spec.type}: {result.outcome}")
            self.trace.append({"incident": incident.label, "playbook": playbook.name, "step": index,
                               "type": spec.type, "outcome": result.outcome, "detail": result.detail})
            if dry_run:
                continue  # a dry run shows every step, including those after a wait
            self.conn.execute(
                "INSERT INTO playbook_runs(incident_id, playbook, step, type, outcome, detail, at)"
                " VALUES (?,?,?,?,?,?,?) ON CONFLICT(incident_id, playbook, step) DO UPDATE SET"
                " type=excluded.type, outcome=excluded.outcome, detail=excluded.detail, at=excluded.at",
                (incident.id, playbook.name, index, spec.type, result.outcome,
                 json.dumps(result.detail, ensure_ascii=False, default=str), now.isoformat()),
            )
            still_waiting = earlier is not None and result.outcome == WAITING
            if not still_waiting:  # a wait re-checked on every tick is audited when it starts and ends
                self.audit.record(ctx.actor, spec.type, incident.label, result.outcome, at=now,
                                  **{k: v for k, v in result.detail.items() if k != "at"})
            if result.outcome == WAITING and step.holds_playbook:
                break
        return outcomes

    def _fail_safe(self, ctx: StepContext, playbook: Playbook, index: int, step_type: str,
                   exc: Exception) -> list[str]:
        """A step that fails live still leaves the incident a ticket, and the operator is paged with why."""
        out = []
        try:
            if ctx.ticket() is None:
                result = OpenTicketStep({}).run(ctx)  # the default title cannot fail on a variable
                out.append(f"open_ticket (fail-safe): {result.outcome}")
                self.audit.record(ctx.actor, "open_ticket", ctx.incident.label, result.outcome, at=ctx.now,
                                  fail_safe=True, **{k: v for k, v in result.detail.items() if k != "at"})
        except Exception:  # the page below still goes out
            logger.exception("playbook %s: the fail-safe ticket for %s could not be opened", playbook.name,
                             ctx.incident.label)
        reason = (f"playbook {playbook.name} step {index + 1} ({step_type}) failed on {ctx.incident.label}: {exc}"
                  f" · ticket {ctx.outputs.get('ticket_number') or ctx.incident.label + ' has none'}"
                  f" · file {playbook.path or playbook.name}")
        page_operator(ctx, f"playbook_failed:{ctx.incident.id}:{playbook.name}:{index}",
                      f"预案步骤失败 playbook step failed: {playbook.name}", reason)
        out.append("operator paged")
        return out


__all__ = ["PlaybookEngine", "incident_severity", "matches"]
