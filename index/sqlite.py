"""The embedded default: SQLite in WAL mode with an FTS5 column of jieba-segmented text."""

from __future__ import annotations

import json
import math
import sqlite3
from collections.abc import Iterator, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

from crisiswatch.db import connect_sqlite, ensure_schema, transaction
from crisiswatch.indexurl import parse_index_url
from crisiswatch.mention import Mention
from index import sqlite_counts
from index.base import (
    ANY,
    GROUP_FIELDS,
    UNKNOWN_REACH,
    AuthorStat,
    Backend,
    Bucket,
    IndexResult,
    MentionFilter,
    keep_known_followers,
    reach_key,
    retired_ids,
)
from index.tokenize import fts_query, segment

DDL = """
CREATE TABLE IF NOT EXISTS mentions (
    id TEXT PRIMARY KEY,
    source TEXT NOT NULL,
    native_id TEXT NOT NULL,
    created_ts REAL NOT NULL,
    author_id TEXT NOT NULL DEFAULT '',
    author_name TEXT NOT NULL DEFAULT '',
    -- the reach sort key: UNKNOWN_REACH (-1) for a count the source did not give (null in doc); a value rather
    -- than NULL keeps the column NOT NULL in files made before, and the covering indexes' reach walk as it is
    followers INTEGER NOT NULL DEFAULT 0,
    verified INTEGER NOT NULL DEFAULT 0,
    category TEXT,
    severity TEXT,
    sentiment REAL,
    sentiment_band TEXT NOT NULL DEFAULT 'unknown',
    doc TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS mentions_created ON mentions(created_ts);
CREATE INDEX IF NOT EXISTS mentions_source ON mentions(source, created_ts);
CREATE INDEX IF NOT EXISTS mentions_band ON mentions(sentiment_band, created_ts);
-- Covering indexes for the dashboard's aggregates: rows carry the whole JSON document, so reading
-- the table itself for a count or a group-by costs ten times more than reading these.
CREATE INDEX IF NOT EXISTS mentions_cover ON mentions(created_ts, sentiment_band, source, category, severity,
    author_id, followers, verified, author_name, id);
CREATE INDEX IF NOT EXISTS mentions_id_cover ON mentions(id, created_ts, sentiment_band, source, category,
    severity, author_id, followers, verified, author_name);
CREATE INDEX IF NOT EXISTS mentions_followers ON mentions(followers, created_ts);
-- a month of category counts walks ten short ranges instead of sorting every row; the reach walk's
-- few candidate authors are counted from their own rows
CREATE INDEX IF NOT EXISTS mentions_category ON mentions(category, created_ts);
CREATE INDEX IF NOT EXISTS mentions_author ON mentions(author_id, created_ts);
CREATE TABLE IF NOT EXISTS mention_brands (
    mention_id TEXT NOT NULL REFERENCES mentions(id) ON DELETE CASCADE,
    brand TEXT NOT NULL,
    created_ts REAL NOT NULL,
    PRIMARY KEY (mention_id, brand)
);
CREATE INDEX IF NOT EXISTS mention_brands_brand ON mention_brands(brand, created_ts);
-- Full text keyed by a time-ordered key (second << 20 | sequence): FTS5 walks its matches newest
-- first and stops at the limit, instead of materialising every match of a common word.
CREATE VIRTUAL TABLE IF NOT EXISTS mention_text USING fts5(body, tokenize='unicode61');
CREATE TABLE IF NOT EXISTS mention_text_key (
    key INTEGER PRIMARY KEY,
    mention_id TEXT NOT NULL UNIQUE,
    second INTEGER NOT NULL
);
"""

_COLUMN_OF = {"source": "m.source", "category": "m.category", "severity": "m.severity",
              "sentiment_band": "m.sentiment_band", "brand": "b.brand",
              "cluster_id": "json_extract(m.doc, '$.cluster_id')"}  # no column: read in the window's rows


TEXT_KEY_BITS = 20   # mentions per second the full-text key can tell apart
SEARCH_CHUNK = 500
_MAX_RANGE_BUCKETS = 5000
REACH_WALK = 20_000  # rows the followers index may be walked for a page of posts by reach  # beyond this many buckets one sorted GROUP BY is cheaper than range counts


