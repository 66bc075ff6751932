"""PostgreSQL behind the surface the state modules already use on SQLite.

`PgConnection` answers `execute(sql, params)` / `executemany` / `executescript` with `?` placeholders,
rows readable by position and by name (`row[0]`, `row["id"]`, `dict(row)`), autocommit outside
`crisiswatch.db.transaction`. Values come back as SQLite gives them: SUM and AVG as int or float
rather than Decimal, Python booleans stored as 0/1 in the integer columns that hold flags.

A connection the server closed (a restart, a failover, an idle connection cut on the way) is opened
again by the next statement, so a long-running process heals by itself: the statement that met the
closed connection fails (it may or may not have run, so it is never retried), the next one runs on a
fresh connection. Inside a transaction nothing is reopened: the transaction is gone with its
connection, so its remaining statements fail until its ROLLBACK, and only then does work go on.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable, Iterator, Sequence
from datetime import datetime
from functools import lru_cache
from typing import Any

import psycopg
from psycopg.adapt import Dumper, Loader
from psycopg.rows import RowMaker

from crisiswatch.indexurl import redact_url

logger = logging.getLogger(__name__)

@lru_cache(maxsize=2048)
def to_pyformat(sql: str) -> str:
    """`?` placeholders become `%s` and a literal `%` becomes `%%`, outside quoted text."""
    out: list[str] = []
    quote = ""
    for ch in sql:
        if quote:
            if ch == quote:
                quote = ""
            out.append("%%" if ch == "%" else ch)
        elif ch in "'\"":
            quote = ch
            out.append(ch)
        elif ch == "?":
            out.append("%s")
        elif ch == "%":
            out.append("%%")
        else:
            out.append(ch)
    return "".join(out)


class Row:
    """One result row, like sqlite3.Row: by index, by column name, `keys()`, so `dict(row)` works."""

    __slots__ = ("_values", "_index")

    def __init__(self, values: Sequence[Any], index: dict[str, int]) -> None:
        self._values = values
        self._index = index

    def __getitem__(self, key: int | str | slice) -> Any:
        if isinstance(key, str):
            return self._values[self._index[key]]
        return self._values[key]

    def __len__(self) -> int:
        return len(self._values)

    def __iter__(self) -> Iterator[Any]:
        return iter(self._values)

    def keys(self) -> list[str]:
        return list(self._index)

    def __eq__(self, other: object) -> bool:
        return tuple(self._values) == (tuple(other) if isinstance(other, Row | tuple) else other)

    def __hash__(self) -> int:
        return hash(tuple(self._values))

    def __repr__(self) -> str:
        return f"Row({dict(zip(self._index, self._values, strict=True))!r})"


def _row_factory(cursor: psycopg.Cursor[Any]) -> RowMaker[Row]:
    index = {col.name: i for i, col in enumerate(cursor.description or ())}
    return lambda values: Row(values, index)


class _NumberLoader(Loader):
    """NUMERIC (what SUM of integers and AVG give) as int or float, as SQLite returns them."""

    def load(self, data: Any) -> int | float:
        text = bytes(data).decode()
        return float(text) if any(c in text for c in ".eEN") else int(text)


class _FlagDumper(Dumper):
    """True/False as 1/0: the flag columns are integers on both stores."""

    oid = psycopg.postgres.types["int8"].oid

    def dump(self, obj: bool) -> bytes:
        return b"1" if obj else b"0"


class _IsoTextDumper(Dumper):
    """A datetime parameter as the ISO text SQLite's adapter writes (times are TEXT columns on both)."""

    oid = 0  # unknown: PostgreSQL takes it as text, or whatever the column wants

    def dump(self, obj: datetime) -> bytes:
        return obj.isoformat(" ").encode()


