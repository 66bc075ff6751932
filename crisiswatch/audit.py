"""The audit trail: who or what did what, when, with what outcome."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from crisiswatch.db import StateConnection


class AuditLog:
    def __init__(self, conn: StateConnection) -> None:
        self.conn = conn

    def record(self, actor: str, action: str, subject: str, outcome: str = "ok", *, at: datetime | None = None,
               **detail: Any) -> None:
        """One line of the trail; `at` lets a replay or a test clock stamp its own time."""
        self.conn.execute(
            "INSERT INTO audit_log(at, actor, action, subject, outcome, detail) VALUES (?,?,?,?,?,?)",
            ((at or datetime.now(UTC)).isoformat(), actor, action, subject, outcome,
             json.dumps(detail, ensure_ascii=False, default=str)),
        )

    def entries(self, subject: str | None = None, limit: int | None = 200) -> list[dict[str, Any]]:
        """A subject's record, oldest first, up to `limit` (None: all of it); without a subject, the newest rows."""
        if subject and limit is None:
            rows = self.conn.execute("SELECT * FROM audit_log WHERE subject=? ORDER BY id", (subject,))
        elif subject:
            rows = self.conn.execute("SELECT * FROM audit_log WHERE subject=? ORDER BY id LIMIT ?", (subject, limit))
        else:
            rows = self.conn.execute("SELECT * FROM audit_log ORDER BY id DESC LIMIT ?", (limit,))
        return [{**dict(r), "detail": json.loads(r["detail"])} for r in rows.fetchall()]
