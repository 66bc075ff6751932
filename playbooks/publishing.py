"""Statements approved and published from the CLI and the console, as from Slack.

Decisions go through the same approval service and state as the Slack buttons (`alerts.approvals`:
only a named approver may decide, each decision is audited and posted to the request's thread).
Publishing records who put the statement out and when; the golden window is judged by that moment.
Only the statement's approvers publish it (and, in the console, an admin): an agent who may work the
tickets may not put words out in the brand's name.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from alerts.approvals import ApprovalService
from alerts.dispatch import AlertDispatcher, build_channels
from crisiswatch.audit import AuditLog
from crisiswatch.config import Config
from crisiswatch.db import StateConnection
from crisiswatch.errors import CrisiswatchError
from playbooks.statements import Statement, StatementStore


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

    def list(self) -> list[Statement]:
        return list(reversed(self.store.all()))

    def require(self, statement_id: int) -> Statement:
        statement = self.store.get(statement_id)
        if statement is None:
            raise CrisiswatchError(f"no statement {statement_id}")
        return statement

    def decide(self, statement_id: int, user: str, approve: bool) -> Statement:
        """An approver's decision, by name (the refusal for anyone else is the approval service's)."""
        statement = self.require(statement_id)
        if statement.approval_id is None:
            raise CrisiswatchError(f"statement {statement_id} has no approval request yet (the playbook asks on "
                                   "its next run)")
        approval = self.approvals.decide(int(statement.approval_id), user, approve)
        self.store.decide(statement.id, approval.status, approval.decided_by, self.clock())
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
        if statement.status == "draft" and statement.approval_id:  # approved in Slack, not yet seen by a tick
            approval = self.approvals.get(int(statement.approval_id))
            if approval is not None and approval.status != "pending":
                self.store.decide(statement.id, approval.status, approval.decided_by, self.clock())
        published = self.store.publish(statement_id, by, self.clock())
        self.audit.record(by, "statement.publish", f"INC-{published.incident_id}", "published",
                          statement=statement_id, missed_window=published.missed_window)
        return published
