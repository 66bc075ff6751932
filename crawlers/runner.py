"""Runs spiders in this process with crisiswatch's settings (one Scrapy reactor per process)."""

from __future__ import annotations

import os
from typing import Any

from scrapy.crawler import CrawlerProcess
from scrapy.settings import Settings
from scrapy.utils.conf import closest_scrapy_cfg
from scrapy.utils.project import get_project_settings

from crawlers.frontier import check_reachable, frontier_settings
from crawlers.logformatter import quiet_network_tracebacks
from crisiswatch.config import Config
from crisiswatch.lease import HOLDER_ENV, new_holder


def crawl_settings(config: Config, *, overrides: dict[str, Any] | None = None, progress: bool = False,
                   join: bool = False, holder: str = "") -> Settings:
    settings = get_project_settings() if _has_project() else Settings()
    if not settings.get("BOT_NAME") or settings.get("BOT_NAME") == "scrapybot":
        settings.setmodule("crawlers.settings", priority="project")
    settings.set("CRISISWATCH_CONFIG", config, priority="cmdline")
    settings.set("CRISISWATCH_STATE_DB", str(config.state_store), priority="cmdline")
    settings.set("CRISISWATCH_INDEX_URL", config.index.url, priority="cmdline")
    settings.set("CRISISWATCH_BATCH_SIZE", config.index.batch_size, priority="cmdline")
    settings.set("CRISISWATCH_PROGRESS", progress, priority="cmdline")
    if config.crawl.frontier:  # one crawl shared by every crawler host through Redis
        holder = holder or os.environ.get(HOLDER_ENV) or new_holder("crawl")
        for key, value in frontier_settings(config.crawl.frontier, holder, join,
                                            config.crawl.frontier_heartbeat_seconds).items():
            settings.set(key, value, priority="cmdline")
    for key, value in (overrides or {}).items():
        settings.set(key, value, priority="cmdline")
    return settings


def _has_project() -> bool:
    return bool(closest_scrapy_cfg())


def run_crawls(config: Config, jobs: list[tuple[str, dict[str, Any]]], *, overrides: dict[str, Any] | None = None,
               progress: bool = False, join: bool = False) -> dict[str, dict[str, Any]]:
    """Runs the (spider name, spider arguments) jobs to completion; returns each crawl's stats. With a
    shared frontier, `join` takes part in the crawl another host started instead of starting one."""
    if config.crawl.frontier:
        check_reachable(config.crawl.frontier)
    process = CrawlerProcess(crawl_settings(config, overrides=overrides, progress=progress, join=join))
    quiet_network_tracebacks()
    crawlers = []
    for name, kwargs in jobs:
        crawler = process.create_crawler(name)
        crawlers.append((name, crawler))
        process.crawl(crawler, **kwargs)
    process.start()
    return {name: dict(crawler.stats.get_stats()) for name, crawler in crawlers}
