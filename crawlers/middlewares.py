"""Downloader middlewares: credentials, proxy, and block detection that pauses a source."""

from __future__ import annotations

import logging
import os
from typing import Any

from scrapy.exceptions import IgnoreRequest

from crawlers.blocks import block_reason
from crawlers.state import CrawlState
from crawlers.wiring import crawler_config, state_connection

logger = logging.getLogger(__name__)


class CredentialsMiddleware:
    """Adds the source's cookie or bearer token, read from the environment variable the config names."""

    def __init__(self, crawler: Any) -> None:
        self.crawler = crawler
        self.config = crawler_config(crawler)

    @classmethod
    def from_crawler(cls, crawler: Any) -> CredentialsMiddleware:
        return cls(crawler)

    def process_request(self, request: Any) -> None:
        spider = self.crawler.spider
        settings = self.config.source(getattr(spider, "name", ""))
        if settings.cookie_env and os.environ.get(settings.cookie_env) and b"Cookie" not in request.headers:
            request.headers[b"Cookie"] = os.environ[settings.cookie_env].strip().replace("\n", "")
        if settings.token_env and os.environ.get(settings.token_env) and b"Authorization" not in request.headers:
            request.headers[b"Authorization"] = f"Bearer {os.environ[settings.token_env].strip()}"


class ProxyMiddleware:
    """Sends a source's requests through its configured proxy (e.g. a rotating proxy pool's gateway)."""

    def __init__(self, crawler: Any) -> None:
        # a no-op without a configured proxy (NotConfigured would print a warning on every crawl)
        self.crawler = crawler
        self.config = crawler_config(crawler)

    @classmethod
    def from_crawler(cls, crawler: Any) -> ProxyMiddleware:
        return cls(crawler)

    def process_request(self, request: Any) -> None:
        proxy = self.config.source(getattr(self.crawler.spider, "name", "")).proxy
        if proxy and "proxy" not in request.meta:
            request.meta["proxy"] = os.path.expandvars(proxy)


class BlockDetectionMiddleware:
    """A captcha, login wall or throttling reply stops the source instead of hammering it.

    The crawl closes with reason `blocked`, a `source_blocked` health event reaches the
    operator, and the scheduler backs off before crawling that source again.
    """

    def __init__(self, crawler: Any) -> None:
        self.crawler = crawler
        self.state = CrawlState(state_connection(crawler))

    @classmethod
    def from_crawler(cls, crawler: Any) -> BlockDetectionMiddleware:
        return cls(crawler)

    def process_response(self, request: Any, response: Any) -> Any:
        spider = self.crawler.spider
        reason = block_reason(response, expects_json=getattr(spider, "expects_json", True))
        if reason is None:
            return response
        source = getattr(spider, "name", "unknown")
        if not getattr(spider, "blocked", False):
            spider.blocked = reason
            self.state.record(source, "source_blocked", reason=reason, url=request.url, status=response.status)
            logger.error("%s is blocked: %s (%s); pausing this source", source, reason, request.url)
            self.crawler.stats.set_value("crisiswatch/blocked", reason)
            _close_soon(self.crawler)
        raise IgnoreRequest(f"{source} blocked: {reason}")


def _close_soon(crawler: Any) -> None:
    from scrapy.utils.defer import deferred_from_coro

    deferred_from_coro(crawler.engine.close_spider_async(reason="blocked"))