def _desc(text: str) -> tuple[int, ...]:
    """Sort key that orders strings descending inside an ascending sort."""
    return tuple(-ord(ch) for ch in text) + (1,)


def _ts(value: datetime) -> float:
    return value.timestamp()


def _time_column(flt: MentionFilter) -> str:
    # mention_brands repeats each mention's time, so a brand filter can range over (brand, created_ts)
    # and visit only that brand's rows instead of every mention in the window
    return "b.created_ts" if flt.brand is not None else "m.created_ts"


class SQLiteBackend(Backend):
    name = "sqlite"

    def __init__(self, path: str | Path) -> None:
        self.path = str(path)
        self.conn = connect_sqlite(self.path)
        ensure_schema(self.conn, "mentions", DDL)
        ensure_schema(self.conn, "mention_counts", sqlite_counts.DDL)
        sqlite_counts.ensure_built(self.conn)

    @classmethod
    def from_url(cls, url: str) -> SQLiteBackend:
        # sqlite:///relative.db and sqlite:////abs/path.db, as in SQLAlchemy
        return cls(parse_index_url(url).path)

    # -- writing ---------------------------------------------------------------------------------
    def upsert(self, mentions: Sequence[Mention]) -> IndexResult:
        rows, brand_rows, fts_rows = [], [], []
        mentions = list({m.id: m for m in mentions}.values())  # the last copy of a repeated id wins
        mentions = keep_known_followers(mentions, self._known_followers([m.id for m in mentions
                                                                         if m.author.followers is None]))
        for m in mentions:
            ts = _ts(m.created_at)
            rows.append((m.id, m.source, m.native_id, ts, m.author.id, m.author.name, reach_key(m.author.followers),
                         int(m.author.verified), m.category, m.severity, m.sentiment, m.sentiment_band,
                         json.dumps(m.to_record(), ensure_ascii=False)))
            brand_rows.extend((m.id, b, ts) for b in (m.brands or [""]))
            fts_rows.append(segment(f"{m.title} {m.text}"))
        ids = [(m.id,) for m in mentions]
        retired = retired_ids(mentions)
        entering = [(_ts(m.created_at), m.brands, m.source, m.category, m.sentiment_band) for m in mentions]
        with transaction(self.conn) as c:
            leaving = sqlite_counts.stored_rows(c, [m.id for m in mentions] + retired)
            sqlite_counts.apply(c, sqlite_counts.delta(leaving, entering))
            c.executemany(
                "INSERT INTO mentions(id, source, native_id, created_ts, author_id, author_name, followers,"
                " verified, category, severity, sentiment, sentiment_band, doc) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)"
                " ON CONFLICT(id) DO UPDATE SET created_ts=excluded.created_ts, author_id=excluded.author_id,"
                " author_name=excluded.author_name, followers=excluded.followers, verified=excluded.verified,"
                " category=excluded.category, severity=excluded.severity, sentiment=excluded.sentiment,"
                " sentiment_band=excluded.sentiment_band, doc=excluded.doc",
                rows,
            )
            c.executemany("DELETE FROM mention_brands WHERE mention_id=?", ids)
            c.executemany("INSERT INTO mention_brands(mention_id, brand, created_ts) VALUES (?,?,?)", brand_rows)
            keys = [self._text_key(c, m.id, _ts(m.created_at)) for m in mentions]
            c.executemany("DELETE FROM mention_text WHERE rowid=?", [(k,) for k in keys])
            c.executemany("INSERT INTO mention_text(rowid, body) VALUES (?,?)", zip(keys, fts_rows, strict=True))
            self._delete(c, retired)  # their counts left with `leaving`
        return IndexResult(written=len(rows))

    def _known_followers(self, ids: list[str], chunk: int = 500) -> dict[str, int]:
        """The stored follower counts of these mentions, where known."""
        known: dict[str, int] = {}
        for first in range(0, len(ids), chunk):
            part = ids[first:first + chunk]
            known.update(self.conn.execute(f"SELECT id, followers FROM mentions WHERE id IN ({','.join('?' * len(part))})"
                                           " AND followers != ?", [*part, UNKNOWN_REACH]).fetchall())
        return known

    @staticmethod
    def _delete(c: sqlite3.Connection, ids: list[str]) -> None:
        """Mentions gone with their brands and full text (the caller subtracts their counts)."""
        for mention_id in ids:
            c.execute("DELETE FROM mention_text WHERE rowid IN (SELECT key FROM mention_text_key WHERE mention_id=?)",
                      (mention_id,))
            c.execute("DELETE FROM mention_text_key WHERE mention_id=?", (mention_id,))
            c.execute("DELETE FROM mention_brands WHERE mention_id=?", (mention_id,))
            c.execute("DELETE FROM mentions WHERE id=?", (mention_id,))

    @staticmethod
    def _text_key(c: sqlite3.Connection, mention_id: str, ts: float) -> int:
        """The mention's full-text key: kept while its second is unchanged, else a new one in its second."""
        second = math.floor(ts)
        row = c.execute("SELECT key, second FROM mention_text_key WHERE mention_id=?", (mention_id,)).fetchone()
        if row is not None:
            if row["second"] == second:
                return row["key"]
            c.execute("DELETE FROM mention_text WHERE rowid=?", (row["key"],))
            c.execute("DELETE FROM mention_text_key WHERE key=?", (row["key"],))
        base = second << TEXT_KEY_BITS
        last = c.execute("SELECT MAX(key) FROM mention_text_key WHERE key >= ? AND key < ?",
                         (base, base + (1 << TEXT_KEY_BITS))).fetchone()[0]
        key = base if last is None else last + 1
        c.execute("INSERT INTO mention_text_key(key, mention_id, second) VALUES (?,?,?)", (key, mention_id, second))
        return key

    # -- reading ---------------------------------------------------------------------------------
    def _where(self, flt: MentionFilter, *, need_brand_join: bool = False,
               newest_first: bool = False) -> tuple[str, str, list]:
        clauses, params = [], []
        join = ""
        if flt.brand is not None or need_brand_join:
            join = " JOIN mention_brands b ON b.mention_id = m.id"
            if flt.brand is not None:
                clauses.append("b.brand = ?")
                params.append(flt.brand)
        for name in ("source", "category", "sentiment_band", "severity"):
            value = getattr(flt, name)
            if value is not None:
                clauses.append(f"m.{name} = ?")
                params.append(value)
        if flt.cluster_id is not None:
            clauses.append(f"{_COLUMN_OF['cluster_id']} = ?")
            params.append(flt.cluster_id)
        # lists in time order walk the mentions' time index and stop at the limit; aggregates range over brands
        time_col = "m.created_ts" if newest_first else _time_column(flt)
        if flt.since is not None:
            clauses.append(f"{time_col} >= ?")
            params.append(_ts(flt.since))
        if flt.until is not None:
            clauses.append(f"{time_col} < ?")
            params.append(_ts(flt.until))
        where = (" WHERE " + " AND ".join(clauses)) if clauses else ""
        return join, where, params

    def get(self, mention_id: str) -> Mention | None:
        row = self.conn.execute("SELECT doc FROM mentions WHERE id=?", (mention_id,)).fetchone()
        return Mention.from_stored(row["doc"]) if row else None

    def count(self, flt: MentionFilter = ANY) -> int:
        step = sqlite_counts.step_for(flt)
        if step is not None:
            return sqlite_counts.count(self.conn, flt, step)
        join, where, params = self._where(flt)
        distinct = "DISTINCT m.id" if join else "*"
        return self.conn.execute(f"SELECT COUNT({distinct}) FROM mentions m{join}{where}", params).fetchone()[0]

    def counts_over_time(self, flt: MentionFilter, interval_seconds: int,
                         group_by: str | None = None) -> list[Bucket]:
        if group_by is not None and group_by not in GROUP_FIELDS:
            raise ValueError(f"cannot group by {group_by!r}")
        rolled = sqlite_counts.step_for(flt, interval_seconds) if sqlite_counts.usable(group_by) else None
        if rolled is not None:
            return sqlite_counts.counts_over_time(self.conn, flt, interval_seconds, rolled, group_by)
        step = interval_seconds
        if flt.since is not None and flt.until is not None:
            first = int(_ts(flt.since) // step * step)
            if (_ts(flt.until) - first) / step <= _MAX_RANGE_BUCKETS:
                if group_by is None:
                    return self._range_counts(flt, first, step)
                if group_by == "brand" and flt == MentionFilter(brand=flt.brand, since=flt.since, until=flt.until):
                    return self._brand_range_counts(flt, first, step)
        join, where, params = self._where(flt, need_brand_join=group_by == "brand")
        key = f"COALESCE({_COLUMN_OF[group_by]}, '')" if group_by else "''"
        sql = (f"SELECT CAST(m.created_ts / ? AS INTEGER) * ? AS bucket, {key} AS k, COUNT(*) AS n"
               f" FROM mentions m{join}{where} GROUP BY bucket, k ORDER BY bucket, k")
        rows = self.conn.execute(sql, [step, step, *params]).fetchall()
        return [Bucket(datetime.fromtimestamp(r["bucket"], UTC), r["k"], r["n"]) for r in rows]

    def _range_counts(self, flt: MentionFilter, first: int, step: int) -> list[Bucket]:
        """One index range count per bucket: the same answer as GROUP BY bucket, without sorting every row.

        The window's ends clamp the first and last bucket, so each count has one time range to search.
        """
        join, where, params = self._where(replace(flt, since=None, until=None))
        col = _time_column(flt)
        cond = f"{' AND' if where else ' WHERE'} {col} >= MAX(bk.s, ?) AND {col} < MIN(bk.s + ?, ?)"
        sql = (f"WITH RECURSIVE bk(s) AS (SELECT ? UNION ALL SELECT s + ? FROM bk WHERE s + ? < ?)"
               f" SELECT s, (SELECT COUNT(*) FROM mentions m{join}{where}{cond}) AS n FROM bk"
               f" WHERE n > 0 ORDER BY s")
        since, until = _ts(flt.since), _ts(flt.until)
        rows = self.conn.execute(sql, [first, step, step, until, *params, since, step, until]).fetchall()
        return [Bucket(datetime.fromtimestamp(r["s"], UTC), "", r["n"]) for r in rows]

    def _brand_range_counts(self, flt: MentionFilter, first: int, step: int) -> list[Bucket]:
        """Per brand and bucket, range counts on mention_brands alone (it carries each mention's time).

        Only for filters on brand and time: any other field needs the mentions table.
        """
        brands = [flt.brand] if flt.brand is not None else [r[0] for r in self.conn.execute(
            # a loose index scan: one seek per distinct brand instead of reading every row
            "WITH RECURSIVE k(b) AS (SELECT MIN(brand) FROM mention_brands UNION ALL"
            " SELECT (SELECT MIN(brand) FROM mention_brands WHERE brand > k.b) FROM k WHERE k.b IS NOT NULL)"
            " SELECT b FROM k WHERE b IS NOT NULL")]
        sql = ("WITH RECURSIVE bk(s) AS (SELECT ? UNION ALL SELECT s + ? FROM bk WHERE s + ? < ?)"
               " SELECT s, (SELECT COUNT(*) FROM mention_brands b WHERE b.brand = ?"
               " AND b.created_ts >= MAX(bk.s, ?) AND b.created_ts < MIN(bk.s + ?, ?)) AS n FROM bk WHERE n > 0")
        since, until = _ts(flt.since), _ts(flt.until)
        out = [Bucket(datetime.fromtimestamp(r["s"], UTC), brand, r["n"])
               for brand in brands
               for r in self.conn.execute(sql, [first, step, step, until, brand, since, step, until]).fetchall()]
        return sorted(out, key=lambda b: (b.start, b.key))

    def counts_by(self, flt: MentionFilter, field_name: str, limit: int = 20) -> list[tuple[str, int]]:
        if field_name not in GROUP_FIELDS:
            raise ValueError(f"cannot group by {field_name!r}")
        step = sqlite_counts.step_for(flt) if sqlite_counts.usable(field_name) else None
        if step is not None:
            return sqlite_counts.counts_by(self.conn, flt, field_name, step, limit)
        join, where, params = self._where(flt, need_brand_join=field_name == "brand")
        col = _COLUMN_OF[field_name]
        extra = f"{' AND' if where else ' WHERE'} {col} IS NOT NULL AND {col} != ''"
        sql = (f"SELECT {col} AS k, COUNT(*) AS n FROM mentions m{join}{where}{extra}"
               f" GROUP BY k ORDER BY n DESC, k LIMIT ?")
        return [(r["k"], r["n"]) for r in self.conn.execute(sql, [*params, limit]).fetchall()]

    def top_authors(self, flt: MentionFilter, limit: int = 10) -> list[AuthorStat]:
        candidates = self._reach_candidates(flt, limit)
        join, where, params = self._where(flt)
        extra = f"{' AND' if where else ' WHERE'} m.author_id != ''"
        if candidates is not None:
            if not candidates:
                return []
            extra += f" AND m.author_id IN ({','.join('?' * len(candidates))})"
            params = [*params, *candidates]
        # one row per mention even with a brand filter ((mention_id, brand) is unique), so plain counts
        # give the distinct counts without two sorts of the whole window
        sql = (f"SELECT m.author_id AS aid, MAX(m.author_name) AS name, MAX(m.followers) AS followers,"
               f" MAX(m.verified) AS verified, COUNT(*) AS n,"
               f" SUM(m.sentiment_band = 'negative') AS neg"
               f" FROM mentions m{join}{where}{extra} GROUP BY m.author_id"
               f" ORDER BY followers DESC, n DESC, aid LIMIT ?")
        # an author's highest known count; None when none of their posts gave one
        return [AuthorStat(r["aid"], r["name"], r["followers"] if r["followers"] != UNKNOWN_REACH else None,
                           bool(r["verified"]), r["n"], r["neg"])
                for r in self.conn.execute(sql, [*params, limit]).fetchall()]

    def _reach_candidates(self, flt: MentionFilter, limit: int, budget: int = 20_000) -> list[str] | None:
        """Authors who can rank in the top `limit` by reach, found by walking mentions from the most
        followed down; None when the walk would not pay off (then every author in the window is ranked).

        Ranking is followers first, so only authors at or above the limit-th author's followers can
        make the list: over a long window this reads a few rows instead of grouping a million.
        """
        join, where, params = self._where(flt)
        extra = f"{' AND' if where else ' WHERE'} m.author_id != ''"
        sql = (f"SELECT m.author_id, m.followers FROM mentions m INDEXED BY mentions_followers{join}{where}{extra}"
               f" ORDER BY m.followers DESC")
        seen: dict[str, int] = {}
        threshold = None
        for scanned, (author, followers) in enumerate(self.conn.execute(sql, params)):
            if threshold is not None and followers < threshold:
                return list(seen)
            if scanned >= budget:
                return None  # a short window far from the most followed rows: grouping it is cheaper
            seen.setdefault(author, followers)
            if threshold is None and len(seen) >= limit:
                threshold = followers
        return list(seen)

    def _docs(self, sql: str, params: list) -> list[Mention]:
        return [Mention.from_stored(r["doc"]) for r in self.conn.execute(sql, params).fetchall()]

    def latest(self, flt: MentionFilter, limit: int = 20) -> list[Mention]:
        # no DISTINCT: the brand join matches one row per mention (one brand, (mention, brand) unique),
        # and de-duplicating whole documents made a 400-post read sort every document
        join, where, params = self._where(flt, newest_first=True)
        sql = (f"SELECT m.doc FROM mentions m{join}{where}"
               f" ORDER BY m.created_ts DESC, m.id DESC LIMIT ?")
        return self._docs(sql, [*params, limit])

    def by_reach(self, flt: MentionFilter, limit: int = 10, offset: int = 0) -> list[Mention]:
        """Ids first, documents for the page only. A window holding a good share of all mentions walks the
        followers index down and stops at the page; a narrow one sorts its own rows from a covering index."""
        join, where, params = self._where(flt, newest_first=True)
        everything = self.conn.execute("SELECT MAX(rowid) FROM mentions").fetchone()[0] or 0
        matching = self.count(flt)
        if not matching:
            return []
        walk = (offset + limit) * everything / matching <= REACH_WALK
        index = "mentions_followers" if walk else "mentions_cover"
        sql = (f"SELECT m.id FROM mentions m INDEXED BY {index}{join}{where}"
               f" ORDER BY m.followers DESC, m.created_ts DESC, m.id DESC LIMIT ? OFFSET ?")
        ids = [r[0] for r in self.conn.execute(sql, [*params, limit, offset])]
        if not ids:
            return []
        docs = {r[0]: r[1] for r in self.conn.execute(
            f"SELECT id, doc FROM mentions WHERE id IN ({','.join('?' * len(ids))})", ids)}
        return [Mention.from_stored(docs[i]) for i in ids]

    def search(self, query: str, flt: MentionFilter = ANY, limit: int = 20) -> list[Mention]:
        match = fts_query(query)
        if not match:
            return []
        join, where, params = self._where(flt, newest_first=True)
        bounds, bound_params = [], []
        if flt.since is not None:
            bounds.append("rowid >= ?")
            bound_params.append(math.floor(_ts(flt.since)) << TEXT_KEY_BITS)
        upper = (math.floor(_ts(flt.until)) + 1) << TEXT_KEY_BITS if flt.until is not None else None
        found: list[sqlite3.Row] = []
        try:
            while True:
                # matches newest first, a chunk at a time; the mentions' own filters apply to each chunk
                keys_sql = ("SELECT rowid FROM mention_text WHERE mention_text MATCH ?"
                            + "".join(f" AND {b}" for b in bounds) + (" AND rowid < ?" if upper is not None else "")
                            + " ORDER BY rowid DESC LIMIT ?")
                keys = [r[0] for r in self.conn.execute(
                    keys_sql, [match, *bound_params, *([upper] if upper is not None else []), SEARCH_CHUNK])]
                if not keys:
                    break
                cond = f"{' AND' if where else ' WHERE'} k.key IN ({','.join('?' * len(keys))})"
                sql = (f"SELECT DISTINCT m.doc, m.created_ts, m.id FROM mention_text_key k"
                       f" JOIN mentions m ON m.id = k.mention_id{join}{where}{cond}")
                found.extend(self.conn.execute(sql, [*params, *keys]).fetchall())
                found.sort(key=lambda r: (-r["created_ts"], _desc(r["id"])))
                # later chunks hold only older seconds: once the limit-th hit is newer than this chunk's
                # oldest second, nothing further can rank above it
                if len(found) >= limit and math.floor(found[limit - 1]["created_ts"]) > keys[-1] >> TEXT_KEY_BITS:
                    break
                if len(keys) < SEARCH_CHUNK:
                    break
                upper = keys[-1]
        except sqlite3.OperationalError as exc:  # a query FTS cannot parse is the user's, not a crash
            raise ValueError(f"cannot search for {query!r}: {exc}") from None
        return [Mention.from_stored(r["doc"]) for r in found[:limit]]

    def scan(self, flt: MentionFilter, batch_size: int = 1000) -> Iterator[Mention]:
        join, where, params = self._where(flt, newest_first=True)
        last_ts, last_id = float("-inf"), ""
        while True:
            cond = f"{' AND' if where else ' WHERE'} (m.created_ts > ? OR (m.created_ts = ? AND m.id > ?))"
            sql = (f"SELECT DISTINCT m.doc, m.created_ts, m.id FROM mentions m{join}{where}{cond}"
                   f" ORDER BY m.created_ts, m.id LIMIT ?")
            rows = self.conn.execute(sql, [*params, last_ts, last_ts, last_id, batch_size]).fetchall()
            if not rows:
                return
            for r in rows:
                yield Mention.from_stored(r["doc"])
            last_ts, last_id = rows[-1]["created_ts"], rows[-1]["id"]

    def close(self) -> None:
        self.conn.close()
