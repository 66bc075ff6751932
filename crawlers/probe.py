"""`crisiswatch sources check`: one probe per configured source and target, through the spiders' own code.

Each spider runs with `probe=1`: its first request per target only (plus what that request needs:
the mtop token round trip, the old Weibo timeline container, another cookie when one has expired),
no long texts or detail pages, and its items validated here but never stored. The middlewares note
what they meet per target instead of blocking the source (crawlers/health.py), so one probe tells:

    ok              the reply was read and every post on it is valid
    needs-cookie    the site wants a login cookie and none is configured (or the cookie file is unusable)
    cookie-expired  every configured cookie met the login wall (each retired, crawlers/sessions.py)
    blocked         a captcha, throttling (418), 403 or a punish page
    gated           the endpoint needs a signature crisiswatch cannot compute (JD's h5st)
    layout-changed  the reply was not in the shape the spider reads, or its posts lack fields
    unreachable     no answer: connection errors, timeouts, HTTP errors after retries

Results land in the state database (table source_checks), where `crawlers.health.source_health`
finds them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from pydantic import ValidationError

from crawlers.runner import run_crawls
from crawlers.sanitize import sanitize_item
from crisiswatch.config import Config
from crisiswatch.db import StateConnection
from crisiswatch.mention import Mention, validation_reason

PROBE_SETTINGS = {"ITEM_PIPELINES": {"crawlers.probe.ProbePipeline": 100}, "RETRY_TIMES": 1,
                  "DOWNLOAD_TIMEOUT": 20, "LOG_LEVEL": "ERROR"}


@dataclass(frozen=True)
class CheckResult:
    source: str
    target: str
    status: str
    reason: str

    def line(self) -> str:
        return f"{self.source} {self.target} {self.status} {self.reason}".rstrip()


class ProbePipeline:
    """Validates a probe's items (never stores them) and turns what the probe met into one result per target."""

    def __init__(self, crawler: Any) -> None:
        self.crawler = crawler
        self.valid: dict[str, int] = {}
        self.invalid: dict[str, str] = {}

    @classmethod
    def from_crawler(cls, crawler: Any) -> ProbePipeline:
        return cls(crawler)

    def process_item(self, item: Any) -> Any:
        data, _ = sanitize_item(dict(item))
        query = str(data.get("query", ""))
        try:
            Mention.model_validate(data)
        except ValidationError as exc:
            self.invalid.setdefault(query, validation_reason(exc))
            return item
        self.valid[query] = self.valid.get(query, 0) + 1
        return item

    def close_spider(self) -> None:
        spider = self.crawler.spider
        stats = self.crawler.stats
        results: dict[str, tuple[str, str]] = {}
        config_error = stats.get_value("crisiswatch/config_error")
        for _, target in spider.targets():
            if config_error:
                results[target] = (config_status(config_error), config_error)
            elif target in spider.probe_results:
                results[target] = spider.probe_results[target]
            elif target in self.invalid:
                results[target] = ("layout-changed", f"posts fail validation: {self.invalid[target]}")
            elif target in spider.probe_replied:
                results[target] = ("ok", f"{self.valid.get(target, 0)} posts read")
            else:
                results[target] = ("unreachable", "no reply")
        stats.set_value("crisiswatch/probe", results)


def config_status(reason: str) -> str:
    return "needs-cookie" if "cookie" in reason else "gated"


def check_sources(config: Config, conn: StateConnection, sources: list[str]) -> list[CheckResult]:
    """Probes every target of `sources` (spider names) and records the results."""
    jobs = [(name, {"probe": "1"}) for name in sources]
    # one request per target: a second between them is polite enough (or what the config says, if less)
    delays = [config.source(name).download_delay for name in sources]
    delay = min([1.0, *(d for d in delays if d is not None)])
    overrides: dict[str, Any] = {**PROBE_SETTINGS, "DOWNLOAD_DELAY": delay, "AUTOTHROTTLE_ENABLED": False}
    stats = run_crawls(config, jobs, overrides=overrides) if jobs else {}
    results = []
    for name in sources:
        probed = stats.get(name, {}).get("crisiswatch/probe") or {}
        for target, (status, reason) in probed.items():
            results.append(CheckResult(name, target, status, " ".join(reason.split())))
    record_checks(conn, results)
    return results


def record_checks(conn: StateConnection, results: list[CheckResult]) -> None:
    at = datetime.now(UTC).isoformat()
    conn.executemany("INSERT INTO source_checks(at, source, target, status, reason) VALUES (?,?,?,?,?)",
                     [(at, r.source, r.target, r.status, r.reason) for r in results])
