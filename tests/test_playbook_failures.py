"""A step that fails live (the state store away for a moment, a service down): the playbook stops
there, says so once (a log line, the audit trail, the operator's page), and the next passes retry
it after a growing pause until it is done; nothing after it is lost."""

from __future__ import annotations

import sqlite3
from datetime import timedelta

from crisiswatch.audit import AuditLog
from playbooks.tickets.service import TicketService
from tests.test_playbook_steps import SAFETY_POSTS, T0, Clock, engine_for, incident


def test_a_failed_step_is_retried_by_later_passes_and_said_once(tmp_path, monkeypatch, caplog):
    clock = Clock(T0 + timedelta(minutes=20))
    engine, conn = engine_for(tmp_path, clock)
    original, calls = TicketService.add_tasks, []

    def flaky(self, *args, **kwargs):
        calls.append(clock.now)
        if len(calls) <= 2:
            raise sqlite3.OperationalError("database is locked")  # the state store busy or away for a moment
        return original(self, *args, **kwargs)

    monkeypatch.setattr(TicketService, "add_tasks", flaky)
    ran = dict(engine.handle(incident(conn, {"product_quality": 30}, SAFETY_POSTS)))
    assert ran["product_safety"][4:] == ["task: failed (database is locked)", "operator paged"]
    assert len([r for r in caplog.records if r.name == "playbooks.engine" and r.levelname == "ERROR"]) == 1

    from playbooks.engine import stalled_steps  # what `crisiswatch status` lists

    assert [(s["incident"], s["playbook"], s["step"], s["type"], s["attempts"], s["error"]) for s in stalled_steps(conn)] \
        == [("INC-1", "product_safety", 5, "task", 1, "database is locked")]
    clock.now += timedelta(seconds=30)  # resting: not hammered every pass
    assert engine.tick() == [("INC-1", "product_safety", [
        "open_ticket: skipped (earlier)", "sla: done (earlier)", "assign: done (earlier)", "page: done (earlier)",
        f"task: failed (retried at {(T0 + timedelta(minutes=21)).isoformat()})"])]
    clock.now += timedelta(minutes=1)
    assert engine.tick()[0][2][4:] == ["task: failed (database is locked)", "operator paged"]  # next try in 2 min
    clock.now += timedelta(minutes=2)
    assert engine.tick()[0][2][4:] == ["task: done", "notify: done", "draft_statement: waiting",
                                       "escalate_if: waiting"]
    assert len(calls) == 3 and len(engine.tickets.list()[0].tasks) == 4
    failed = [e for e in AuditLog(conn).entries(subject="INC-1") if e["outcome"] == "failed"]
    assert [(e["action"], e["detail"]["error"]) for e in failed] == [("task", "database is locked")]
    pages = [r for r in engine.dispatcher.outbox.all() if r.key.startswith("playbook_failed:")]
    assert len({r.key.split("|")[0] for r in pages}) == 1  # the operator is paged once, not per try


