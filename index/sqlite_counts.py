"""Pre-aggregated mention counts for SQLite: per bucket x brand x source x category x sentiment band.

Kept current by every upsert (a replaced mention's old row is subtracted), so a dashboard view whose
window lies on bucket edges — all of them do, see `monitor.dashboard.filters` — counts a few thousand
summary rows instead of a million mentions. Anything else (a severity filter, an odd window) is answered
from the mentions themselves, with the same results.

Brand '*' rows count each mention once whatever its brands (totals); the other rows count it once per
brand, '' for none, as `mention_brands` does.
"""

from __future__ import annotations

import sqlite3
from collections import Counter
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime

from index.base import GROUP_FIELDS, Bucket, MentionFilter

# 15 min serves the day view, an hour the week, six hours the month (the views' bucket sizes)
STEPS = (900, 3600, 6 * 3600)
ALL = "*"
DDL = """
CREATE TABLE IF NOT EXISTS mention_counts (
    step INTEGER NOT NULL,
    brand TEXT NOT NULL,
    bucket INTEGER NOT NULL,
    source TEXT NOT NULL,
    category TEXT NOT NULL,
    band TEXT NOT NULL,
    n INTEGER NOT NULL,
    PRIMARY KEY (step, brand, bucket, source, category, band)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS mention_counts_built (steps TEXT PRIMARY KEY);
"""
_COLUMN = {"brand": "brand", "source": "source", "category": "category", "sentiment_band": "band"}

Key = tuple[int, str, int, str, str, str]


