"""Escalation chains over monitor's incidents: the `Incidents` port alerts' EscalationService pages through.

Alerts sit below monitor and playbooks and never import them; this adapter (here, where incidents,
their alert messages and the alerts meet) hands the service what it needs, and `escalation_service`
builds it for the playbooks' steps, the run loop's alert cycle, the CLI and the Slack app.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from alerts.dispatch import AlertDispatcher
from alerts.escalation import EscalationService
from alerts.message import AlertMessage
from crisiswatch.config import Config
from crisiswatch.db import StateConnection
from monitor.incidents.models import Incident
from monitor.incidents.service import IncidentService
from playbooks.compose import incident_message


class IncidentPaging:
    """monitor's incidents as alerts.escalation.Incidents."""

    def __init__(self, config: Config, conn: StateConnection) -> None:
        self.config = config
        self.service = IncidentService(conn)

    def get(self, incident_id: int) -> Incident | None:
        return self.service.get(incident_id)

    def acknowledge(self, incident_id: int, by: str) -> object:
        return self.service.acknowledge(incident_id, by)

    def note(self, incident: Incident, text: str) -> AlertMessage:
        message = incident_message(self.config, incident, incident.severity, kind="incident_updated", chart=False)
        message.summary = f"{text} · {incident.summary}"
        return message


def escalation_service(config: Config, conn: StateConnection, dispatcher: AlertDispatcher,
                       clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> EscalationService:
    return EscalationService(config, conn, dispatcher, IncidentPaging(config, conn), clock=clock)