def test_a_bad_playbook_file_leaves_the_others_running_and_is_said(tmp_path, caplog):
    """One file the loop cannot load (an unknown step, a name taken twice) stopped detection itself on every
    pass, with a traceback in a log nobody reads; now the others run and the operator hears which file."""
    import io
    import shutil

    from alerts.channels.console import ConsoleChannel
    from alerts.dispatch import AlertDispatcher
    from crisiswatch.config import parse_config
    from crisiswatch.db import connect
    from monitor.loop import RunLoop
    from playbooks.engine import SHIPPED_PLAYBOOKS, PlaybookEngine

    folder = tmp_path / "books"
    shutil.copytree(SHIPPED_PLAYBOOKS, folder)
    (folder / "zz_rockets.yaml").write_text("name: rockets\ntrigger: {}\nsteps:\n  - type: launch_rockets\n",
                                            encoding="utf-8")
    (folder / "zz_copy.yaml").write_text((folder / "data_leak.yaml").read_text(encoding="utf-8"), encoding="utf-8")
    config = parse_config({"state_db": str(tmp_path / "s.db"), "index": {"url": f"sqlite:///{tmp_path / 's.db'}"},
                           "playbooks": {"dir": str(folder)}, "brands": [{"key": "aurora", "names": ["极光"]}],
                           "alerts": {"routes": [{"name": "response", "channel": "console"}]}},
                          str(tmp_path / "crisiswatch.yaml"))
    conn = connect(config.state_store)
    dispatcher = AlertDispatcher(config, conn, {"console": ConsoleChannel(io.StringIO())})
    report = RunLoop(config, None, conn, dispatcher).pass_once()
    assert report.detected and report.failed_stages == []
    engine = PlaybookEngine(config, conn, dispatcher)  # a restart: the same files, told once
    shipped = sorted(p.stem for p in SHIPPED_PLAYBOOKS.glob("*.yaml"))
    assert sorted(b.name for b in engine.playbooks) == shipped
    told = [r.message.summary for r in dispatcher.outbox.all() if r.key.startswith("playbook_invalid:")]
    assert len(told) == 2
    assert any("zz_rockets.yaml: steps.0.type: unknown step type 'launch_rockets'" in t for t in told)
    assert any("zz_copy.yaml: name: a second playbook named 'data_leak'" in t for t in told)
    lines = [r.getMessage() for r in caplog.records if r.name == "playbooks.engine" and r.levelname == "ERROR"]
    assert len([m for m in lines if "zz_rockets.yaml" in m]) == 2  # one line each time the files are loaded


def test_an_incident_resolved_while_escalate_if_waits_is_not_escalated_or_paged(tmp_path):
    from monitor.incidents.service import IncidentService
    from tests.test_playbook_steps import custom

    clock = Clock(T0)
    book = custom([{"type": "open_ticket"},
                   {"type": "escalate_if", "after": "1h", "unless": "acknowledged", "to": "管理层", "page": "crisis_team"},
                   {"type": "task", "items": ["复盘"]}])
    engine, conn = engine_for(tmp_path, clock, playbooks=[book])
    change = incident(conn, {"logistics": 10}, [])
    engine.handle(change)
    clock.now = T0 + timedelta(minutes=40)
    IncidentService(conn).resolve(change.incident.id, at=clock.now, reason="normal for 30m")
    clock.now = T0 + timedelta(hours=1, minutes=1)
    assert engine.tick()[0][2][-2:] == ["escalate_if: skipped", "task: done"]
    assert "管理层" not in engine.tickets.list()[0].departments
    kinds = [r.message.kind for r in engine.dispatcher.outbox.all()]
    assert "incident_escalated" not in kinds and "operator" not in kinds
    assert conn.execute("SELECT COUNT(*) FROM escalation_chains").fetchone()[0] == 0


def test_a_worker_that_lost_its_lease_mid_playbook_stops_and_the_standby_finishes_once(tmp_path):
    """Two loops on one incident: the worker whose detect-cycle lease a standby took (a long stall) stops
    before its next step instead of running the rest beside the standby; the standby's pass finishes it."""
    import pytest

    from alerts.dispatch import AlertDispatcher
    from crisiswatch.lease import LeaseLost
    from playbooks.engine import PlaybookEngine

    clock = Clock(T0 + timedelta(minutes=20))
    first, conn = engine_for(tmp_path, clock)
    asked = []
    first.held = lambda: asked.append(1) is None and len(asked) <= 3  # the lease is lost after three steps
    with pytest.raises(LeaseLost, match="stopped before step"):
        first.handle(incident(conn, {"product_quality": 30}, SAFETY_POSTS))
    assert [r[0] for r in conn.execute("SELECT type FROM playbook_runs ORDER BY at, playbook, step")] == [
        "open_ticket", "notify", "open_ticket"]

    standby = PlaybookEngine(first.config, conn, AlertDispatcher(first.config, conn, first.dispatcher.channels),
                             clock=clock)
    standby.held = lambda: True
    ran = dict((name, outcomes) for _, name, outcomes in standby.tick())
    assert ran["product_safety"][1:] == ["sla: done", "assign: done", "page: done", "task: done", "notify: done",
                                         "draft_statement: waiting", "escalate_if: waiting"]
    assert len(standby.tickets.list()) == 1
    assert first.tick() == []  # still without its lease: it does nothing


