"""`open_store`: a connection to the state store a path or URL names, its schema up to date."""

from __future__ import annotations

from pathlib import Path

from crisiswatch.store.core import StateConnection
from crisiswatch.store.migrate import migrate
from crisiswatch.store.postgres import PgConnection
from crisiswatch.store.sqlite import open_sqlite
from crisiswatch.store.url import sqlite_path


def open_store(target: str | Path, *, check_same_thread: bool = False, schema: bool = True,
               timeout: float | None = None) -> StateConnection:
    """A connection to the state store at `target`, its schema up to date unless `schema=False`; with `timeout`
    (seconds) no statement waits longer than that (for a lock, or on PostgreSQL a silent network)."""
    path = sqlite_path(target)
    conn: StateConnection
    if path is None:
        conn = PgConnection(str(target), timeout=timeout)
    else:
        conn = open_sqlite(path, check_same_thread=check_same_thread)
        if timeout is not None:
            conn.execute(f"PRAGMA busy_timeout={max(1, int(timeout * 1000))}")
    if schema:
        migrate(conn)
    return conn
