"""`crisiswatch run`: the long-running loop. Thin on purpose: it schedules, the flows do the work.

Each crawl runs in its own process (Scrapy's reactor cannot restart, and a crashed crawl must
not take the loop down); detection, playbooks and alert delivery run in this process.

The loop survives its dependencies: a pass runs each stage guarded, so an unreachable index
stops detection only (backing off, up to five minutes between tries) while escalations,
playbook timers and delivery go on; a dependency down past `alerts.dependency_grace_minutes`
raises one operator alert ("index unreachable since 14:02, 206 mentions spooled"), resolved when
it answers again; the spool is drained before detection resumes, so late buckets see every mention.

Detection decides a minute once its posts are in: a crawl brings the posts its source published since
the last one, so a minute is complete when every configured source has begun a clean crawl after it
(`Scheduler.collected_until`). Deciding minutes as the clock passes them, as the loop once did, left out of
the counts every post a crawl brought for minutes already passed: with crawls every 15 minutes and a pass
every 30 seconds, the detectors saw the last minute before each crawl, one post in fourteen. A source that
has not crawled cleanly for `detection.max_wait_minutes` holds nothing back; what it brings later is
stored and shown, and said as late (`monitor.late_arrivals`).

One full loop per state database: `run` (role `all`) takes the `run-loop` lease (crisiswatch.lease)
and a thread renews it while the process lives. A second `run` says so in one line and waits as a
standby, taking over when the first one's lease runs out; `run --once` (cron) refuses instead.

Past one machine the loop splits into roles that any number of processes may take
(`run --role crawl|detect|deliver`, docs/scaling.md): crawl workers share one schedule in the
state store and each source is crawled under its `crawl:<spider>` lease; the detect cycle
(detection, playbooks, SLA timers, escalations, approvals, digest, operator alerts) runs under the
`detect-cycle` lease, one worker at a time, the others taking over when it stops; deliverers
claim outbox rows one by one. Every worker beats in the `workers` table (crisiswatch.workers).
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from alerts.cycle import alert_cycle
from alerts.dispatch import AlertDispatcher, build_channels, unavailable_routes
from alerts.operator import DependencyHealth
from crawlers.frontier import SharedCrawl
from crawlers.state import CrawlState
from crisiswatch.config import Config
from crisiswatch.db import DatabaseError, StateConnection, connect
from crisiswatch.errors import CrisiswatchError
from crisiswatch.lease import HOLDER_ENV, Fence, LeaseInfo, LeaseKeeper, LeaseLost, Leases, new_holder
from crisiswatch.localtime import local_time
from crisiswatch.workers import Heartbeat
from index import open_backend
from index.base import Backend, BackendUnavailable
from index.spool import Spool
from index.writer import IndexWriter, spool_target
from monitor.flows import detect_and_respond
from playbooks.cycle import playbook_cycle
from playbooks.engine import PlaybookEngine
from playbooks.golden import golden_window_sweep
from playbooks.paging import IncidentPaging
from playbooks.tickets.flows import calendar_sweep

logger = logging.getLogger(__name__)
SPIDER_FOR_SOURCE_KEY = ("weibo_search", "weibo_timeline", "weibo_comments", "jd_reviews", "tmall_reviews",
                         "tousu_sina", "jutousu")
BLOCK_BACKOFF = (timedelta(minutes=15), timedelta(hours=6))
INDEX_BACKOFF = (timedelta(seconds=30), timedelta(minutes=5))
RUN_LEASE = "run-loop"
DETECT_CYCLE_LEASE = "detect-cycle"
ROLE_STAGES = {"crawl": ("crawl",), "detect": ("detect",), "deliver": ("deliver",),
               "all": ("crawl", "detect", "deliver")}


def configured_spiders(config: Config) -> list[str]:
    """Sources with at least one brand target and not disabled; X only when its token is set."""
    names = [name for name in (*SPIDER_FOR_SOURCE_KEY, "x")
             if config.source(name).enabled and any(getattr(b.sources, name) for b in config.brands)]
    return [n for n in names if n != "x" or os.environ.get(x_token_env(config))]


def x_token_env(config: Config) -> str:
    return config.source("x").token_env or "X_BEARER_TOKEN"


def uncollected(config: Config) -> list[str]:
    """Why configured targets will not be collected: today only X queries without the token."""
    if config.source("x").enabled and any(b.sources.x for b in config.brands) and "x" not in configured_spiders(config):
        return [f"X queries are configured (brands[].sources.x) but ${x_token_env(config)} is not set: X is not"
                " collected"]
    return []


def collect_command(source: str) -> list[str]:
    """X is collected through tweepy, not Scrapy, but runs the same pipelines."""
    return ["collect", "x"] if source == "x" else ["crawl", source]


def blocked_backoff(blocks_in_a_row: int) -> timedelta:
    low, high = BLOCK_BACKOFF
    return min(low * (2 ** max(blocks_in_a_row - 1, 0)), high)


CRAWL_TIMED_OUT = 124  # the exit status `timeout(1)` gives a command it stopped


def _stop(process: subprocess.Popen) -> None:
    """SIGTERM (Scrapy closes the crawl cleanly, keeping the marks of what it did not read), then a kill."""
    process.terminate()
    try:
        process.wait(timeout=60)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


class Scheduler:
    """When each source is crawled next, shared by every crawl worker through the state store.

    A due crawl runs under the `crawl:<spider>` lease (renewed by a thread while it runs) and is
    checked again once the lease is held, so two workers never crawl one source in one interval."""

    def __init__(self, config: Config, config_path: str | None, conn: StateConnection,
                 now: Callable[[], datetime] = lambda: datetime.now(UTC),
                 health: DependencyHealth | None = None, holder: str | None = None,
                 stopping: Callable[[], bool] = lambda: False, meanwhile: Callable[[], object] | None = None,
                 meanwhile_seconds: float = 30) -> None:
        self.config = config
        self.stopping = stopping
        # what the worker does while a crawl runs (its detect cycle and delivery): a long crawl must not hold
        # up an escalation or an alert
        self.meanwhile, self.meanwhile_seconds = meanwhile, meanwhile_seconds
        self.config_path = config_path
        self.state = CrawlState(conn)
        self.leases = Leases(conn)
        self.now = now
        self.health = health
        self.holder = holder or new_holder("crawl")

    def next_at(self, spider: str) -> datetime | None:
        return self.state.next_crawl(spider)[0]

    def collected_until(self) -> datetime:
        """The time up to which every configured source's posts are in the index, never later than now and
        never earlier than `detection.max_wait_minutes` ago (a blocked source must not stop detection)."""
        now = self.now()
        floor = now - timedelta(minutes=self.config.detection.max_wait_minutes)
        started = [self.state.collected_until(s) for s in configured_spiders(self.config)]
        return min([now, *(max(s or floor, floor) for s in started)])

    def backing_off(self) -> list[str]:
        """Sources not crawled now because they failed, each with until when, as an operator reads it."""
        now, out = self.now(), []
        for spider in configured_spiders(self.config):
            next_at, failures = self.state.next_crawl(spider)
            if failures and next_at and next_at > now:
                out.append(f"{spider} is backing off after {failures} failed crawl(s): next try at "
                           f"{local_time(next_at, self.config.alerts.timezone, '%H:%M %Z')}")
        return out

    def due(self) -> list[str]:
        now = self.now()
        return [s for s in configured_spiders(self.config) if (self.next_at(s) or now) <= now]

    def crawl(self, spider: str) -> int | None:
        """The crawl's exit code; None when another worker holds the source or has just crawled it."""
        name, ttl = f"crawl:{spider}", timedelta(minutes=10)
        if not self.leases.acquire(name, self.holder, ttl):
            return None
        keeper = LeaseKeeper(self.state.conn.url, name, self.holder, ttl).start()
        try:
            if (self.next_at(spider) or self.now()) > self.now():  # crawled by another worker meanwhile
                return None
            return self._crawl(spider, keeper)
        finally:
            keeper.stop()

    def joinable(self) -> list[str]:
        """With a shared frontier: sources whose crawl another host started and is still running."""
        if not self.config.crawl.frontier:
            return []
        return [s for s in configured_spiders(self.config) if s != "x"
                and SharedCrawl.from_url(self.config.crawl.frontier, s).current()]

    def join(self, spider: str) -> int:
        """Takes part in the shared crawl of `spider` until it is done (no lease, the schedule untouched)."""
        logger.info("joining the shared crawl of %s", spider)
        code = self._run(spider, None, join=True)  # bounded like a crawl of its own, never None without a keeper
        return CRAWL_TIMED_OUT if code is None else code

    def _command(self, spider: str) -> list[str]:
        cmd = [sys.executable, "-m", "crisiswatch.cli"]
        if self.config_path:
            cmd += ["--config", self.config_path]
        return cmd + collect_command(spider)

    def _env(self) -> dict[str, str]:
        return {**os.environ, HOLDER_ENV: self.holder}  # the crawl's leases carry this worker's name

    def _run(self, spider: str, keeper: LeaseKeeper | None, join: bool = False) -> int | None:
        """The crawl process's exit code; None when its lease was lost, after stopping it (SIGTERM: Scrapy
        ends the crawl cleanly) so that it does not crawl alongside the worker that took the source over."""
        process = subprocess.Popen([*self._command(spider), *(["--join"] if join else [])], env=self._env())
        started = last = time.monotonic()
        limit = self.config.crawl.timeout_minutes * 60
        try:
            while True:
                try:
                    return process.wait(timeout=0.5)
                except subprocess.TimeoutExpired:
                    pass
                if time.monotonic() - started > limit:
                    logger.error("%s crawl still running after %g minutes (crawl.timeout_minutes): stopped; it counts "
                                 "as a failed crawl", spider, self.config.crawl.timeout_minutes)
                    _stop(process)
                    return CRAWL_TIMED_OUT
                if self.meanwhile is not None and time.monotonic() - last >= self.meanwhile_seconds:
                    try:
                        self.meanwhile()
                    except Exception:  # never the crawl's end: it runs on, and so does the loop
                        logger.exception("the work done while %s crawls failed; the loop carries on", spider)
                    last = time.monotonic()
                if keeper is not None and keeper.lost.is_set():
                    logger.warning("lease crawl:%s lost: stopping its crawl (another worker may crawl it now); "
                                   "its schedule is left to that worker", spider)
                    _stop(process)
                    return None
        except BaseException:  # interrupted at once (a second Ctrl-C): the crawl gets the signal too
            if process.poll() is None:
                process.terminate()
            raise

    def _crawl(self, spider: str, keeper: LeaseKeeper | None = None) -> int | None:
        logger.info("crawling %s", spider)
        code = self._run(spider, keeper)
        if code is None:
            return None
        if code != 0 and self.stopping():  # the operator's Ctrl-C reached the crawl too: not the source's fault
            logger.info("%s crawl stopped with the loop; it runs again next time", spider)
            self.state.schedule(spider, self.now(), self.state.next_crawl(spider)[1], self.holder, code)
            return code
        failures = 0 if code == 0 else self.state.next_crawl(spider)[1] + 1
        if code == 0:
            wait = timedelta(minutes=self.config.source(spider).schedule_minutes)
        else:  # blocked or failed: back off instead of hammering the site
            wait = blocked_backoff(failures)
            logger.warning("%s crawl ended with code %d; next try in %s", spider, code, wait)
        retry = self.now() + wait
        self.state.schedule(spider, retry, failures, self.holder, code)
        if self.health is not None:
            if code == 0:
                self.health.up(f"crawler {spider}")
            else:
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
    skipped: list[str] = field(default_factory=list)  # stages another worker held this pass
    lost: list[str] = field(default_factory=list)  # leases found lost during the pass (each said once)