def test_the_run_loop_engine_asks_the_loops_leases(tmp_path):
    import io
    import threading
    from types import SimpleNamespace

    from alerts.channels.console import ConsoleChannel
    from alerts.dispatch import AlertDispatcher
    from crisiswatch.config import parse_config
    from crisiswatch.db import connect
    from monitor.loop import RunLoop

    config = parse_config({"state_db": str(tmp_path / "s.db"), "index": {"url": f"sqlite:///{tmp_path / 's.db'}"},
                           "brands": [{"key": "aurora", "names": ["极光"]}]}, str(tmp_path / "crisiswatch.yaml"))
    conn = connect(config.state_store)
    loop = RunLoop(config, None, conn, AlertDispatcher(config, conn, {"console": ConsoleChannel(io.StringIO())}))
    engine = loop._engine()
    assert engine.held is not None and engine.held()
    loop.run_keeper = SimpleNamespace(name="run-loop", lost=threading.Event())
    loop.run_keeper.lost.set()
    assert not engine.held()


def test_a_process_dying_right_after_escalate_if_paged_does_not_page_the_next_tier_twice(tmp_path, monkeypatch):
    import pytest

    from alerts.dispatch import AlertDispatcher
    from alerts.escalation import EscalationService
    from playbooks.engine import PlaybookEngine
    from tests.test_playbook_steps import custom

    clock = Clock(T0)
    book = custom([{"type": "open_ticket"},
                   {"type": "escalate_if", "after": "1h", "unless": "acknowledged", "page": "crisis_team"}])
    policies = {"crisis_team": {"steps": [{"notify": "#crisis-duty"}, {"notify": "#crisis-mgmt", "after_minutes": 30},
                                          {"notify": "#ceo-office", "after_minutes": 30}]}}
    engine, conn = engine_for(tmp_path, clock, playbooks=[book], alerts={
        "routes": [{"name": "response", "channel": "console"}], "escalation_policies": policies})
    engine.handle(incident(conn, {"logistics": 10}, []))
    clock.now = T0 + timedelta(hours=1, minutes=1)
    original = EscalationService.escalate_now

    def then_die(self, *args, **kwargs):
        original(self, *args, **kwargs)
        raise KeyboardInterrupt  # the process ends here, before the step's outcome is written

    monkeypatch.setattr(EscalationService, "escalate_now", then_die)
    with pytest.raises(KeyboardInterrupt):
        engine.tick()
    monkeypatch.setattr(EscalationService, "escalate_now", original)
    paged = sorted(r.target for r in engine.dispatcher.outbox.all() if r.key.startswith("escalation:"))
    restarted = PlaybookEngine(engine.config, conn, AlertDispatcher(engine.config, conn, engine.dispatcher.channels),
                               playbooks=[book], clock=clock)
    assert restarted.tick()[0][2][-1] == "escalate_if: done"
    assert sorted(r.target for r in restarted.dispatcher.outbox.all() if r.key.startswith("escalation:")) == paged
    assert "#ceo-office" not in paged


