"""Dismissing an incident as a false alarm (误报): a spam burst on another brand, taken for a crisis at 09:00.
Before, the team could only acknowledge and mute it: resolved at 11:56, its statement's approval still expired
at 13:00 with pages, and its ticket escalated "首次响应已超时，升级至管理层" at 15:00. Texts are written for
these tests."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
import yaml

from alerts.approvals import ApprovalService
from crisiswatch.audit import AuditLog
from crisiswatch.cli import main
from crisiswatch.config import parse_config
from crisiswatch.db import connect
from monitor.detectors.base import Signal
from monitor.incidents.service import IncidentService
from monitor.slack_app import SlackInteractions
from playbooks.compose import incident_message
from playbooks.paging import escalation_service
from playbooks.statements import StatementStore
from playbooks.tickets.report import build_report
from playbooks.tickets.service import TicketService
from tests.conftest import config_dict
from tests.test_alert_helpers import Clock, open_incident, slack_dispatcher

OPENED = datetime(2026, 11, 18, 1, 0, tzinfo=UTC)  # 09:00 in Asia/Shanghai
POLICY = {"default": {"steps": [{"after_minutes": 0, "notify": "#crisis", "label": "响应群"},
                                {"after_minutes": 30, "notify": "slack:#mgmt", "label": "管理层"}]}}


@pytest.fixture
def false_alarm(tmp_path, slack, monkeypatch):
    """INC-1 on beacon at 09:00: its chain running, its playbook's 重大 ticket, its statement awaiting approval."""
    return set_up_false_alarm(tmp_path, slack, monkeypatch)


def set_up_false_alarm(tmp_path, slack, monkeypatch, state_url: str = ""):
    monkeypatch.setenv("SLACK_BOT_TOKEN", slack.token)  # the Slack app's own dispatcher posts to the loopback API
    data = config_dict(tmp_path, **({"state": {"url": state_url}} if state_url else {}))
    data["alerts"] = {**data["alerts"], "slack": {"base_url": slack.base_url, "channel": "#crisis",
                                                  "users": {"ULIN": "lin", "UPR": "pr-lead"}},
                      "routes": [{"name": "response", "channel": "slack", "target": "#crisis"}],
                      "escalation_policies": POLICY}
    (tmp_path / "crisiswatch.yaml").write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    config = parse_config(data, str(tmp_path / "crisiswatch.yaml"))
    clock = Clock(OPENED)
    dispatcher = slack_dispatcher(config, slack, clock=clock)
    conn = dispatcher.conn
    incident = open_incident(conn, brand="beacon", level="critical", at=OPENED)
    dispatcher.enqueue(f"incident:{incident.id}:opened", incident_message(config, incident, "紧急", chart=False))
    escalation_service(config, conn, dispatcher, clock=clock).start(incident.id, "default")
    tickets = TicketService.from_config(config, conn, clock=clock)
    ticket = tickets.open(title="贝肯 刷屏投诉", severity="重大", category="other", brand="beacon",
                          incident_id=incident.id, actor="playbook:product_safety", now=OPENED)
    approvals = ApprovalService(config, conn, dispatcher, clock=clock)
    approval_id = approvals.request(f"statement:{incident.label}:product_safety", ["pr-lead"], "【说明】",
                                    timeout_minutes=240)
    store = StatementStore(conn)
    statement = store.draft(incident_id=incident.id, playbook="product_safety", ticket_number=ticket.number,
                            template="t", text="【说明】", approvers=["pr-lead"], incident_start=OPENED,
                            ready_at=OPENED, window_minutes=240)
    store.set_approval(statement.id, str(approval_id))
    dispatcher.deliver_due()
    return config, clock, dispatcher, incident, ticket, approval_id, statement


