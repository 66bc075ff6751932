"""Approvals in Slack: a request with Approve / Reject buttons that only the named approvers may press.

Used by the playbooks' `draft_statement` step: it requests, then waits for `get(id).status` to leave
"pending". Decisions and refusals go to the audit log; an unanswered request expires.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from alerts.dispatch import AlertDispatcher
from alerts.message import AlertMessage
from crisiswatch.audit import AuditLog
from crisiswatch.config import Config
from crisiswatch.db import Row, StateConnection, insert_id, transaction
from crisiswatch.errors import CrisiswatchError

PENDING, APPROVED, REJECTED, EXPIRED = "pending", "approved", "rejected", "expired"
WITHDRAWN = "withdrawn"  # what it was asked about went away (an incident dismissed as a false alarm)


class ApprovalRefused(CrisiswatchError):
    """The user may not decide this approval, or it is no longer pending."""


@dataclass(frozen=True)
class Approval:
    id: int
    subject: str
    approvers: list[str]
    text: str
    status: str
    requested_at: datetime
    expires_at: datetime
    decided_by: str | None
    decided_at: datetime | None


def _approval(r: Row) -> Approval:
    return Approval(r["id"], r["subject"], json.loads(r["approvers"]), r["text"], r["status"],
                    datetime.fromisoformat(r["requested_at"]), datetime.fromisoformat(r["expires_at"]),
                    r["decided_by"], datetime.fromisoformat(r["decided_at"]) if r["decided_at"] else None)


class ApprovalService:
    def __init__(self, config: Config, conn: StateConnection, dispatcher: AlertDispatcher,
                 clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self.config = config
        self.conn = conn
        self.dispatcher = dispatcher
        self.clock = clock
        self.audit = AuditLog(conn)

    def request(self, subject: str, approvers: list[str], text: str, timeout_minutes: float,
                *, severity: str = "重要", brand: str = "") -> int:
        """Posts the request with buttons; approvers are Slack user ids (U…) or people's names, a name
        known in Slack only through `alerts.slack.users` (never by what a click says its user is called)."""
        if not approvers:
            raise CrisiswatchError("an approval needs at least one approver")
        now = self.clock()
        approval_id = insert_id(
            self.conn, "INSERT INTO approvals(subject, approvers, text, requested_at, expires_at) VALUES (?,?,?,?,?)",
            (subject, json.dumps(approvers, ensure_ascii=False), text, now.isoformat(),
             (now + timedelta(minutes=timeout_minutes)).isoformat()))
        self.audit.record("crisiswatch", "approval.request", subject, approval_id=approval_id, approvers=approvers,
                          timeout_minutes=timeout_minutes)
        self._post(self.get(approval_id), "request", severity, brand)
        return approval_id

    def pending_for(self, subject: str, text: str) -> Approval | None:
        """The request still open for this subject and text (asked by a process that died before noting it)."""
        row = self.conn.execute("SELECT * FROM approvals WHERE subject=? AND text=? AND status=? ORDER BY id DESC"
                                " LIMIT 1", (subject, text, PENDING)).fetchone()
        return _approval(row) if row else None

    def get(self, approval_id: int) -> Approval | None:
        row = self.conn.execute("SELECT * FROM approvals WHERE id=?", (approval_id,)).fetchone()
        return _approval(row) if row else None

    def may_decide(self, approval_id: int, *identities: str) -> bool:
        approval = self.get(approval_id)
        return bool(approval) and any(i and i in approval.approvers for i in identities)

    def decide(self, approval_id: int, user: str, approve: bool, *, aliases: tuple[str, ...] = ()) -> Approval:
        """Records the decision of a named approver; anyone else, or a late click, is refused."""
        self.expire_due()
        approval = self.get(approval_id)
        if approval is None:
            raise ApprovalRefused(f"no approval {approval_id}")
        if not any(i in approval.approvers for i in (user, *aliases)):
            self.audit.record(user, "approval.refused", approval.subject, "refused", approval_id=approval_id)
            raise ApprovalRefused(f"{user} is not an approver of this request")
        status = APPROVED if approve else REJECTED
        with transaction(self.conn):
            cur = self.conn.execute(
                "UPDATE approvals SET status=?, decided_by=?, decided_at=? WHERE id=? AND status=?",
                (status, user, self.clock().isoformat(), approval_id, PENDING))
        if not cur.rowcount:
            raise ApprovalRefused(f"this request is already {approval.status}")
        self.audit.record(user, f"approval.{status}", approval.subject, approval_id=approval_id)
        decided = self.get(approval_id)
        self._post(decided, status)
        return decided

    def expire_due(self) -> list[int]:
        now = self.clock().isoformat()
        rows = self.conn.execute("SELECT id FROM approvals WHERE status=? AND expires_at <= ?", (PENDING, now))
        expired = []
        for (approval_id,) in rows.fetchall():
            cur = self.conn.execute("UPDATE approvals SET status=?, decided_at=? WHERE id=? AND status=?",
                                    (EXPIRED, now, approval_id, PENDING))
            if cur.rowcount:
                approval = self.get(approval_id)
                self.audit.record("crisiswatch", "approval.expired", approval.subject, approval_id=approval_id)
                self._post(approval, EXPIRED)
                expired.append(approval_id)
        return expired

    def withdraw(self, approval_id: int, by: str, reason: str) -> bool:
        """Take back a pending request: it never expires nor pages; its thread says so and its buttons go.
        False when it was no longer pending (decided or expired meanwhile)."""
        cur = self.conn.execute("UPDATE approvals SET status=?, decided_by=?, decided_at=? WHERE id=? AND status=?",
                                (WITHDRAWN, by, self.clock().isoformat(), approval_id, PENDING))
        if not cur.rowcount:
            return False
        approval = self.get(approval_id)
        self.audit.record(by, "approval.withdrawn", approval.subject, approval_id=approval_id, reason=reason)
        self._post(approval, WITHDRAWN)
        return True

    def _post(self, approval: Approval, what: str, severity: str = "重要", brand: str = "") -> None:
        """The request opens a thread; decisions go into it and refresh its buttons (Slack), on every route
        the request went to (a 重大 request reaches 管理层's route, a brand's request the brand's route)."""
        label = {"request": "待审批", APPROVED: "已批准", REJECTED: "已驳回", EXPIRED: "已过期", WITHDRAWN: "已撤回"}[what]
        asked = [] if what == "request" else self.dispatcher.outbox.with_prefix(f"approval:{approval.id}:request|")
        if asked:
            severity, brand = asked[0].message.severity, asked[0].message.brand
        message = AlertMessage(
            kind="approval", title=f"审批 {label} · {approval.subject}"[:150], severity=severity, brand=brand,
            summary=approval.text, thread_key=f"approval:{approval.id}", timezone=self.config.alerts.timezone,
            facts={"approval_id": approval.id, "approvers": approval.approvers, "status": approval.status,
                   "expires_at": approval.expires_at.isoformat(), "decided_by": approval.decided_by})
        pairs = list(dict.fromkeys((r.channel, r.target) for r in asked)) or \
            [p for p in self.dispatcher.routes_for(message) if p[0] == "slack"] or self.dispatcher.routes_for(message)[:1]
        for channel, target in pairs:
            self.dispatcher.enqueue_to(f"approval:{approval.id}:{what}|{channel}|{target}", channel, target, message)
