"""`crisiswatch run`: the long-running loop. Thin on purpose: it schedules, the flows do the work.

Each crawl runs in its own process (Scrapy's reactor cannot restart, and a crashed crawl must
not take the loop down); detection, playbooks and alert delivery run in this process.

The loop survives its dependencies: a pass runs each stage guarded, so an unreachable index
stops detection only (backing off, up to five minutes between tries) while escalations,
playbook timers and delivery go on; a dependency down past `alerts.dependency_grace_minutes`
raises one operator alert ("index unreachable since 14:02, 206 mentions spooled"), resolved when
it answers again; the spool is drained before detection resumes, so late buckets see every mention.

One run loop per state database: `run` takes the `run-loop` lease (crisiswatch.lease) and a
thread renews it while the process lives. A second `run` says so in one line and waits as a
standby, taking over when the first one's lease runs out; `run --once` (cron) refuses instead.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from alerts.cycle import alert_cycle
from alerts.dispatch import AlertDispatcher, build_channels
from alerts.operator import DependencyHealth
from crisiswatch.config import Config
from crisiswatch.db import connect
from crisiswatch.errors import CrisiswatchError
from crisiswatch.lease import LeaseKeeper, Leases, new_holder
from index import open_backend
from index.base import Backend, BackendUnavailable
from index.spool import Spool
from index.writer import IndexWriter, spool_target
from monitor.flows import detect_and_respond
from playbooks.cycle import playbook_cycle
from playbooks.engine import PlaybookEngine
from playbooks.paging import IncidentPaging

logger = logging.getLogger(__name__)
SPIDER_FOR_SOURCE_KEY = ("weibo_search", "weibo_timeline", "weibo_comments", "jd_reviews", "tmall_reviews",
                         "tousu_sina", "jutousu")
BLOCK_BACKOFF = (timedelta(minutes=15), timedelta(hours=6))
INDEX_BACKOFF = (timedelta(seconds=30), timedelta(minutes=5))
RUN_LEASE = "run-loop"


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
                 now: Callable[[], datetime] = lambda: datetime.now(UTC),
                 health: DependencyHealth | None = None) -> None:
        self.config = config
        self.config_path = config_path
        self.now = now
        self.health = health
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
        if self.health is not None:
            if code == 0:
                self.health.up(f"crawler {spider}")
            else:
                failures, retry = self.blocks[spider], self.next_run[spider]
                self.health.down(f"crawler {spider}", f"exit code {code}", lambda since: (
                    f"{spider} crawls failing since {self.health.local(since)} ({failures} in a row),"
                    f" next try {self.health.local(retry)}"))
        return code


class IndexLink:
    """The loop's way to the index: opened on first use, backed off after a failure, spool drained first."""

    def __init__(self, url: str, conn, clock: Callable[[], datetime]) -> None:
        self.url = url
        self.conn = conn
        self.clock = clock
        self.backend: Backend | None = None
        self.failures = 0
        self.next_try: datetime | None = None
        self.spool = Spool(conn, spool_target(url))

    def due(self) -> bool:
        return self.next_try is None or self.clock() >= self.next_try

    def ready(self) -> Backend:
        """The backend, with every spooled batch written; raises BackendUnavailable if it cannot be."""
        if self.backend is None:
            self.backend = open_backend(self.url)
        if self.spool.pending():
            IndexWriter(self.backend, self.conn, spool_target(self.url), retry_after=0).drain(force=True)
            if self.spool.pending():
                raise BackendUnavailable(f"{self.spool.pending()} spooled mentions could not be written")
        return self.backend

    def failed(self) -> timedelta:
        self.failures += 1
        low, high = INDEX_BACKOFF
        wait = min(low * (2 ** (self.failures - 1)), high)
        self.next_try = self.clock() + wait
        return wait

    def ok(self) -> None:
        self.failures, self.next_try = 0, None

    def close(self) -> None:
        if self.backend is not None:
            self.backend.close()


@dataclass
class PassReport:
    detected: bool = False
    changes: int = 0
    failed_stages: list[str] = field(default_factory=list)


