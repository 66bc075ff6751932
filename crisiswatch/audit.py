"""The audit trail: who or what did what, when, with what outcome."""

from __future__ import annotations

import json
import sqlite3
from datetime import UTC, datetime
from typing import Any

from crisiswatch.db import ensure_schema

DDL = """
CREATE TABLE IF NOT EXISTS audit_log (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    at TEXT NOT NULL,
    actor TEXT NOT NULL,
    action TEXT NOT NULL,
    subject TEXT NOT NULL,
    outcome TEXT NOT NULL,
    detail TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX IF NOT EXISTS audit_subject ON audit_log(subject, id);
"""


class AuditLog:
    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn
        ensure_schema(conn, "audit_log", DDL)

    def record(self, actor: str, action: str, subject: str, outcome: str = "ok", *, at: datetime | None = None,
               **detail: Any) -> None:
        """One line of the trail; `at` lets a replay or a test clock stamp its own time."""
        self.conn.execute(
            "INSERT INTO audit_log(at, actor, action, subject, outcome, detail) VALUES (?,?,?,?,?,?)",
            ((at or datetime.now(UTC)).isoformat(), actor, action, subject, outcome,
             json.dumps(detail, ensure_ascii=False, default=str)),
        )

    def entries(self, subject: str | None = None, limit: int = 200) -> list[dict[str, Any]]:
        if subject:
            rows = self.conn.execute("SELECT * FROM audit_log WHERE subject=? ORDER BY id LIMIT ?", (subject, limit))
        else:
            rows = self.conn.execute("SELECT * FROM audit_log ORDER BY id DESC LIMIT ?", (limit,))
        return [{**dict(r), "detail": json.loads(r["detail"])} for r in rows.fetchall()]
