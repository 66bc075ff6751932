"""Named leases in the state database: who may do a thing alone, and until when.

A lease is one row (name, holder, expires_at, generation). `acquire` takes it when it is free, expired or
already ours; `renew` extends it only while we still hold it; `release` gives it up. Each is one
parameterised statement, so two processes (or threads with their own connections) cannot both
win: SQLite serialises writers, and on PostgreSQL the same statements run as an upsert guarded by
its WHERE clause (or `SELECT ... FOR UPDATE SKIP LOCKED` on the row).

The run loop holds `run-loop` for as long as its process lives (a `LeaseKeeper` thread renews it),
detection holds `detection` while it decides buckets; the outbox leases rows the same way
(`alerts.outbox.Outbox.claim`), and a `ClaimKeeper` renews a claimed row while its send is in flight.

A lease's `generation` grows each time another holder takes it (a released lease keeps its row, with no
holder, so the count never starts again): it is the fencing token of what is done under the lease. A holder
that stalled past its ttl (a step waiting on the index) may not know yet that a standby took over; `fenced`
checks, inside the transaction that makes a side effect, that the lease is still its own at the generation it
took, so the stalled holder stops (`LeaseLost`) instead of doing the same thing beside the standby.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from crisiswatch.db import POSTGRESQL, DatabaseError, StateConnection, database_now, transaction
from crisiswatch.errors import CrisiswatchError
from crisiswatch.store.connect import open_store

logger = logging.getLogger(__name__)
Clock = Callable[[], datetime]
# set by a run worker for the crawls it starts, so their leases (cookies on a shared crawl) carry its name
HOLDER_ENV = "CRISISWATCH_WORKER"


def _utc_now() -> datetime:
    return datetime.now(UTC)


# This process's life. Host and PID alone do not tell one life from the next: a container restarted by
# its restart policy keeps its hostname and runs its command as PID 1 again, so without this id a
# restarted loop saw its dead predecessor's leases as held by a live process (itself) and waited them out.
INSTANCE = uuid.uuid4().hex[:8]


def new_holder(role: str = "") -> str:
    """host:pid@instance:role:random — readable in the one line a refused second process prints."""
    return (
        f"{socket.gethostname()}:{os.getpid()}@{INSTANCE}:{role + ':' if role else ''}{uuid.uuid4().hex[:8]}"
    )


def _dead_here(holder: str) -> str | None:
    """Why a holder named host:pid@instance:… is surely gone (None when it may be alive): it is of this
    host and its process no longer exists, or its PID is this process's own but its instance is not
    (an earlier life of this PID: the container restarted). Another host's holder may be alive."""
    host, _, rest = holder.partition(":")
    pid, _, instance = rest.partition(":")[0].partition("@")
    if host != socket.gethostname() or not pid.isdigit():
        return None
    if int(pid) == os.getpid():  # its PID is ours, so its process is this one or a dead one before it
        if instance == INSTANCE:
            return None
        # (a holder without an instance is an older release's, so an earlier life's too)
        return f"an earlier process with this PID ({pid}) on {host}: restarted"
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return f"its process {pid} on {host} is gone"
    except PermissionError:  # alive, another user's
        return None
    return None


@dataclass(frozen=True)
class LeaseInfo:
    name: str
    holder: str
    expires_at: datetime


