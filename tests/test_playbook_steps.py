"""The step types under a controllable clock: waiting steps resume on tick, every run is audited."""

from __future__ import annotations

import io
import sqlite3
from datetime import UTC, datetime, timedelta

import yaml

from alerts.channels.console import ConsoleChannel
from alerts.dispatch import AlertDispatcher
from crisiswatch.audit import AuditLog
from crisiswatch.config import parse_config
from crisiswatch.db import connect
from monitor.detectors.base import Signal
from monitor.incidents.models import IncidentChange
from monitor.incidents.service import IncidentService
from playbooks.engine import PlaybookEngine
from playbooks.publishing import StatementDesk
from playbooks.schema import Playbook
from playbooks.statements import StatementStore
from tests.conftest import config_dict

T0 = datetime(2025, 6, 14, 4, 0, tzinfo=UTC)
SAFETY_POSTS = [
    {"id": "m1", "url": "https://weibo.com/1/A", "text": "极光优选的充电宝充电时冒烟起火，孩子手被烫伤了", "author": "小鹿",
     "followers": 300, "severity": "重大", "category": "product_quality", "source": "weibo"},
    {"id": "m2", "url": "https://weibo.com/2/B", "text": "同一批次的充电宝我家也冒烟了", "author": "阿杰",
     "followers": 90, "severity": "紧急", "category": "product_quality", "source": "weibo"},
]


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def make_config(tmp_path, **extra):
    data = config_dict(tmp_path)
    data["alerts"] = {"routes": [{"name": "response", "channel": "console"}],
                      "escalation_policies": {"crisis_team": {"steps": [{"notify": "#crisis-mgmt"}]}}}
    data.update(extra)
    return parse_config(data, str(tmp_path / "crisiswatch.yaml"))


def incident(conn, categories: dict, posts: list[dict], at: datetime = T0, level: str = "critical"):
    service = IncidentService(conn)
    change = service.apply(Signal(rule="negative_spike", key="brand=aurora", brand="aurora", level=level, at=at,
                                  value=20, baseline=0.5, p_value=1e-12, summary="20 negative in 1 min", facts={}))
    service.attach_facts(change.incident.id, categories=categories, top_terms=["充电宝", "冒烟", "批次"],
                         top_posts=posts, mentions=40, top_authors=[])
    return IncidentChange("opened", service.get(change.incident.id))


def engine_for(tmp_path, clock, playbooks=None, **extra):
    config = make_config(tmp_path, **extra)
    conn = connect(config.state_store)
    dispatcher = AlertDispatcher(config, conn, {"console": ConsoleChannel(io.StringIO())})
    return PlaybookEngine(config, conn, dispatcher, playbooks=playbooks, clock=clock), conn