def test_dismissing_in_slack_stops_everything_the_false_alarm_set_going(false_alarm, slack):
    config, clock, dispatcher, incident, ticket, approval_id, statement = false_alarm
    conn = dispatcher.conn
    clock.at = OPENED + timedelta(minutes=10)
    app = SlackInteractions(config, conn, clock=lambda: clock.at.timestamp())
    # the staff list decides who may press it, as for the other buttons
    assert app.act("dismiss", str(incident.id), "UOUTSIDER").startswith("不能操作 refused")
    assert IncidentService(conn).get(incident.id).is_open
    assert ApprovalService(config, conn, dispatcher).get(approval_id).status == "pending"
    reply = app.act("dismiss", str(incident.id), "ULIN")
    assert "INC-1 已判定误报" in reply and "closed as 误报" in reply, reply

    dismissed = IncidentService(conn).get(incident.id)
    assert not dismissed.is_open and dismissed.dismissed["by"] == "lin"
    [event] = [e for e in IncidentService(conn).events(incident.id) if e["kind"] == "dismissed"]
    assert event["detail"]["by"] == "lin" and event["detail"]["reason"]
    assert [e for e in AuditLog(conn).entries(incident.label) if e["action"] == "incident.dismiss"]
    # its escalation chain is closed: nobody is paged at 09:30 (管理层) nor later
    chains = escalation_service(config, conn, dispatcher, clock=clock).status(incident.id)["chains"]
    assert [c["status"] for c in chains] == ["closed"]
    # its approval is withdrawn: it never expires, so no page at 13:00
    approvals = ApprovalService(config, conn, dispatcher, clock=clock)
    assert approvals.get(approval_id).status == "withdrawn"
    assert StatementStore(conn).get(statement.id).status == "withdrawn"
    clock.at = OPENED + timedelta(hours=4, minutes=5)
    assert approvals.expire_due() == []
    # its ticket is closed as 误报: no SLA clock runs, so no 首次响应 escalation at 15:00
    tickets = TicketService.from_config(config, conn, clock=clock)
    closed = tickets.get(ticket.id)
    assert closed.status == "已关闭" and closed.closed_at is not None
    assert tickets.timeline(ticket.id)[-1]["kind"] == "dismissed"
    late = tickets.check_sla(OPENED + timedelta(hours=6))
    assert not [b for b in late["breaches"] if b["ticket"] == ticket.number], late["breaches"]
    # one line in the incident's thread, its top message showing the false alarm
    dispatcher.deliver_due()
    said = [m for m in slack.messages if m["thread_ts"] and "误报 false alarm: lin dismissed INC-1" in
            json.dumps(m, ensure_ascii=False)]
    assert len(said) == 1, slack.messages
    top = slack.messages[0]
    assert "误报 dismissed as a false alarm by lin" in json.dumps(top["blocks"], ensure_ascii=False)
    assert not [b for b in top["blocks"] if b["type"] == "actions"]  # no buttons left on it
    assert not [m for m in slack.messages if "已过期" in (m["text"] or "")]
    # the ticket desk's report counts it apart from the tickets closed after a customer's 回访
    report = build_report(tickets, "7d", until=OPENED + timedelta(days=1))
    assert report.statuses == {"误报": 1}


def test_the_same_signal_does_not_reopen_a_dismissed_incident_within_the_cooldown(false_alarm):
    config, clock, dispatcher, incident, *_ = false_alarm
    conn = dispatcher.conn
    incidents = IncidentService(conn)
    incidents.resolve(incident.id, at=OPENED + timedelta(minutes=176), reason="normal for 0:15:00")  # 11:56
    clock.at = OPENED + timedelta(minutes=180)
    SlackInteractions(config, conn).act("dismiss", str(incident.id), "ULIN")
    again = Signal(rule="negative_spike", key="brand=beacon", brand="beacon", level="critical",
                   at=OPENED + timedelta(minutes=200), value=12, baseline=0.3, p_value=1e-9,
                   summary="12 negative mentions in 1 min vs 0.30 expected", facts={})
    change = incidents.apply(again, cooldown=timedelta(minutes=60))
    assert change.kind == "suppressed" and change.incident.id == incident.id
    assert incidents.count(status="open") == 0
    assert incidents.get(incident.id).resolved_at == OPENED + timedelta(minutes=176)  # its resolution stays
    later = incidents.apply(again.__class__(**{**again.__dict__, "at": OPENED + timedelta(minutes=300)}),
                            cooldown=timedelta(minutes=60))
    assert later.kind == "opened" and later.incident.id != incident.id  # past the cooldown: a new incident


