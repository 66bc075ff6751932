"""Past one machine, measured: workers sharing one PostgreSQL, crawlers sharing one Redis frontier, and
thirty agents editing tickets on PostgreSQL and on SQLite.

    nice -n 10 .venv/bin/python benchmarks/scale.py [--agents 30] [--edits 20] [--delay 0.2] [--out DIR]

1. Workers: the demo crisis (all_sources) is crawled once into a SQLite index; then one `run` on a
   fresh PostgreSQL database (the baseline) and three `run --role detect` plus three `run --role
   deliver` on another decide and alert on it, each Slack message seen by a loopback Slack. Every
   alert must arrive exactly once, the incidents, their histories and the tickets must be those
   of the single loop.
2. Frontier: one crawler process, then two on one Redis, over the replay server (four topics, the
   politeness delay `--delay` per host): every post once, none missed, no page read twice, and the
   crawl time of two as a ratio to one.
3. Tickets: `--agents` threads, each with its own connection, add `--edits` notes each to 20
   tickets with optimistic locking (a conflict reloads and tries again), on PostgreSQL and on
   SQLite: p50/p95 of an edit attempt and of an edit until it lands, conflicts, and every note found
   on its ticket afterwards.

Servers are Debian's PostgreSQL and Redis, started here on loopback and removed at the end.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from crawlers.frontier import SharedCrawl  # noqa: E402
from crawlers.replay import ReplayServer  # noqa: E402
from crisiswatch.db import connect  # noqa: E402
from crisiswatch.store.throwaway import ThrowawayPostgres, ThrowawayRedis  # noqa: E402
from playbooks.tickets.models import TicketConflict  # noqa: E402
from playbooks.tickets.service import TicketService  # noqa: E402
from tests.replay_crawl import TOPICS, four_topics  # noqa: E402
from tests.slack_api import SlackAPIServer  # noqa: E402

CLI = [sys.executable, "-m", "crisiswatch.cli"]


def new_database(pg: ThrowawayPostgres, name: str) -> str:
    with psycopg.connect(pg.url(), autocommit=True) as admin:
        admin.execute(f"CREATE DATABASE {name}")
    return pg.url(name)


def pct(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100)[q - 1] if len(values) > 1 else (values or [0.0])[0]


# 1. workers ---------------------------------------------------------------------------------------
def crawl_demo_index(work: Path) -> Path:
    """The demo crisis crawled into a SQLite index (its own state in the same file is not used)."""
    db = work / "demo.db"
    cfg = work / "demo.yaml"
    cfg.write_text(yaml.safe_dump({"alerts": {"routes": [{"name": "log", "channel": "console"}]}}), encoding="utf-8")
    done = subprocess.run([*CLI, "--config", str(cfg), "demo", "--db", str(db)], cwd=work, capture_output=True,
                          text=True, timeout=600)
    if done.returncode != 0:
        raise SystemExit(f"demo crawl failed: {done.stderr[-2000:]}")
    return db


def workers_config(work: Path, name: str, index: Path, state_url: str, slack: SlackAPIServer) -> Path:
    cfg = work / f"{name}.yaml"
    cfg.write_text(yaml.safe_dump({
        "state": {"url": state_url}, "index": {"url": f"sqlite:///{index}"},
        "brands": [{"key": "aurora", "names": ["极光优选", "极光"]}],
        "alerts": {"slack": {"base_url": slack.base_url, "channel": "#crisis"},
                   "routes": [{"name": "response", "channel": "slack", "target": "#crisis"}]},
    }, allow_unicode=True), encoding="utf-8")
    return cfg


def settled(state_url: str, slack: SlackAPIServer, quiet: float = 8.0, limit: float = 1200.0) -> float:
    """Seconds until an incident exists, nothing is pending in the outbox and Slack has been quiet `quiet` s."""
    conn = connect(state_url)
    started = time.monotonic()
    last, seen = started, -1
    while time.monotonic() - started < limit:
        messages = len(slack.messages)
        if messages != seen:
            last, seen = time.monotonic(), messages
        incidents = conn.execute("SELECT COUNT(*) FROM incidents").fetchone()[0]
        pending = conn.execute("SELECT COUNT(*) FROM outbox WHERE status='pending'").fetchone()[0]
        row = conn.execute("SELECT state FROM detector_state WHERE name='checkpoint'").fetchone()
        caught_up = row and datetime.fromisoformat(json.loads(row[0])["until"]) >= datetime.now(UTC) - timedelta(minutes=3)
        if caught_up and incidents and not pending and messages and time.monotonic() - last >= quiet:
            return last - started
        time.sleep(0.2)
    raise SystemExit(f"workers did not settle within {limit:.0f} s")


def outcome(state_url: str, slack: SlackAPIServer) -> dict:
    conn = connect(state_url)
    keys = Counter((m["metadata"] or {}).get("event_payload", {}).get("key") for m in slack.messages)
    history = [tuple(r) for r in conn.execute(
        "SELECT i.key, i.rule, e.kind FROM incident_events e JOIN incidents i ON i.id = e.incident_id"
        " ORDER BY i.key, i.rule, e.id").fetchall()]
    tickets = [tuple(r) for r in conn.execute(
        "SELECT i.key, i.rule, COUNT(t.id) FROM incidents i LEFT JOIN tickets t ON t.incident_id = i.id"
        " GROUP BY i.key, i.rule ORDER BY i.key, i.rule").fetchall()]
    return {"keys": keys, "history": history, "tickets": tickets,
            "sent": conn.execute("SELECT COUNT(*) FROM outbox WHERE status='sent'").fetchone()[0]}


def run_workers(cfg: Path, roles: list[str], state_url: str, slack: SlackAPIServer) -> tuple[float, dict]:
    env = {**os.environ, "SLACK_BOT_TOKEN": slack.token, "PYTHONPATH": str(ROOT)}
    logs = [open(cfg.with_suffix(f".{n}.log"), "w") for n in range(len(roles))]  # noqa: SIM115 (closed below)
    procs = [subprocess.Popen([*CLI, "--config", str(cfg), "run", "--tick", "0.5", *(["--role", r] if r else [])],
                              cwd=ROOT, env=env, stdout=log, stderr=log) for r, log in zip(roles, logs, strict=True)]
    try:
        seconds = settled(state_url, slack)
    finally:
        for p in procs:
            p.send_signal(signal.SIGINT)
        for p, log in zip(procs, logs, strict=True):
            p.wait(timeout=60)
            log.close()
    return seconds, outcome(state_url, slack)


def bench_workers(work: Path, pg: ThrowawayPostgres) -> bool:
    print("1. workers on one PostgreSQL: the demo crisis, one loop vs three detect + three deliver workers")
    index = crawl_demo_index(work)
    results = {}
    for name, roles in (("one_loop", [""]), ("six_workers", ["detect"] * 3 + ["deliver"] * 3)):
        slack = SlackAPIServer().start()
        try:
            url = new_database(pg, f"bench_{name}")
            seconds, got = run_workers(workers_config(work, name, index, url, slack), roles, url, slack)
        finally:
            slack.stop()
        results[name] = got
        doubled = {k: n for k, n in got["keys"].items() if n > 1}
        print(f"   {name:<12} {len(roles)} process(es): {len(got['keys'])} alerts, {sum(got['keys'].values())} Slack "
              f"messages, doubled {len(doubled)}; {len(got['history'])} incident events; tickets per incident "
              f"{[t[2] for t in got['tickets']]}; last alert after {seconds:.1f} s")
    one, six = results["one_loop"], results["six_workers"]
    ok = (set(six["keys"].values()) == {1} and six["keys"].keys() == one["keys"].keys()
          and six["history"] == one["history"] and six["tickets"] == one["tickets"]
          and all(t[2] <= 1 for t in six["tickets"]) and six["sent"] == len(six["keys"]))
    print(f"   every alert exactly once, the same incident history and one ticket per incident as one loop: "
          f"{'yes' if ok else 'NO'}")
    return ok


# 2. frontier -------------------------------------------------------------------------------------
def frontier_config(work: Path, name: str, base_url: str, frontier: str, delay: float) -> Path:
    db = work / f"{name}.db"
    cfg = work / f"{name}.yaml"
    cfg.write_text(yaml.safe_dump({
        "state_db": str(db), "index": {"url": f"sqlite:///{db}", "batch_size": 50},
        "crawl": {"frontier": frontier},
        "brands": [{"key": "aurora", "names": ["极光优选"], "sources": {"weibo_search": list(TOPICS)}}],
        "sources": {"weibo_search": {"base_url": base_url, "download_delay": delay, "max_pages": 10_000}},
        "enrichment": {"sentiment_model": "crisiswatch"},
    }, allow_unicode=True), encoding="utf-8")
    return cfg


class Span:
    """When the replay server saw its first and its last request (the crawling itself, start-up aside)."""

    def __init__(self, server: ReplayServer) -> None:
        self.server, self.first, self.last, self._stop = server, 0.0, 0.0, threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)
        self._thread.start()

    def _watch(self) -> None:
        seen = 0
        while not self._stop.wait(0.02):
            n = len(self.server.requests)
            if n != seen:
                self.first, self.last, seen = self.first or time.monotonic(), time.monotonic(), n

    def seconds(self) -> float:
        self._stop.set()
        self._thread.join()
        return self.last - self.first


def crawl_with(cfg: Path, hosts: int, frontier: str) -> tuple[float, list[int]]:
    def start(*extra: str) -> subprocess.Popen:
        return subprocess.Popen([*CLI, "--config", str(cfg), "crawl", "weibo_search", *extra], cwd=ROOT,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

    began = time.monotonic()
    procs = [start()]
    if hosts > 1:
        shared = SharedCrawl.from_url(frontier, "weibo_search")
        while shared.current() is None and procs[0].poll() is None:
            time.sleep(0.02)
        procs += [start("--join") for _ in range(hosts - 1)]
    outs = [p.communicate(timeout=1800) for p in procs]
    took = time.monotonic() - began
    if any(p.returncode for p in procs):
        raise SystemExit(f"crawl failed: {[e[-800:] for _, e in outs]}")
    return took, [int(o.split(" pages")[0].rsplit(" ", 1)[-1]) for o, _ in outs]


def bench_frontier(work: Path, redis_url: str, delay: float) -> bool:
    print(f"2. crawlers on one Redis frontier: four topics over the replay server, {delay} s between requests per host")
    scenario = four_topics(datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(minutes=5), rate=100)
    expected = {p.id for p in scenario.posts}
    ok, times, spans = True, {}, {}
    for hosts in (1, 2):
        with ReplayServer(scenario) as server:
            cfg = frontier_config(work, f"frontier{hosts}", server.base_url, redis_url if hosts > 1 else "", delay)
            span = Span(server)
            took, pages = crawl_with(cfg, hosts, redis_url)
            spans[hosts] = span.seconds()
            urls = [r for r in server.requests if "getIndex" in r]
        conn = connect(work / f"frontier{hosts}.db")
        stored = [r[0] for r in conn.execute("SELECT native_id FROM mentions")]
        once = len(stored) == len(set(stored)) and set(stored) == expected and len(urls) == len(set(urls))
        ok &= once
        times[hosts] = took
        print(f"   {hosts} host(s): {took:.1f} s ({spans[hosts]:.1f} s from first to last request), pages per host {pages}, {len(set(stored))} of {len(expected)} posts, "
              f"{len(stored) - len(set(stored))} twice, {len(expected - set(stored))} missed, "
              f"{len(urls) - len(set(urls))} pages read twice")
    print(f"   crawl time of two hosts / one host: {times[2] / times[1]:.2f} with process start-up, "
          f"{spans[2] / spans[1]:.2f} from first to last request")
    return ok


# 3. tickets ---------------------------------------------------------------------------------------
def bench_tickets(url: str, label: str, agents: int, edits: int) -> bool:
    setup = TicketService(connect(url))
    ids = [setup.open(title=f"投诉 {n}", severity="一般", category="logistics", actor="bench").id for n in range(20)]
    attempts: list[float] = []
    landed: list[float] = []
    conflicts = Counter()
    written: list[tuple[int, str]] = []
    lock = threading.Lock()
    barrier = threading.Barrier(agents)

    def agent(n: int) -> None:
        service = TicketService(connect(url))
        rng = random.Random(n)
        barrier.wait()
        for k in range(edits):
            ticket_id, text = rng.choice(ids), f"agent {n} note {k}"
            began = time.perf_counter()
            while True:
                ticket = service.require(ticket_id)
                t0 = time.perf_counter()
                try:
                    service.add_note(ticket_id, text, actor=f"agent:{n}", expected_version=ticket.version)
                    attempts.append(time.perf_counter() - t0)
                    break
                except TicketConflict:
                    attempts.append(time.perf_counter() - t0)
                    with lock:
                        conflicts[n] += 1
            landed.append(time.perf_counter() - began)
            with lock:
                written.append((ticket_id, text))

    threads = [threading.Thread(target=agent, args=(n,)) for n in range(agents)]
    began = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - began
    conn = connect(url)
    notes = Counter((r[0], json.loads(r[1])["text"])
                    for r in conn.execute("SELECT ticket_id, detail FROM ticket_events WHERE kind='note'"))
    lost = sum(1 for note in written if notes[note] != 1)  # each note on its ticket, once
    print(f"   {label:<10} {len(written)} edits in {wall:.1f} s: attempt p50 {pct(attempts, 50) * 1000:.0f} ms, "
          f"p95 {pct(attempts, 95) * 1000:.0f} ms; until landed p95 {pct(landed, 95) * 1000:.0f} ms; "
          f"{sum(conflicts.values())} conflicts reported and retried; {lost} lost")
    return lost == 0 and len(written) == agents * edits


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--agents", type=int, default=30)
    parser.add_argument("--edits", type=int, default=20)
    parser.add_argument("--delay", type=float, default=0.2, help="seconds between requests per crawler host")
    parser.add_argument("--out", help="keep the work files here (default: a temporary directory)")
    parser.add_argument("--only", choices=("workers", "frontier", "tickets"))
    args = parser.parse_args()
    work = Path(args.out or tempfile.mkdtemp(prefix="cw-scale-"))
    work.mkdir(parents=True, exist_ok=True)
    pg, redis = ThrowawayPostgres().start(), ThrowawayRedis().start()
    ok = True
    try:
        if args.only in (None, "workers"):
            ok &= bench_workers(work, pg)
        if args.only in (None, "frontier"):
            ok &= bench_frontier(work, redis.url(0), args.delay)
        if args.only in (None, "tickets"):
            print(f"3. tickets: {args.agents} agents adding {args.edits} notes each to 20 tickets, optimistic locking")
            ok &= bench_tickets(new_database(pg, "bench_tickets"), "PostgreSQL", args.agents, args.edits)
            ok &= bench_tickets(f"sqlite:///{work / 'tickets.db'}", "SQLite", args.agents, args.edits)
    finally:
        pg.stop()
        redis.stop()
    print("all checks passed" if ok else "SOME CHECKS FAILED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
