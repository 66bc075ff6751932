"""Shared fixtures: a config on a temporary SQLite file, Scrapy crawlers built from settings."""

from __future__ import annotations

import json
import math
import random
from pathlib import Path
from typing import Any

import pytest
from scrapy.http import HtmlResponse, Request, TextResponse
from scrapy.utils.test import get_crawler

from crisiswatch.config import parse_config

FIXTURES = Path(__file__).parent / "fixtures"
REPO = Path(__file__).parent.parent


def config_dict(tmp_path: Path, **extra: Any) -> dict[str, Any]:
    db = tmp_path / "cw.db"
    data = {
        "state_db": str(db),
        "index": {"url": f"sqlite:///{db}", "batch_size": 50},
        "brands": [{"key": "aurora", "names": ["极光优选", "极光"], "exclusions": ["北极光"],
                    "sources": {"weibo_search": ["极光优选"]}}],
        "enrichment": {"sentiment_model": "crisiswatch"},
        "alerts": {"routes": [{"name": "response", "channel": "slack", "target": "#crisis"}]},
    }
    data.update(extra)
    return data


@pytest.fixture
def config(tmp_path: Path):
    return parse_config(config_dict(tmp_path), str(tmp_path / "crisiswatch.yaml"))


@pytest.fixture
def crawler_for(config):
    """Build a crawler (and its spider) the way Scrapy does, from a settings dict."""

    def build(spider_cls: type, **spider_kwargs: Any):
        from crawlers.runner import crawl_settings

        full = crawl_settings(config)
        settings = {k: full[k] for k in full.attributes if k.startswith("CRISISWATCH_")}
        crawler = get_crawler(spider_cls, settings)
        crawler.spider = spider_cls.from_crawler(crawler, **spider_kwargs)
        return crawler

    return build


def fixture_response(path: str, url: str, meta: dict | None = None, status: int = 200,
                     headers: dict | None = None) -> TextResponse:
    body = (FIXTURES / path).read_bytes() if path else b""
    cls = HtmlResponse if path.endswith(".html") else TextResponse
    return cls(url=url, body=body, encoding="utf-8", status=status, headers=headers,
               request=Request(url, meta=meta or {}))


def load_fixture(path: str) -> Any:
    return json.loads((FIXTURES / path).read_text(encoding="utf-8"))


@pytest.fixture
def slack():
    """A loopback Slack Web API for slack-sdk's `base_url`, stopped after the test."""
    from tests.slack_api import SlackAPIServer

    server = SlackAPIServer().start()
    yield server
    server.stop()


def poisson(rng: random.Random, lam: float) -> int:
    """A Poisson draw (Knuth's method: exact, and fast enough for the small rates tests use)."""
    limit, k, p = math.exp(-lam), 0, 1.0
    while True:
        p *= rng.random()
        if p <= limit:
            return k
        k += 1


pytest_plugins = ["tests.stores"]  # postgres_server, state_url (SQLite and PostgreSQL), store_config
