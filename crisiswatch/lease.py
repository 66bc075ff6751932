"""Named leases in the state database: who may do a thing alone, and until when.

A lease is one row (name, holder, expires_at). `acquire` takes it when it is free, expired or
already ours; `renew` extends it only while we still hold it; `release` gives it up. Each is one
parameterised statement, so two processes (or threads with their own connections) cannot both
win: SQLite serialises writers, and on PostgreSQL the same statements run as an upsert guarded by
its WHERE clause (or `SELECT ... FOR UPDATE SKIP LOCKED` on the row).

The run loop holds `run-loop` for as long as its process lives (a `LeaseKeeper` thread renews it),
detection holds `detection` while it decides buckets; the outbox leases rows the same way
(`alerts.outbox.Outbox.claim`).
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from crisiswatch.db import DatabaseError, StateConnection, connect

logger = logging.getLogger(__name__)
Clock = Callable[[], datetime]
# set by a run worker for the crawls it starts, so their leases (cookies on a shared crawl) carry its name
HOLDER_ENV = "CRISISWATCH_WORKER"


def _utc_now() -> datetime:
    return datetime.now(UTC)


def new_holder(role: str = "") -> str:
    """host:pid:random — readable in the one line a refused second process prints."""
    return f"{socket.gethostname()}:{os.getpid()}:{role + ':' if role else ''}{uuid.uuid4().hex[:8]}"


def _dead_here(holder: str) -> bool:
    """A holder named host:pid:… on this host whose process is gone."""
    host, _, rest = holder.partition(":")
    pid = rest.partition(":")[0]
    if host != socket.gethostname() or not pid.isdigit():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:  # alive, another user's
        return False
    return False


@dataclass(frozen=True)
class LeaseInfo:
    name: str
    holder: str
    expires_at: datetime


class Leases:
    def __init__(self, conn: StateConnection, clock: Clock = _utc_now) -> None:
        self.conn = conn
        self.clock = clock

    def acquire(self, name: str, holder: str, ttl: timedelta) -> bool:
        """True when `holder` now holds `name` until now + ttl (free, expired, already its own, or
        held by a process of this host that no longer exists: a killed loop restarted at once)."""
        now = self.clock()
        cur = self.conn.execute(
            "INSERT INTO leases(name, holder, acquired_at, expires_at) VALUES (?,?,?,?)"
            " ON CONFLICT(name) DO UPDATE SET holder=excluded.holder, acquired_at=excluded.acquired_at,"
            " expires_at=excluded.expires_at WHERE leases.holder=excluded.holder OR leases.expires_at <= ?",
            (name, holder, now.isoformat(), (now + ttl).isoformat(), now.isoformat()))
        if cur.rowcount == 1:
            return True
        current = self.get(name)
        if current is None or not _dead_here(current.holder):
            return False
        cur = self.conn.execute("UPDATE leases SET holder=?, acquired_at=?, expires_at=? WHERE name=? AND holder=?",
                                (holder, now.isoformat(), (now + ttl).isoformat(), name, current.holder))
        if cur.rowcount:
            logger.warning("lease %s: took over from %s, which is no longer running", name, current.holder)
        return cur.rowcount == 1

    def renew(self, name: str, holder: str, ttl: timedelta) -> bool:
        """False when the lease was lost (expired and taken by another): stop acting on it."""
        now = self.clock()
        cur = self.conn.execute("UPDATE leases SET expires_at=? WHERE name=? AND holder=? AND expires_at > ?",
                                ((now + ttl).isoformat(), name, holder, now.isoformat()))
        return cur.rowcount == 1

    def release(self, name: str, holder: str) -> None:
        self.conn.execute("DELETE FROM leases WHERE name=? AND holder=?", (name, holder))

    def get(self, name: str) -> LeaseInfo | None:
        row = self.conn.execute("SELECT holder, expires_at FROM leases WHERE name=?", (name,)).fetchone()
        return LeaseInfo(name, row[0], datetime.fromisoformat(row[1])) if row else None


class LeaseKeeper:
    """Holds a lease for the life of a process: a thread renews it every ttl/3 on its own connection.

    `lost` is set when a renewal fails (the process stalled past the ttl and another took over);
    the holder must then stop. Used by the run loop, whose passes may block in a long crawl.
    """

    def __init__(self, database: str | Path, name: str, holder: str, ttl: timedelta) -> None:
        self.database, self.name, self.holder, self.ttl = database, name, holder, ttl
        self.lost = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> LeaseKeeper:
        self._thread = threading.Thread(target=self._renew, name=f"lease:{self.name}", daemon=True)
        self._thread.start()
        return self

    def _renew(self) -> None:
        conn = connect(self.database)
        try:
            leases = Leases(conn)
            while not self._stop.wait(self.ttl.total_seconds() / 3):
                try:
                    ok = leases.renew(self.name, self.holder, self.ttl)
                except DatabaseError as exc:  # a busy database: try again next round, the ttl has slack
                    logger.warning("lease %s: renewal failed (%s)", self.name, exc)
                    continue
                if not ok:
                    logger.error("lease %s lost: another process took it over", self.name)
                    self.lost.set()
                    return
        finally:
            conn.close()

    def stop(self, release: bool = True) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        if release:
            conn = connect(self.database)
            try:
                Leases(conn).release(self.name, self.holder)
            finally:
                conn.close()
