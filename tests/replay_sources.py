"""Runs `crisiswatch crawl SPIDER` for the review and complaint spiders against an in-process replay server.

Their tests use it to check, over real HTTP and the whole pipeline, that a second crawl stops
at the high-water mark instead of re-reading old pages.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import yaml

from crawlers.replay import ReplayServer
from crawlers.replay.scenario import scenario_path
from tests import replay_crawl
from tests.replay_crawl import rows

SPIDERS = ("jd_reviews", "tmall_reviews", "tousu_sina", "jutousu")
# the ids crawlers/replay/scenarios/all_sources.yaml serves its posts under
TARGETS = {"jd_reviews": ["100012043978"], "tmall_reviews": ["652310918452:2200000001"],
           "tousu_sina": ["6384912431"], "jutousu": ["极光优选"]}


def write_config(tmp_path: Path, server: ReplayServer, base_url: str | None = None) -> Path:
    return replay_crawl.write_config(tmp_path, {name: base_url or server.base_url for name in SPIDERS},
                                     sources=TARGETS, names=("极光优选", "极光"))


@dataclass
class Crawl:
    returncode: int
    stdout: str
    stderr: str
    requests: list[str]


def crawl(cfg: Path, server: ReplayServer, spider: str, *args: str) -> Crawl:
    before = len(server.requests)
    proc = replay_crawl.run_crawl(cfg, spider, *args)
    return Crawl(proc.returncode, proc.stdout, proc.stderr, server.requests[before:])


def stored(db: Path, source: str) -> tuple[int, int]:
    """(rows, distinct native ids) of a source in the index."""
    return rows(db, "SELECT COUNT(*), COUNT(DISTINCT native_id) FROM mentions WHERE source=?", (source,))[0]


def health(db: Path, source: str) -> list[str]:
    return [r[0] for r in rows(db, "SELECT event FROM source_health WHERE source=? ORDER BY id", (source,))]


def small_scenario(tmp_path: Path) -> Path:
    """all_sources at a tenth of the rate: still several pages per source, fewer mentions to enrich."""
    shipped = yaml.safe_load(scenario_path("all_sources").read_text(encoding="utf-8"))
    path = tmp_path / "small_sources.yaml"
    path.write_text(yaml.safe_dump({
        "base": shipped["base"], "name": "small_sources", "events": [],
        "sources": shipped["sources"], "ids": shipped["ids"],
        "phases": [{"start": "0h", "end": "26h", "rate_per_hour": 12,
                    "mix": {"praise": 0.4, "neutral": 0.2, "gripe": 0.1, "logistics_anger": 0.3}}],
    }, allow_unicode=True), encoding="utf-8")
    return path
