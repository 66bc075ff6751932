"""`crisiswatch status`: sources, backlog, incidents and tickets at a glance."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from datetime import datetime
from zoneinfo import ZoneInfo

from crisiswatch.localtime import local_time


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("status", help="source health, index size, outbox backlog, open incidents and tickets")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from alerts.dispatch import NEEDS_FIX_RETRY
    from alerts.outbox import DIGESTED, FAILED, HELD, PENDING, SENT, Outbox
    from crawlers.health import source_health
    from crawlers.state import CrawlState
    from crisiswatch.config import load_config
    from crisiswatch.db import connect
    from crisiswatch.deadletter import DeadLetters
    from crisiswatch.indexurl import redact_url
    from index import BackendUnavailable, open_backend
    from index.spool import backlog
    from monitor.detection import detector_state
    from monitor.incidents.service import IncidentService
    from monitor.late_arrivals import late_summary
    from playbooks.engine import stalled_steps
    from playbooks.tickets.flows import sweep_on_read
    from playbooks.tickets.service import TicketService

    config = load_config(args.config)
    conn = connect(config.state_store)
    print(f"config: {config.path or '(built-in defaults)'} · index: {redact_url(config.index.url)}")
    backend = open_backend(config.index.url)
    try:
        indexed = str(backend.count())
    except BackendUnavailable as exc:
        indexed = f"unknown (index unreachable: {exc})"
    print(f"mentions indexed: {indexed} · dead letters: {DeadLetters(conn).count()}")
    zone = ZoneInfo(config.alerts.timezone)

    def local(value: datetime | str | None) -> str:
        return local_time(value, zone, "%m-%d %H:%M", empty="never")

    for target, batches, waiting, oldest in backlog(conn):
        print(f"index spool: {waiting} mentions in {batches} batches waiting for {target} since {local(oldest)}"
              f" ({config.alerts.timezone})")

    decided = detector_state(conn, "checkpoint")
    print(f"detection: {'decided up to ' + local(decided['until']) if decided else 'nothing decided yet'} · "
          + late_summary(detector_state(conn, "late"), local))
    print(f"sources (times in {config.alerts.timezone}):")
    summary = {row["source"]: row for row in CrawlState(conn).source_summary()}
    health = {h.source: h for h in source_health(conn)}  # the last `sources check` or crawl, whichever is newer
    for name in sorted(summary.keys() | health.keys()):
        row, h = summary.get(name), health.get(name)
        parts = [f"{h.status}: {h.reason} ({h.via} {local(h.at)})" if h else "not checked"]
        if row:
            parts.append(f"last success {local(row['last_success'])} · {row['items_last_hour']} items in the last hour")
            if row["blocked_since"]:
                parts.append(f"BLOCKED since {local(row['blocked_since'])}")
        print(f"  {name:<16} " + " · ".join(parts))
    if not summary and not health:
        print("  (no crawl yet)")
    counts = Outbox(conn).counts()  # what waits first: a backlog, alerts held back, failures, then those sent
    order = (PENDING, HELD, FAILED, SENT, DIGESTED)
    shown = sorted(counts.items(), key=lambda kv: (order.index(kv[0]) if kv[0] in order else len(order), kv[0]))
    print("outbox: " + (" · ".join(f"{n} {status}" for status, n in shown) or "empty"))
    for t in Outbox(conn).trouble_summary():  # what waits after failed attempts, and why
        if t.status == FAILED:
            state, more = "failed for good", "`crisiswatch alerts retry ID|--all-failed`"
        elif t.needs_fix:
            state, more = "waiting for a fix", (f"retried every {NEEDS_FIX_RETRY.total_seconds() // 60:.0f} min,"
                                                " `crisiswatch alerts retry --needs-fix` once fixed")
        else:
            state, more = "retrying", f"{t.attempts} attempts, next try {local(t.next_attempt_at)}"
        ids = ", ".join(f"#{i}" for i in t.ids[:5]) + (" …" if len(t.ids) > 5 else "")
        print(f"  {t.count} alert(s) to {t.channel} {t.target} {state} since {local(t.since)} ({more}; {ids}):"
              f" {t.last_error}")
    print_workers(conn, local)
    incidents = IncidentService(conn)
    print(f"open incidents: {incidents.count(status='open')}")
    for incident in incidents.list(status="open", limit=10):
        ack = f"acked by {incident.acked_by}" if incident.acked_by else "NOT acknowledged"
        print(f"  {incident.label} {incident.brand} {incident.level} · {incident.summary} · {ack}")
    stalled = stalled_steps(conn)  # a playbook stopped at a failing step, or where a process died, is said here
    print(f"playbook steps failing or interrupted: {len(stalled)}")
    for s in stalled:
        if s["outcome"] == "gave_up":
            state = (f"GAVE UP after {s.get('attempts')} attempts at {local(s.get('gave_up_at'))}: {s.get('error', '')}"
                     f" · once fixed: crisiswatch playbook retry {s['incident']} {s['step']}")
        elif s["outcome"] == "failed":
            retry = local(s["retry_at"]) if s.get("retry_at") else "on the loop's next pass (put back by hand)"
            state = f"failed {s.get('attempts', 1)}x, next try {retry}: {s.get('error', '')}"
        else:
            state = f"interrupted {local(s['at'])}, run again on the loop's next pass"
        print(f"  {s['incident']} {s['playbook']} step {s['step']} ({s['type']}) {state}")
    service = TicketService.from_config(config, conn)
    breaches = sweep_on_read(config, service, conn)["breaches"]
    print(f"open tickets: {service.count(open_only=True)} · new SLA breaches: {len(breaches)} · state {redact_url(config.state_store)}")
    for ticket in service.list(open_only=True, limit=10):
        owner = f"{ticket.department}/{ticket.owner}" if ticket.owner else ticket.department
        print(f"  {ticket.number} {ticket.status} {ticket.severity} {ticket.category} · {owner} · 办结 "
              f"{service.local(ticket.resolve_due)} · {ticket.title}")
    return 0


def print_workers(conn, local: Callable[[datetime], str]) -> None:
    """The live `run` workers (beat within 30 s), what each is doing and the leases and alerts it holds;
    `local` reads a time as the rest of `status` does."""
    from datetime import UTC

    from crisiswatch.workers import Workers

    now = datetime.now(UTC)
    live = Workers(conn).live(now)
    print(f"workers: {len(live)} live")
    for w in live:
        holds = ", ".join(w.holds) or "nothing"
        claimed = f" · {w.outbox_rows} alert(s) being sent" if w.outbox_rows else ""
        print(f"  {w.id} [{w.role}] {w.doing} · beat {int((now - w.beat_at).total_seconds())} s ago · up since "
              f"{local(w.started_at)} · holds {holds}{claimed}")
