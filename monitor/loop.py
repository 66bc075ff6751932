"""`crisiswatch run`: the long-running loop. Thin on purpose: it schedules, the flows do the work.

Each crawl runs in its own process (Scrapy's reactor cannot restart, and a crashed crawl must
not take the loop down); detection, playbooks and alert delivery run in this process.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from crisiswatch.config import Config

logger = logging.getLogger(__name__)
SPIDER_FOR_SOURCE_KEY = ("weibo_search", "weibo_timeline", "weibo_comments", "jd_reviews", "tmall_reviews",
                         "tousu_sina", "jutousu")
BLOCK_BACKOFF = (timedelta(minutes=15), timedelta(hours=6))


def configured_spiders(config: Config) -> list[str]:
    """Sources with at least one brand target and not disabled; X only when its token is set."""
    names = [name for name in (*SPIDER_FOR_SOURCE_KEY, "x")
             if config.source(name).enabled and any(getattr(b.sources, name) for b in config.brands)]
    token_env = config.source("x").token_env or "X_BEARER_TOKEN"
    return [n for n in names if n != "x" or os.environ.get(token_env)]


def collect_command(source: str) -> list[str]:
    """X is collected through tweepy, not Scrapy, but runs the same pipelines."""
    return ["collect", "x"] if source == "x" else ["crawl", source]


def blocked_backoff(blocks_in_a_row: int) -> timedelta:
    low, high = BLOCK_BACKOFF
    return min(low * (2 ** max(blocks_in_a_row - 1, 0)), high)


class Scheduler:
    def __init__(self, config: Config, config_path: str | None,
                 now: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self.config = config
        self.config_path = config_path
        self.now = now
        self.next_run: dict[str, datetime] = {}
        self.blocks: dict[str, int] = {}

    def due(self) -> list[str]:
        now = self.now()
        return [s for s in configured_spiders(self.config) if self.next_run.get(s, now) <= now]

    def crawl(self, spider: str) -> int:
        cmd = [sys.executable, "-m", "crisiswatch.cli"]
        if self.config_path:
            cmd += ["--config", self.config_path]
        cmd += collect_command(spider)
        logger.info("crawling %s", spider)
        code = subprocess.call(cmd)
        if code == 0:
            self.blocks[spider] = 0
            wait = timedelta(minutes=self.config.source(spider).schedule_minutes)
        else:  # blocked or failed: back off instead of hammering the site
            self.blocks[spider] = self.blocks.get(spider, 0) + 1
            wait = blocked_backoff(self.blocks[spider])
            logger.warning("%s crawl ended with code %d; next try in %s", spider, code, wait)
        self.next_run[spider] = self.now() + wait
        return code


def run_forever(config: Config, config_path: str | None, tick_seconds: float = 30, once: bool = False) -> None:
    from alerts.cycle import alert_cycle
    from alerts.dispatch import AlertDispatcher, build_channels
    from crisiswatch.db import connect
    from index import open_backend
    from monitor.flows import detect_and_respond
    from playbooks.cycle import playbook_cycle
    from playbooks.engine import PlaybookEngine

    conn = connect(config.resolve(config.state_db))
    backend = open_backend(config.index.url)
    dispatcher = AlertDispatcher(config, conn, build_channels(config, conn))
    scheduler = Scheduler(config, config_path)
    engine = PlaybookEngine(config, conn, dispatcher, backend=backend)
    while True:
        for spider in scheduler.due():
            scheduler.crawl(spider)
        report = detect_and_respond(config, backend, conn, dispatcher, until=datetime.now(UTC), engine=engine)
        for change in report.changes:
            logger.info("%s %s: %s", change.incident.label, change.kind, change.incident.summary)
        # waiting playbook steps resume; SLA reminders and breaches become alerts
        playbook_cycle(config, conn, dispatcher, engine)
        # heartbeat, escalation steps, approvals, digest, operator health alerts, delivery
        alert_cycle(config, conn, dispatcher)
        if once:
            return
        time.sleep(tick_seconds)
