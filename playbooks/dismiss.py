"""Dismissing an incident as a false alarm (误报): everything the crisis response set going for it stops.

The team says a signal was noise (a spam burst on another brand): the incident is resolved as a false alarm
with who and why; its escalation chains close; its statements' pending approvals are withdrawn (they never
expire, so nobody is paged about them); the ticket its playbook opened is closed as 误报 (no customer raised
it, so no reply and no 回访); one line goes into its Slack thread; and the same signal opens nothing within the
detection cooldown (`IncidentService.apply`). Slack's button, `crisiswatch incident dismiss` and the console
all come here.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime

from alerts.approvals import ApprovalService
from alerts.dispatch import AlertDispatcher
from crisiswatch.audit import AuditLog
from crisiswatch.config import Config
from crisiswatch.db import StateConnection, transaction
from crisiswatch.errors import CrisiswatchError
from monitor.incidents.models import Incident
from monitor.incidents.service import IncidentService
from playbooks.compose import incident_message
from playbooks.engine import FAILED, GAVE_UP, WAITING
from playbooks.paging import escalation_service
from playbooks.statements import StatementStore
from playbooks.tickets.models import FALSE_ALARM, TicketError
from playbooks.tickets.service import TicketService

logger = logging.getLogger(__name__)
DISMISSED = "dismissed"  # the outcome of a playbook step that was waiting when its incident was dismissed
STOPPED = (WAITING, FAILED, GAVE_UP)  # the steps a dismissal stops (a running one is the loop's to finish)


@dataclass
class Dismissal:
    incident: Incident
    chains_closed: list[str] = field(default_factory=list)
    playbooks_stopped: list[str] = field(default_factory=list)
    approvals_withdrawn: list[int] = field(default_factory=list)
    tickets_closed: list[str] = field(default_factory=list)
    tickets_kept: list[str] = field(default_factory=list)  # why each ticket stayed as it was

    def summary(self) -> str:
        parts = [f"{self.incident.label} 已判定误报 dismissed as a false alarm"]
        if self.tickets_closed:
            parts.append(f"ticket {', '.join(self.tickets_closed)} closed as {FALSE_ALARM}")
        if self.approvals_withdrawn:
            parts.append(f"{len(self.approvals_withdrawn)} statement approval(s) withdrawn")
        if self.chains_closed:
            parts.append("escalation stopped")
        if self.playbooks_stopped:
            parts.append(f"playbook {', '.join(self.playbooks_stopped)} stopped")
        return " · ".join([*parts, *self.tickets_kept])


def dismiss_incident(config: Config, conn: StateConnection, dispatcher: AlertDispatcher, incident_id: int, *,
                     reason: str, by: str, clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> Dismissal:
    """Dismiss the incident as a false alarm (open, or resolved already with its follow-ups still running).
    Raises CrisiswatchError, changing nothing, for an unknown incident, no reason, or one dismissed already.

    Every change is one transaction: a process dying half-way (or any step raising) leaves the incident as it
    was, never resolved with its approvals still due to expire and page. Its messages are outbox rows written
    in the same transaction, so they go out (delivered later) only once it committed."""
    reason = " ".join(reason.split())
    if not reason:
        raise CrisiswatchError("a dismissal needs a reason (what made it a false alarm), for the audit trail")
    incidents = IncidentService(conn)
    now = clock()
    with transaction(conn):
        if incidents.get(incident_id) is None:
            raise CrisiswatchError(f"no incident INC-{incident_id} (see `crisiswatch incident list`)")
        try:
            incident = incidents.dismiss(incident_id, now, reason, by)
        except ValueError as exc:
            raise CrisiswatchError(str(exc)) from None
        AuditLog(conn).record(by, "incident.dismiss", incident.label, at=now, reason=reason)
        done = Dismissal(incident)
        # the chains close on their own tick once the incident is not open; closed now, nobody is paged meanwhile
        done.chains_closed = escalation_service(config, conn, dispatcher, clock).tick(only=incident_id)
        done.playbooks_stopped = _stop_waiting_playbooks(conn, incident, by, now)
        done.approvals_withdrawn = _withdraw_statements(config, conn, dispatcher, incident_id, by, reason, now,
                                                         clock)
        _close_tickets(config, conn, done, by, reason, now, clock)
        message = incident_message(config, incident, incident.severity, kind="incident_resolved", chart=False)
        line = f"误报 false alarm: {by} dismissed {incident.label}: {reason}"
        dispatcher.enqueue(f"incident:{incident.id}:dismissed",
                           replace(message, title=f"{config.brand_name(incident.brand)} 误报，事件关闭 ({incident.label})",
                                   summary=line))
    logger.info("%s", done.summary())
    return done


def _stop_waiting_playbooks(conn: StateConnection, incident: Incident, by: str, now: datetime) -> list[str]:
    """A playbook waiting (30 min, then page or notify) would carry on for a closed incident: it stops here.
    So does one stopped at a failing step: retried, it would act for the false alarm or page that it gave up."""
    stopped = [r["playbook"] for r in conn.execute(
        "SELECT DISTINCT playbook FROM playbook_runs WHERE incident_id=? AND outcome IN (?,?,?) ORDER BY playbook",
        (incident.id, *STOPPED)).fetchall()]
    conn.execute("UPDATE playbook_runs SET outcome=?, at=? WHERE incident_id=? AND outcome IN (?,?,?)",
                 (DISMISSED, now.isoformat(), incident.id, *STOPPED))
    for name in stopped:
        AuditLog(conn).record(by, "playbook.stopped", incident.label, DISMISSED, at=now, playbook=name)
    return stopped


def _withdraw_statements(config: Config, conn: StateConnection, dispatcher: AlertDispatcher, incident_id: int,
                         by: str, reason: str, now: datetime, clock: Callable[[], datetime]) -> list[int]:
    """Its draft statements are withdrawn with their pending approvals (which then never expire nor page)."""
    approvals = ApprovalService(config, conn, dispatcher, clock=clock)
    statements = StatementStore(conn)
    withdrawn = []
    for statement in statements.all(incident_id):
        if statement.status != "draft":
            continue
        if statement.approval_id is not None and approvals.withdraw(int(statement.approval_id), by, reason):
            withdrawn.append(int(statement.approval_id))
        statements.decide(statement.id, "withdrawn", by, now)
    return withdrawn


def _close_tickets(config: Config, conn: StateConnection, done: Dismissal, by: str, reason: str, now: datetime,
                   clock: Callable[[], datetime]) -> None:
    tickets = TicketService.from_config(config, conn, clock=clock)
    for ticket in tickets.all_for_incident(done.incident.id):
        if not ticket.is_open:
            continue
        try:
            tickets.dismiss(ticket.id, actor=by, expected_version=ticket.version, reason=reason, now=now)
            done.tickets_closed.append(ticket.number)
        except TicketError as exc:  # a customer's ticket is answered whatever became of the incident
            done.tickets_kept.append(str(exc))
