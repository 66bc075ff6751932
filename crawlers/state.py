"""Persisted crawl state: high-water marks per (source, query) and source health events."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from crisiswatch.db import StateConnection, insert_id

_HOUR = timedelta(hours=1)
# A crawl mark never moves past the crawl's own start plus this: sites' clocks drift a little, a
# post dated days ahead is a broken clock that must not hide the posts published before it.
MARK_SKEW = timedelta(minutes=10)
# Kinds of source health events (table source_health). Each has `reason` in its detail, a line an
# operator can act on. cookie_expired: one cookie of a source's pool stopped working and was put
# aside (detail: cookie = its label, e.g. "weibo_search cookie 2", and status 432 / ok:-100 ...);
# crawl_failed: a crawl ended with pages it could not read (every request failed, an unreadable
# reply, an error in parsing); see crawlers/extensions.py.
# pages_capped: what a crawl stopped at max_pages left for the next one (the `capped` run's status reason)
HEALTH_EVENTS = ("source_blocked", "source_unblocked", "layout_changed", "config_error", "crawl_failed",
                 "cookie_expired", "pages_capped")


@dataclass(frozen=True)
class HealthEvent:
    id: int
    at: datetime
    source: str
    event: str
    detail: dict


class CrawlState:
    def __init__(self, conn: StateConnection) -> None:
        self.conn = conn

    # high-water marks ----------------------------------------------------------------------------
    def mark(self, source: str, query: str) -> datetime | None:
        row = self.conn.execute(
            "SELECT newest_at FROM crawl_marks WHERE source=? AND query=?", (source, query)
        ).fetchone()
        return datetime.fromisoformat(row[0]) if row else None

    def advance_mark(self, source: str, query: str, newest: datetime) -> None:
        """Marks only move forward, so an older partial crawl can never rewind them."""
        self.conn.execute(
            "INSERT INTO crawl_marks(source, query, newest_at, updated_at) VALUES (?,?,?,?)"
            " ON CONFLICT(source, query) DO UPDATE SET newest_at=CASE WHEN excluded.newest_at > crawl_marks.newest_at"
            " THEN excluded.newest_at ELSE crawl_marks.newest_at END,"
            " updated_at=excluded.updated_at",
            (source, query, newest.astimezone(UTC).isoformat(), datetime.now(UTC).isoformat()),
        )

    # health -------------------------------------------------------------------------------------
    def record(self, source: str, event: str, **detail: object) -> None:
        if event not in HEALTH_EVENTS:
            raise ValueError(f"unknown health event {event!r}")
        self.conn.execute(
            "INSERT INTO source_health(at, source, event, detail) VALUES (?,?,?,?)",
            (datetime.now(UTC).isoformat(), source, event, json.dumps(detail, ensure_ascii=False, default=str)),
        )

    def events(self, after_id: int = 0, limit: int = 100) -> list[HealthEvent]:
        rows = self.conn.execute(
            "SELECT * FROM source_health WHERE id > ? ORDER BY id LIMIT ?", (after_id, limit)
        ).fetchall()
        return [HealthEvent(r["id"], datetime.fromisoformat(r["at"]), r["source"], r["event"],
                            json.loads(r["detail"])) for r in rows]

    def blocked_since(self, source: str) -> datetime | None:
        row = self.conn.execute(
            "SELECT at, event FROM source_health WHERE source=? AND event IN ('source_blocked','source_unblocked')"
            " ORDER BY id DESC LIMIT 1", (source,)
        ).fetchone()
        return datetime.fromisoformat(row["at"]) if row and row["event"] == "source_blocked" else None

    # runs ---------------------------------------------------------------------------------------
    def start_run(self, source: str) -> int:
        return insert_id(self.conn, "INSERT INTO crawl_runs(source, started_at) VALUES (?,?)",
                         (source, datetime.now(UTC).isoformat()))

    def finish_run(self, run_id: int, reason: str, items: int, pages: int) -> None:
        self.conn.execute("UPDATE crawl_runs SET finished_at=?, reason=?, items=?, pages=? WHERE id=?",
                          (datetime.now(UTC).isoformat(), reason, items, pages, run_id))

    def collected_until(self, source: str) -> datetime | None:
        """When the source's last clean crawl began: every post it had published before then is in the index
        (a crawl reads newest first from its start down to the marks, and a lost page keeps its query's mark)."""
        row = self.conn.execute("SELECT MAX(started_at) FROM crawl_runs WHERE source=? AND reason='finished'",
                                (source,)).fetchone()
        return datetime.fromisoformat(row[0]) if row and row[0] else None

    def failing_since(self, source: str) -> datetime | None:
        """While a crawl of the source that began after its last clean one ended otherwise (failed, blocked): when
        its last clean crawl began, up to which its posts are in (the epoch if none ever did). None while its
        crawls succeed, however seldom they run: an hourly source between two clean crawls is behind, not failing.
        (Each a seek in the crawl_runs_source index: detection asks every pass, and the table keeps every run.)"""
        ok = max(self.conn.execute("SELECT MAX(started_at) FROM crawl_runs WHERE source=? AND reason=?",
                                   (source, reason)).fetchone()[0] or "" for reason in ("finished", "capped"))
        failed = self.conn.execute("SELECT 1 FROM crawl_runs WHERE source=? AND reason NOT IN ('finished','capped')"
                                   " AND started_at > ? LIMIT 1", (source, ok)).fetchone()
        if failed is None:
            return None
        return self.collected_until(source) or datetime.fromtimestamp(0, UTC)

    def source_summary(self) -> list[dict]:
        """Per source: last successful run, items in the last hour of runs, blocked-since."""
        rows = self.conn.execute(
            "SELECT source, MAX(CASE WHEN reason IN ('finished','capped') THEN finished_at END) AS last_ok,"
            " SUM(CASE WHEN finished_at >= ? THEN items ELSE 0 END) AS items_hour, COUNT(*) AS runs"
            " FROM crawl_runs GROUP BY source ORDER BY source",
            ((datetime.now(UTC).replace(microsecond=0) - _HOUR).isoformat(),),
        ).fetchall()
        return [{"source": r["source"], "last_success": r["last_ok"], "items_last_hour": r["items_hour"] or 0,
                 "runs": r["runs"], "blocked_since": self.blocked_since(r["source"])} for r in rows]

    # the shared schedule: every crawl worker reads and writes the same rows ----------------------
    def next_crawl(self, spider: str) -> tuple[datetime | None, int]:
        """(not before, failures in a row) for a spider; (None, 0) when it was never scheduled."""
        row = self.conn.execute("SELECT next_at, failures FROM crawl_schedule WHERE spider=?", (spider,)).fetchone()
        return (datetime.fromisoformat(row[0]), row[1]) if row else (None, 0)

    def schedule(self, spider: str, next_at: datetime, failures: int, by: str, code: int) -> None:
        self.conn.execute(
            "INSERT INTO crawl_schedule(spider, next_at, failures, last_by, last_code) VALUES (?,?,?,?,?)"
            " ON CONFLICT(spider) DO UPDATE SET next_at=excluded.next_at, failures=excluded.failures,"
            " last_by=excluded.last_by, last_code=excluded.last_code",
            (spider, next_at.astimezone(UTC).isoformat(), failures, by, code))