def test_product_safety_runs_its_steps_and_resumes_on_tick(tmp_path):
    from alerts.approvals import ApprovalService
    from playbooks.paging import escalation_service

    clock = Clock(T0 + timedelta(minutes=20))
    engine, conn = engine_for(tmp_path, clock)
    change = incident(conn, {"product_quality": 30, "logistics": 3}, SAFETY_POSTS)
    ran = dict(engine.handle(change))
    assert ran["negative_spike"] == ["open_ticket: done", "notify: done"]
    assert ran["product_safety"] == ["open_ticket: skipped", "sla: done", "assign: done", "page: done",
                                     "task: done", "notify: done", "draft_statement: waiting",
                                     "escalate_if: waiting"]  # the statement's wait holds up no escalation
    assert "logistics_surge" not in ran and "data_leak" not in ran
    ticket = engine.tickets.list()[0]
    assert len(engine.tickets.list()) == 1
    assert ticket.severity == "重大" and ticket.department == "调查"
    assert set(ticket.departments) >= {"调查", "管理层", "法律"}
    assert ticket.ack_due - ticket.created_at == timedelta(minutes=15)  # 重大: around the clock
    assert [t["text"] for t in ticket.tasks][0] == "暂停销售并下架涉事批次"
    chains = escalation_service(engine.config, conn, engine.dispatcher).status(change.incident.id)["chains"]
    assert [c["policy"] for c in chains] == ["crisis_team"]
    statement = StatementStore(conn).all()[0]
    # curated facts (brand, category) only: the posts' words ("冒烟") never reach a public statement
    assert statement.status == "draft" and "极光优选" in statement.text and "产品质量" in statement.text
    assert not any(term in statement.text for term in ("充电宝", "冒烟", "批次号"))
    assert statement.ready_at - statement.incident_start == timedelta(minutes=20) and not statement.missed_window

    clock.now += timedelta(minutes=30)
    assert engine.tick() == [("INC-1", "product_safety", [
        "open_ticket: skipped (earlier)", "sla: done (earlier)", "assign: done (earlier)", "page: done (earlier)",
        "task: done (earlier)", "notify: done (earlier)", "draft_statement: waiting", "escalate_if: waiting"])]
    approvals = ApprovalService(engine.config, conn, engine.dispatcher, clock=clock)
    approvals.decide(int(statement.approval_id), "pr-lead", True)
    clock.now += timedelta(minutes=5)
    # approved is not out: the golden window runs until the statement is published
    assert engine.tick()[0][2][-2:] == ["draft_statement: waiting", "escalate_if: waiting"]
    assert StatementStore(conn).all()[0].status == "approved"
    published = StatementDesk(engine.config, conn, clock=clock).publish(statement.id, "pr-lead")
    assert published.published_at == clock.now and not published.missed_window  # 55 min after the start
    assert engine.tick()[0][2][-2:] == ["draft_statement: done", "escalate_if: waiting"]
    assert StatementStore(conn).all()[0].status == "published"

    clock.now += timedelta(hours=13)  # still unresolved after 12 h: the next tier is brought in
    assert engine.tick()[0][2][-2:] == ["escalate_if: done", "close_when: waiting"]
    IncidentService(conn).resolve(change.incident.id, at=clock.now, reason="quiet")
    t = engine.tickets.get(ticket.id)
    for action in ("accept", "start", "reply", "resolve"):
        t = engine.tickets.transition(t.id, action, actor="agent:lin", expected_version=t.version,
                                      note="已召回该批次并为您全额退款" if action == "reply" else None)
    assert engine.tick()[0][2][-1] == "close_when: waiting"  # not followed up yet
    t = engine.tickets.transition(t.id, "followup", actor="agent:lin", expected_version=t.version, satisfaction=2)
    assert t.status == "处理中"  # dissatisfied: back to handling, by the 回访 itself
    assert engine.tick()[0][2][-1] == "close_when: waiting"  # an agent handles it again, not the book
    for action in ("reply", "resolve"):
        t = engine.tickets.transition(t.id, action, actor="agent:lin", expected_version=t.version,
                                      note="已更换新品并上门取回" if action == "reply" else None)
    engine.tickets.transition(t.id, "followup", actor="agent:lin", expected_version=t.version, satisfaction=5)
    assert engine.tick()[0][2][-1] == "close_when: done"
    assert engine.tickets.get(ticket.id).status == "已关闭" and engine.tick() == []
    trail = [(e["actor"], e["action"], e["outcome"]) for e in AuditLog(conn).entries(subject="INC-1")
             if e["actor"].startswith("playbook:product_safety")]
    assert ("playbook:product_safety", "draft_statement", "waiting") in trail
    assert trail[-1] == ("playbook:product_safety", "close_when", "done")
    assert sum(1 for a in trail if a[1] == "draft_statement") == 2  # start and end of the wait, not every tick


def test_a_late_draft_is_flagged_as_missing_the_golden_window(tmp_path):
    clock = Clock(T0 + timedelta(hours=5))
    engine, conn = engine_for(tmp_path, clock)
    engine.handle(incident(conn, {"product_quality": 30}, SAFETY_POSTS))
    statement = StatementStore(conn).all()[0]
    assert statement.window_minutes == 240 and statement.missed_window
    entry = next(e for e in AuditLog(conn).entries(subject="INC-1") if e["action"] == "draft_statement")
    assert entry["detail"]["missed_window"] is True and entry["detail"]["ready_after_minutes"] == 300


