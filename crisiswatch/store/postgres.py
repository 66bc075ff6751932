"""PostgreSQL behind the surface the state modules already use on SQLite.

`PgConnection` answers `execute(sql, params)` / `executemany` / `executescript` with `?` placeholders,
rows readable by position and by name (`row[0]`, `row["id"]`, `dict(row)`), autocommit outside
`crisiswatch.db.transaction`. Values come back as SQLite gives them: SUM and AVG as int or float
rather than Decimal, Python booleans stored as 0/1 in the integer columns that hold flags.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator, Sequence
from datetime import datetime
from functools import lru_cache
from typing import Any

import psycopg
from psycopg.adapt import Dumper, Loader
from psycopg.rows import RowMaker

from crisiswatch.indexurl import redact_url


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
    """A PostgreSQL connection in autocommit mode, shareable by threads (psycopg locks per connection)."""

    dialect = "postgresql"

    def __init__(self, url: str) -> None:
        self.url = url
        try:
            self.raw = psycopg.connect(url, autocommit=True, row_factory=_row_factory, connect_timeout=10)
        except psycopg.OperationalError as exc:
            raise psycopg.OperationalError(f"cannot connect to {redact_url(url)}: {str(exc).strip()}") from None
        adapters = self.raw.adapters
        adapters.register_loader("numeric", _NumberLoader)
        adapters.register_dumper(bool, _FlagDumper)
        adapters.register_dumper(datetime, _IsoTextDumper)
        self.local = threading.local()  # the open transaction's depth, per thread

    def execute(self, sql: str, params: Sequence[Any] | None = None) -> psycopg.Cursor[Row]:
        cur = self.raw.cursor()
        if params is None or len(params) == 0:  # no parameters: psycopg reads no placeholders either
            return cur.execute(sql)  # type: ignore[arg-type]
        return cur.execute(to_pyformat(sql), tuple(params))  # type: ignore[arg-type]

    def executemany(self, sql: str, seq: Iterable[Sequence[Any]]) -> psycopg.Cursor[Row]:
        cur = self.raw.cursor()
        cur.executemany(to_pyformat(sql), [tuple(p) for p in seq])
        return cur

    def executescript(self, script: str) -> None:
        """Several statements in one go (no parameters): PostgreSQL's simple query protocol takes them."""
        self.raw.execute(script)  # type: ignore[arg-type]

    @property
    def in_transaction(self) -> bool:
        return self.raw.info.transaction_status != psycopg.pq.TransactionStatus.IDLE

    def close(self) -> None:
        self.raw.close()

    def __repr__(self) -> str:
        return f"PgConnection({redact_url(self.url)!r})"