def test_an_incident_escalated_mid_playbook_raises_its_tickets_grade(tmp_path):
    """Opened as a warning (ticket 重要: a working day to respond), critical an hour later: the ticket is 紧急
    with 紧急's deadlines, the playbooks that match now run, and the ones already running carry on."""
    from monitor.detectors.base import Signal
    from monitor.incidents.service import IncidentService

    clock = Clock(T0 + timedelta(minutes=5))
    engine, conn = engine_for(tmp_path, clock)
    posts = [{"id": "m1", "url": "https://weibo.com/1/A", "text": "快递一周没到", "author": "小鹿", "severity": "重要"}]
    opened = incident(conn, {"logistics": 10}, posts, level="warning")
    assert "logistics_surge" in dict(engine.handle(opened))
    ticket = engine.tickets.list()[0]
    assert ticket.severity == "重要"
    clock.now = T0 + timedelta(hours=1)
    escalated = IncidentService(conn).apply(Signal(rule="negative_spike", key="brand=aurora", brand="aurora",
                                                   level="critical", at=clock.now, value=60, baseline=0.5,
                                                   p_value=1e-15, summary="60 negative in 1 min", facts={}))
    assert escalated.kind == "escalated"
    engine.handle(escalated)
    after = engine.tickets.get(ticket.id)
    assert after.severity == "紧急" and after.response_due - after.created_at == timedelta(hours=4)
    assert ("playbook:escalation", "regrade") in [(e["actor"], e["action"]) for e in AuditLog(conn).entries("INC-1")]
    engine.handle(escalated)  # again (a restart): nothing more
    assert engine.tickets.get(ticket.id).version == after.version


def test_the_loop_tells_the_operator_what_validate_would_say_of_the_playbooks_it_runs(tmp_path):
    import io
    import shutil

    from alerts.channels.console import ConsoleChannel
    from alerts.dispatch import AlertDispatcher
    from crisiswatch.config import parse_config
    from crisiswatch.db import connect
    from playbooks.engine import SHIPPED_PLAYBOOKS, PlaybookEngine

    folder = tmp_path / "books"
    shutil.copytree(SHIPPED_PLAYBOOKS, folder)
    path = folder / "logistics_surge.yaml"
    path.write_text(path.read_text(encoding="utf-8").replace("{top_terms}", "{toppp_terms}"), encoding="utf-8")
    config = parse_config({"state_db": str(tmp_path / "s.db"), "playbooks": {"dir": str(folder)},
                           "brands": [{"key": "aurora", "names": ["极光"]}],
                           "alerts": {"routes": [{"name": "response", "channel": "console"}]}},
                          str(tmp_path / "crisiswatch.yaml"))
    conn = connect(config.state_store)
    engine = PlaybookEngine(config, conn, AlertDispatcher(config, conn, {"console": ConsoleChannel(io.StringIO())}))
    assert "logistics_surge" in {b.name for b in engine.playbooks}  # it still runs (its other steps are fine)
    told = [r.message.summary for r in engine.dispatcher.outbox.all() if r.message.kind == "operator"]
    assert len(told) == 1 and "logistics_surge.yaml: steps.0.title: unknown variable {toppp_terms}" in told[0]


def test_a_ticket_that_cannot_be_regraded_holds_up_nothing(tmp_path, monkeypatch, caplog):
    from monitor.detectors.base import Signal
    from monitor.incidents.service import IncidentService
    from playbooks.tickets.models import TicketError

    clock = Clock(T0 + timedelta(minutes=5))
    engine, conn = engine_for(tmp_path, clock)
    posts = [{"id": "m1", "url": "https://weibo.com/1/A", "text": "快递一周没到", "author": "小鹿", "severity": "重要"}]
    engine.handle(incident(conn, {"logistics": 10}, posts, level="warning"))

    def refuse(self, *args, **kwargs):
        raise TicketError("ticket CW-20250614-0001 is 已归档: nothing changes")

    monkeypatch.setattr(TicketService, "classify", refuse)
    clock.now = T0 + timedelta(hours=1, minutes=10)  # logistics_surge's escalate_if is due too
    IncidentService(conn).apply(Signal(rule="negative_spike", key="brand=aurora", brand="aurora", level="critical",
                                       at=clock.now, value=60, baseline=0.5, p_value=1e-15, summary="60 in 1 min",
                                       facts={}))  # the process writing it died before answering it
    ran = {name: outcomes for _, name, outcomes in engine.tick()}
    assert ran["logistics_surge"][-2:] == ["escalate_if: done", "close_when: waiting"]
    assert engine.unanswered() == []
    assert any("kept grade 重要: ticket CW-20250614-0001 is 已归档" in r.getMessage() for r in caplog.records)