def _keys(ts: float, brands: Iterable[str], source: str, category: str | None, band: str) -> list[Key]:
    out = []
    for step in STEPS:
        bucket = int(ts // step * step)
        for brand in (ALL, *dict.fromkeys(brands or [""])):
            out.append((step, brand, bucket, source, category or "", band))
    return out


def delta(old: Sequence[tuple], new: Sequence[tuple]) -> Counter[Key]:
    """Count changes for (created_ts, brands, source, category, band) rows leaving and entering the index."""
    change: Counter[Key] = Counter()
    for row in old:
        change.subtract(_keys(*row))
    for row in new:
        change.update(_keys(*row))
    return Counter({k: v for k, v in change.items() if v})


def stored_rows(conn: sqlite3.Connection, ids: Sequence[str], chunk: int = 500) -> list[tuple]:
    """The (created_ts, brands, source, category, band) of mentions already stored, before they are replaced."""
    out = []
    for first in range(0, len(ids), chunk):
        part = list(ids[first:first + chunk])
        marks = ",".join("?" * len(part))
        brands: dict[str, list[str]] = {}
        for r in conn.execute(f"SELECT mention_id, brand FROM mention_brands WHERE mention_id IN ({marks})", part):
            brands.setdefault(r[0], []).append(r[1])
        for r in conn.execute(f"SELECT id, created_ts, source, category, sentiment_band FROM mentions"
                              f" WHERE id IN ({marks})", part):
            out.append((r[1], [b for b in brands.get(r[0], []) if b], r[2], r[3], r[4]))
    return out


def apply(conn: sqlite3.Connection, change: Counter[Key]) -> None:
    rows = [(*key, n) for key, n in change.items()]
    conn.executemany("INSERT INTO mention_counts(step, brand, bucket, source, category, band, n)"
                     " VALUES (?,?,?,?,?,?,?) ON CONFLICT DO UPDATE SET n = n + excluded.n", rows)
    conn.executemany("DELETE FROM mention_counts WHERE step=? AND brand=? AND bucket=? AND source=?"
                     " AND category=? AND band=? AND n = 0", [key for key, n in change.items() if n < 0])


def ensure_built(conn: sqlite3.Connection, *, force: bool = False) -> None:
    """Fill the table from the mentions once: a database from before it, or (`force`) one loaded around
    the backend, as the benchmark does."""
    marker = ",".join(map(str, STEPS))
    if not force and conn.execute("SELECT 1 FROM mention_counts_built WHERE steps=?", (marker,)).fetchone():
        return
    conn.execute("BEGIN IMMEDIATE")
    try:
        conn.execute("DELETE FROM mention_counts")
        for step in STEPS:
            bucket = f"CAST(m.created_ts / {step} AS INTEGER) * {step}"
            tail = (" COALESCE(m.category, ''), m.sentiment_band, COUNT(*) FROM mentions m"
                    " {join} GROUP BY 1, 2, 3, 4, 5, 6")
            conn.execute(f"INSERT INTO mention_counts SELECT {step}, '{ALL}', {bucket}, m.source,"
                         + tail.format(join=""))
            conn.execute(f"INSERT INTO mention_counts SELECT {step}, b.brand, {bucket}, m.source,"
                         + tail.format(join="JOIN mention_brands b ON b.mention_id = m.id"))
        conn.execute("DELETE FROM mention_counts_built")
        conn.execute("INSERT INTO mention_counts_built(steps) VALUES (?)", (marker,))
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise


def step_for(flt: MentionFilter, interval: int | None = None) -> int | None:
    """The coarsest stored step that answers `flt` exactly, or None (then ask the mentions)."""
    if flt.since is None or flt.until is None or flt.severity is not None or flt.cluster_id is not None:
        return None
    if "" in (flt.brand, flt.source, flt.category, flt.sentiment_band):
        return None
    since, until = flt.since.timestamp(), flt.until.timestamp()
    for step in sorted(STEPS, reverse=True):
        if since % step == 0 and until % step == 0 and (interval is None or interval % step == 0):
            return step
    return None


def brands(conn: sqlite3.Connection, step: int) -> list[str]:
    """Every brand with counts at `step`, by a loose index scan (one seek per brand, not one per row)."""
    return [r[0] for r in conn.execute(
        "WITH RECURSIVE k(b) AS (SELECT MIN(brand) FROM mention_counts WHERE step = ? UNION ALL"
        " SELECT (SELECT MIN(brand) FROM mention_counts WHERE step = ? AND brand > k.b) FROM k"
        " WHERE k.b IS NOT NULL) SELECT b FROM k WHERE b IS NOT NULL AND b != ?", (step, step, ALL))]


def _where(flt: MentionFilter, step: int, brand_rows: bool, conn: sqlite3.Connection) -> tuple[str, list]:
    if flt.brand is not None:
        clauses, params = ["step = ?", "brand = ?"], [step, flt.brand]
    elif brand_rows:
        # each brand's rows are one index range; "brand != '*'" would read the whole step
        names = brands(conn, step)
        clauses, params = ["step = ?", f"brand IN ({','.join('?' * len(names)) or 'NULL'})"], [step, *names]
    else:
        clauses, params = ["step = ?", "brand = ?"], [step, ALL]
    clauses.append("bucket >= ? AND bucket < ?")
    params += [int(flt.since.timestamp()), int(flt.until.timestamp())]
    for name in ("source", "category", "sentiment_band"):
        value = getattr(flt, name)
        if value is not None:
            clauses.append(f"{_COLUMN[name]} = ?")
            params.append(value)
    return " WHERE " + " AND ".join(clauses), params


def count(conn: sqlite3.Connection, flt: MentionFilter, step: int) -> int:
    where, params = _where(flt, step, False, conn)
    return conn.execute(f"SELECT COALESCE(SUM(n), 0) FROM mention_counts{where}", params).fetchone()[0]


def counts_by(conn: sqlite3.Connection, flt: MentionFilter, field_name: str, step: int,
              limit: int) -> list[tuple[str, int]]:
    col = _COLUMN[field_name]
    where, params = _where(flt, step, field_name == "brand", conn)
    sql = (f"SELECT {col} AS k, SUM(n) AS total FROM mention_counts{where} AND {col} != ''"
           f" GROUP BY k HAVING total > 0 ORDER BY total DESC, k LIMIT ?")
    return [(r[0], r[1]) for r in conn.execute(sql, [*params, limit]).fetchall()]


def counts_over_time(conn: sqlite3.Connection, flt: MentionFilter, interval: int, step: int,
                     group_by: str | None) -> list[Bucket]:
    if group_by is not None and group_by not in GROUP_FIELDS:
        raise ValueError(f"cannot group by {group_by!r}")
    key = _COLUMN[group_by] if group_by else "''"
    where, params = _where(flt, step, group_by == "brand", conn)
    sql = (f"SELECT bucket / ? * ? AS start, {key} AS k, SUM(n) AS total FROM mention_counts{where}"
           f" GROUP BY start, k HAVING total > 0 ORDER BY start, k")
    return [Bucket(datetime.fromtimestamp(r[0], UTC), r[1], r[2])
            for r in conn.execute(sql, [interval, interval, *params]).fetchall()]


def usable(field_name: str | None) -> bool:
    """Whether a group-by field is kept in the counts (severity is not)."""
    return field_name is None or field_name in _COLUMN
