"""Downloader middlewares: sessions and credentials, proxy, block detection that pauses a source,
and the pages a crawl lost."""

from __future__ import annotations

import logging
import os
from typing import Any
from urllib.parse import urlsplit

from scrapy import signals
from scrapy.exceptions import IgnoreRequest
from scrapy.utils.defer import deferred_from_coro
from scrapy.utils.httpobj import urlparse_cached

from crawlers.blocks import LOGIN, Block, block_of
from crawlers.health import record_block
from crawlers.sessions import SITE_DOMAINS, SessionPool, unset_cookie_envs
from crawlers.state import CrawlState
from crawlers.wiring import crawler_config, session_pool, state_connection
from crisiswatch.errors import CrisiswatchError

logger = logging.getLogger(__name__)


class CredentialsMiddleware:
    """Sends each request with a session from the source's pool, and keeps what replies set.

    The pool (crawlers/sessions.py) holds the cookies named by `cookie_env`, `cookie_envs` and
    `cookie_files`, taken in turn; a bearer token comes from `token_env`. A request that names its
    session (`meta["session"]`, e.g. an mtop request signed with that session's token) keeps it.
    """

    def __init__(self, crawler: Any) -> None:
        self.crawler = crawler
        self.config = crawler_config(crawler)
        self.pool_error = ""
        crawler.signals.connect(self.spider_opened, signal=signals.spider_opened)

    @classmethod
    def from_crawler(cls, crawler: Any) -> CredentialsMiddleware:
        return cls(crawler)

    def pool(self) -> SessionPool | None:
        if self.pool_error:
            return None
        try:
            return session_pool(self.crawler)
        except CrisiswatchError as exc:  # an unreadable cookie file: say so once, crawl nothing
            self.pool_error = str(exc)
            spider = self.crawler.spider
            if hasattr(spider, "config_error"):
                spider.config_error(self.pool_error)
            _close_soon(self.crawler, "config_error")
            return None

    def spider_opened(self, spider: Any) -> None:
        self.pool()  # a bad cookie file stops the crawl before its first request

    def own_host(self, request: Any) -> bool:
        """The request goes to the source's own site (or the base_url the config points it at). Cookies
        are sent as a raw header, not by Scrapy's domain-aware jar: a redirect or a link to another host
        must not carry them (nor a bearer token) there."""
        spider = self.crawler.spider
        host = (urlparse_cached(request).hostname or "").lower()
        domains = SITE_DOMAINS.get(getattr(spider, "source", ""), ())
        overrides = [self.config.source(getattr(spider, "name", "")).base_url,
                     spider.settings.get(f"{getattr(spider, 'name', '').upper()}_BASE_URL")]
        own = {(urlsplit(u).hostname or "").lower() for u in overrides if u}
        return not domains or host in own or any(host == d or host.endswith("." + d) for d in domains)

    def process_request(self, request: Any) -> None:
        spider = self.crawler.spider
        settings = self.config.source(getattr(spider, "name", ""))
        if not self.own_host(request):
            for header in (b"Cookie", b"Authorization", b"X-XSRF-TOKEN"):
                request.headers.pop(header, None)
            return
        if settings.token_env and os.environ.get(settings.token_env) and b"Authorization" not in request.headers:
            request.headers[b"Authorization"] = f"Bearer {os.environ[settings.token_env].strip()}"
        pool = self.pool()
        if pool is None:
            raise IgnoreRequest(self.pool_error)
        if b"Cookie" in request.headers:
            return
        session = pool.get(request.meta["session"]) if request.meta.get("session") else None
        if session is None or session.expired:
            session = pool.next()
        if session is None:
            # every configured cookie has expired (now or in an earlier crawl): nothing to send
            report_block(self.crawler, Block(pool.exhausted_line(), LOGIN), request, status="cookie-expired")
            raise IgnoreRequest(pool.exhausted_line())
        request.meta["session"] = session.label
        if session.cookies:
            request.headers[b"Cookie"] = session.header()
        if xsrf := session.cookies.get("XSRF-TOKEN"):  # m.weibo.cn wants its XSRF cookie echoed
            request.headers[b"X-XSRF-TOKEN"] = xsrf

    def process_response(self, request: Any, response: Any) -> Any:
        label = request.meta.get("session")
        pool = getattr(self.crawler, "_crisiswatch_sessions", None)
        if pool is not None and label and (session := pool.get(label)) is not None:
            set_cookies = response.headers.getlist(b"Set-Cookie")
            if set_cookies:
                pool.absorb(session, set_cookies)
        return response


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
    operator, and the scheduler backs off before crawling that source again. A login wall met
    with a configured cookie means that cookie expired: it is retired (one `cookie_expired` event)
    and the request goes again with the next live cookie; the source is blocked only when none is
    left. Met without any cookie, the source needs one, and its block says so.
    """

    def __init__(self, crawler: Any) -> None:
        self.crawler = crawler
        self.config = crawler_config(crawler)
        self.state = CrawlState(state_connection(crawler))

    @classmethod
    def from_crawler(cls, crawler: Any) -> BlockDetectionMiddleware:
        return cls(crawler)

    def process_response(self, request: Any, response: Any) -> Any:
        spider = self.crawler.spider
        block = block_of(response, expects_json=getattr(spider, "expects_json", True))
        if block is None:
            return response
        if block.wants_login:
            retry = self._session_expired(request, block, response.status)
            if retry is not None:
                return retry
        else:
            report_block(self.crawler, block, request, http_status=response.status)
        raise IgnoreRequest(f"{getattr(spider, 'name', 'unknown')} blocked: {block.reason}")

    def _session_expired(self, request: Any, block: Block, status: int) -> Any:
        """The request again with another session, or None after blocking the source."""
        pool = getattr(self.crawler, "_crisiswatch_sessions", None)
        session = pool.get(request.meta.get("session", "")) if pool is not None else None
        if pool is None or session is None or session.anonymous:
            name = getattr(self.crawler.spider, "name", "<source>")
            unset = unset_cookie_envs(self.config.source(name))
            where = (f"{', '.join(unset)} not set in the environment" if unset
                     else f"set sources.{name}.cookie_env or cookie_files")
            needs = f"{block.reason}: needs a login cookie ({where})"
            report_block(self.crawler, Block(needs, LOGIN), request, status="needs-cookie", http_status=status)
            return None
        if line := pool.expire(session, block.reason):
            self.state.record(pool.source, "cookie_expired", reason=line, cookie=session.label, http_status=status)
            self.crawler.stats.inc_value("crisiswatch/cookies_expired")
            logger.warning("%s; going on with the other cookies", line)
        if pool.live:
            retry = request.replace(dont_filter=True)
            retry.meta.pop("session", None)
            for header in (b"Cookie", b"X-XSRF-TOKEN"):
                retry.headers.pop(header, None)
            return retry
        report_block(self.crawler, Block(pool.exhausted_line(), LOGIN), request, status="cookie-expired",
                     http_status=status)
        return None


def report_block(crawler: Any, block: Block, request: Any, status: str = "blocked", http_status: int = 0) -> None:
    """Blocks the crawler's source once (crawlers/health.py) and closes the crawl."""
    if record_block(crawler, block, request.url, status, http_status, query=str(request.meta.get("query", ""))):
        _close_soon(crawler)


