"""`crisiswatch demo`: replay a scenario, crawl it with the real spiders, and run the whole loop."""

from __future__ import annotations

import shlex
import sqlite3
import sys
import time
from contextlib import closing
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import TextIO

from alerts.dispatch import AlertDispatcher, build_channels
from crawlers.replay import ReplayServer, load_scenario
from crawlers.replay.targets import spider_targets
from crawlers.runner import run_crawls
from crisiswatch.config import Brand, BrandSources, Config, SourceSettings
from crisiswatch.db import connect, sqlite_path
from crisiswatch.errors import CrisiswatchError
from crisiswatch.indexurl import redact_url
from crisiswatch.localtime import local_time
from crisiswatch.store.url import without_password
from index import open_backend
from monitor.flows import detect_and_respond
from playbooks.tickets.service import TicketService

DEMO_DB = "crisiswatch-demo.db"
# politeness is for real sites; the replay server is ours and on loopback
FAST = {"DOWNLOAD_DELAY": 0, "AUTOTHROTTLE_ENABLED": False, "DOWNLOAD_DELAY_JITTER": 0,
        "CONCURRENT_REQUESTS_PER_DOMAIN": 4, "LOG_LEVEL": "ERROR", "RETRY_TIMES": 1}


@dataclass
class DemoResult:
    mentions: int
    incidents: list
    tickets: list
    alerts_sent: int
    alerts_failed: int
    db_path: str
    seconds: float


def demo_config(base: Config, scenario_brand: dict, targets: dict[str, list[str]], base_url: str, db_path: str,
                index_url: str | None) -> Config:
    """The user's alert settings, with the scenario's brand, the replay server and a fresh demo database."""
    brand = Brand(key=scenario_brand["key"], names=scenario_brand["names"],
                  exclusions=scenario_brand.get("exclusions", []), sources=BrandSources(**targets))
    # the real search stops at 50 pages; the replay serves the whole scenario in one crawl
    sources = {name: SourceSettings(base_url=base_url, max_pages=10_000) for name in targets}
    data = base.model_dump()
    data.update(brands=[brand.model_dump()], sources={k: v.model_dump() for k, v in sources.items()},
                state_db=str(Path(db_path).resolve()),
                index={"url": index_url or f"sqlite:///{Path(db_path).resolve()}", "batch_size": 200})
    data["alerts"]["routes"] = [r for r in data["alerts"]["routes"] if not r["brands"]] or [
        {"name": "response", "channel": "slack"}]
    return Config.model_validate(data)


def next_commands(db_path: str, index_url: str | None, ticket: str | None, state_url: str = "") -> str:
    """What to run next to look at what the demo left, exactly as typed."""
    db = shlex.quote(str(db_path))
    if state_url:  # the state in PostgreSQL, the mentions still in the demo's SQLite file
        db += f" --state-url {shlex.quote(without_password(state_url))}"
    lines = ["▶ look at what it left:"]
    if ticket:
        lines += [f"    crisiswatch --db {db} ticket list", f"    crisiswatch --db {db} ticket show {ticket}"]
    lines += [f"    crisiswatch --db {db} status", f"    crisiswatch --db {db} report --period 7d",
              f"    crisiswatch --db {db} mentions search 快递",
              f"    crisiswatch --db {db} serve --demo-login" + (f" --index-url {shlex.quote(redact_url(index_url))}"
                                                                 if index_url else "")
              + "   (then open http://127.0.0.1:8470)"]
    return "\n".join(lines) + "\n"


DEMO_MARK = "crisiswatch_demo"  # a table a demo leaves in the file it makes (only its own, whatever holds the state)


def _fresh(db_path: str) -> None:
    """Removes an earlier demo's database; a file that holds anyone's real work it refuses to touch."""
    # the demo's own file name says whose it is (and what demos made before the mark existed)
    if Path(db_path).exists() and Path(db_path).name != Path(DEMO_DB).name and not _disposable(db_path):
        raise CrisiswatchError(f"{db_path} holds tickets, incidents or mentions no demo made; the demo recreates its "
                               "database, so give it another file: crisiswatch --db crisiswatch-demo.db demo")
    for suffix in ("", "-wal", "-shm"):
        Path(db_path + suffix).unlink(missing_ok=True)


def _mark(db_path: str, scenario: str) -> None:
    with closing(sqlite3.connect(db_path)) as conn, conn:
        conn.execute(f"CREATE TABLE {DEMO_MARK} (scenario TEXT NOT NULL, created_at TEXT NOT NULL)")
        conn.execute(f"INSERT INTO {DEMO_MARK} VALUES (?, datetime('now'))", (scenario,))  # noqa: S608