class Leases:
    """Named leases in the state store. Their times are read by the database's clock (`database_now`), so a
    host whose clock runs ahead cannot take a lease another still holds; `clock` replaces it in tests."""

    def __init__(self, conn: StateConnection, clock: Clock | None = None) -> None:
        self.conn = conn
        self.clock: Clock = clock or (lambda: database_now(conn))

    def acquire(self, name: str, holder: str, ttl: timedelta) -> bool:
        """True when `holder` now holds `name` until now + ttl (free, expired, already its own, or
        held by a process of this host that no longer exists: a killed loop, restarted, takes over at once
        and says so in one line)."""
        now = self.clock()
        cur = self.conn.execute(
            "INSERT INTO leases(name, holder, acquired_at, expires_at) VALUES (?,?,?,?)"
            " ON CONFLICT(name) DO UPDATE SET holder=excluded.holder, acquired_at=excluded.acquired_at,"
            " expires_at=excluded.expires_at, generation=leases.generation"
            " + CASE WHEN leases.holder=excluded.holder THEN 0 ELSE 1 END"
            " WHERE leases.holder=excluded.holder OR leases.expires_at <= ?",
            (name, holder, now.isoformat(), (now + ttl).isoformat(), now.isoformat()),
        )
        if cur.rowcount == 1:
            return True
        current = self.get(name)
        gone = _dead_here(current.holder) if current is not None else None
        if current is None or gone is None:  # free again meanwhile (the next try takes it), or may be alive
            return False
        cur = self.conn.execute(
            "UPDATE leases SET holder=?, acquired_at=?, expires_at=?, generation=generation+1"
            " WHERE name=? AND holder=?",
            (holder, now.isoformat(), (now + ttl).isoformat(), name, current.holder),
        )
        if cur.rowcount:
            logger.warning(
                "lease %s: took over from %s, which is no longer running (%s)", name, current.holder, gone
            )
        return cur.rowcount == 1

    def renew(self, name: str, holder: str, ttl: timedelta) -> bool:
        """False when the lease was lost (expired and taken by another): stop acting on it."""
        now = self.clock()
        cur = self.conn.execute(
            "UPDATE leases SET expires_at=? WHERE name=? AND holder=? AND expires_at > ?",
            ((now + ttl).isoformat(), name, holder, now.isoformat()),
        )
        return cur.rowcount == 1

    def release(self, name: str, holder: str) -> None:
        """Free at once; the row stays (no holder, expired now) so the lease's generation keeps counting."""
        self.conn.execute(
            "UPDATE leases SET holder='', expires_at=? WHERE name=? AND holder=?",
            (self.clock().isoformat(), name, holder),
        )

    def get(self, name: str) -> LeaseInfo | None:
        row = self.conn.execute(
            "SELECT holder, expires_at FROM leases WHERE name=? AND holder<>''", (name,)
        ).fetchone()
        return LeaseInfo(name, row[0], datetime.fromisoformat(row[1])) if row else None

    def fence(self, name: str, holder: str) -> Fence | None:
        """The lease as `holder` holds it now, with its generation, for `fenced` (None: not its own)."""
        row = self.conn.execute(
            "SELECT generation FROM leases WHERE name=? AND holder=?", (name, holder)
        ).fetchone()
        return Fence(name, holder, int(row[0])) if row else None


class LeaseLost(CrisiswatchError):
    """Raised by work that checks its lease before a side effect and finds it lost."""


@dataclass(frozen=True)
class Fence:
    """A lease as its holder took it: name, holder and generation (the fencing token)."""

    name: str
    holder: str
    generation: int

    def check(self, conn: StateConnection) -> None:
        """Raises LeaseLost unless the lease is still this holder's at this generation. Inside a transaction
        the row stays so until it ends: SQLite lets no other writer in, and on PostgreSQL the row is locked
        (FOR SHARE) against a takeover. A lease expired but taken by nobody still passes: nobody else acted."""
        lock = " FOR SHARE" if conn.dialect == POSTGRESQL else ""
        row = conn.execute(
            f"SELECT holder, generation FROM leases WHERE name=?{lock}", (self.name,)
        ).fetchone()
        if row is not None and row[0] == self.holder and int(row[1]) == self.generation:
            return
        now = f"{row[0]} holds it at generation {row[1]}" if row is not None and row[0] else "it was released"
        raise LeaseLost(f"lease {self.name} (generation {self.generation}) is no longer ours: {now}")


@contextmanager
def fenced(conn: StateConnection | None, fence: Fence | None, lock: str = "state") -> Iterator[None]:
    """Around a side effect made under a lease: one transaction that first checks `fence`, so the effect is
    made only while the lease is still the one it was taken under (LeaseLost, nothing done, otherwise).
    Without a fence (no lease: a command run by hand, a dry run) the effect is made as it comes."""
    if fence is None or conn is None:
        yield
        return
    with transaction(conn, lock=lock):
        fence.check(conn)
        yield