class PgConnection:
    """A PostgreSQL connection in autocommit mode, shareable by threads (psycopg locks per connection).

    `timeout` (seconds) bounds each statement (`statement_timeout`) and each unanswered write to the
    server (`tcp_user_timeout`), for a caller that must not hang on a lock or a silent network: a lease
    keeper, whose renewal has to fail in time for it to tell that the lease is lost."""

    dialect = "postgresql"

    def __init__(self, url: str, timeout: float | None = None) -> None:
        self.url = url
        self.timeout = timeout
        self.local = threading.local()  # the open transaction's depth, per thread
        self._reopen = threading.Lock()
        self._lost_in_transaction = False  # the server closed the connection while a transaction was open
        self.raw = self._open()

    def _open(self) -> psycopg.Connection[Row]:
        extra: dict[str, Any] = {}
        if self.timeout is not None:
            extra["tcp_user_timeout"] = max(1, int(self.timeout * 1000))
        try:
            raw = psycopg.connect(self.url, autocommit=True, row_factory=_row_factory,
                                  connect_timeout=10 if self.timeout is None else max(2, min(10, int(self.timeout))),
                                  **extra)
        except psycopg.OperationalError as exc:
            raise psycopg.OperationalError(f"cannot connect to {redact_url(self.url)}: {str(exc).strip()}") from None
        adapters = raw.adapters
        adapters.register_loader("numeric", _NumberLoader)
        adapters.register_dumper(bool, _FlagDumper)
        adapters.register_dumper(datetime, _IsoTextDumper)
        if self.timeout is not None:
            raw.execute(f"SET statement_timeout = {max(1, int(self.timeout * 1000))}")
        return raw

    def _live(self, sql: str) -> psycopg.Connection[Row]:
        """The connection, opened again if the server closed it (not inside a transaction it took down)."""
        if not self.raw.closed:
            return self.raw
        with self._reopen:
            if self._lost_in_transaction:
                if sql.strip().upper() != "ROLLBACK":
                    raise psycopg.OperationalError(
                        f"the connection to {redact_url(self.url)} was lost inside a transaction, which is gone")
                self._lost_in_transaction = False  # the transaction's end: the next statement starts afresh
            if self.raw.closed:
                self.raw = self._open()
                logger.warning("state store %s: the connection was closed (a restart or a cut); reconnected",
                               redact_url(self.url))
            return self.raw

    def _run(self, sql: str, work: Any) -> Any:
        raw = self._live(sql)
        before = raw.info.transaction_status
        try:
            return work(raw)
        except psycopg.OperationalError:
            if raw.closed and before != psycopg.pq.TransactionStatus.IDLE:
                self._lost_in_transaction = True
            raise

    def execute(self, sql: str, params: Sequence[Any] | None = None) -> psycopg.Cursor[Row]:
        if params is None or len(params) == 0:  # no parameters: psycopg reads no placeholders either
            return self._run(sql, lambda raw: raw.cursor().execute(sql))  # type: ignore[arg-type]
        return self._run(sql, lambda raw: raw.cursor().execute(to_pyformat(sql), tuple(params)))

    def executemany(self, sql: str, seq: Iterable[Sequence[Any]]) -> psycopg.Cursor[Row]:
        def work(raw: psycopg.Connection[Row]) -> psycopg.Cursor[Row]:
            cur = raw.cursor()
            cur.executemany(to_pyformat(sql), [tuple(p) for p in seq])  # type: ignore[arg-type]
            return cur

        return self._run(sql, work)

    def executescript(self, script: str) -> None:
        """Several statements in one go (no parameters): PostgreSQL's simple query protocol takes them."""
        self._run(script, lambda raw: raw.execute(script))  # type: ignore[arg-type]

    @property
    def in_transaction(self) -> bool:
        if self.raw.closed:
            return self._lost_in_transaction
        return self.raw.info.transaction_status != psycopg.pq.TransactionStatus.IDLE

    def close(self) -> None:
        self.raw.close()

    def __repr__(self) -> str:
        return f"PgConnection({redact_url(self.url)!r})"
