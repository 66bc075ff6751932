"""Everything alerts need once per pass of the run loop, in one call for the loop to make."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from alerts.approvals import ApprovalService
from alerts.dispatch import AlertDispatcher
from alerts.escalation import EscalationService, Incidents
from alerts.operator import OperatorAlerts
from crisiswatch.config import Config
from crisiswatch.db import StateConnection

logger = logging.getLogger(__name__)


@dataclass
class AlertCycle:
    escalations: list[str] = field(default_factory=list)
    expired_approvals: list[int] = field(default_factory=list)
    digests: int = 0
    operator_alerts: int = 0
    deadman: str | None = None
    sent: int = 0
    failed: int = 0


def alert_cycle(config: Config, conn: StateConnection, dispatcher: AlertDispatcher, incidents: Incidents,
                deliver: bool = True) -> AlertCycle:
    """Heartbeat, escalation steps, approval expiry, digest, operator health alerts, then delivery.

    `incidents` is the port escalation chains page through (playbooks.paging.IncidentPaging).
    Each part is guarded: one failing (say, a bad policy) must not stop the others or the loop.
    """
    report = AlertCycle()
    operator = OperatorAlerts(config, conn, dispatcher, clock=dispatcher.clock)
    operator.beat()
    steps = (
        ("escalations", lambda: EscalationService(config, conn, dispatcher, incidents, clock=dispatcher.clock).tick()),
        ("expired_approvals", lambda: ApprovalService(config, conn, dispatcher, clock=dispatcher.clock).expire_due()),
        ("digests", dispatcher.flush_digest),
        ("operator_alerts", lambda: operator.check_health() + operator.check_flatlines()),
    )
    for name, step in steps:
        try:
            setattr(report, name, step())
        except Exception:
            logger.exception("alert cycle: %s failed", name)
    if deliver:
        report.sent, report.failed = dispatcher.deliver_due()
    return report
