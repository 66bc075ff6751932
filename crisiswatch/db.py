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

from crisiswatch.errors import CrisiswatchError

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
    """Run a module's CREATE ... IF NOT EXISTS script once per database file and process.

    Tables that already exist gain the columns the DDL added since they were created, so a state
    database from an older release keeps working after an upgrade (see `add_missing_columns`).
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


def _columns(conn: sqlite3.Connection, table: str) -> list[sqlite3.Row]:
    return conn.execute("SELECT * FROM pragma_table_info(?)", (table,)).fetchall()


def add_missing_columns(conn: sqlite3.Connection, ddl: str) -> list[str]:
    """ALTER TABLE ... ADD COLUMN for every column the DDL declares that an existing table lacks.

    The DDL is first run on a scratch in-memory database, so SQLite itself parses it; a column it
    cannot add in place (a key, or NOT NULL without a default) stops with one line naming it, rather
    than failing later on a query. Returns "table.column" for each column added.
    """
    scratch = sqlite3.connect(":memory:")
    try:
        scratch.row_factory = sqlite3.Row
        scratch.executescript(ddl)
        tables = [r["name"] for r in scratch.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        added = []
        for table in tables:
            have = {r["name"] for r in _columns(conn, table)}
            if not have:  # a new table: the DDL creates it
                continue
            for col in _columns(scratch, table):
                if col["name"] in have:
                    continue
                if col["pk"] or (col["notnull"] and col["dflt_value"] is None):
                    raise CrisiswatchError(
                        f"state database: table {table} lacks column {col['name']}, which cannot be added "
                        "in place; move the old database aside and start again"
                    )
                decl = f'"{col["name"]}" {col["type"]}'
                if col["notnull"]:
                    decl += " NOT NULL"
                if col["dflt_value"] is not None:
                    decl += f" DEFAULT {col['dflt_value']}"
                conn.execute(f'ALTER TABLE "{table}" ADD COLUMN {decl}')
                added.append(f"{table}.{col['name']}")
        return added
    finally:
        scratch.close()


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