def custom(steps: list[dict], **trigger) -> Playbook:
    return Playbook.model_validate({"name": "custom", "trigger": trigger, "steps": steps})


def test_wait_and_escalate_if_follow_the_clock(tmp_path):
    clock = Clock(T0)
    book = custom([{"type": "open_ticket"}, {"type": "wait", "duration": "30m"},
                   {"type": "escalate_if", "after": "1h", "unless": "acknowledged", "to": "管理层"},
                   {"type": "task", "items": ["复盘"]}])
    engine, conn = engine_for(tmp_path, clock, playbooks=[book])
    change = incident(conn, {"logistics": 10}, [])
    assert engine.handle(change)[0][1] == ["open_ticket: done", "wait: waiting"]
    clock.now = T0 + timedelta(minutes=29)
    assert engine.tick()[0][2][-1] == "wait: waiting"
    clock.now = T0 + timedelta(minutes=31)
    assert engine.tick()[0][2][-2:] == ["wait: done", "escalate_if: waiting"]
    ticket = engine.tickets.list()[0]
    engine.tickets.transition(ticket.id, "accept", actor="agent:lin", expected_version=ticket.version)
    clock.now = T0 + timedelta(hours=2)
    assert engine.tick()[0][2][-2:] == ["escalate_if: skipped", "task: done"]
    assert "管理层" not in engine.tickets.get(ticket.id).departments


def test_escalate_if_brings_in_the_next_tier_when_nobody_acknowledged(tmp_path):
    clock = Clock(T0)
    book = custom([{"type": "open_ticket"},
                   {"type": "escalate_if", "after": "1h", "unless": "acknowledged", "to": "法律"}])
    engine, conn = engine_for(tmp_path, clock, playbooks=[book])
    engine.handle(incident(conn, {"logistics": 10}, []))
    clock.now = T0 + timedelta(hours=1, minutes=1)
    assert engine.tick()[0][2][-1] == "escalate_if: done"
    ticket = engine.tickets.list()[0]
    assert "法律" in ticket.departments
    assert any(r.message.kind == "incident_escalated" and "法律" in r.message.summary
               for r in engine.dispatcher.outbox.all())


def test_assign_routes_a_privacy_leak_to_legal_and_tech(tmp_path):
    engine, conn = engine_for(tmp_path, Clock(T0), playbooks=[custom([{"type": "open_ticket"}, {"type": "assign"}])])
    posts = [{"id": "m9", "text": "订单信息泄露，骗子电话报出我的住址", "severity": "紧急",
              "category": "fraud_security_privacy"}]
    engine.handle(incident(conn, {"fraud_security_privacy": 12}, posts))
    ticket = engine.tickets.list()[0]
    assert ticket.department == "法律" and ticket.departments[:2] == ["法律", "技术"]


def test_page_is_skipped_without_a_configured_policy(tmp_path):
    engine, conn = engine_for(tmp_path, Clock(T0), playbooks=[custom([{"type": "page", "policy": "nobody"}])])
    assert engine.handle(incident(conn, {"logistics": 10}, []))[0][1] == ["page: skipped"]