class RunLoop:
    """One pass: crawls that are due, detection (if the index answers), playbook timers, alerts."""

    def __init__(self, config: Config, config_path: str | None, conn, dispatcher: AlertDispatcher, *,
                 clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self.config = config
        self.conn = conn
        self.dispatcher = dispatcher
        self.clock = clock
        self.health = DependencyHealth(config, conn, dispatcher, clock=clock)
        self.scheduler = Scheduler(config, config_path, now=clock, health=self.health)
        self.index = IndexLink(config.index.url, conn, clock)
        self.engine: PlaybookEngine | None = None
        self.paging = IncidentPaging(config, conn)

    def _engine(self) -> PlaybookEngine:
        if self.engine is None:
            self.engine = PlaybookEngine(self.config, self.conn, self.dispatcher, backend=self.index.backend)
        return self.engine

    def pass_once(self) -> PassReport:
        report = PassReport()
        for spider in self.scheduler.due():
            self._guard(report, f"crawl {spider}", lambda s=spider: self.scheduler.crawl(s))
        if self.index.due():
            self._detect(report)
        # waiting playbook steps resume; SLA reminders and breaches become alerts
        self._guard(report, "playbooks", lambda: playbook_cycle(self.config, self.conn, self.dispatcher,
                                                                self._engine(), now=self.clock()))
        # heartbeat, escalation steps, approvals, digest, operator health alerts, delivery
        self._guard(report, "alerts", lambda: alert_cycle(self.config, self.conn, self.dispatcher, self.paging))
        return report

    def _detect(self, report: PassReport) -> None:
        try:
            backend = self.index.ready()
            result = detect_and_respond(self.config, backend, self.conn, self.dispatcher, until=self.clock(),
                                        engine=self._engine())
        except (BackendUnavailable, OSError) as exc:
            wait = self.index.failed()
            report.failed_stages.append("index")
            logger.warning("index unreachable (%s); detection paused, next try in %s", exc, wait)
            self.health.down("index", str(exc), lambda since: (
                f"index unreachable since {self.health.local(since)}, {self.index.spool.pending()} mentions spooled"))
            return
        except Exception:  # a bug in one pass must not end the loop; the next pass tries again
            report.failed_stages.append("detection")
            logger.exception("detection failed")
            return
        self.index.ok()
        self.health.up("index")
        report.detected, report.changes = True, len(result.changes)
        for change in result.changes:
            logger.info("%s %s: %s", change.incident.label, change.kind, change.incident.summary)

    def _guard(self, report: PassReport, stage: str, work: Callable[[], object]) -> None:
        try:
            work()
        except Exception:  # the loop outlives any one stage's failure
            report.failed_stages.append(stage)
            logger.exception("%s failed; the loop carries on", stage)


def run_lease_ttl(tick_seconds: float) -> timedelta:
    return timedelta(seconds=max(60.0, 3 * tick_seconds))


def take_run_lease(database: str, holder: str, ttl: timedelta, wait: bool,
                   sleep: Callable[[float], None] = time.sleep) -> LeaseKeeper:
    """The `run-loop` lease, renewed by a thread; a second loop says so once, then waits or refuses."""
    conn = connect(database)
    try:
        leases = Leases(conn)
        told = False
        while not leases.acquire(RUN_LEASE, holder, ttl):
            other = leases.get(RUN_LEASE)
            line = (f"another run loop ({other.holder if other else '?'}) holds {database} until "
                    f"{other.expires_at:%H:%M:%S} UTC" if other else f"another run loop holds {database}")
            if not wait:
                raise CrisiswatchError(f"{line}; not starting a second one")
            if not told:
                print(f"crisiswatch run: {line}; standing by to take over", file=sys.stderr, flush=True)
                told = True
            sleep(ttl.total_seconds() / 3)
    finally:
        conn.close()
    return LeaseKeeper(database, RUN_LEASE, holder, ttl).start()


def run_forever(config: Config, config_path: str | None, tick_seconds: float = 30, once: bool = False) -> None:
    database = str(config.state_store)
    ttl = run_lease_ttl(tick_seconds)
    keeper = take_run_lease(database, new_holder("run"), ttl, wait=not once)
    conn = connect(database)
    dispatcher = AlertDispatcher(config, conn, build_channels(config, conn))
    loop = RunLoop(config, config_path, conn, dispatcher)
    try:
        while not keeper.lost.is_set():
            loop.pass_once()
            if once:
                return
            time.sleep(tick_seconds)
        raise CrisiswatchError("the run-loop lease was lost (this process stalled and another took over); stopping")
    finally:
        keeper.stop(release=not keeper.lost.is_set())
        loop.index.close()
        conn.close()
