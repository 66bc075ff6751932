"""What the state modules need beyond `execute`, the same on both stores: the dialect, transactions
that serialise writers, the id of a row just inserted, and the errors to catch."""

from __future__ import annotations

import hashlib
import sqlite3
from collections.abc import Iterator, Sequence
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
    """
    if conn.dialect == POSTGRESQL:
        conn.execute("BEGIN")
        conn.execute("SELECT pg_advisory_xact_lock(?)", (lock_key(lock),))
    else:
        conn.execute("BEGIN IMMEDIATE")
    try:
        yield conn
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


def insert_id(conn: StateConnection, sql: str, params: Sequence[Any]) -> int:
    """Run an INSERT and return the new row's id (RETURNING, on both stores; no lastrowid on PostgreSQL).

    fetchall, not fetchone: SQLite finishes the statement, and releases its write lock, only when
    every returned row has been read."""
    return int(conn.execute(f"{sql} RETURNING id", params).fetchall()[0][0])


Row = sqlite3.Row | PgRow  # what a query yields on either store: by position and by name