def test_validate_and_dry_run_from_the_cli(tmp_path, capsys):
    from crisiswatch.cli import main
    from crisiswatch.mention import Author, Mention
    from index import open_backend

    cfg = make_config(tmp_path)
    path = tmp_path / "crisiswatch.yaml"
    path.write_text(yaml.safe_dump(config_dict(tmp_path), allow_unicode=True), encoding="utf-8")
    start = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(hours=8)
    posts = [Mention(source="weibo", native_id=f"q{i}", text=f"极光优选的台灯不错{i}", created_at=start + timedelta(minutes=6 * i),
                     brands=["aurora"], sentiment=0.9, author=Author(id=f"a{i}", name=f"n{i}"))
             for i in range(70)]
    burst = start + timedelta(hours=7)
    posts += [Mention(source="weibo", native_id=f"b{i}", created_at=burst + timedelta(seconds=10 * i),
                      text=f"极光优选的充电宝充电时冒烟了，同一批次好多人中招 {i}", brands=["aurora"], sentiment=0.05,
                      category="product_quality", severity="重大", author=Author(id=f"b{i}", name=f"受害者{i}"))
              for i in range(30)]
    backend = open_backend(cfg.index.url)
    backend.upsert(posts)
    backend.close()

    assert main(["--config", str(path), "playbook", "validate"]) == 0
    assert "6 playbook(s) valid" in capsys.readouterr().out
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: bad\ntrigger: {}\nsteps:\n  - type: wait\n    duration: soon\n", encoding="utf-8")
    assert main(["--config", str(path), "playbook", "validate", str(bad)]) == 1
    assert "steps.0.duration" in capsys.readouterr().err

    since = (burst - timedelta(hours=1)).isoformat()
    assert main(["--config", str(path), "playbook", "dry-run", "product_safety", "--since", since]) == 0
    out = capsys.readouterr().out
    assert "triggers product_safety" in out and "1 incident(s) would trigger product_safety" in out
    assert "draft_statement: waiting" in out and "would_draft" in out and "close_when" in out
    conn = sqlite3.connect(cfg.state_db)  # as the dry run left it (connect would bring the state schema)
    tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert not tables & {"incidents", "tickets", "outbox", "statements"}  # nothing real was touched
    assert main(["--config", str(path), "playbook", "dry-run", "logistics_surge", "--since", since]) == 0
    assert "0 incident(s) would trigger logistics_surge" in capsys.readouterr().out


def test_the_loop_cycle_resumes_playbooks_and_alerts_on_sla_breaches(tmp_path):
    from playbooks.cycle import playbook_cycle

    clock = Clock(T0)
    book = custom([{"type": "open_ticket"}, {"type": "wait", "duration": "10m"}, {"type": "task", "items": ["复盘"]}])
    engine, conn = engine_for(tmp_path, clock, playbooks=[book])
    engine.handle(incident(conn, {"logistics": 10}, []))  # 紧急: acknowledge within 1 h
    clock.now = T0 + timedelta(hours=1, minutes=5)
    report = playbook_cycle(engine.config, conn, engine.dispatcher, engine=engine)
    assert report.resumed[0][2][-2:] == ["wait: done", "task: done"]
    number = engine.tickets.list()[0].number
    assert [(b["ticket"], b["timer"]) for b in report.breaches] == [(number, "ack")]
    kinds = [r.message.kind for r in engine.dispatcher.outbox.all()]
    assert kinds.count("ticket_sla_breach") == 1
    [breach] = [r.message for r in engine.dispatcher.outbox.all() if r.message.kind == "ticket_sla_breach"]
    assert breach.brand_name == "极光优选" and breach.links["工单 Ticket"].endswith(f"/tickets/{number}")
    assert playbook_cycle(engine.config, conn, engine.dispatcher, engine=engine).breaches == []
    # still not accepted a day later (紧急 runs around the clock): the escalation tier is told again, once
    clock.now = T0 + timedelta(days=1, hours=1, minutes=5)
    again = playbook_cycle(engine.config, conn, engine.dispatcher, engine=engine)
    assert [(s["ticket"], s["timer"], s["days_late"]) for s in again.still_late] == [(number, "ack", 1)]
    assert playbook_cycle(engine.config, conn, engine.dispatcher, engine=engine).still_late == []
    [still] = [r.message for r in engine.dispatcher.outbox.all() if r.message.kind == "ticket_sla_still_late"]
    assert still.title == f"工单 {number} 受理仍超时（已1天），再次报管理层"
