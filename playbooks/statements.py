"""Holding statements: drafted from a template with the incident's facts, published only when approved.

The golden window (黄金时间) is the time a brand has to say something after a crisis starts; each
draft records how long after the incident's start it was ready and whether it missed the window.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from jinja2 import StrictUndefined, TemplateError
from jinja2.sandbox import SandboxedEnvironment

from crisiswatch.db import ensure_schema
from crisiswatch.errors import CrisiswatchError

DDL = """
CREATE TABLE IF NOT EXISTS statements (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    incident_id INTEGER NOT NULL,
    playbook TEXT NOT NULL,
    ticket_number TEXT NOT NULL DEFAULT '',
    template TEXT NOT NULL,
    text TEXT NOT NULL,
    status TEXT NOT NULL DEFAULT 'draft',
    approvers TEXT NOT NULL DEFAULT '',
    approval_id TEXT,
    incident_start TEXT NOT NULL,
    ready_at TEXT NOT NULL,
    window_minutes INTEGER NOT NULL,
    missed_window INTEGER NOT NULL DEFAULT 0,
    decided_by TEXT,
    decided_at TEXT,
    UNIQUE (incident_id, playbook)
);
"""
TEMPLATES = Path(__file__).parent / "templates"
_ENV = SandboxedEnvironment(undefined=StrictUndefined, autoescape=False, keep_trailing_newline=False)


@dataclass
class Statement:
    id: int
    incident_id: int
    playbook: str
    ticket_number: str
    template: str
    text: str
    status: str  # draft -> published | rejected | expired
    approvers: str
    approval_id: str | None
    incident_start: datetime
    ready_at: datetime
    window_minutes: int
    missed_window: bool
    decided_by: str | None
    decided_at: datetime | None


def render(template: str, variables: dict[str, Any]) -> str:
    """A shipped template by name (templates/<name>.j2) or inline Jinja text, in a sandbox."""
    path = TEMPLATES / f"{template}.j2"
    source = path.read_text(encoding="utf-8") if "{" not in template and path.exists() else template
    try:
        return _ENV.from_string(source).render(**variables).strip()
    except TemplateError as exc:
        raise CrisiswatchError(f"statement template {template[:40]!r}: {exc}") from None


def _row(r: sqlite3.Row) -> Statement:
    data = dict(r)
    for key in ("incident_start", "ready_at", "decided_at"):
        data[key] = datetime.fromisoformat(data[key]) if data[key] else None
    data["missed_window"] = bool(data["missed_window"])
    return Statement(**data)


class StatementStore:
    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn
        ensure_schema(conn, "statements", DDL)

    def draft(self, *, incident_id: int, playbook: str, ticket_number: str, template: str, text: str,
              approvers: list[str], incident_start: datetime, ready_at: datetime, window_minutes: int) -> Statement:
        missed = (ready_at - incident_start).total_seconds() > window_minutes * 60
        self.conn.execute(
            "INSERT OR IGNORE INTO statements(incident_id, playbook, ticket_number, template, text, approvers,"
            " incident_start, ready_at, window_minutes, missed_window) VALUES (?,?,?,?,?,?,?,?,?,?)",
            (incident_id, playbook, ticket_number, template[:200], text, ",".join(approvers),
             incident_start.isoformat(), ready_at.isoformat(), window_minutes, int(missed)))
        return self.for_incident(incident_id, playbook)

    def for_incident(self, incident_id: int, playbook: str) -> Statement | None:
        row = self.conn.execute("SELECT * FROM statements WHERE incident_id=? AND playbook=?",
                                (incident_id, playbook)).fetchone()
        return _row(row) if row else None

    def all(self, incident_id: int | None = None) -> list[Statement]:
        if incident_id is None:
            rows = self.conn.execute("SELECT * FROM statements ORDER BY id")
        else:
            rows = self.conn.execute("SELECT * FROM statements WHERE incident_id=? ORDER BY id", (incident_id,))
        return [_row(r) for r in rows.fetchall()]

    def set_approval(self, statement_id: int, approval_id: str) -> None:
        self.conn.execute("UPDATE statements SET approval_id=? WHERE id=?", (approval_id, statement_id))

    def decide(self, statement_id: int, status: str, by: str | None, at: datetime) -> None:
        self.conn.execute("UPDATE statements SET status=?, decided_by=?, decided_at=? WHERE id=? AND status='draft'",
                          (status, by, at.isoformat(), statement_id))
