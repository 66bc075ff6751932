"""Copy one state store into another (`crisiswatch state migrate --to postgresql://…`), verifiably.

Both ends are first brought to the newest schema, so the tables and columns match. The target must
be empty. The source is read in one snapshot, each table is written in one transaction, and then
both ends are read back: per table the row count and an order-free checksum (the sum of one SHA-256
per row, so SQLite's and PostgreSQL's different sort orders do not matter) must agree, or the copy
is reported as failed. Identity counters on PostgreSQL move past the copied ids.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from crisiswatch.errors import CrisiswatchError
from crisiswatch.store.core import POSTGRESQL, SQLITE, StateConnection, transaction

BATCH = 2000
_MODULUS = 1 << 256


@dataclass(frozen=True)
class TableCopy:
    table: str
    source_rows: int
    target_rows: int
    source_sum: str
    target_sum: str

    @property
    def ok(self) -> bool:
        return self.source_rows == self.target_rows and self.source_sum == self.target_sum


def tables(conn: StateConnection) -> dict[str, list[str]]:
    """Table -> columns in declared order (schema_version aside: each end keeps its own)."""
    if conn.dialect == SQLITE:
        names = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'"
                                            " AND name NOT LIKE 'sqlite_%' ORDER BY name")]
        found = {t: [c[1] for c in conn.execute(f'PRAGMA table_info("{t}")')] for t in names}
    else:
        found = {}
        for table, column in conn.execute(
                "SELECT table_name, column_name FROM information_schema.columns WHERE table_schema=current_schema()"
                " ORDER BY table_name, ordinal_position").fetchall():
            found.setdefault(table, []).append(column)
    found.pop("schema_version", None)
    return found


def references(conn: StateConnection) -> dict[str, set[str]]:
    """Table -> the tables its foreign keys point at (copied first)."""
    if conn.dialect == SQLITE:
        return {t: {r[2] for r in conn.execute(f'PRAGMA foreign_key_list("{t}")')} - {t} for t in tables(conn)}
    out: dict[str, set[str]] = {t: set() for t in tables(conn)}
    for table, parent in conn.execute(
            "SELECT tc.table_name, ccu.table_name FROM information_schema.table_constraints tc"
            " JOIN information_schema.constraint_column_usage ccu ON ccu.constraint_name = tc.constraint_name"
            " WHERE tc.constraint_type = 'FOREIGN KEY' AND tc.table_schema = current_schema()").fetchall():
        if parent != table:
            out.setdefault(table, set()).add(parent)
    return out


def copy_order(conn: StateConnection) -> list[str]:
    """Every table after the tables it refers to."""
    refs, done = references(conn), []
    while len(done) < len(refs):
        ready = sorted(t for t, parents in refs.items() if t not in done and parents <= set(done))
        if not ready:
            raise CrisiswatchError(f"foreign keys form a cycle among {sorted(set(refs) - set(done))}")
        done.extend(ready)
    return done


def _rows(conn: StateConnection, table: str, cols: list[str]) -> Iterator[list[tuple]]:
    """The table in batches by a cursor over one statement."""
    cur = conn.execute(f'SELECT {", ".join(_quoted(cols))} FROM "{table}"')
    while batch := cur.fetchmany(BATCH):
        yield [tuple(r) for r in batch]


def _quoted(cols: list[str]) -> list[str]:
    return [f'"{c}"' for c in cols]


def row_digest(values: tuple[Any, ...]) -> int:
    """One row's SHA-256 as a number; floats and ints as JSON writes them, so both stores agree."""
    text = json.dumps([bytes(v).hex() if isinstance(v, bytes | memoryview) else v for v in values],
                      ensure_ascii=False, default=str)
    return int.from_bytes(hashlib.sha256(text.encode()).digest(), "big")


def checksum(conn: StateConnection, table: str, cols: list[str]) -> tuple[int, str]:
    count, total = 0, 0
    for batch in _rows(conn, table, cols):
        count += len(batch)
        total = (total + sum(row_digest(r) for r in batch)) % _MODULUS
    return count, f"{total:064x}"[:16]


def _begin_snapshot(conn: StateConnection) -> None:
    conn.execute("BEGIN ISOLATION LEVEL REPEATABLE READ" if conn.dialect == POSTGRESQL else "BEGIN")


def not_state(source: StateConnection, target: StateConnection) -> list[str]:
    """Tables of the source that the state schema lacks, left where they are: the SQLite mention index that
    shares the file by default (`state_db` and `index.url` both crisiswatch.db), a demo's mark."""
    return sorted(set(tables(source)) - set(tables(target)))


def copy_store(source: StateConnection, target: StateConnection,
               progress: Callable[[str, int], None] = lambda table, rows: None) -> list[TableCopy]:
    """Copy every state table (the tables of the target, just brought to the newest schema); returns what was
    verified per table (check `.ok`). The source's other tables (`not_state`) are not copied.

    The source's count and checksum come from the very rows copied (one snapshot), the target's from
    reading it back after the copy."""
    want = tables(target)
    have = {table: cols for table, cols in tables(source).items() if table in want}
    if have != want:
        differ = sorted(set(have) ^ set(want)) or [t for t in have if have[t] != want.get(t)]
        raise CrisiswatchError(f"the two stores' schemas differ ({', '.join(differ[:5])}): upgrade both first")
    busy = [t for t in want if target.execute(f'SELECT 1 FROM "{t}" LIMIT 1').fetchone()]
    if busy:
        raise CrisiswatchError(f"the target store is not empty ({', '.join(busy[:5])} have rows): "
                               "copy into a new database")
    read: dict[str, tuple[int, int]] = {}
    _begin_snapshot(source)
    try:
        for table in (t for t in copy_order(source) if t in want):
            cols = have[table]
            insert = f'INSERT INTO "{table}" ({", ".join(_quoted(cols))}) VALUES ({", ".join("?" * len(cols))})'
            count, total = 0, 0
            with transaction(target, lock=f"copy:{table}"):
                for batch in _rows(source, table, cols):
                    target.executemany(insert, batch)
                    count += len(batch)
                    total = (total + sum(row_digest(r) for r in batch)) % _MODULUS
                    progress(table, count)
            read[table] = (count, total)
    finally:
        source.execute("ROLLBACK")  # a read-only snapshot: nothing to keep
    if target.dialect == POSTGRESQL:
        _advance_identities(target)
    results = []
    for table, cols in have.items():
        n_target, sum_target = checksum(target, table, cols)
        n_source, total = read[table]
        results.append(TableCopy(table, n_source, n_target, f"{total:064x}"[:16], sum_target))
    return results


def _advance_identities(conn: StateConnection) -> None:
    """New rows after the copy get ids past the copied ones."""
    for table, column in conn.execute(
            "SELECT table_name, column_name FROM information_schema.columns WHERE table_schema=current_schema()"
            " AND is_identity='YES'").fetchall():
        conn.execute(f"SELECT setval(pg_get_serial_sequence('\"{table}\"', '{column}'),"
                     f' COALESCE(MAX("{column}"), 0) + 1, false) FROM "{table}"')