def test_the_dismiss_button_is_beside_ack_escalate_and_mute_and_asks_to_confirm(false_alarm):
    config, _, _, incident, *_ = false_alarm
    from alerts.render import slack_blocks

    blocks = slack_blocks(incident_message(config, incident, "紧急", chart=False))
    [actions] = [b for b in blocks if b["type"] == "actions"]
    ids = [e["action_id"] for e in actions["elements"]]
    assert ids == ["ack", "convert", "escalate", "mute_1h", "dismiss"]
    assert "confirm" in actions["elements"][-1]


def test_cli_dismiss_with_a_reason_and_the_list_says_so(false_alarm, capsys):
    config, _, dispatcher, incident, ticket, *_ = false_alarm
    cfg = config.path
    assert main(["--config", str(cfg), "incident", "dismiss", "INC-1", "--reason", "另一品牌的刷屏", "--as", "lin"]) == 0
    out = capsys.readouterr().out
    assert "INC-1 已判定误报" in out and ticket.number in out
    conn = connect(config.state_store)
    assert IncidentService(conn).get(incident.id).dismissed["reason"] == "另一品牌的刷屏"
    assert main(["--config", str(cfg), "incident", "list"]) == 0
    assert "误报 dismissed by lin: 另一品牌的刷屏" in capsys.readouterr().out
    # the post-incident report says it was a false alarm, who said so and why, in its header and its moments
    assert main(["--config", str(cfg), "incident", "report", "INC-1"]) == 0
    report = capsys.readouterr().out
    assert "误报 false alarm, dismissed by lin: 另一品牌的刷屏" in report
    assert "| 误报 dismissed as a false alarm |" in report and "lin 判定为误报，事件关闭：另一品牌的刷屏" in report
    # a second dismissal is one line, exit 1, nothing changed
    assert main(["--config", str(cfg), "incident", "dismiss", "INC-1", "--reason", "again"]) == 1
    assert "already dismissed" in capsys.readouterr().err


def test_the_slash_command_dismisses_with_the_reason_given(false_alarm, slack):
    config, _, dispatcher, incident, *_ = false_alarm
    answer, later = SlackInteractions(config, dispatcher.conn).command(
        "dismiss INC-1 另一品牌的刷屏，不是我们 <!channel>", "ULIN")
    assert answer.startswith("处理中") and later is not None
    assert "已判定误报" in later("ULIN")
    assert IncidentService(dispatcher.conn).get(incident.id).dismissed["reason"] == "另一品牌的刷屏，不是我们 <!channel>"
    said = json.dumps([m for m in slack.messages if "误报 false alarm" in json.dumps(m, ensure_ascii=False)],
                      ensure_ascii=False)
    assert "另一品牌的刷屏" in said and "<!channel>" not in said  # what a person typed is inert in the thread


def test_a_playbook_waiting_on_the_dismissed_incident_stops(false_alarm):
    from playbooks.engine import PlaybookEngine
    from playbooks.schema import Playbook

    config, clock, dispatcher, incident, *_ = false_alarm
    conn = dispatcher.conn
    book = Playbook.model_validate({"name": "follow_up", "trigger": {}, "steps": [
        {"type": "wait", "duration": "30m"}, {"type": "task", "items": ["复盘"]}]})
    engine = PlaybookEngine(config, conn, dispatcher, playbooks=[book], clock=lambda: clock.at)
    assert engine.run(book, incident, "紧急") == ["wait: waiting"]
    SlackInteractions(config, conn, clock=lambda: clock.at.timestamp()).act("dismiss", str(incident.id), "ULIN")
    assert engine.tick(OPENED + timedelta(hours=1)) == []  # nothing resumed, no task added to a closed ticket
    outcomes = [r["outcome"] for r in conn.execute("SELECT outcome FROM playbook_runs WHERE incident_id=?",
                                                   (incident.id,)).fetchall()]
    assert outcomes == ["dismissed"]


