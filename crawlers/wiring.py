"""What the Scrapy components share per crawler: the config and the state database (kept in the
kernel, crisiswatch/components.py, as monitor's enrichment pipeline needs them too) and the login sessions."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from crawlers.sessions import SITE_DOMAINS, SessionPool, configured_sessions
from crisiswatch.components import crawler_config, state_connection

__all__ = ["crawler_config", "session_pool", "state_connection"]


def session_pool(crawler: Any) -> SessionPool:
    """The crawler's spider's pool of login sessions, built once from the config (crawlers/sessions.py)."""
    pool = getattr(crawler, "_crisiswatch_sessions", None)
    if pool is None:
        spider = crawler.spider
        config = crawler_config(crawler)
        name = getattr(spider, "name", "")
        sessions = configured_sessions(name, config.source(name), SITE_DOMAINS.get(getattr(spider, "source", ""), ()),
                                       config.resolve("."))
        pool = SessionPool(name, sessions, state_connection(crawler))
        if crawler.settings.get("CRISISWATCH_FRONTIER"):  # hosts share the crawl, never one account
            elsewhere = pool.lease(crawler.settings.get("CRISISWATCH_HOLDER"),
                                   timedelta(seconds=config.crawl.cookie_lease_seconds))
            if elsewhere:
                crawler.stats.set_value("crisiswatch/cookies_elsewhere", ", ".join(elsewhere))
        crawler._crisiswatch_sessions = pool
    return pool
