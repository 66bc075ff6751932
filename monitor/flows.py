"""Flows that cross domains: detect -> incidents -> playbooks -> alerts. The run loop calls these."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime

from alerts.dispatch import AlertDispatcher
from crisiswatch.config import Config
from crisiswatch.db import StateConnection
from index.base import Backend
from monitor.detection import DetectionService
from monitor.incidents.models import IncidentChange
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
            kind = "incident_updated" if change.kind == "reopened" else f"incident_{change.kind}"
            message = incident_message(config, incident, incident_severity(incident), kind=kind,
                                       ticket_number=ticket.number if ticket else None, backend=backend)
            if change.kind == "reopened":  # back within the cooldown after its resolution was announced
                message = replace(message, summary=f"再次触发 reopened: {change.note or incident.summary}")
            dispatcher.enqueue(f"incident:{incident.id}:{change.kind}:{incident.version}", message)


def detect_and_respond(config: Config, backend: Backend, conn: StateConnection,
                       dispatcher: AlertDispatcher, until: datetime,
                       engine: PlaybookEngine | None = None, deliver: bool = True,
                       held: Callable[[], bool] | None = None) -> CycleReport:
    """Detection up to `until`, then the response to what changed. With `held` (does the caller still
    hold its leases?), detection raises `LeaseLost` before writing any incident when it says no; once
    incidents are written they are answered in the same call, so none is left opened without its
    playbooks and alerts (the outbox's keys keep each alert once whoever answers)."""
    report = CycleReport()
    detection = DetectionService(config, backend, conn)
    engine = engine or PlaybookEngine(config, conn, dispatcher, backend=backend)
    report.changes = detection.advance(until, held=held)
    respond(report.changes, engine, dispatcher, config, report, backend)
    if deliver:  # the run loop delivers in its own stage, possibly in other processes
        report.sent, report.failed = dispatcher.deliver_due()
    return report