def every_row(conn) -> dict[str, list[str]]:
    """The whole state store, table by table (rows in a stable order), to compare before and after."""
    if conn.dialect == "postgresql":
        tables = [r[0] for r in conn.execute("SELECT table_name FROM information_schema.tables"
                                             " WHERE table_schema='public' ORDER BY table_name")]
    else:
        tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'"
                                             " AND name NOT LIKE 'sqlite_%' ORDER BY name")]
    return {t: sorted(repr(tuple(r)) for r in conn.execute(f"SELECT * FROM {t}").fetchall()) for t in tables}


def test_a_dismissal_that_dies_half_way_changes_nothing(tmp_path, slack, monkeypatch, state_url):
    """Resolving the incident, closing its chain, stopping its waiting playbook, withdrawing its approval and
    closing its ticket were separate commits: a process dying at the ticket left a resolved incident whose
    statement and chain were half stopped. Now it is all or nothing, and nothing is said in Slack before it."""
    from playbooks.engine import PlaybookEngine
    from playbooks.schema import Playbook

    config, clock, dispatcher, incident, ticket, approval_id, statement = set_up_false_alarm(
        tmp_path, slack, monkeypatch, state_url)
    conn = dispatcher.conn
    book = Playbook.model_validate({"name": "follow_up", "trigger": {}, "steps": [
        {"type": "wait", "duration": "30m"}, {"type": "task", "items": ["复盘"]}]})
    assert PlaybookEngine(config, conn, dispatcher, playbooks=[book], clock=lambda: clock.at).run(
        book, incident, "紧急") == ["wait: waiting"]
    clock.at = OPENED + timedelta(minutes=10)
    before, posted = every_row(connect(config.state_store)), len(slack.messages)

    def die(self, *args, **kwargs):
        raise KeyboardInterrupt  # the process is stopped here, with everything before the ticket done

    monkeypatch.setattr(TicketService, "dismiss", die)
    app = SlackInteractions(config, conn, clock=lambda: clock.at.timestamp())
    with pytest.raises(KeyboardInterrupt):
        app.act("dismiss", str(incident.id), "ULIN")
    assert not conn.in_transaction
    assert every_row(connect(config.state_store)) == before  # as another process sees it: nothing half-done
    dispatcher.deliver_due()
    assert len(slack.messages) == posted
    # its approval still pending and its chain still running, as before: the dismissal is simply done again
    monkeypatch.undo()
    monkeypatch.setenv("SLACK_BOT_TOKEN", slack.token)
    assert "closed as 误报" in app.act("dismiss", str(incident.id), "ULIN")
    assert ApprovalService(config, conn, dispatcher).get(approval_id).status == "withdrawn"
    assert TicketService.from_config(config, conn).get(ticket.id).status == "已关闭"
    assert [r[0] for r in conn.execute("SELECT outcome FROM playbook_runs")] == ["dismissed"]


def test_a_playbook_stopped_at_a_failing_step_is_not_retried_for_the_dismissed_incident(false_alarm, monkeypatch):
    """Retried after the dismissal, the step acted for the false alarm (or failed on, and paged that it gave up)."""
    from playbooks.engine import PlaybookEngine
    from playbooks.schema import Playbook

    config, clock, dispatcher, incident, *_ = false_alarm
    conn = dispatcher.conn
    book = Playbook.model_validate({"name": "follow_up", "trigger": {}, "steps": [{"type": "task", "items": ["复盘"]}]})
    engine = PlaybookEngine(config, conn, dispatcher, playbooks=[book], clock=lambda: clock.at)
    tried = []

    def broken(self, *args, **kwargs):
        tried.append(clock.at)
        raise RuntimeError("the task list is away")

    monkeypatch.setattr(TicketService, "add_tasks", broken)
    assert engine.run(book, incident, "紧急")[0] == "task: failed (the task list is away)"
    SlackInteractions(config, conn, clock=lambda: clock.at.timestamp()).act("dismiss", str(incident.id), "ULIN")
    assert engine.tick(OPENED + timedelta(hours=2)) == [] and len(tried) == 1
    assert [r[0] for r in conn.execute("SELECT outcome FROM playbook_runs")] == ["dismissed"]
