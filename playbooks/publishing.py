"""Statements approved and published from the CLI and the console, as from Slack.

Decisions go through the same approval service and state as the Slack buttons (`alerts.approvals`:
only a named approver may decide, each decision is audited and posted to the request's thread).
Publishing records who put the statement out and when; the golden window is judged by that moment.
Only the statement's approvers publish it (and, in the console, an admin): an agent who may work the
tickets may not put words out in the brand's name.

A rejected or expired statement is not the end: `revise` gives it a new text (checked like a draft:
no internal id, taken as written) and `resubmit` keeps the text; either way the same approvers get a
new request, with the first request's time limit, and the earlier round stays in the history.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime

from alerts.approvals import PENDING, ApprovalRefused, ApprovalService
from alerts.dispatch import AlertDispatcher, build_channels
from crisiswatch.audit import AuditLog
from crisiswatch.config import Config
from crisiswatch.db import StateConnection, transaction
from crisiswatch.errors import CrisiswatchError
from monitor.incidents.service import IncidentService
from playbooks.statements import REVISABLE, Statement, StatementStore, StatementVersion, check_text
from playbooks.tickets.models import TicketError
from playbooks.tickets.service import TicketService

logger = logging.getLogger(__name__)

DEFAULT_TIMEOUT_MINUTES = 120  # as draft_statement's timeout_minutes, when the first request is not found


def next_round(statement: Statement) -> str:
    """What to do with a rejected or expired statement, for refusals and the playbook's status."""
    return (f"revise it (`crisiswatch statement revise {statement.id} --text-file FILE`) or ask its approvers "
            f"again as it is (`crisiswatch statement resubmit {statement.id}`), or on the console's statements page")


class PublishRefused(CrisiswatchError):
    """The user is neither an approver of the statement nor an admin."""

    def __init__(self, user: str, statement: Statement) -> None:
        self.user, self.approvers = user, statement.approver_list
        super().__init__(f"{user} may not publish statement {statement.id}: only its approvers "
                         f"({', '.join(self.approvers)}) publish it, or a dashboard admin")


