"""Opening and reading tickets; numbering is CW-YYYYMMDD-NNNN per day in the team's time zone."""

from __future__ import annotations

import json
import sqlite3
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from crisiswatch.db import ensure_schema, transaction
from playbooks.tickets.models import DDL, DEFAULT_SLA, STATUSES, SlaTerms, Ticket


def _dt(value: str) -> datetime:
    return datetime.fromisoformat(value)


def _ticket(row: sqlite3.Row, mention_ids: list[str]) -> Ticket:
    return Ticket(
        id=row["id"], number=row["number"], title=row["title"], status=row["status"], brand=row["brand"],
        category=row["category"], severity=row["severity"], department=row["department"],
        channel=row["channel"], incident_id=row["incident_id"], source_url=row["source_url"],
        author_handle=row["author_handle"], evidence=json.loads(row["evidence"]),
        created_at=_dt(row["created_at"]), updated_at=_dt(row["updated_at"]), ack_due=_dt(row["ack_due"]),
        response_due=_dt(row["response_due"]), feedback_due=_dt(row["feedback_due"]),
        resolve_due=_dt(row["resolve_due"]), version=row["version"], mention_ids=mention_ids,
    )


class TicketService:
    def __init__(self, conn: sqlite3.Connection, timezone: str = "Asia/Shanghai",
                 sla: dict[str, SlaTerms] | None = None) -> None:
        self.conn = conn
        self.tz = ZoneInfo(timezone)
        self.sla = sla or DEFAULT_SLA
        ensure_schema(conn, "tickets", DDL)

    def _next_number(self, now: datetime) -> str:
        day = now.astimezone(self.tz).strftime("%Y%m%d")
        self.conn.execute(
            "INSERT INTO ticket_sequence(day, last) VALUES (?, 1) ON CONFLICT(day) DO UPDATE SET last=last+1",
            (day,),
        )
        last = self.conn.execute("SELECT last FROM ticket_sequence WHERE day=?", (day,)).fetchone()[0]
        return f"CW-{day}-{last:04d}"

    def open(self, *, title: str, severity: str, category: str = "other", brand: str = "",
             department: str = "客服", channel: str = "", incident_id: int | None = None,
             source_url: str = "", author_handle: str = "", evidence: list[dict[str, Any]] | None = None,
             mention_ids: list[str] | None = None, actor: str = "crisiswatch",
             now: datetime | None = None) -> Ticket:
        now = now or datetime.now(UTC)
        terms = self.sla[severity]
        with transaction(self.conn):
            number = self._next_number(now)
            cur = self.conn.execute(
                "INSERT INTO tickets(number, title, status, brand, category, severity, department, channel,"
                " incident_id, source_url, author_handle, evidence, created_at, updated_at, ack_due,"
                " response_due, feedback_due, resolve_due) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                (number, title, STATUSES[0], brand, category, severity, department, channel, incident_id,
                 source_url, author_handle, json.dumps(evidence or [], ensure_ascii=False), now.isoformat(),
                 now.isoformat(), (now + terms.ack).isoformat(), (now + terms.response).isoformat(),
                 (now + terms.feedback).isoformat(), (now + terms.resolve).isoformat()),
            )
            ticket_id = int(cur.lastrowid)
            self.conn.executemany("INSERT OR IGNORE INTO ticket_mentions(ticket_id, mention_id) VALUES (?,?)",
                                  [(ticket_id, m) for m in mention_ids or []])
            self.conn.execute(
                "INSERT INTO ticket_events(ticket_id, at, actor, kind, detail) VALUES (?,?,?,?,?)",
                (ticket_id, now.isoformat(), actor, "created",
                 json.dumps({"severity": severity, "category": category}, ensure_ascii=False)),
            )
        return self.get(ticket_id)

    def get(self, ticket_id: int) -> Ticket | None:
        row = self.conn.execute("SELECT * FROM tickets WHERE id=?", (ticket_id,)).fetchone()
        if row is None:
            return None
        mentions = [r[0] for r in self.conn.execute(
            "SELECT mention_id FROM ticket_mentions WHERE ticket_id=? ORDER BY mention_id", (ticket_id,))]
        return _ticket(row, mentions)

    def by_number(self, number: str) -> Ticket | None:
        row = self.conn.execute("SELECT id FROM tickets WHERE number=?", (number,)).fetchone()
        return self.get(row[0]) if row else None

    def for_incident(self, incident_id: int) -> Ticket | None:
        row = self.conn.execute("SELECT id FROM tickets WHERE incident_id=? ORDER BY id LIMIT 1",
                                (incident_id,)).fetchone()
        return self.get(row[0]) if row else None

    def list(self, status: str | None = None, limit: int = 100) -> list[Ticket]:
        if status:
            rows = self.conn.execute("SELECT id FROM tickets WHERE status=? ORDER BY id DESC LIMIT ?", (status, limit))
        else:
            rows = self.conn.execute("SELECT id FROM tickets ORDER BY id DESC LIMIT ?", (limit,))
        return [self.get(r[0]) for r in rows.fetchall()]