class RunLoop:
    """One pass: crawls that are due, detection (if the index answers), playbook timers, alerts."""

    def __init__(self, config: Config, config_path: str | None, conn, dispatcher: AlertDispatcher, *,
                 clock: Callable[[], datetime] = lambda: datetime.now(UTC), role: str = "all",
                 worker: Heartbeat | None = None, stopping: Callable[[], bool] = lambda: False) -> None:
        self.config = config
        self.conn = conn
        self.dispatcher = dispatcher
        self.clock = clock
        self.stages = ROLE_STAGES[role]
        self.worker = worker
        self.holder = worker.id if worker else new_holder(role)
        self.health = DependencyHealth(config, conn, dispatcher, clock=clock)
        self.stopping = stopping
        self.scheduler = Scheduler(config, config_path, conn, now=clock, health=self.health, holder=self.holder,
                                   stopping=stopping, meanwhile=self._meanwhile if set(self.stages) - {"crawl"} else None)
        self.index = IndexLink(config.index.url, conn, clock)
        self.engine: PlaybookEngine | None = None
        self.paging = IncidentPaging(config, conn)
        # the `run-loop` lease of role all (set by run_forever), and the detect-cycle's while it runs
        self.run_keeper: LeaseKeeper | None = None
        self._cycle_keeper: LeaseKeeper | None = None
        self._cycle_fence: Fence | None = None  # the detect-cycle lease as this pass took it (playbooks run under it)
        self.after_run_loss = "stands by to take over again"  # what run_forever does when run-loop is lost
        # the work calendar is read once, at start (config and holidays package): tickets counted on another one
        # are recomputed by the first detect cycle, and again at the next pass should it fail
        self.calendar_checked = False
        if "crawl" in self.stages:
            for reason in uncollected(config):
                logger.warning(reason)
        for reason in unavailable_routes(config, dispatcher.channels):  # an on-call team reads Slack, not a log
            logger.warning(reason)

    def _engine(self) -> PlaybookEngine:
        if self.engine is None:
            self.engine = PlaybookEngine(self.config, self.conn, self.dispatcher, backend=self.index.backend)
            self.engine.held = lambda: self.lost_lease() is None
        self.engine.fence = self._cycle_fence  # checked inside each step, right before its side effects
        return self.engine

    def pass_once(self) -> PassReport:
        """The stages of this worker's role: crawls that are due, the detect cycle, delivery."""
        report = PassReport()
        try:
            if "crawl" in self.stages:
                for spider in self._due(report):
                    if self.stopping():  # asked to stop: the crawls not begun wait for the next run
                        logger.info("stopping: %s is left for the next run", spider)
                        break
                    if not self._holding(report, f"crawl {spider}"):
                        return report
                    self._doing(f"crawl {spider}")
                    self._guard(report, f"crawl {spider}", lambda s=spider: self._crawl(report, s))
                for spider in self._joinable(report):  # another host's crawl, shared through Redis
                    if not self._holding(report, f"crawl {spider} (joined)"):
                        return report
                    self._doing(f"crawl {spider} (joined)")
                    self._guard(report, f"crawl {spider}", lambda s=spider: self.scheduler.join(s))
            if "detect" in self.stages:
                if not self._holding(report, "the detect cycle"):
                    return report
                self._doing("detect")
                self._detect_cycle(report)
            if "deliver" in self.stages:
                if not self._holding(report, "delivery"):
                    return report
                self._doing("deliver")
                self._guard(report, "delivery", self.dispatcher.deliver_due)
            return report
        finally:
            self._doing("idle")

    def _meanwhile(self) -> None:
        """The detect cycle and delivery, while a crawl of this worker runs (what they meet is logged; the
        pass's own report is the crawl's)."""
        report = PassReport()
        if "detect" in self.stages and self.lost_lease() is None:
            self._detect_cycle(report)
        if "deliver" in self.stages and self.lost_lease() is None:
            self._guard(report, "delivery", self.dispatcher.deliver_due)

    def _due(self, report: PassReport) -> list[str]:
        try:
            return self.scheduler.due()
        except Exception:  # the state store away: this pass crawls nothing, the next one asks again
            report.failed_stages.append("crawl schedule")
            logger.exception("reading the crawl schedule failed; the loop carries on")
            return []

    def _joinable(self, report: PassReport) -> list[str]:
        try:
            return self.scheduler.joinable()
        except Exception:  # Redis away: no shared crawl to join this pass
            report.failed_stages.append("crawl frontier")
            logger.exception("looking for shared crawls to join failed; the loop carries on")
            return []

    def lost_lease(self) -> str | None:
        """The name of a lease this loop acts under that its keeper found lost, if any."""
        for keeper in (self.run_keeper, self._cycle_keeper):
            if keeper is not None and keeper.lost.is_set():
                return keeper.name
        return None

    def _holding(self, report: PassReport, before: str) -> bool:
        """False, said in one line per lease and pass, when a lease this pass acts under was lost: what
        comes next (`before`) is not done, another process may be doing it."""
        lost = self.lost_lease()
        if lost is None:
            return True
        if lost not in report.lost:
            report.lost.append(lost)
            then = (f"this pass stops before {before} and the loop {self.after_run_loss}" if lost == RUN_LEASE
                    else f"the detect cycle stops before {before}")
            logger.warning("lease %s lost: %s", lost, then)
        return False

    def _crawl(self, report: PassReport, spider: str) -> None:
        code = self.scheduler.crawl(spider)
        if code not in (0, None) and not self.stopping():
            report.failed_stages.append(f"crawl {spider}")

    def _doing(self, what: str) -> None:
        if self.worker is not None:
            self.worker.doing = what

    def _detect_cycle(self, report: PassReport) -> None:
        """Detection, playbooks and alert housekeeping, by one worker at a time (the others skip)."""
        ttl = timedelta(minutes=5)
        try:
            held = Leases(self.conn).acquire(DETECT_CYCLE_LEASE, self.holder, ttl)
        except DatabaseError:  # the state store away (a restart): the next pass tries again on a new connection
            report.failed_stages.append("detect")
            logger.exception("taking the detect-cycle lease failed; the loop carries on")
            return
        if not held:
            report.skipped.append("detect")
            return
        keeper = self._cycle_keeper = LeaseKeeper(self.conn.url, DETECT_CYCLE_LEASE, self.holder, ttl).start()
        try:
            try:
                self._cycle_fence = Leases(self.conn).fence(DETECT_CYCLE_LEASE, self.holder)
            except DatabaseError:
                report.failed_stages.append("detect")
                logger.exception("reading the detect-cycle lease failed; the loop carries on")
                return
            if self._cycle_fence is None:  # another worker took it between our acquiring and reading it
                report.skipped.append("detect")
                return
            if self.index.due():
                if not self._holding(report, "detection"):
                    return
                self._detect(report)
            # waiting playbook steps resume; SLA reminders and breaches become alerts
            if not self._holding(report, "playbooks"):
                return
            if not self.calendar_checked:  # before the SLA check, so that it reads the recomputed deadlines
                self._guard(report, "ticket calendar", self._check_calendar)
            self._guard(report, "playbooks", lambda: playbook_cycle(self.config, self.conn, self.dispatcher,
                                                                    self._engine(), now=self.clock()))
            # a statement not out as the golden window closes, and once it has closed, is said in the thread
            self._guard(report, "golden window", lambda: golden_window_sweep(self.config, self.conn, self.dispatcher,
                                                                             self.clock()))
            # heartbeat, escalation steps, approvals, digest, operator health alerts (delivery is its own stage)
            if not self._holding(report, "alerts"):
                return
            self._guard(report, "alerts", lambda: alert_cycle(self.config, self.conn, self.dispatcher, self.paging,
                                                              deliver=False))
        finally:
            self._cycle_keeper, self._cycle_fence = None, None
            if self.engine is not None:
                self.engine.fence = None
            keeper.stop(release=not keeper.lost.is_set())

    def _check_calendar(self) -> None:
        calendar_sweep(self.config, self.conn)
        self.calendar_checked = True

    def _detect(self, report: PassReport) -> None:
        try:
            backend = self.index.ready()
            result = detect_and_respond(self.config, backend, self.conn, self.dispatcher,
                                        until=self.scheduler.collected_until(),
                                        engine=self._engine(), deliver=False,
                                        held=lambda: self.lost_lease() is None)
        except LeaseLost as exc:
            if self._holding(report, "writing incidents"):  # its keeper has not noticed yet; a step's fence did
                logger.warning("%s", exc)
            return
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


