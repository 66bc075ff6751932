"""Where a command or a page shows or takes less than there is, it says so; where it counts, it counts everything."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

import yaml

from crisiswatch.cli import main
from crisiswatch.config import parse_config
from crisiswatch.db import connect
from crisiswatch.mention import Author, Mention
from index import open_backend
from monitor.dashboard.console import ConsoleService
from monitor.dashboard.filters import View
from monitor.dashboard.service import DashboardService
from monitor.incidents.service import IncidentService
from monitor.slack_app import SlackInteractions
from playbooks.tickets.flows import MAX_COPIES, convert_from_index
from playbooks.tickets.service import TicketService
from tests.conftest import config_dict
from tests.test_alert_helpers import open_incident

NOW = datetime(2025, 6, 20, 6, 0, tzinfo=UTC)


def busy_desk(config):
    """Ten tickets opened a month ago and never touched, then 600 opened and answered in the last days."""
    tickets = TicketService.from_config(config, connect(config.state_store))
    for n in range(10):
        tickets.open(title=f"旧投诉{n}", severity="重要", brand="aurora", actor="agent", now=NOW - timedelta(days=30))
    for n in range(600):
        t = tickets.open(title=f"新投诉{n}", severity="一般", brand="aurora", actor="agent",
                         now=NOW - timedelta(hours=1, seconds=n))
        tickets.transition(t.id, "accept", actor="agent", expected_version=t.version, now=NOW - timedelta(minutes=30))
    return tickets


def test_status_counts_every_open_incident(tmp_path, capsys):
    data = config_dict(tmp_path)
    cfg = tmp_path / "crisiswatch.yaml"
    cfg.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    conn = connect(parse_config(data, str(cfg)).state_store)
    for n in range(101):  # a bad night: more open incidents than one page of the list (it said 100)
        open_incident(conn, brand=f"b{n}")
    assert main(["--config", str(cfg), "status"]) == 0
    assert "open incidents: 101" in capsys.readouterr().out


def test_a_cluster_larger_than_a_ticket_takes_is_said(tmp_path, caplog):
    config = parse_config(config_dict(tmp_path), str(tmp_path / "crisiswatch.yaml"))
    now = datetime.now(UTC)
    copies = [Mention(source="weibo", native_id=f"p{i}", url=f"https://weibo.com/7/p{i}", text="极光优选显示已签收，可我没收到",
                      author=Author(id=f"u{i}", name=f"网友{i}"), created_at=now - timedelta(seconds=i),
                      brands=["aurora"], cluster_id="c1") for i in range(MAX_COPIES + 20)]
    backend = open_backend(config.index.url)
    backend.upsert(copies)
    tickets = TicketService.from_config(config, connect(config.state_store))
    with caplog.at_level(logging.WARNING, logger="playbooks.tickets.flows"):
        ticket = convert_from_index(tickets, backend, copies[0].id, actor="agent", cluster=True)
    assert len(ticket.mention_ids) == MAX_COPIES + 1  # the post and the first copies
    assert [r.getMessage() for r in caplog.records] == [
        f"the cluster holds {MAX_COPIES + 19} copies of the post; the ticket takes the first {MAX_COPIES} as evidence"]


def test_the_dashboards_counts_are_of_everything(config):
    tickets = busy_desk(config)
    conn = tickets.conn
    for n in range(25):  # one incident per brand: a bad night across a portfolio
        open_incident(conn, brand=f"b{n}", at=NOW - timedelta(minutes=n))
    backend = open_backend(config.index.url)
    dashboard = DashboardService(backend, IncidentService(conn), tickets)
    overview = dashboard.overview(View(), now=NOW)
    assert overview["breached_tickets"] == 10  # the oldest, outside the newest 500 it counted
    assert overview["open_incidents_total"] == 25 and len(overview["incidents"]) == 20  # the KPI read the list
    assert dashboard.overview(View(brand="b3"), now=NOW)["breached_tickets"] == 0  # a brand's view: its own


def test_a_post_shows_the_ticket_that_holds_it_however_old(config):
    tickets = TicketService.from_config(config, connect(config.state_store))
    first = tickets.open(title="旧投诉", severity="一般", mention_ids=["m-old"], actor="agent", now=NOW - timedelta(days=9))
    for n in range(510):
        tickets.open(title=f"新投诉{n}", severity="一般", actor="agent", now=NOW - timedelta(seconds=n))
    console = ConsoleService(open_backend(config.index.url), tickets, config)
    assert [t.number for t in console.tickets_for_mention("m-old")] == [first.number]


def test_lists_that_stop_say_how_many_there_are(config, tmp_path, capsys):
    tickets = busy_desk(config)
    console = ConsoleService(open_backend(config.index.url), tickets, config)
    assert len(console.list_tickets(limit=200)) == 200 and console.count_tickets() == 610
    data = config_dict(tmp_path)
    cfg = tmp_path / "crisiswatch.yaml"
    cfg.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    assert main(["--config", str(cfg), "ticket", "list"]) == 0
    captured = capsys.readouterr()
    assert len(captured.out.splitlines()) == 50
    assert "crisiswatch: the newest 50 of 610 tickets; --limit N shows more" in captured.err
    for n in range(25):
        open_incident(tickets.conn, brand=f"b{n}", at=NOW - timedelta(minutes=n))
    answer, _ = SlackInteractions(config, tickets.conn).command("status")
    assert answer.startswith("进行中的事件 25 起 open incidents: 25，最新 20 起 the newest 20\n")
    assert answer.count("\n• ") == 20


def test_an_incidents_record_keeps_its_newest_actions_however_long(config):
    from crisiswatch.audit import AuditLog
    from monitor.dashboard.incident_page import IncidentPageService
    from playbooks.statements import StatementStore

    conn = connect(config.state_store)
    incident = open_incident(conn, at=NOW - timedelta(hours=9))
    audit = AuditLog(conn)
    for n in range(520):  # a night of re-pages nobody answered
        audit.record("playbook:default", "escalation.notify", incident.label, at=NOW - timedelta(hours=9) + timedelta(minutes=n))
    audit.record("slack:U1", "escalation.stop", incident.label, at=NOW)
    page = IncidentPageService(open_backend(config.index.url), IncidentService(conn),
                               TicketService.from_config(config, conn), StatementStore(conn), audit, lambda b: b)
    kinds = [e["kind"] for e in page.timeline(incident, None, [])]
    assert kinds.count("escalation.notify") == 520 and kinds[-1] == "escalation.stop"  # it read the oldest 500


def test_the_timeline_marks_every_incident_of_its_range(config):
    conn = connect(config.state_store)
    for n in range(210):  # more incidents in a day than the newest 200 it read
        open_incident(conn, brand=f"b{n}", at=NOW - timedelta(minutes=5 * n + 1))
    dashboard = DashboardService(open_backend(config.index.url), IncidentService(conn),
                                 TicketService.from_config(config, conn))
    markers = dashboard.overview(View(), now=NOW)["timeline"]["incidents"]
    assert len(markers) == 210
