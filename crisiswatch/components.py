"""What Scrapy components share per crawler, whichever package they live in: the config and the
state database (crawl pipelines and middlewares in crawlers/, the enrichment pipeline in monitor/).

`crawler` is Scrapy's Crawler or the X collector's stand-in (crawlers/feed.py); only its
`settings` (CRISISWATCH_CONFIG or CRISISWATCH_CONFIG_FILE, CRISISWATCH_STATE_DB) are read.
"""

from __future__ import annotations

from typing import Any

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