class Shutdown:
    """SIGINT and SIGTERM (Ctrl-C, systemd's stop) end the loop between passes, never inside one.

    An interrupt raised in the middle of a pass could land between taking a lease and the `finally`
    that gives it back, or inside a database call; the first signal only asks the loop to stop after
    the pass and release what it holds, a second one interrupts at once.

    The handler runs in the main thread between any two bytecodes, whatever locks it holds then, so it
    takes none: it sets a flag and writes the signal's number to a pipe. A thread reads the pipe, logs
    the stop and wakes `wait`. (A `threading.Event` set by the handler itself deadlocked when the signal
    landed inside `Event.wait`, which holds the event's lock: a deliver worker logged its SIGINT and
    never exited. Logging from the handler can meet the same fate in the stream's lock.)
    """

    def __init__(self) -> None:
        self.asked = False
        self._woken = threading.Event()  # set by the watcher thread, never by the handler
        self._previous: dict[int, object] = {}

    def __enter__(self) -> Shutdown:
        self._wake_read, self._wake_write = os.pipe()
        self._watcher = threading.Thread(target=self._watch, name="shutdown-watcher", daemon=True)
        self._watcher.start()
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGINT, signal.SIGTERM):
                self._previous[sig] = signal.signal(sig, self._ask)
        return self

    def _ask(self, signum: int, frame: object) -> None:
        if self.asked:
            raise KeyboardInterrupt
        self.asked = True
        os.write(self._wake_write, bytes([signum]))  # one byte, once: the pipe never fills

    def _watch(self) -> None:
        while (got := os.read(self._wake_read, 1)) not in (b"", b"\0"):  # b"\0": the context is left
            logger.info("%s: stopping after this pass (again to stop at once)", signal.Signals(got[0]).name)
            self._woken.set()

    def wait(self, seconds: float) -> bool:
        """Sleep up to `seconds`; True when a stop was asked for (at once if it is asked meanwhile)."""
        if not self.asked:
            self._woken.wait(seconds)
        return self.asked

    def __exit__(self, *exc: object) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)
        os.write(self._wake_write, b"\0")
        self._watcher.join(timeout=5)  # it logs a stop still in the pipe before it ends
        os.close(self._wake_read)
        os.close(self._wake_write)