def _disposable(db_path: str) -> bool:
    """A demo's own database, or one with nothing in it (read without changing the file)."""
    try:
        conn = sqlite3.connect(f"file:{Path(db_path).resolve()}?mode=ro", uri=True)
    except sqlite3.Error:
        return False
    try:
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        if DEMO_MARK in tables:
            return True
        return not any(conn.execute(f"SELECT 1 FROM {t} LIMIT 1").fetchone()  # noqa: S608 - names from the schema
                       for t in ("tickets", "incidents", "mentions") if t in tables)
    except sqlite3.Error:  # not a SQLite file at all: someone's, not ours
        return False
    finally:
        conn.close()


def _require_empty_store(config: Config) -> None:
    """The demo starts from nothing; a SQLite file it recreates, a PostgreSQL store it never wipes."""
    if sqlite_path(config.state_store) is not None:
        return
    conn = connect(config.state_store)
    try:
        used = conn.execute("SELECT (SELECT COUNT(*) FROM incidents) + (SELECT COUNT(*) FROM tickets)").fetchone()[0]
    finally:
        conn.close()
    if used:
        raise CrisiswatchError(f"the demo needs an empty state store; {redact_url(config.state_store)} already holds "
                               "incidents or tickets: give it a new database (createdb crisiswatch_demo)")


def run_demo(base: Config, scenario_name: str = "all_sources", db_path: str = DEMO_DB,
             index_url: str | None = None, out: TextIO = sys.stdout) -> DemoResult:
    started = time.monotonic()
    scenario = load_scenario(scenario_name)
    _fresh(db_path)
    _mark(db_path, scenario.name)  # first, so a demo stopped halfway is still known as one
    targets = spider_targets(scenario)
    with ReplayServer(scenario) as server:
        config = demo_config(base, scenario.brand, targets, server.base_url, db_path, index_url)
        _require_empty_store(config)
        out.write(f"▶ scenario {scenario.name}: {scenario.description}\n")
        out.write(f"▶ replay server {server.base_url} · {len(scenario.posts)} posts from "
                  f"{scenario.start:%m-%d %H:%M} to {scenario.end:%m-%d %H:%M} UTC\n")
        stats = run_crawls(config, [(spider, {}) for spider in targets], overrides=FAST, progress=out.isatty())
    for spider, crawl in stats.items():
        out.write(f"▶ {spider}: {crawl.get('response_received_count', 0)} pages, "
                  f"{crawl.get('item_scraped_count', 0)} mentions in, {crawl.get('item_dropped_count', 0)} dropped, "
                  f"{crawl.get('crisiswatch/invalid', 0)} invalid"
                  + (f" · FAILED: {crawl['crisiswatch/failed']}" if crawl.get("crisiswatch/failed") else "") + "\n")

    conn = connect(config.state_store)
    backend = open_backend(config.index.url)
    dispatcher = AlertDispatcher(config, conn, build_channels(config))
    report = detect_and_respond(config, backend, conn, dispatcher, until=scenario.end + timedelta(minutes=1))
    mentions = backend.count()
    opened = [c.incident for c in report.changes if c.kind == "opened"]
    for incident in opened:
        lag = ""
        if scenario.surge_start:
            lag = f" ({(incident.opened_at - scenario.surge_start).total_seconds() / 60:+.0f} min from surge start)"
        opened_at = local_time(incident.opened_at, config.alerts.timezone, "%H:%M")  # as every alert shows it
        out.write(f"▶ incident {incident.label} opened at {opened_at} ({config.alerts.timezone}){lag}: "
                  f"{incident.summary}\n")
    for label, playbook, outcomes in report.playbooks:
        out.write(f"▶ playbook {playbook} on {label}: {'; '.join(outcomes)}\n")
    ticket_service = TicketService.from_config(config, conn)
    tickets = ticket_service.list()
    for ticket in tickets:
        out.write(f"▶ ticket {ticket.number} opened · {ticket.severity} · {ticket.category} · {ticket.department}"
                  f" · resolve by {ticket_service.local(ticket.resolve_due)} ({ticket_service.tz.key})\n")
    out.write(f"▶ alerts: {report.sent} sent, {report.failed} failed\n")
    if not opened:
        out.write("▶ no incident: nothing abnormal in this scenario\n")
    elapsed = time.monotonic() - started
    out.write(f"▶ done in {elapsed:.0f} s · {mentions} mentions indexed · inspect {Path(db_path).resolve()}\n")
    out.write(next_commands(db_path, index_url, tickets[0].number if tickets else None, config.state.url))
    backend.close()
    return DemoResult(mentions, opened, tickets, report.sent, report.failed, str(db_path), elapsed)
