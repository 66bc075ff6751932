"""SQLite connections for local state (outbox, tickets, incidents, dead letters, crawl marks).

Every module that keeps state owns its DDL and calls `ensure_schema`; WAL mode lets the
crawler, the run loop and the dashboard share one file.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

_schemas_done: set[tuple[str, str]] = set()
_lock = threading.Lock()


def connect(path: str | Path, *, check_same_thread: bool = False) -> sqlite3.Connection:
    path = str(path)
    if path != ":memory:":
        Path(path).parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(path, timeout=30, isolation_level=None, check_same_thread=check_same_thread)
    conn.row_factory = sqlite3.Row
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute("PRAGMA busy_timeout=30000")
    conn.execute("PRAGMA foreign_keys=ON")
    return conn


def ensure_schema(conn: sqlite3.Connection, name: str, ddl: str) -> None:
    """Run a module's CREATE ... IF NOT EXISTS script once per database file and process."""
    db = conn.execute("PRAGMA database_list").fetchone()["file"] or f":memory:{id(conn)}"
    with _lock:
        if (db, name) in _schemas_done:
            return
        conn.executescript(ddl)
        _schemas_done.add((db, name))


@contextmanager
def transaction(conn: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """BEGIN IMMEDIATE ... COMMIT, rolled back on error (connections run in autocommit mode)."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield conn
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")