def _acquire_standing_by(leases: Leases, holder: str, ttl: timedelta, wait: bool) -> bool:
    try:
        return leases.acquire(RUN_LEASE, holder, ttl)
    except DatabaseError as exc:
        if not wait:
            raise
        # a loop standing by outlives the store's restart: the next try runs on a new connection
        logger.warning("standing by: the state store did not answer (%s); trying again",
                       str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__)
        return False


def _get_standing_by(leases: Leases) -> LeaseInfo | None:
    try:
        return leases.get(RUN_LEASE)
    except DatabaseError:
        return None


def take_run_lease(database: str, holder: str, ttl: timedelta, wait: bool, zone: str = "UTC",
                   sleep: Callable[[float], object] = time.sleep) -> LeaseKeeper | None:
    """The `run-loop` lease, renewed by a thread; a second loop says so once (the other's expiry in the
    team's `zone`, as `status` shows times), then waits or refuses."""
    conn = connect(database)
    try:
        leases = Leases(conn)
        told = False
        while not _acquire_standing_by(leases, holder, ttl, wait):
            other = _get_standing_by(leases)
            line = (f"another run loop ({other.holder if other else '?'}) holds {database} until "
                    f"{local_time(other.expires_at, zone, '%H:%M:%S %Z')}" if other else f"another run loop holds {database}")
            if not wait:
                raise CrisiswatchError(f"{line}; not starting a second one")
            if not told:
                print(f"crisiswatch run: {line}; standing by to take over", file=sys.stderr, flush=True)
                told = True
            if sleep(ttl.total_seconds() / 3):  # a Shutdown's wait: asked to stop while standing by
                return None
    finally:
        conn.close()
    return LeaseKeeper(database, RUN_LEASE, holder, ttl).start()


