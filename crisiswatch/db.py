"""Connections to the state store (outbox, tickets, incidents, dead letters, crawl marks...).

`connect` takes a path or URL: a file or `sqlite:///FILE` (the default store, WAL mode so the
crawler, the run loop and the dashboard share one file) or `postgresql://…` (several hosts). The
schema is one set of numbered migrations applied on connect (crisiswatch/store/migrate.py); the
modules write portable SQL and use `transaction` for read-then-write work.
"""

from __future__ import annotations

import sqlite3
import threading
from datetime import UTC, datetime
from pathlib import Path

from crisiswatch.store.connect import open_store
from crisiswatch.store.core import (  # noqa: F401 (re-exported: the modules' one import)
    POSTGRESQL,
    SQLITE,
    DatabaseError,
    IntegrityError,
    OperationalError,
    Row,
    StateConnection,
    insert_id,
    lock_key,
    on_commit,
    transaction,
)
from crisiswatch.store.sqlite import add_missing_columns, open_sqlite
from crisiswatch.store.url import dialect_of, sqlite_path  # noqa: F401 (re-exported)

_schemas_done: set[tuple[str, str]] = set()
_lock = threading.Lock()


def connect(target: str | Path, *, check_same_thread: bool = False) -> StateConnection:
    """The state store at `target` (path or URL), its schema up to date."""
    return open_store(target, check_same_thread=check_same_thread)


def connect_sqlite(path: str | Path) -> sqlite3.Connection:
    """A plain SQLite file without the state schema (the SQLite mention index keeps its own tables)."""
    return open_sqlite(path)


def ensure_schema(conn: sqlite3.Connection, name: str, ddl: str) -> None:
    """Run a CREATE ... IF NOT EXISTS script once per SQLite file and process (the mention index's tables;
    state tables come from the migrations instead).

    Tables that already exist gain the columns the DDL added since they were created, so a database
    from an older release keeps working after an upgrade (see `add_missing_columns`).
    """
    db = conn.execute("PRAGMA database_list").fetchone()["file"]
    if not db:  # in memory: a closed connection's id() comes back for the next one, so nothing is remembered
        add_missing_columns(conn, ddl)
        conn.executescript(ddl)
        return
    with _lock:
        if (db, name) in _schemas_done:
            return
        add_missing_columns(conn, ddl)
        conn.executescript(ddl)
        _schemas_done.add((db, name))


def database_now(conn: StateConnection) -> datetime:
    """Now by the state database's clock, for leases: processes on hosts whose clocks disagree still agree on
    when a lease runs out (on SQLite every process is on one host anyway). In UTC, as every stored time is."""
    if conn.dialect == POSTGRESQL:
        value = conn.execute("SELECT clock_timestamp()").fetchone()[0]
    else:
        value = conn.execute("SELECT strftime('%Y-%m-%d %H:%M:%f', 'now')").fetchone()[0]
    at = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    return at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)
