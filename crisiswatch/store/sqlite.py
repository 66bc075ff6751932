"""SQLite, the default state store: one file shared by the crawler, the run loop and the dashboard.

WAL mode lets readers go on while one writer writes; `busy_timeout` makes a second writer wait its
turn instead of failing. `SqliteConnection` is sqlite3's connection with the two attributes the
portable layer reads (`dialect`, `url`), so nothing is wrapped on the way to each statement.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

from crisiswatch.errors import CrisiswatchError


class SqliteConnection(sqlite3.Connection):
    dialect = "sqlite"
    url = ""


class SqliteOpenError(CrisiswatchError, sqlite3.OperationalError):
    """A SQLite file that cannot be opened or written, said in one line with the settings that name it. An
    OperationalError too, so whatever waits out a state store that is away (the dead-man's page) still sees it."""

    def __init__(self, path: str, reason: str) -> None:
        super().__init__(f"cannot open the SQLite database {path}: {reason} (give a writable path: state_db, "
                         "state.url or index.url in the config, or --db FILE / $CRISISWATCH_DB)")


def open_sqlite(path: str | Path, *, check_same_thread: bool = False) -> SqliteConnection:
    path = str(path)
    if path != ":memory:":
        folder = Path(path).parent
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except (FileExistsError, NotADirectoryError):
            raise SqliteOpenError(path, f"{folder} is a file, not a folder") from None
        except OSError as exc:
            raise SqliteOpenError(path, f"cannot make its folder {folder} ({exc.strerror})") from None
    try:
        conn = sqlite3.connect(path, timeout=30, isolation_level=None, check_same_thread=check_same_thread,
                               factory=SqliteConnection)
        conn.url = "sqlite:///:memory:" if path == ":memory:" else f"sqlite:///{Path(path).resolve()}"
        conn.row_factory = sqlite3.Row
        conn.execute("PRAGMA journal_mode=WAL")  # the first statement that reads (and may create) the file
        conn.execute("PRAGMA synchronous=NORMAL")
        conn.execute("PRAGMA busy_timeout=30000")
        conn.execute("PRAGMA foreign_keys=ON")
    except sqlite3.DatabaseError as exc:
        if isinstance(exc, sqlite3.OperationalError) and "locked" in str(exc):
            raise  # busy, not broken: the caller's retry or back-off applies
        reason = "it is a folder" if Path(path).is_dir() else str(exc)
        raise SqliteOpenError(path, reason) from None
    return conn


def statements(script: str) -> Iterator[str]:
    """The statements of a script, one by one (executescript would COMMIT the open transaction first)."""
    pending = ""
    for line in script.splitlines(keepends=True):
        pending += line
        if sqlite3.complete_statement(pending):
            if pending.strip():
                yield pending.strip()
            pending = ""
    if pending.strip() and not all(s.strip().startswith("--") or not s.strip() for s in pending.splitlines()):
        yield pending.strip()


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
