"""What the state modules need beyond `execute`, the same on both stores: the dialect, transactions
that serialise writers, the id of a row just inserted, and the errors to catch."""

from __future__ import annotations

import hashlib
import sqlite3
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, Protocol

import psycopg

from crisiswatch.store.postgres import Row as PgRow
from crisiswatch.store.url import POSTGRESQL, SQLITE  # noqa: F401 (re-exported)

IntegrityError = (sqlite3.IntegrityError, psycopg.IntegrityError)
OperationalError = (sqlite3.OperationalError, psycopg.OperationalError)
DatabaseError = (sqlite3.Error, psycopg.Error)


class StateConnection(Protocol):
    """What `crisiswatch.db.connect` returns: sqlite3's connection, or `PgConnection` shaped like it."""

    dialect: str
    url: str

    def execute(self, sql: str, params: Sequence[Any] = ..., /) -> Any: ...
    def executemany(self, sql: str, seq: Any, /) -> Any: ...
    def executescript(self, script: str, /) -> Any: ...
    def close(self) -> None: ...

    @property
    def in_transaction(self) -> bool: ...


def lock_key(name: str) -> int:
    """A stable signed 64-bit key for pg_advisory_*lock from a readable name."""
    return int.from_bytes(hashlib.blake2b(name.encode(), digest_size=8).digest(), "big", signed=True)


@contextmanager
def transaction(conn: StateConnection, lock: str = "state") -> Iterator[StateConnection]:
    """BEGIN ... COMMIT, rolled back on error; writers of the same `lock` take turns.

    SQLite's BEGIN IMMEDIATE lets one writer at a time into the whole file. PostgreSQL runs the
    transaction at READ COMMITTED holding the advisory lock `lock` until it ends, so read-then-write
    code keeps the guarantee it was written for; a narrower name (`ticket:42`) lets unrelated
    writers through at once.

    Inside another transaction (a flow that makes several services' changes one: a dismissal) it is a
    SAVEPOINT: its error undoes its own part, the caller decides whether the whole goes on, and nothing is
    committed before the outermost COMMIT. Its advisory lock is taken too, and held until that COMMIT.
    """
    frames = _frames(conn)
    if frames:
        with _savepoint(conn, lock, frames):
            yield conn
        return
    if conn.dialect == POSTGRESQL:
        conn.execute("BEGIN")
        conn.execute("SELECT pg_advisory_xact_lock(?)", (lock_key(lock),))
    else:
        conn.execute("BEGIN IMMEDIATE")
    frames.append([])
    try:
        yield conn
    except BaseException:
        frames.clear()  # what was to follow the commit is dropped with the work
        conn.execute("ROLLBACK")
        raise
    try:
        conn.execute("COMMIT")
    finally:
        after = frames.pop() if frames else []
    for callback in after:
        callback()


@contextmanager
def _savepoint(conn: StateConnection, lock: str, frames: list[list[Callable[[], None]]]) -> Iterator[None]:
    name = f"cw_{len(frames)}"
    conn.execute(f"SAVEPOINT {name}")
    if conn.dialect == POSTGRESQL:
        conn.execute("SELECT pg_advisory_xact_lock(?)", (lock_key(lock),))
    frames.append([])
    try:
        yield
    except BaseException:
        frames.pop()
        conn.execute(f"ROLLBACK TO SAVEPOINT {name}")
        conn.execute(f"RELEASE SAVEPOINT {name}")
        raise
    frames[-2].extend(frames.pop())
    conn.execute(f"RELEASE SAVEPOINT {name}")


def on_commit(conn: StateConnection, callback: Callable[[], None]) -> None:
    """Run `callback` once the open transaction commits (never if it rolls back); at once outside one.
    For what is not in the state store (a copy written to the index) and must not run ahead of it."""
    frames = _frames(conn)
    if frames:
        frames[-1].append(callback)
    else:
        callback()


def _frames(conn: StateConnection) -> list[list[Callable[[], None]]]:
    """The open transaction's levels on this connection, each with its after-commit callbacks ([] outside one).
    Kept per thread: a PostgreSQL connection may be shared by threads, each with its own work."""
    local = conn.__dict__.get("_transaction_frames")
    if local is None:
        local = conn.__dict__.setdefault("_transaction_frames", threading.local())
    if not hasattr(local, "frames"):
        local.frames = []
    return local.frames


def insert_id(conn: StateConnection, sql: str, params: Sequence[Any]) -> int:
    """Run an INSERT and return the new row's id (RETURNING, on both stores; no lastrowid on PostgreSQL).

    fetchall, not fetchone: SQLite finishes the statement, and releases its write lock, only when
    every returned row has been read."""
    return int(conn.execute(f"{sql} RETURNING id", params).fetchall()[0][0])


Row = sqlite3.Row | PgRow  # what a query yields on either store: by position and by name
