"""What the Scrapy components share: the config, the state database and the index, per crawler."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from crawlers.sessions import SITE_DOMAINS, SessionPool, configured_sessions
from crisiswatch.config import Config, load_config
from crisiswatch.db import StateConnection, connect


def crawler_config(crawler: Any) -> Config:
    config = crawler.settings.get("CRISISWATCH_CONFIG")
    if config is None:
        config = load_config(crawler.settings.get("CRISISWATCH_CONFIG_FILE"))
    return config


def state_connection(crawler: Any) -> StateConnection:
    """One connection per crawler, opened on first use and kept on the crawler."""
    conn = getattr(crawler, "_crisiswatch_state", None)
    if conn is None:
        conn = connect(crawler.settings.get("CRISISWATCH_STATE_DB"))
        crawler._crisiswatch_state = conn
    return conn


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
