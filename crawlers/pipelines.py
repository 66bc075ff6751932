"""Item pipelines: validate -> de-duplicate -> enrich -> index (in batches).

Each pipeline does one thing and is wired by ITEM_PIPELINES; the same classes run for the
X collector through `crawlers.feed.feed_items`, without Scrapy's engine. Enrichment is monitor's
(monitor/enrich/pipeline.py): the settings name it, the crawlers never import it.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

from pydantic import ValidationError
from scrapy import signals
from scrapy.exceptions import DropItem

from crawlers.frontier import shared_crawl
from crawlers.sanitize import sanitize_item, truncate
from crawlers.state import MARK_SKEW, CrawlState
from crawlers.wiring import state_connection
from crisiswatch.deadletter import DeadLetters
from crisiswatch.mention import Mention, validation_reason
from index.writer import IndexWriter

logger = logging.getLogger(__name__)


class ValidationPipeline:
    """Dict items become `Mention`s; a bad item is dead-lettered with its reason and the crawl goes on.

    Before validation every string is made valid Unicode, and after it an oversized mention is cut
    to the limits in `crawlers.sanitize` and flagged: neither is a reason to lose the post.
    """

    def __init__(self, crawler: Any) -> None:
        self.crawler = crawler
        self.dead_letters = DeadLetters(state_connection(crawler))

    @classmethod
    def from_crawler(cls, crawler: Any) -> ValidationPipeline:
        return cls(crawler)

    def process_item(self, item: Any) -> Mention:
        if isinstance(item, Mention):
            return self._within_limits(item)
        item, sanitized = sanitize_item(dict(item))
        if sanitized:
            self.crawler.stats.inc_value("crisiswatch/sanitized")
        try:
            return self._within_limits(Mention.model_validate(item))
        except ValidationError as exc:
            reason = validation_reason(exc)
            source = str(dict(item).get("source", ""))
            self.dead_letters.add("validation", reason, dict(item), source=source)
            self.crawler.stats.inc_value("crisiswatch/invalid")
            self.crawler.stats.inc_value(f"crisiswatch/invalid/{source or 'unknown'}")
            raise DropItem(f"invalid item from {source or 'unknown source'}: {reason}") from None

    def _within_limits(self, mention: Mention) -> Mention:
        if cut := truncate(mention):
            self.crawler.stats.inc_value("crisiswatch/truncated")
            logger.warning("%s %s cut to size: %s", mention.source, mention.native_id,
                           ", ".join(f"{k} had {n} characters" for k, n in cut.items()))
        return mention


class DedupPipeline:
    """The same post reached twice in one crawl (overlapping pages or slices) is passed on once.

    Across crawls the index's upsert by stable id keeps one copy.
    """

    def __init__(self, crawler: Any) -> None:
        self.crawler = crawler
        self.seen: set[str] = set()

    @classmethod
    def from_crawler(cls, crawler: Any) -> DedupPipeline:
        return cls(crawler)

    def process_item(self, item: Mention) -> Mention:
        if item.id in self.seen:
            self.crawler.stats.inc_value("crisiswatch/duplicate")
            raise DropItem(f"duplicate {item.source} {item.native_id}")
        self.seen.add(item.id)
        return item


class IndexPipeline:
    """Writes mentions to the index in batches and advances crawl marks only after a clean finish.

    A mark moves only when the whole crawl of a query finished, so a crawl killed half-way
    re-reads its pages next time: the index upsert makes that harmless, and nothing is skipped.
    A query with a lost page (unreadable, failed download) keeps its mark, and no mark moves past
    the crawl's own clock plus MARK_SKEW: a post dated in the future must not hide later ones.
    """

    def __init__(self, crawler: Any) -> None:
        self.crawler = crawler
        conn = state_connection(crawler)
        self.state = CrawlState(conn)
        self.writer = IndexWriter.from_url(crawler.settings.get("CRISISWATCH_INDEX_URL"), conn)
        self.batch_size = crawler.settings.getint("CRISISWATCH_BATCH_SIZE")
        self.buffer: list[Mention] = []
        self.marks_seen: dict[tuple[str, str], datetime] = {}
        self.run_id: int | None = None
        self.opened_at = datetime.now(UTC)
        crawler.signals.connect(self.spider_opened, signal=signals.spider_opened)
        crawler.signals.connect(self.spider_closed, signal=signals.spider_closed)

    @classmethod
    def from_crawler(cls, crawler: Any) -> IndexPipeline:
        return cls(crawler)

    def spider_opened(self, spider: Any) -> None:
        self.opened_at = datetime.now(UTC)
        self.run_id = self.state.start_run(getattr(spider, "name", "?"))

    def process_item(self, item: Mention) -> Mention:
        self.buffer.append(item)
        key = (item.source, item.query)
        if key not in self.marks_seen or item.created_at > self.marks_seen[key]:
            self.marks_seen[key] = item.created_at
        if len(self.buffer) >= self.batch_size:
            self.flush()
        return item

    def flush(self) -> None:
        if not self.buffer:
            return
        batch, self.buffer = self.buffer, []
        written = self.writer.write(batch)
        self.crawler.stats.inc_value("crisiswatch/indexed", written)

    def close_spider(self) -> None:
        self.flush()

    def spider_closed(self, spider: Any, reason: str) -> None:
        # runs after every pipeline's close_spider, when Scrapy knows why the crawl ended
        blocked = getattr(spider, "blocked", False)
        lost = getattr(spider, "lost_queries", set())
        ceiling = self.opened_at + MARK_SKEW
        seen = {key: min(newest, ceiling) for key, newest in self.marks_seen.items()}
        clean, keep = reason == "finished" and not blocked, lost  # queries whose marks stay
        shared = shared_crawl(self.crawler)
        if shared is not None:  # a crawl over several hosts: its last host moves the marks for all
            shared.contribute(seen, lost, None if clean else ("blocked" if blocked else reason))
            if shared.leave():
                seen, lost_anywhere, unclean = shared.outcome()
                shared.close()
                clean, keep = not unclean, lost_anywhere
                if unclean:
                    logger.warning("shared crawl of %s ended unclean on %s: marks stay", spider.name, "; ".join(unclean))
            else:
                seen = {}
        if clean:
            for (source, query), newest in seen.items():
                if query not in keep:
                    self.state.advance_mark(source, query, newest)
        if self.run_id is not None:
            failed = getattr(spider, "lost_pages", []) or getattr(spider, "lost_posts", [])
            if reason == "finished" and not blocked and (failed or lost):
                reason = "failed" if failed else "capped"  # capped: read as deep as max_pages allows, marks kept
            if reason == "capped" and hasattr(spider, "capped_outcome"):
                # what the next crawl does about it depends on the kind of list: said in status
                self.state.record(spider.name, "pages_capped", reason=spider.capped_outcome())
            self.state.finish_run(
                self.run_id, "blocked" if blocked else reason,
                int(self.crawler.stats.get_value("crisiswatch/indexed") or 0),
                int(self.crawler.stats.get_value("response_received_count") or 0),
            )
        self.writer.close()
