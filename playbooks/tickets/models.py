"""Ticket records, statuses and the SLA table from the complaint-handling manuals."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

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
    channel TEXT NOT NULL DEFAULT '',
    incident_id INTEGER,
    source_url TEXT NOT NULL DEFAULT '',
    author_handle TEXT NOT NULL DEFAULT '',
    evidence TEXT NOT NULL DEFAULT '[]',
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    ack_due TEXT NOT NULL,
    response_due TEXT NOT NULL,
    feedback_due TEXT NOT NULL,
    resolve_due TEXT NOT NULL,
    version INTEGER NOT NULL DEFAULT 1
);
CREATE INDEX IF NOT EXISTS tickets_incident ON tickets(incident_id);
CREATE INDEX IF NOT EXISTS tickets_status ON tickets(status, created_at);
CREATE TABLE IF NOT EXISTS ticket_mentions (
    ticket_id INTEGER NOT NULL REFERENCES tickets(id),
    mention_id TEXT NOT NULL,
    PRIMARY KEY (ticket_id, mention_id)
);
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
"""

STATUSES = ("新建", "已受理", "处理中", "已回复", "已解决", "已回访", "已关闭")
DEPARTMENTS = ("客服", "调查", "技术", "法律", "管理层")


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