def test_a_step_that_keeps_failing_is_given_up_paged_listed_and_put_back_by_hand(tmp_path, monkeypatch, capsys):
    """A permanently broken step was retried hourly forever, the operator paged only at the first failure.
    After `playbooks.max_attempts` tries it is given up: paged once more, listed by `status` with the command
    that puts it back, and `playbook retry` runs it again once the cause is fixed."""
    import yaml

    from crisiswatch.cli import main
    from playbooks.engine import stalled_steps
    from playbooks.tickets.models import TicketError
    from tests.conftest import config_dict

    clock = Clock(T0 + timedelta(minutes=20))
    engine, conn = engine_for(tmp_path, clock)
    cfg = tmp_path / "crisiswatch.yaml"
    cfg.write_text(yaml.safe_dump(config_dict(tmp_path), allow_unicode=True), encoding="utf-8")  # the same state
    calls = []

    def broken(self, *args, **kwargs):
        calls.append(clock.now)
        raise TicketError("the task list refuses every item")

    monkeypatch.setattr(TicketService, "add_tasks", broken)
    engine.handle(incident(conn, {"product_quality": 30}, SAFETY_POSTS))
    for pause in (1, 2, 4, 8):  # the tries after it, each after its pause
        clock.now += timedelta(minutes=pause)
        ran = dict((name, outcomes) for _, name, outcomes in engine.tick())
    assert ran["product_safety"][4:] == ["task: failed (the task list refuses every item)", "gave up after 5 attempts",
                                         "operator paged"]
    clock.now += timedelta(hours=3)
    ran = dict((name, outcomes) for _, name, outcomes in engine.tick())
    assert "product_safety" not in ran and len(calls) == 5  # not tried again, hourly or otherwise
    assert [(s["step"], s["outcome"], s["attempts"]) for s in stalled_steps(conn)] == [(5, "gave_up", 5)]
    pages = {r.key.split("|")[0] for r in engine.dispatcher.outbox.all() if r.message.kind == "operator"}
    assert pages == {"playbook_failed:1:product_safety:4", "playbook_gave_up:1:product_safety:4:0"}
    gave_up = [e for e in AuditLog(conn).entries("INC-1") if e["outcome"] == "gave_up"]
    assert [(e["action"], e["detail"]["attempts"]) for e in gave_up] == [("task", 5)]

    assert main(["--config", str(cfg), "status"]) == 0
    assert "product_safety step 5 (task) GAVE UP after 5 attempts" in capsys.readouterr().out
    assert "crisiswatch playbook retry INC-1 5" in [p.message.summary for p in engine.dispatcher.outbox.all()
                                                    if p.key.startswith("playbook_gave_up:")][0]
    monkeypatch.undo()  # the cause is fixed
    assert main(["--config", str(cfg), "playbook", "retry", "INC-1", "5", "--as", "ops"]) == 0
    assert "INC-1 product_safety step 5 (task, gave_up after 5 attempts" in capsys.readouterr().out
    ran = dict((name, outcomes) for _, name, outcomes in engine.tick())
    assert ran["product_safety"][4:] == ["task: done", "notify: done", "draft_statement: waiting",
                                         "escalate_if: waiting"]
    assert stalled_steps(conn) == []
    assert main(["--config", str(cfg), "playbook", "retry", "INC-1"]) == 1  # nothing left to put back: one line
    assert "INC-1: no step has failed or been given up" in capsys.readouterr().err
