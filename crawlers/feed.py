"""The crawl pipelines without Scrapy's engine, for collectors that are not spiders (X through tweepy).

`PipelineFeed` builds the same ITEM_PIPELINES a crawl uses (validate -> dedup -> enrich -> index)
around a small stand-in crawler with real Scrapy settings, stats and signals, so a tweet is
validated, dead-lettered, enriched and indexed exactly like a Weibo post. Closing the feed sends
`spider_closed`, which is when the index flushes and crawl marks advance, as after a crawl.

A post a pipeline raises on is what Scrapy makes of it in a crawl: `item_error`, which
`crawlers.extensions.CrawlOutcome` (built here too) turns into a dead letter, a lost post and a run that
ends failed; the feed goes on with the next post. Before, the exception left the feed, and the X stream,
whose tweepy thread swallows it, stopped with the rest of its batch unwritten and exit status 0.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any

from scrapy import signals
from scrapy.exceptions import DropItem, NotConfigured
from scrapy.settings import Settings
from scrapy.signalmanager import SignalManager
from scrapy.statscollectors import MemoryStatsCollector
from scrapy.utils.conf import build_component_list
from scrapy.utils.misc import build_from_crawler, load_object
from twisted.python.failure import Failure

from crawlers.extensions import CrawlOutcome
from crawlers.runner import crawl_settings
from crisiswatch.config import Config

logger = logging.getLogger(__name__)


class FeedSource:
    """What the pipelines and state see as "the spider": a name, and whether the source was blocked."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.blocked: str | bool = False
        self.lost_pages: list[tuple[str, str, str]] = []  # none: a feed has no pages, only posts
        self.lost_posts: list[tuple[str, str, str]] = []  # (query, reason, url) of posts a pipeline raised on

    def post_lost(self, query: str, reason: str, url: str) -> None:
        self.lost_posts.append((query, reason, url))

    @property
    def lost_queries(self) -> set[str]:
        return {query for query, _, _ in self.lost_posts}


class FeedCrawler:
    """The parts of `scrapy.crawler.Crawler` pipelines use: settings, stats, signals, spider."""

    def __init__(self, settings: Settings, spider: FeedSource) -> None:
        self.settings = settings
        self.signals = SignalManager(self)
        self.spider = spider
        self.stats = MemoryStatsCollector(self)


class PipelineFeed:
    def __init__(self, config: Config, source: str, *, settings: Settings | None = None) -> None:
        self.settings = settings or crawl_settings(config)
        self.spider = FeedSource(source)
        self.crawler = FeedCrawler(self.settings, self.spider)
        paths = build_component_list(self.settings.getwithbase("ITEM_PIPELINES"))
        self.pipelines = [build_from_crawler(load_object(path), self.crawler) for path in paths]
        # held here: signals keep only weak references to their receivers
        self.outcome: CrawlOutcome | None
        try:
            self.outcome = CrawlOutcome.from_crawler(self.crawler)
        except NotConfigured:  # no state database: nowhere to dead-letter, so a raising pipeline raises
            self.outcome = None
        self.closed = False
        self.crawler.stats.open_spider()
        self.crawler.signals.send_catch_log(signals.spider_opened, spider=self.spider)

    @property
    def stats(self) -> dict[str, Any]:
        return self.crawler.stats.get_stats()

    def feed(self, items: Iterable[Any]) -> int:
        """Runs each item through every pipeline; returns how many passed (the rest were dropped)."""
        passed = 0
        for item in items:
            value = item
            try:
                for pipeline in self.pipelines:
                    value = pipeline.process_item(value)
            except DropItem as exc:
                self.crawler.stats.inc_value("item_dropped_count")
                logger.debug("dropped: %s", exc)
                continue
            except Exception as exc:
                if self.outcome is None:
                    raise
                logger.error("%s: a pipeline raised on a post (dead-lettered): %r", self.spider.name, exc)
                self.crawler.signals.send_catch_log(signals.item_error, item=value, response=None, spider=self.spider,
                                                    failure=Failure(exc))
                continue
            self.crawler.stats.inc_value("item_scraped_count")
            passed += 1
        return passed

    def flush(self) -> None:
        """Writes what the index pipeline holds (a stream's items should not wait for a full batch)."""
        for pipeline in self.pipelines:
            if hasattr(pipeline, "flush"):
                pipeline.flush()

    def close(self, reason: str = "finished") -> None:
        """Flushes and finishes: marks advance only on `finished` with the source not blocked."""
        if self.closed:
            return
        self.closed = True
        for pipeline in self.pipelines:
            if hasattr(pipeline, "close_spider"):
                pipeline.close_spider()
        self.crawler.stats.set_value("finish_reason", reason)
        self.crawler.signals.send_catch_log(signals.spider_closed, spider=self.spider, reason=reason)

    def __enter__(self) -> PipelineFeed:
        return self

    def __exit__(self, exc_type: Any, *exc: object) -> None:
        self.close("finished" if exc_type is None else "failed")


def feed_items(config: Config, source: str, items: Iterable[Any]) -> dict[str, Any]:
    """One batch through the pipelines, start to finish; returns the feed's stats."""
    with PipelineFeed(config, source) as feed:
        feed.feed(items)
    return dict(feed.stats)
