"""Ticket records, the lifecycle table and the SLA table from the complaint-handling manuals."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from crisiswatch.config import TICKET_DEPARTMENTS
from crisiswatch.errors import CrisiswatchError

DDL = """
CREATE TABLE IF NOT EXISTS tickets (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    number TEXT NOT NULL UNIQUE,
    title TEXT NOT NULL,
    status TEXT NOT NULL,
    brand TEXT NOT NULL DEFAULT '',
    category TEXT NOT NULL DEFAULT 'other',
    severity TEXT NOT NULL,
    department TEXT NOT NULL DEFAULT '客服',
    departments TEXT NOT NULL DEFAULT '[]',
    channel TEXT NOT NULL DEFAULT '',
    incident_id INTEGER,
    source_url TEXT NOT NULL DEFAULT '',
    author_handle TEXT NOT NULL DEFAULT '',
    author_id TEXT NOT NULL DEFAULT '',
    order_no TEXT NOT NULL DEFAULT '',
    evidence TEXT NOT NULL DEFAULT '[]',
    tasks TEXT NOT NULL DEFAULT '[]',
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    ack_due TEXT NOT NULL,
    response_due TEXT NOT NULL,
    feedback_due TEXT NOT NULL,
    resolve_due TEXT NOT NULL,
    acked_at TEXT,
    first_reply_at TEXT,
    resolved_at TEXT,
    followed_up_at TEXT,
    closed_at TEXT,
    replies INTEGER NOT NULL DEFAULT 0,
    reopened INTEGER NOT NULL DEFAULT 0,
    satisfaction INTEGER,
    satisfaction_comment TEXT NOT NULL DEFAULT '',
    breaches INTEGER NOT NULL DEFAULT 0,
    escalation_level INTEGER NOT NULL DEFAULT 0,
    version INTEGER NOT NULL DEFAULT 1
);
CREATE INDEX IF NOT EXISTS tickets_incident ON tickets(incident_id);
CREATE INDEX IF NOT EXISTS tickets_status ON tickets(status, created_at);
CREATE INDEX IF NOT EXISTS tickets_author ON tickets(author_id, created_at);
CREATE TABLE IF NOT EXISTS ticket_mentions (
    ticket_id INTEGER NOT NULL REFERENCES tickets(id),
    mention_id TEXT NOT NULL,
    cluster_id TEXT NOT NULL DEFAULT '',
    source TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (ticket_id, mention_id)
);
CREATE INDEX IF NOT EXISTS ticket_mentions_cluster ON ticket_mentions(cluster_id);
CREATE INDEX IF NOT EXISTS ticket_mentions_mention ON ticket_mentions(mention_id);
CREATE TABLE IF NOT EXISTS ticket_sequence (
    day TEXT PRIMARY KEY,
    last INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS ticket_events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    ticket_id INTEGER NOT NULL REFERENCES tickets(id),
    at TEXT NOT NULL,
    actor TEXT NOT NULL,
    kind TEXT NOT NULL,
    detail TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX IF NOT EXISTS ticket_events_ticket ON ticket_events(ticket_id, id);
CREATE TABLE IF NOT EXISTS ticket_links (
    ticket_id INTEGER NOT NULL REFERENCES tickets(id),
    related_id INTEGER NOT NULL REFERENCES tickets(id),
    reason TEXT NOT NULL,
    PRIMARY KEY (ticket_id, related_id)
);
CREATE TABLE IF NOT EXISTS ticket_sla_marks (
    ticket_id INTEGER NOT NULL REFERENCES tickets(id),
    timer TEXT NOT NULL,
    kind TEXT NOT NULL,
    due TEXT NOT NULL,
    at TEXT NOT NULL,
    PRIMARY KEY (ticket_id, timer, kind, due)
);
"""

STATUSES = ("新建", "已受理", "处理中", "已回复", "已解决", "已回访", "已关闭")
NEW, ACCEPTED, IN_PROGRESS, REPLIED, RESOLVED, FOLLOWED_UP, CLOSED = STATUSES
DEPARTMENTS = TICKET_DEPARTMENTS

# action -> (statuses it may start from, status it leads to)
TRANSITIONS: dict[str, tuple[tuple[str, ...], str]] = {
    "accept": ((NEW,), ACCEPTED),
    "start": ((ACCEPTED,), IN_PROGRESS),
    "reply": ((IN_PROGRESS, REPLIED), REPLIED),
    "resolve": ((REPLIED,), RESOLVED),
    "followup": ((RESOLVED,), FOLLOWED_UP),
    "close": ((RESOLVED, FOLLOWED_UP), CLOSED),
    "reopen": ((RESOLVED, FOLLOWED_UP, CLOSED), IN_PROGRESS),
}
ACTIONS = tuple(TRANSITIONS)
OPEN_STATUSES = (NEW, ACCEPTED, IN_PROGRESS, REPLIED)

# Which timer each milestone stops: acknowledgement, first response (first reply), feedback of the
# result (resolved) and completion (followed up or closed).
TIMERS = ("ack", "response", "feedback", "resolve")
TIMER_LABELS = {"ack": "受理", "response": "首次响应", "feedback": "结果反馈", "resolve": "办结"}


class TicketError(CrisiswatchError):
    """A ticket action that cannot be done: unknown ticket, illegal transition, bad value."""


class TicketConflict(TicketError):
    """Someone else changed the ticket since it was read (optimistic locking)."""


@dataclass(frozen=True)
class SlaTerms:
    """Time limits for one grade: acknowledge, first response, feedback to the customer, completion."""

    ack: timedelta
    response: timedelta
    feedback: timedelta
    resolve: timedelta


# Defaults after the manuals: the graver the grade, the shorter every limit.
DEFAULT_SLA: dict[str, SlaTerms] = {
    "一般": SlaTerms(timedelta(hours=24), timedelta(hours=48), timedelta(days=3), timedelta(days=7)),
    "重要": SlaTerms(timedelta(hours=4), timedelta(hours=12), timedelta(hours=24), timedelta(days=3)),
    "紧急": SlaTerms(timedelta(hours=1), timedelta(hours=2), timedelta(hours=12), timedelta(hours=24)),
    "重大": SlaTerms(timedelta(minutes=30), timedelta(hours=1), timedelta(hours=4), timedelta(hours=12)),
}


@dataclass
class Ticket:
    id: int
    number: str
    title: str
    status: str
    brand: str
    category: str
    severity: str
    department: str
    channel: str
    incident_id: int | None
    source_url: str
    author_handle: str
    evidence: list[dict[str, Any]]
    created_at: datetime
    updated_at: datetime
    ack_due: datetime
    response_due: datetime
    feedback_due: datetime
    resolve_due: datetime
    version: int
    mention_ids: list[str] = field(default_factory=list)
    departments: list[str] = field(default_factory=list)
    author_id: str = ""
    order_no: str = ""
    tasks: list[dict[str, Any]] = field(default_factory=list)
    acked_at: datetime | None = None
    first_reply_at: datetime | None = None
    resolved_at: datetime | None = None
    followed_up_at: datetime | None = None
    closed_at: datetime | None = None
    replies: int = 0
    reopened: int = 0
    satisfaction: int | None = None
    satisfaction_comment: str = ""
    breaches: int = 0
    escalation_level: int = 0
    related: list[dict[str, Any]] = field(default_factory=list)

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES

    def due(self, timer: str) -> datetime:
        return getattr(self, f"{timer}_due")

    def met_at(self, timer: str) -> datetime | None:
        """When the milestone that stops `timer` was reached, or None while it runs."""
        if timer == "ack":
            return self.acked_at
        if timer == "response":
            return self.first_reply_at
        if timer == "feedback":
            return self.resolved_at
        return self.followed_up_at or self.closed_at

    def to_dict(self) -> dict[str, Any]:
        out = {k: v.isoformat() if isinstance(v, datetime) else v for k, v in self.__dict__.items()}
        return out
