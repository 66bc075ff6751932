"""How a crawl reports that its source refused it (one health event, one log line, the crawl's stats),
and each source's health as `crisiswatch status` and the dashboard show it."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from crawlers.blocks import Block
from crawlers.state import CrawlState
from crawlers.wiring import state_connection
from crisiswatch.db import StateConnection

logger = logging.getLogger(__name__)


def record_block(crawler: Any, block: Block, url: str, status: str = "blocked", http_status: int = 0,
                 query: str = "") -> bool:
    """Marks the crawler's source blocked (once per crawl); False when it already was, or in a probe.

    `status` is what `crisiswatch sources check` and `crisiswatch status` show for it:
    blocked, needs-cookie or cookie-expired. A probe notes it for the target and goes on.
    """
    spider = crawler.spider
    if getattr(spider, "probe", False):
        spider.probe_outcome(query, status, block.reason)
        return False
    if getattr(spider, "blocked", False):
        return False
    source = getattr(spider, "name", "unknown")
    spider.blocked = block.reason
    CrawlState(state_connection(crawler)).record(source, "source_blocked", reason=block.reason, url=url,
                                                 status=status, kind=block.kind, http_status=http_status)
    logger.error("%s is blocked: %s (%s); pausing this source", source, block.reason, url.split("?", 1)[0])
    crawler.stats.set_value("crisiswatch/blocked", block.reason)
    crawler.stats.set_value("crisiswatch/block_status", status)
    return True


# from best to worst: a source's health is its worst target's
# (X reads a bearer token, not a cookie: its two credential states have their own names)
STATUSES = ("ok", "needs-cookie", "needs-token", "cookie-expired", "token-refused", "blocked", "gated",
            "invalid-request", "layout-changed", "unreachable")


# The spiders whose posts carry each mention source (`Mention.source`, a flatline's key): a silent source is
# read against these spiders' crawls. tests/test_alert_schedule.py checks it against the spiders' `source`.
SPIDERS_OF_SOURCE = {"weibo": ("weibo_search", "weibo_timeline"), "weibo_comment": ("weibo_comments",),
                     "jd": ("jd_reviews",), "tmall": ("tmall_reviews",), "tousu_sina": ("tousu_sina",),
                     "jutousu": ("jutousu",), "x": ("x",)}


@dataclass(frozen=True)
class SourceHealth:
    source: str       # spider name, as in the config's `sources`
    status: str       # one of STATUSES
    reason: str
    at: datetime
    via: str          # "check" (crisiswatch sources check) or "crawl" (the last crawl)


def source_failing_since(conn: StateConnection, source: str) -> datetime | None:
    """Since when the source's posts have been incomplete because a crawl of one of its spiders failed after that
    spider's last clean one (the earliest such mark); None while every spider's crawls succeed. Detection's
    baselines do not learn from the hours after it (`monitor.detection.Outage`)."""
    crawls = CrawlState(conn)
    marks = [since for spider in SPIDERS_OF_SOURCE.get(source, (source,))
             if (since := crawls.failing_since(spider)) is not None]
    return min(marks, default=None)


def source_health(conn: StateConnection, sources: list[str] | None = None) -> list[SourceHealth]:
    """Each source's health from whichever is newer: its last `sources check` or its last crawl.

    The function the dashboard and `crisiswatch status` share; sources never checked nor crawled
    are left out.
    """
    names = set(sources or ()) | {r[0] for r in conn.execute(
        "SELECT source FROM crawl_runs UNION SELECT source FROM source_checks")}
    out = []
    for name in sorted(names):
        found = [h for h in (_from_check(conn, name), _from_crawl(conn, name)) if h is not None]
        if found:
            out.append(max(found, key=lambda h: h.at))
    return out


def _from_check(conn: StateConnection, source: str) -> SourceHealth | None:
    rows = conn.execute("SELECT at, target, status, reason FROM source_checks WHERE source=? AND at="
                        "(SELECT MAX(at) FROM source_checks WHERE source=?)", (source, source)).fetchall()
    if not rows:
        return None
    worst = max(rows, key=lambda r: STATUSES.index(r["status"]) if r["status"] in STATUSES else len(STATUSES))
    reason = worst["reason"] if worst["status"] == "ok" else f"{worst['target']}: {worst['reason']}"
    if worst["status"] == "ok":
        reason = f"{len(rows)} target{'s' if len(rows) > 1 else ''} ok"
    return SourceHealth(source, worst["status"], reason, datetime.fromisoformat(worst["at"]), "check")


def _from_crawl(conn: StateConnection, source: str) -> SourceHealth | None:
    run = conn.execute("SELECT started_at, finished_at, reason, items FROM crawl_runs WHERE source=? AND"
                       " finished_at IS NOT NULL ORDER BY id DESC LIMIT 1", (source,)).fetchone()
    if run is None:
        return None
    at = datetime.fromisoformat(run["finished_at"])
    if run["reason"] in ("finished", "capped") and (changed := conn.execute(
            "SELECT detail FROM source_health WHERE source=? AND event='layout_changed' AND at>=?"
            " ORDER BY id DESC LIMIT 1", (source, run["started_at"])).fetchone()):
        # posts that lack required fields went to the dead letters: the run ended, but the source is not ok
        reason = json.loads(changed["detail"]).get("reason") or "posts lack required fields"
        return SourceHealth(source, "layout-changed", f"{reason}; {run['items']} mentions", at, "crawl")
    if run["reason"] == "finished":
        return SourceHealth(source, "ok", f"{run['items']} mentions", at, "crawl")
    if run["reason"] == "capped":
        capped = conn.execute("SELECT detail FROM source_health WHERE source=? AND event='pages_capped' AND at>=?"
                              " ORDER BY id DESC LIMIT 1", (source, run["started_at"])).fetchone()
        # a newest-first list is read down to its mark again next crawl, a ranked one starts at page 1 again
        why = json.loads(capped["detail"]).get("reason") if capped else "more posts than max_pages pages hold"
        return SourceHealth(source, "ok", f"{run['items']} mentions; {why}", at, "crawl")
    event_kind = {"blocked": "source_blocked", "failed": "crawl_failed", "config_error": "config_error"}.get(
        run["reason"])
    event = conn.execute("SELECT detail FROM source_health WHERE source=? AND event=? AND at>=?"
                         " ORDER BY id DESC LIMIT 1", (source, event_kind, run["started_at"])).fetchone()
    detail = json.loads(event["detail"]) if event else {}
    reason = str(detail.get("reason") or run["reason"])
    status = detail.get("status") or {"blocked": "blocked", "config_error": "gated"}.get(run["reason"], "unreachable")
    if run["reason"] == "config_error" and "cookie" in reason:
        status = "needs-cookie"
    return SourceHealth(source, status, reason, at, "crawl")