def _close_soon(crawler: Any, reason: str = "blocked") -> None:
    deferred_from_coro(crawler.engine.close_spider_async(reason=reason))


class LostPageMiddleware:
    """A list page whose download failed for good (after RetryMiddleware gave up) is a lost page.

    It sits below RetryMiddleware (550), so it sees only final answers: an HTTP error that reached
    the spider would be dropped by HttpErrorMiddleware with one log line, and a download error
    would end in the log too, while the crawl still reported "finished". Pages whose callback
    recovers from a failure (detail pages, long texts, hotflow's first page) carry no `page` or
    carry `recoverable` in their meta.
    """

    def __init__(self, crawler: Any) -> None:
        self.crawler = crawler

    @classmethod
    def from_crawler(cls, crawler: Any) -> LostPageMiddleware:
        return cls(crawler)

    def _lost(self, request: Any, reason: str) -> None:
        spider = self.crawler.spider
        if getattr(spider, "probe", False):
            spider.probe_outcome(str(request.meta.get("query", "")), "unreachable", reason)
        elif hasattr(spider, "page_lost") and not getattr(spider, "blocked", False):
            spider.page_lost(request.meta, reason, request.url)

    def process_response(self, request: Any, response: Any) -> Any:
        if "page" in request.meta and response.status < 300 and hasattr(self.crawler.spider, "probe_replied"):
            self.crawler.spider.probe_replied.add(str(request.meta.get("query", "")))
        if is_list_page(request):
            self.crawler.stats.inc_value("crisiswatch/list_pages")
            if response.status >= 300 and response.status not in request.meta.get("handle_httpstatus_list", ()):
                self._lost(request, f"HTTP {response.status}")
        return response

    def process_exception(self, request: Any, exception: Exception) -> None:
        if is_list_page(request) and not isinstance(exception, IgnoreRequest):
            self.crawler.stats.inc_value("crisiswatch/list_pages")
            self._lost(request, f"{type(exception).__name__}: {str(exception)[:100]}".rstrip(": "))


def is_list_page(request: Any) -> bool:
    return "page" in request.meta and not request.meta.get("recoverable")
