"""Crawl extensions: a one-line progress display and the source's health after a clean run."""

from __future__ import annotations

import sys
import time
from typing import Any

from scrapy import signals
from scrapy.exceptions import NotConfigured

from crawlers.state import CrawlState
from crawlers.wiring import state_connection


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
        if not crawler.settings.get("CRISISWATCH_STATE_DB"):
            raise NotConfigured("no state database")
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