class LeaseKeeper:
    """Holds a lease for the life of a process: a thread renews it every ttl/3 on its own connection.

    `lost` is set, and said in one line, when the lease can no longer be counted on: a renewal found it
    expired or held by another process (this one stalled past the ttl), or its `expires_at` passed
    without a renewal getting through (the database was away: restarted, failed over, the connection
    cut). The holder must then stop before its next side effect; another process may hold it already.

    A renewal that fails on a database error is tried again on a fresh connection (the old one may
    be closed for good), sooner than the usual round; each try is bounded (`timeout`), so a renewal
    that hangs on a lock or a silent network cannot keep the keeper from seeing the expiry pass.
    """

    def __init__(
        self, database: str | Path, name: str, holder: str, ttl: timedelta, clock: Clock = _utc_now
    ) -> None:
        self.database, self.name, self.holder, self.ttl = database, name, holder, ttl
        self.clock = clock
        self.lost = threading.Event()
        # until when the lease is ours for sure: the caller has just acquired it, so from now on at the latest
        self.expires_at = clock() + ttl
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self, since: datetime | None = None) -> LeaseKeeper:
        """Renews from now on; `since`: when the caller last took or renewed the lease, if not just now."""
        self.expires_at = (since or self.clock()) + self.ttl
        self._thread = threading.Thread(target=self._renew, name=f"lease:{self.name}", daemon=True)
        self._thread.start()
        return self

    def _connect(self) -> StateConnection:
        return open_store(self.database, schema=False, timeout=max(self.ttl.total_seconds() / 6, 0.5))

    @property
    def _ttl_text(self) -> str:
        return f"{self.ttl.total_seconds():g} s"

    def _lose(self, why: str) -> None:
        logger.error("lease %s lost (%s): stopping what it guards", self.name, why)
        self.lost.set()

    def _renew(self) -> None:
        interval = self.ttl.total_seconds() / 3
        conn: StateConnection | None = None
        wait, error = interval, ""
        try:
            try:
                conn = self._connect()  # now, not at the first renewal: a database already away is said early
            except DatabaseError as exc:
                logger.warning("lease %s: cannot reach the database (%s); trying again", self.name, exc)
                wait = interval / 3
            while not self._stop.wait(max(0.0, min(wait, (self.expires_at - self.clock()).total_seconds()))):
                now = self.clock()
                try:
                    if conn is None:
                        conn = self._connect()
                    ok = self._renew_on(conn)
                except DatabaseError as exc:
                    error = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
                    if conn is not None:  # it may be closed for good: the next try opens a fresh one
                        try:
                            conn.close()
                        except DatabaseError:
                            pass
                        conn = None
                    if self.clock() >= self.expires_at:
                        self._lose(
                            f"no renewal got through within its {self._ttl_text} ttl; last error: {error}"
                        )
                        return
                    logger.warning(
                        "lease %s: renewal failed (%s); trying again on a new connection", self.name, error
                    )
                    wait = interval / 3
                    continue
                if not ok:
                    self._lose(self._why_not_renewed(conn, error))
                    return
                self.expires_at, wait, error = now + self.ttl, interval, ""
        finally:
            if conn is not None:
                try:
                    conn.close()
                except DatabaseError:
                    pass

    def _renew_on(self, conn: StateConnection) -> bool:
        """One renewal; False when the lease is no longer ours. A subclass keeps another kind of lease."""
        # the lease row by the database's clock (unless a test gave one); our own expiry by ours
        return Leases(conn, clock=None if self.clock is _utc_now else self.clock).renew(
            self.name, self.holder, self.ttl
        )

    def _holder_on(self, conn: StateConnection) -> str | None:
        """Who holds the lease now (for the line saying it was lost)."""
        current = Leases(conn).get(self.name)
        return current.holder if current else None

    def _why_not_renewed(self, conn: StateConnection, error: str) -> str:
        try:
            current = self._holder_on(conn)
        except DatabaseError:
            current = None
        if current is not None and current != self.holder:
            return f"another process holds it: {current}"
        return f"it ran out before a renewal got through (ttl {self._ttl_text})" + (
            f"; last error: {error}" if error else ""
        )

    def stop(self, release: bool = True) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        if release and not self.lost.is_set():
            try:
                conn = self._connect()
                try:
                    Leases(conn).release(self.name, self.holder)
                finally:
                    conn.close()
            except DatabaseError as exc:  # the database is away: the lease runs out by itself
                logger.warning(
                    "lease %s: not released (%s); it runs out by itself within %s",
                    self.name,
                    str(exc).strip(),
                    self._ttl_text,
                )
