"""Flows that cross domains: detect -> incidents -> playbooks -> alerts. The run loop calls these."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime
from functools import partial

from alerts.dispatch import AlertDispatcher
from crawlers.health import source_failing_since
from crisiswatch.config import Config
from crisiswatch.db import StateConnection
from index.base import Backend
from monitor.detection import DetectionService
from monitor.explain import incident_counts
from monitor.incidents.models import Incident, IncidentChange
from playbooks.compose import incident_message
from playbooks.engine import PlaybookEngine, incident_severity

logger = logging.getLogger(__name__)


@dataclass
class CycleReport:
    changes: list[IncidentChange] = field(default_factory=list)
    playbooks: list[tuple[str, str, list[str]]] = field(default_factory=list)  # (incident, playbook, outcomes)
    sent: int = 0
    failed: int = 0


def respond(changes: list[IncidentChange], engine: PlaybookEngine, dispatcher: AlertDispatcher,
            config: Config, report: CycleReport, backend: Backend | None = None) -> None:
    """Playbooks for new and escalated incidents; thread notes for escalations and resolutions."""
    for change in changes:
        incident = change.incident
        if not incident.brand:  # flatline and other source-health incidents go to the operator route
            continue
        if change.kind in ("opened", "escalated"):
            for name, outcomes in engine.handle(change):
                report.playbooks.append((incident.label, name, outcomes))
        if change.kind in ("escalated", "resolved", "reopened"):
            ticket = engine.tickets.for_incident(incident.id)
            if change.kind == "resolved":
                incident = whole_incident(incident, backend)
            kind = "incident_updated" if change.kind == "reopened" else f"incident_{change.kind}"
            message = incident_message(config, incident, incident_severity(incident), kind=kind,
                                       ticket_number=ticket.number if ticket else None, backend=backend)
            if change.kind == "reopened":  # back within the cooldown after its resolution was announced
                message = replace(message, summary=f"再次触发 reopened: {change.note or incident.summary}")
            dispatcher.enqueue(f"incident:{incident.id}:{change.kind}:{incident.version}", message)


def whole_incident(incident: Incident, backend: Backend | None) -> Incident:
    """A resolved incident with the counts of its whole window, so its last message says what its page and
    its report say (it repeated the onset's: "负面 41" of a day with 3,786 negative posts)."""
    if backend is None or incident.resolved_at is None:
        return incident
    try:
        counts = incident_counts(backend, incident.brand, incident.opened_at, incident.resolved_at)
    except Exception:  # the index away: the resolution is still said, with the onset's counts
        logger.warning("%s resolved: its counts could not be read from the index; its message keeps the "
                       "onset's", incident.label, exc_info=True)
        return incident
    return replace(incident, facts={**incident.facts, **counts})


def detection_service(config: Config, backend: Backend, conn: StateConnection) -> DetectionService:
    """Detection as the run loop runs it: told by the crawlers' records since when a source's crawls fail, so
    the hours it was not collected teach no baseline."""
    return DetectionService(config, backend, conn, failing_since=partial(source_failing_since, conn))


def detect_and_respond(config: Config, backend: Backend, conn: StateConnection,
                       dispatcher: AlertDispatcher, until: datetime,
                       engine: PlaybookEngine | None = None, deliver: bool = True,
                       held: Callable[[], bool] | None = None) -> CycleReport:
    """Detection up to `until`, then the response to what changed. With `held` (does the caller still
    hold its leases?), detection raises `LeaseLost` before writing any incident when it says no; once
    incidents are written they are answered in the same call, so none is left opened without its
    playbooks and alerts (the outbox's keys keep each alert once whoever answers)."""
    report = CycleReport()
    detection = detection_service(config, backend, conn)
    engine = engine or PlaybookEngine(config, conn, dispatcher, backend=backend)
    report.changes = detection.advance(until, held=held)
    respond(report.changes, engine, dispatcher, config, report, backend)
    if deliver:  # the run loop delivers in its own stage, possibly in other processes
        report.sent, report.failed = dispatcher.deliver_due()
    return report