def run_forever(config: Config, config_path: str | None, tick_seconds: float = 30, once: bool = False,
                role: str = "all") -> PassReport | None:
    """Passes of `role` until stopped; the last pass's report (None when the loop never ran). Role `all` is
    the one-machine loop (one per database, the `run-loop` lease); the other roles run side by side in any
    number."""
    database = str(config.state_store)
    with Shutdown() as shutdown:
        worker = Heartbeat(database, role)
        keeper = None
        if role == "all":
            keeper = take_run_lease(database, worker.id, run_lease_ttl(tick_seconds), wait=not once,
                                    zone=config.alerts.timezone, sleep=shutdown.wait)
            if keeper is None:
                return None
        worker.start()
        conn = connect(database)
        dispatcher = AlertDispatcher(config, conn, build_channels(config, conn), holder=worker.id)
        loop = RunLoop(config, config_path, conn, dispatcher, role=role, worker=worker,
                       stopping=lambda: shutdown.asked)
        loop.run_keeper = keeper
        loop.after_run_loss = "exits" if once else "stands by to take over again"
        report = None
        try:
            while not shutdown.asked:
                if keeper is not None and keeper.lost.is_set():
                    if once:
                        raise CrisiswatchError("the run-loop lease was lost during this pass (another loop may be "
                                               "running now); the rest of the pass is left to it")
                    if RUN_LEASE not in (report.lost if report else []):  # lost between passes: not said yet
                        logger.warning("lease run-loop lost: this loop %s", loop.after_run_loss)
                    # another loop may hold it now: this one stops acting and stands by, as a second loop does
                    keeper.stop(release=False)
                    worker.doing = "standing by"
                    keeper = loop.run_keeper = take_run_lease(
                        database, worker.id, run_lease_ttl(tick_seconds), wait=True, zone=config.alerts.timezone,
                        sleep=shutdown.wait)
                    if keeper is None:  # asked to stop while standing by
                        return report
                    logger.info("lease run-loop taken again: this loop runs its passes")
                    report = None
                    continue
                report = loop.pass_once()
                if keeper is not None and keeper.lost.is_set():
                    continue  # the pass stopped short (it said so): refuse (--once) or stand by, above
                if once:
                    for line in loop.scheduler.backing_off():  # not crawled this time, and until when
                        logger.warning(line)
                    return report
                if shutdown.wait(tick_seconds):
                    return report
            return report
        finally:
            if keeper is not None:
                keeper.stop(release=not keeper.lost.is_set())
            worker.stop()
            loop.index.close()
            conn.close()
