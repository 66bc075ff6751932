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
