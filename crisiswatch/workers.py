"""Live workers in the state store: each `crisiswatch run` registers, beats every few seconds from a
thread, and says what it is doing; `crisiswatch status` lists the live ones with the leases they hold.

A worker's id is also the holder name of every lease it takes (crisiswatch.lease), so what a worker
holds is read from the leases table, never reported twice. A worker whose beat is older than
`STALE` is shown as gone; one that stops cleanly marks itself stopped.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from crisiswatch.db import DatabaseError, StateConnection, connect
from crisiswatch.lease import new_holder

logger = logging.getLogger(__name__)
BEAT = timedelta(seconds=5)
STALE = timedelta(seconds=30)
ROLES = ("crawl", "detect", "deliver", "all")


@dataclass(frozen=True)
class WorkerInfo:
    id: str
    host: str
    pid: int
    role: str
    started_at: datetime
    beat_at: datetime
    doing: str
    holds: tuple[str, ...]
    outbox_rows: int


class Workers:
    def __init__(self, conn: StateConnection) -> None:
        self.conn = conn

    def register(self, worker_id: str, role: str, now: datetime | None = None) -> None:
        at = (now or datetime.now(UTC)).isoformat()
        self.conn.execute("INSERT INTO workers(id, host, pid, role, started_at, beat_at, doing) VALUES (?,?,?,?,?,?,?)",
                          (worker_id, socket.gethostname(), os.getpid(), role, at, at, "starting"))

    def beat(self, worker_id: str, doing: str | None = None, now: datetime | None = None) -> None:
        at = (now or datetime.now(UTC)).isoformat()
        if doing is None:
            self.conn.execute("UPDATE workers SET beat_at=? WHERE id=?", (at, worker_id))
        else:
            self.conn.execute("UPDATE workers SET beat_at=?, doing=? WHERE id=?", (at, doing, worker_id))

    def stop(self, worker_id: str, now: datetime | None = None) -> None:
        self.conn.execute("UPDATE workers SET stopped_at=?, doing='stopped' WHERE id=?",
                          ((now or datetime.now(UTC)).isoformat(), worker_id))

    def live(self, now: datetime | None = None, stale: timedelta = STALE) -> list[WorkerInfo]:
        """Workers that beat within `stale` and have not stopped, with their leases and claimed alerts."""
        now = now or datetime.now(UTC)
        rows = self.conn.execute("SELECT * FROM workers WHERE stopped_at IS NULL AND beat_at >= ? ORDER BY role, id",
                                 ((now - stale).isoformat(),)).fetchall()
        leases: dict[str, list[str]] = {}
        for name, holder in self.conn.execute("SELECT name, holder FROM leases WHERE expires_at > ? ORDER BY name",
                                              (now.isoformat(),)).fetchall():
            leases.setdefault(holder, []).append(name)
        claimed = dict(self.conn.execute("SELECT lease_holder, COUNT(*) FROM outbox WHERE lease_until > ?"
                                         " GROUP BY lease_holder", (now.isoformat(),)).fetchall())
        return [WorkerInfo(r["id"], r["host"], r["pid"], r["role"], datetime.fromisoformat(r["started_at"]),
                           datetime.fromisoformat(r["beat_at"]), r["doing"], tuple(leases.get(r["id"], ())),
                           claimed.get(r["id"], 0)) for r in rows]

    def forget_gone(self, older_than: timedelta = timedelta(days=7), now: datetime | None = None) -> int:
        """Rows of workers gone a week ago: kept a while for `status`, then dropped."""
        cut = ((now or datetime.now(UTC)) - older_than).isoformat()
        return self.conn.execute("DELETE FROM workers WHERE beat_at < ?", (cut,)).rowcount


class Heartbeat:
    """Registers a worker and beats for it from a thread on its own connection, so a long crawl or a
    slow send never makes a live worker look dead. `doing` is what the worker says it is doing now."""

    def __init__(self, database: str | Path, role: str, worker_id: str | None = None) -> None:
        self.database, self.role = database, role
        self.id = worker_id or new_holder(role)
        self.doing = "starting"
        self._said: str | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> Heartbeat:
        conn = connect(self.database)
        try:
            workers = Workers(conn)
            workers.forget_gone()  # `run --once` from cron registers every time: keep a week of them
            workers.register(self.id, self.role)
        finally:
            conn.close()
        self._thread = threading.Thread(target=self._beat, name=f"heartbeat:{self.id}", daemon=True)
        self._thread.start()
        return self

    def _beat(self) -> None:
        conn = connect(self.database)
        workers = Workers(conn)
        try:
            while True:
                doing = self.doing
                try:
                    workers.beat(self.id, doing if doing != self._said else None)
                    self._said = doing
                except DatabaseError as exc:  # the store is busy or away: the next beat tries again
                    logger.warning("heartbeat of %s failed (%s)", self.id, exc)
                if self._stop.wait(BEAT.total_seconds()):
                    return
        finally:
            conn.close()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
        conn = connect(self.database)
        try:
            Workers(conn).stop(self.id)
        finally:
            conn.close()
