"""Playbook schema validation and the engine: each step at most once per incident, audited."""

from __future__ import annotations

import io
import re
from datetime import UTC, datetime

import pytest

from alerts.channels.console import ConsoleChannel
from alerts.dispatch import AlertDispatcher
from crisiswatch.audit import AuditLog
from crisiswatch.db import connect
from crisiswatch.errors import CrisiswatchError
from monitor.detectors.base import Signal
from monitor.incidents.service import IncidentService
from playbooks.engine import PlaybookEngine, incident_severity
from playbooks.schema import load_playbook, load_playbooks
from playbooks.tickets.service import TicketService

T0 = datetime(2025, 6, 14, 4, 0, tzinfo=UTC)


@pytest.fixture
def config(store_config):
    """This module's tests run on each state store (SQLite, PostgreSQL)."""
    return store_config


def write(tmp_path, body: str):
    path = tmp_path / "p.yaml"
    path.write_text(body, encoding="utf-8")
    return path


def test_shipped_playbooks_are_valid():
    from playbooks.engine import SHIPPED_PLAYBOOKS

    books = load_playbooks(SHIPPED_PLAYBOOKS)
    assert "negative_spike" in {b.name for b in books}


@pytest.mark.parametrize(("body", "message"), [
    ("name: x\ntrigger: {}\nsteps:\n  - type: launch_rockets\n", "unknown step type 'launch_rockets'"),
    ("name: x\ntrigger: {}\nsteps:\n  - type: open_ticket\n    department: 市场部\n", "steps.0.department"),
    ("name: x\ntrigger: {min_severity: 超级}\nsteps:\n  - type: notify\n", "trigger.min_severity"),
    ("name: x\ntrigger: {}\nsteps: []\n", "steps"),
    ("name: x\ntrigger:\n  on: [opened]\nsteps:\n  - type: notify\n", "trigger"),
])
def test_invalid_playbooks_are_refused_with_the_key(tmp_path, body, message):
    with pytest.raises(CrisiswatchError, match=re.escape(message)):
        load_playbook(write(tmp_path, body))


def make_incident(conn, level: str = "warning"):
    signal = Signal(rule="negative_spike", key="brand=aurora", brand="aurora", level=level, at=T0, value=9,
                    baseline=0.3, p_value=1e-9, summary="9 negative mentions in 1 min vs 0.30 expected",
                    facts={})
    change = IncidentService(conn).apply(signal)
    IncidentService(conn).attach_facts(change.incident.id, categories={"logistics": 7}, top_terms=["快递", "签收"],
                                       top_posts=[{"id": "m1", "url": "https://weibo.com/1/A", "text": "快递没到",
                                                   "author": "小鹿", "severity": "重要"}])
    return change.__class__(change.kind, IncidentService(conn).get(change.incident.id))


def test_engine_runs_each_step_once_and_audits(config):
    conn = connect(config.state_store)
    out = io.StringIO()
    dispatcher = AlertDispatcher(config, conn, {"console": ConsoleChannel(out)})
    engine = PlaybookEngine(config, conn, dispatcher)
    change = make_incident(conn)
    first = dict(engine.handle(change))
    assert first["negative_spike"] == ["open_ticket: done", "notify: done"]
    # the logistics playbook joins the same ticket and waits to escalate if nobody takes the case
    assert first["logistics_surge"] == ["open_ticket: skipped", "assign: done", "task: done", "notify: done",
                                        "escalate_if: waiting"]
    again = dict(PlaybookEngine(config, conn, dispatcher).handle(change))  # a restart re-handles the same change
    assert again["negative_spike"] == ["open_ticket: done (earlier)", "notify: done (earlier)"]
    assert again["logistics_surge"][-1] == "escalate_if: waiting"
    tickets = TicketService(conn).list()
    assert len(tickets) == 1
    ticket = tickets[0]
    assert ticket.category == "logistics" and ticket.severity == "重要" and ticket.mention_ids == ["m1"]
    assert ticket.ack_due < ticket.response_due < ticket.feedback_due < ticket.resolve_due
    assert dispatcher.deliver_due() == (2, 0)  # the alert, and the logistics note in its thread
    assert ticket.number in out.getvalue() or "INC-1" in out.getvalue()
    actions = [e["action"] for e in AuditLog(conn).entries(subject="INC-1") if e["actor"] == "playbook:negative_spike"]
    assert actions == ["open_ticket", "notify"]


def test_dry_run_changes_nothing(config):
    conn = connect(config.state_store)
    dispatcher = AlertDispatcher(config, conn, {"console": ConsoleChannel(io.StringIO())})
    result = dict(PlaybookEngine(config, conn, dispatcher).handle(make_incident(conn), dry_run=True))
    assert result["negative_spike"] == ["open_ticket: done", "notify: done"]
    assert result["logistics_surge"][-2:] == ["escalate_if: waiting", "close_when: waiting"]
    assert TicketService(conn).list() == [] and dispatcher.outbox.all() == []


def test_ticket_numbers_count_per_day_in_team_time(config):
    conn = connect(config.state_store)
    tickets = TicketService(conn, timezone="Asia/Shanghai")
    late = datetime(2025, 6, 14, 15, 59, tzinfo=UTC)   # 23:59 in Shanghai
    a = tickets.open(title="a", severity="一般", now=late)
    b = tickets.open(title="b", severity="一般", now=late)
    c = tickets.open(title="c", severity="重大", now=datetime(2025, 6, 14, 16, 1, tzinfo=UTC))
    assert [a.number, b.number, c.number] == ["CW-20250614-0001", "CW-20250614-0002", "CW-20250615-0001"]
    assert (c.resolve_due - c.created_at) < (a.resolve_due - a.created_at)


def test_incident_severity_takes_the_gravest_post(config):
    conn = connect(config.state_store)
    change = make_incident(conn, level="warning")
    assert incident_severity(change.incident) == "重要"
    IncidentService(conn).attach_facts(change.incident.id, top_posts=[{"severity": "重大"}])
    assert incident_severity(IncidentService(conn).get(change.incident.id)) == "重大"
