"""The outbox: one row per alert x channel, written before any send, marked sent only after.

A crash between send and mark re-sends on restart; channels that can (Slack) use the stored
message ts to update instead of posting twice, and the idempotency key stops double enqueues.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from alerts.message import AlertMessage
from crisiswatch.db import ensure_schema

DDL = """
CREATE TABLE IF NOT EXISTS outbox (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    idempotency_key TEXT NOT NULL UNIQUE,
    channel TEXT NOT NULL,
    target TEXT NOT NULL DEFAULT '',
    message TEXT NOT NULL,
    status TEXT NOT NULL DEFAULT 'pending',
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TEXT NOT NULL,
    last_error TEXT,
    external_id TEXT,
    thread_id TEXT,
    thread_key TEXT,
    in_flight INTEGER NOT NULL DEFAULT 0,
    created_at TEXT NOT NULL,
    sent_at TEXT
);
CREATE INDEX IF NOT EXISTS outbox_pending ON outbox(status, next_attempt_at);
CREATE TABLE IF NOT EXISTS alert_threads (
    thread_key TEXT NOT NULL,
    channel TEXT NOT NULL,
    target TEXT NOT NULL,
    thread_id TEXT NOT NULL,
    PRIMARY KEY (thread_key, channel, target)
);
"""
PENDING, SENT, FAILED = "pending", "sent", "failed"
HELD, DIGESTED = "held", "digested"  # low-severity rows waiting for the digest, and those it covered


@dataclass
class OutboxRow:
    id: int
    key: str
    channel: str
    target: str
    message: AlertMessage
    status: str
    attempts: int
    external_id: str | None
    last_error: str | None
    in_flight: bool = False
    created_at: str = ""


def _row(r: sqlite3.Row) -> OutboxRow:
    return OutboxRow(r["id"], r["idempotency_key"], r["channel"], r["target"],
                     AlertMessage.from_dict(json.loads(r["message"])), r["status"], r["attempts"],
                     r["external_id"], r["last_error"], bool(r["in_flight"]), r["created_at"])


class Outbox:
    def __init__(self, conn: sqlite3.Connection, clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self.conn = conn
        self.clock = clock
        ensure_schema(conn, "outbox", DDL)
        columns = {r[1] for r in conn.execute("PRAGMA table_info(outbox)")}
        if "in_flight" not in columns:  # databases from before crash-safe sends
            conn.execute("ALTER TABLE outbox ADD COLUMN in_flight INTEGER NOT NULL DEFAULT 0")

    def enqueue(self, key: str, channel: str, target: str, message: AlertMessage, *,
                not_before: datetime | None = None, status: str = PENDING) -> bool:
        """False when this key was already enqueued (the alert exists; nothing is duplicated)."""
        now = self.clock()
        cur = self.conn.execute(
            "INSERT OR IGNORE INTO outbox(idempotency_key, channel, target, message, thread_key, status,"
            " next_attempt_at, created_at) VALUES (?,?,?,?,?,?,?,?)",
            (key, channel, target, json.dumps(message.to_dict(), ensure_ascii=False, default=str),
             message.thread_key, status, max(now, not_before or now).isoformat(), now.isoformat()),
        )
        return cur.rowcount == 1

    def mark_in_flight(self, row_id: int) -> None:
        """Set before a send and cleared only by success: the next attempt then looks for what landed."""
        self.conn.execute("UPDATE outbox SET in_flight=1 WHERE id=?", (row_id,))

    def held(self) -> list[OutboxRow]:
        return [_row(r) for r in self.conn.execute("SELECT * FROM outbox WHERE status=? ORDER BY id", (HELD,))]

    def mark_digested(self, row_ids: list[int], digest_key: str) -> None:
        self.conn.executemany("UPDATE outbox SET status=?, last_error=? WHERE id=? AND status=?",
                              [(DIGESTED, f"in {digest_key}", i, HELD) for i in row_ids])

    def by_key(self, key: str) -> OutboxRow | None:
        row = self.conn.execute("SELECT * FROM outbox WHERE idempotency_key=?", (key,)).fetchone()
        return _row(row) if row else None

    def due(self, now: datetime | None = None, limit: int = 100) -> list[OutboxRow]:
        now = now or self.clock()
        rows = self.conn.execute(
            "SELECT * FROM outbox WHERE status=? AND next_attempt_at <= ? ORDER BY id LIMIT ?",
            (PENDING, now.isoformat(), limit),
        ).fetchall()
        return [_row(r) for r in rows]

    def mark_sent(self, row_id: int, external_id: str | None, thread_id: str | None = None) -> None:
        self.conn.execute(
            "UPDATE outbox SET status=?, sent_at=?, external_id=COALESCE(?, external_id), in_flight=0,"
            " thread_id=COALESCE(?, thread_id), attempts=attempts+1, last_error=NULL WHERE id=?",
            (SENT, self.clock().isoformat(), external_id, thread_id, row_id),
        )

    def record_external_id(self, row_id: int, external_id: str) -> None:
        """Saved right after a post succeeds, so a crash before mark_sent updates instead of re-posting."""
        self.conn.execute("UPDATE outbox SET external_id=? WHERE id=?", (external_id, row_id))

    def mark_failed(self, row_id: int, error: str, retry_in: timedelta | None) -> None:
        if retry_in is None:
            self.conn.execute("UPDATE outbox SET status=?, attempts=attempts+1, last_error=? WHERE id=?",
                              (FAILED, error[:500], row_id))
            return
        self.conn.execute(
            "UPDATE outbox SET attempts=attempts+1, last_error=?, next_attempt_at=? WHERE id=?",
            (error[:500], (self.clock() + retry_in).isoformat(), row_id),
        )

    def waits_for_thread(self, row: OutboxRow) -> bool:
        """An update must not go out before its incident's first message, or it lands outside the thread."""
        if not row.message.thread_key:
            return False
        earlier = self.conn.execute(
            "SELECT 1 FROM outbox WHERE thread_key=? AND channel=? AND target=? AND id < ? AND status=? LIMIT 1",
            (row.message.thread_key, row.channel, row.target, row.id, PENDING),
        ).fetchone()
        return earlier is not None

    def thread_for(self, thread_key: str, channel: str, target: str) -> str | None:
        row = self.conn.execute(
            "SELECT thread_id FROM alert_threads WHERE thread_key=? AND channel=? AND target=?",
            (thread_key, channel, target),
        ).fetchone()
        return row[0] if row else None

    def remember_thread(self, thread_key: str, channel: str, target: str, thread_id: str) -> None:
        self.conn.execute(
            "INSERT OR IGNORE INTO alert_threads(thread_key, channel, target, thread_id) VALUES (?,?,?,?)",
            (thread_key, channel, target, thread_id),
        )

    def counts(self) -> dict[str, int]:
        rows = self.conn.execute("SELECT status, COUNT(*) FROM outbox GROUP BY status").fetchall()
        return {r[0]: r[1] for r in rows}

    def all(self) -> list[OutboxRow]:
        return [_row(r) for r in self.conn.execute("SELECT * FROM outbox ORDER BY id").fetchall()]