class StatementDesk:
    def __init__(self, config: Config, conn: StateConnection, *,
                 clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self.store = StatementStore(conn)
        self.clock = clock
        self.audit = AuditLog(conn)
        self.approvals = ApprovalService(config, conn, AlertDispatcher(config, conn, build_channels(config)),
                                         clock=clock)
        self.conn = conn
        self.incidents = IncidentService(conn)
        self.tickets = TicketService.from_config(config, conn, clock=clock)

    def list(self) -> list[Statement]:
        self._settle()
        return list(reversed(self.store.all()))

    def require(self, statement_id: int) -> Statement:
        statement = self.store.get(statement_id)
        if statement is None:
            raise CrisiswatchError(f"no statement {statement_id}")
        return statement

    def current(self, statement_id: int) -> Statement:
        """The statement with its approval's outcome applied (an expiry or a Slack decision the playbook has not
        seen yet), so what is shown and refused is what holds now."""
        self._settle(statement_id)
        return self.require(statement_id)

    def _settle(self, statement_id: int | None = None) -> None:
        drafts = [s for s in ([self.require(statement_id)] if statement_id else self.store.all())
                  if s.status == "draft" and s.approval_id]
        if not drafts:
            return
        self.approvals.expire_due()
        for statement in drafts:
            approval = self.approvals.get(int(statement.approval_id))
            if approval is not None and approval.status != PENDING:
                self.store.decide(statement.id, approval.status, approval.decided_by,
                                  approval.decided_at or self.clock())

    def history(self, statement_id: int) -> list[StatementVersion]:
        return self.store.history(statement_id)

    def decide(self, statement_id: int, user: str, approve: bool) -> Statement:
        """An approver's decision, by name (the refusal for anyone else is the approval service's)."""
        statement = self.require(statement_id)
        if statement.approval_id is None:
            raise CrisiswatchError(f"statement {statement_id} has no approval request yet (the playbook asks on "
                                   "its next run)")
        try:
            approval = self.approvals.decide(int(statement.approval_id), user, approve)
        except ApprovalRefused as exc:
            statement = self.current(statement_id)
            if statement.status in REVISABLE:  # a late click: say what can be done instead
                raise ApprovalRefused(f"{exc}: {next_round(statement)}") from None
            raise
        self.store.decide(statement.id, approval.status, approval.decided_by, self.clock())
        return self.require(statement_id)

    def revise(self, statement_id: int, by: str, text: str) -> Statement:
        """A new text for a rejected or expired statement, put to the same approvers."""
        return self._new_round(statement_id, by, check_text(text), "statement.revised")

    def resubmit(self, statement_id: int, by: str) -> Statement:
        """The same text put to the same approvers again (an expired request, or a rejection reconsidered)."""
        return self._new_round(statement_id, by, None, "statement.resubmitted")

    def _new_round(self, statement_id: int, by: str, text: str | None, action: str) -> Statement:
        statement = self.current(statement_id)
        if statement.status not in REVISABLE:
            self.audit.record(by, action, f"INC-{statement.incident_id}", "refused", statement=statement_id,
                              status=statement.status)
            hint = {"draft": ": it is waiting for its approvers", "approved": ": publish it",
                    "published": ": it is already out"}.get(statement.status, "")
            raise CrisiswatchError(f"statement {statement_id} is {statement.status}{hint}; only a rejected or "
                                   "expired statement is revised or put to its approvers again")
        if text is not None and text == statement.text:
            raise CrisiswatchError(f"the new text of statement {statement_id} is the same as the one "
                                   f"{statement.status}; to ask again with it unchanged, resubmit it")
        incident = self.incidents.get(statement.incident_id)
        subject = f"statement:INC-{statement.incident_id}:{statement.playbook}"  # as the playbook asked
        earlier = self.approvals.get(int(statement.approval_id)) if statement.approval_id else None
        minutes = ((earlier.expires_at - earlier.requested_at).total_seconds() / 60 if earlier
                   else DEFAULT_TIMEOUT_MINUTES)
        now = self.clock()
        with transaction(self.conn, lock=f"statement:{statement_id}"):  # one new round and one new request
            revised = self.store.new_round(statement, statement.text if text is None else text, by, now)
            approval_id = self.approvals.request(
                subject, statement.approver_list, revised.text, minutes,
                severity=incident.severity if incident else "重要", brand=incident.brand if incident else "")
            self.store.set_approval(statement_id, str(approval_id))
            self.audit.record(by, action, subject, at=now, statement=statement_id, version=revised.version,
                              approval_id=approval_id, approvers=statement.approver_list,
                              earlier=statement.status)
        return self.require(statement_id)

    def may_publish(self, statement: Statement, user: str, *, admin: bool = False) -> bool:
        return admin or user in statement.approver_list

    def publish(self, statement_id: int, by: str, *, admin: bool = False) -> Statement:
        """Puts an approved statement out: its approvers may, and an admin (the console's role)."""
        statement = self.require(statement_id)
        if not self.may_publish(statement, by, admin=admin):
            self.audit.record(by, "statement.publish", f"INC-{statement.incident_id}", "refused",
                              statement=statement_id, approvers=statement.approver_list)
            raise PublishRefused(by, statement)
        statement = self.current(statement_id)  # approved in Slack, or expired, and not yet seen by a tick
        try:
            published = self.store.publish(statement_id, by, self.clock())
        except CrisiswatchError as exc:
            if statement.status in REVISABLE:
                raise CrisiswatchError(f"{exc}; {next_round(statement)}") from None
            raise
        self.audit.record(by, "statement.publish", f"INC-{published.incident_id}", "published",
                          statement=statement_id, missed_window=published.missed_window)
        self._first_response(published, by)
        return published

    def _first_response(self, published: Statement, by: str) -> None:
        """The crisis tickets of the incident (no customer's) count the statement as their 首次响应: the ticket
        escalated "首次响应已超时" two minutes after the brand had spoken."""
        for ticket in self.tickets.all_for_incident(published.incident_id):
            if not ticket.is_open or ticket.customer or ticket.first_reply_at is not None:
                continue
            try:
                self.tickets.respond_publicly(ticket.id, actor=by, expected_version=ticket.version,
                                              statement_id=published.id, now=published.published_at)
            except TicketError as exc:  # changed meanwhile: the statement is out all the same
                logger.warning("statement %s published; ticket %s not marked as answered: %s", published.id,
                               ticket.number, exc)
