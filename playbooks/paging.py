"""Escalation chains over monitor's incidents: the `Incidents` port alerts' EscalationService pages through.

Alerts sit below monitor and playbooks and never import them; this adapter (here, where incidents,
their alert messages and the alerts meet) hands the service what it needs, and `escalation_service`
builds it for the playbooks' steps, the run loop's alert cycle, the CLI and the Slack app.
"""

from __future__ import annotations

import logging
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
from playbooks.tickets.models import NEW, TicketError
from playbooks.tickets.service import TicketService

logger = logging.getLogger(__name__)


class IncidentPaging:
    """monitor's incidents as alerts.escalation.Incidents."""

    def __init__(self, config: Config, conn: StateConnection,
                 clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self.config = config
        self.service = IncidentService(conn)
        self.tickets = TicketService.from_config(config, conn, clock=clock)

    def get(self, incident_id: int) -> Incident | None:
        return self.service.get(incident_id)

    def acknowledge(self, incident_id: int, by: str) -> object:
        """The incident, and its ticket still 新建 with it: the team that acknowledged the crisis has taken
        it on (受理), so the ticket's 受理 timer must not escalate to 管理层 after the ack."""
        incident = self.service.acknowledge(incident_id, by)
        ticket = self.tickets.for_incident(incident_id)
        if ticket is not None and ticket.status == NEW:
            try:
                self.tickets.transition(ticket.id, "accept", actor=by, expected_version=ticket.version)
            except TicketError as exc:  # accepted by hand meanwhile: the incident's ack stands
                logger.info("INC-%s acknowledged; its ticket %s was not accepted with it: %s",
                            incident_id, ticket.number, exc)
        return incident

    def note(self, incident: Incident, text: str) -> AlertMessage:
        message = incident_message(self.config, incident, incident.severity, kind="incident_updated", chart=False)
        message.summary = f"{text} · {incident.summary}"
        return message


def escalation_service(config: Config, conn: StateConnection, dispatcher: AlertDispatcher,
                       clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> EscalationService:
    return EscalationService(config, conn, dispatcher, IncidentPaging(config, conn, clock), clock=clock)
