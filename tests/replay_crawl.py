"""Crawls over the replay server in a subprocess, as `crisiswatch crawl` runs them (one reactor each)."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import yaml

from crawlers.replay.scenario import Scenario, build

TOPICS = ("快递", "客服", "台灯", "耳机")
OFFICIAL = {"id": 2000000001, "name": "极光优选官方", "followers": 1286000, "verified": True}


def scenario(anchor: datetime, events: list[dict[str, Any]], crowd_rate: float = 6) -> Scenario:
    """A small day and a half: a trickle of crowd posts plus the given events (e.g. official posts)."""
    return build({
        "seed": 11, "duration": "30h", "crowd": 30,
        "brand": {"key": "aurora", "names": ["极光优选"]},
        "pools": {"chat": ["{brand}的{thing}不错", "{brand}客服回复很快", "{brand}的快递今天到了"]},
        "vocab": {"thing": ["台灯", "耳机", "电饭煲"], "nick": ["小鹿", "晴天"]},
        "phases": [{"start": "0h", "end": "30h", "rate_per_hour": crowd_rate, "mix": {"chat": 1}}],
        "events": events,
    }, anchor=anchor, name="replay_crawl")


def write_config(tmp_path: Path, spider: str | dict[str, str], base_url: str = "",
                 sources: dict[str, list[str]] | None = None, max_pages: int = 1000,
                 names: tuple[str, ...] = ("极光优选",)) -> Path:
    """A config for one brand crawled over the replay server: `spider` and `base_url`, or a mapping of
    several spiders to their base URLs."""
    spiders = spider if isinstance(spider, dict) else {spider: base_url}
    db = tmp_path / "cw.db"
    cfg = tmp_path / "crisiswatch.yaml"
    cfg.write_text(yaml.safe_dump({
        "state_db": str(db),
        "index": {"url": f"sqlite:///{db}", "batch_size": 50},
        "brands": [{"key": "aurora", "names": list(names), "sources": sources or {}}],
        "sources": {name: {"base_url": url, "download_delay": 0, "max_pages": max_pages}
                    for name, url in spiders.items()},
        "enrichment": {"sentiment_model": "crisiswatch"},
    }, allow_unicode=True), encoding="utf-8")
    return cfg


def run_crawl(cfg: Path, spider: str, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "crisiswatch.cli", "--config", str(cfg), "crawl", spider, *args],
                          capture_output=True, text=True, timeout=timeout)


def crawl(cfg: Path, spider: str, *args: str, timeout: float = 120, ok: bool = True) -> str:
    proc = run_crawl(cfg, spider, *args, timeout=timeout)
    assert (proc.returncode == 0) == ok, proc.stdout + proc.stderr[-3000:]
    return proc.stdout


def rows(db: Path, sql: str, params: tuple = ()) -> list[tuple]:
    conn = sqlite3.connect(db)
    try:
        return conn.execute(sql, params).fetchall()
    finally:
        conn.close()


def hourly(start_h: int, count: int, **extra: Any) -> list[dict[str, Any]]:
    """`count` official posts, one an hour from `start_h`."""
    return [{"at": f"{start_h + i}h", "author": OFFICIAL, "text": f"极光优选官方通知第{start_h + i}号：本周活动安排",
             **extra} for i in range(count)]


class Clock:
    """The replay server's clock, moved by the test between crawls."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


def four_topics(anchor: datetime, rate: float = 16) -> Scenario:
    """Posts about four things, one search query each, so a crawl has four chains of pages to split."""
    return build({
        "seed": 5, "duration": "20h", "crowd": 40,
        "brand": {"key": "aurora", "names": ["极光优选"]},
        "pools": {t: [f"{{brand}}的{t}{{n}}号问题"] for t in TOPICS},
        "vocab": {"n": [str(i) for i in range(40)], "nick": ["小鹿", "晴天"]},
        "phases": [{"start": "0h", "end": "20h", "rate_per_hour": rate, "mix": {t: 1 for t in TOPICS}}],
        "events": [],
    }, anchor=anchor, name="four_topics")
