"""Crawl extensions: a one-line progress display, the source's health after a clean run, and the
crawl's outcome when pages were lost."""

from __future__ import annotations

import logging
import sys
import time
from collections import Counter
from typing import Any

from scrapy import signals
from scrapy.exceptions import NotConfigured

from crawlers.state import CrawlState
from crawlers.wiring import state_connection
from crisiswatch.deadletter import DeadLetters

logger = logging.getLogger(__name__)


def require_state_db(crawler: Any) -> None:
    if not crawler.settings.get("CRISISWATCH_STATE_DB"):
        raise NotConfigured("no state database")


class CrawlProgress:
    """Shows pages, items and drops on one terminal line while a crawl runs; records recoveries."""

    def __init__(self, crawler: Any, show: bool) -> None:
        self.crawler = crawler
        self.show = show
        self.last = 0.0
        crawler.signals.connect(self.item_scraped, signal=signals.item_scraped)
        crawler.signals.connect(self.spider_closed, signal=signals.spider_closed)

    @classmethod
    def from_crawler(cls, crawler: Any) -> CrawlProgress:
        require_state_db(crawler)
        return cls(crawler, crawler.settings.getbool("CRISISWATCH_PROGRESS"))

    def _line(self, final: bool = False) -> None:
        stats = self.crawler.stats
        text = (f"\r{self.crawler.spider.name}: pages {stats.get_value('response_received_count', 0)}"
                f"  items {stats.get_value('item_scraped_count', 0)}"
                f"  dropped {stats.get_value('item_dropped_count', 0)}"
                f"  invalid {stats.get_value('crisiswatch/invalid', 0)}")
        sys.stderr.write(text + ("\n" if final else ""))
        sys.stderr.flush()

    def item_scraped(self, item: Any) -> None:
        now = time.monotonic()
        if self.show and now - self.last > 0.5:
            self.last = now
            self._line()

    def spider_closed(self, spider: Any, reason: str) -> None:
        if self.show:
            self._line(final=True)
        if reason == "finished" and not getattr(spider, "blocked", False):
            state = CrawlState(state_connection(self.crawler))
            if state.blocked_since(spider.name):
                state.record(spider.name, "source_unblocked")


class CrawlOutcome:
    """A crawl that lost pages or posts ends failed: one `crawl_failed` health event and a one-line reason.

    Pages are lost when their download failed for good (`crawlers.middlewares.LostPageMiddleware`),
    when the reply was unreadable (`MentionSpider.unreadable`), or when their callback raised; posts
    when a pipeline raised on them (they go to the dead letters, masked). The reason lands in the stat
    `crisiswatch/failed`, which `crisiswatch crawl` prints and turns into a non-zero exit; the lost
    queries keep their crawl marks (`IndexPipeline`).
    """

    def __init__(self, crawler: Any) -> None:
        self.crawler = crawler
        crawler.signals.connect(self.spider_error, signal=signals.spider_error)
        crawler.signals.connect(self.item_error, signal=signals.item_error)
        crawler.signals.connect(self.spider_closed, signal=signals.spider_closed)

    @classmethod
    def from_crawler(cls, crawler: Any) -> CrawlOutcome:
        require_state_db(crawler)
        return cls(crawler)

    def spider_error(self, failure: Any, response: Any, spider: Any) -> None:
        meta = dict(response.meta)
        meta.setdefault("query", (meta.get("item") or {}).get("query", ""))
        why = f"{failure.type.__name__} while reading the reply: {str(failure.value)[:120]}"
        if getattr(spider, "probe", False):
            spider.probe_outcome(str(meta["query"]), "layout-changed", why)
        elif hasattr(spider, "page_lost"):
            spider.page_lost(meta, why, response.url)

    def item_error(self, item: Any, response: Any, spider: Any, failure: Any) -> None:
        why = f"{failure.type.__name__} while processing a post: {str(failure.value)[:120]}"
        payload = item.model_dump(mode="json") if hasattr(item, "model_dump") else dict(item)
        DeadLetters(state_connection(self.crawler)).add("pipeline", why, payload, source=spider.name)
        if hasattr(spider, "post_lost"):
            spider.post_lost(str(payload.get("query", "")), why, getattr(response, "url", ""))

    def spider_closed(self, spider: Any, reason: str) -> None:
        pages, posts = getattr(spider, "lost_pages", []), getattr(spider, "lost_posts", [])
        if not (pages or posts) or getattr(spider, "blocked", False) or getattr(spider, "probe", False):
            return
        lines = [outcome_line(pages, int(self.crawler.stats.get_value("crisiswatch/list_pages") or 0))] if pages else []
        if posts:
            lines.append(lost_posts_line(posts, int(self.crawler.stats.get_value("item_scraped_count") or 0)))
        line = "; ".join(lines)
        self.crawler.stats.set_value("crisiswatch/failed", line)
        lost = pages + posts
        CrawlState(state_connection(self.crawler)).record(
            spider.name, "crawl_failed", reason=line, pages_lost=len(pages), posts_lost=len(posts),
            url=lost[0][2].split("?", 1)[0], status=lost_status([reason for _, reason, _ in lost]))
        logger.error("%s: %s", spider.name, line)


def lost_status(reasons: list[str]) -> str:
    """unreachable when no answer came (HTTP errors, download errors), else layout-changed."""
    transport = all(r.startswith("HTTP ") or (r.split(":", 1)[0].isidentifier() and "reading the reply" not in r)
                    for r in reasons)
    return "unreachable" if transport else "layout-changed"


def _reasons(lost: list[tuple[str, str, str]]) -> str:
    reasons = Counter(reason for _, reason, _ in lost)
    return ", ".join(f"{reason} x{n}" if n > 1 else reason for reason, n in reasons.most_common(3))


def lost_posts_line(lost: list[tuple[str, str, str]], indexed: int) -> str:
    """'3 of 28 posts lost in the pipeline (ValueError while processing a post: … x3), dead-lettered'."""
    return f"{len(lost)} of {len(lost) + indexed} posts lost in the pipeline ({_reasons(lost)}), dead-lettered"


def outcome_line(lost: list[tuple[str, str, str]], list_pages: int) -> str:
    """'every request failed (4 x HTTP 500)' or '2 of 9 pages lost (HTTP 500 x2)'."""
    summary = _reasons(lost)
    if list_pages and len(lost) < list_pages:
        return f"{len(lost)} of {list_pages} pages lost ({summary})"
    return f"every request failed ({summary})" if len(lost) > 1 else f"the only page was lost ({summary})"
