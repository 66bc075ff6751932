"""归档: a closed ticket is archived after its reopen window, then frozen, out of the working lists, in the report."""

from __future__ import annotations

from datetime import UTC, timedelta

import pytest

from crisiswatch.audit import AuditLog
from crisiswatch.cli import main
from playbooks.tickets.models import TicketError
from playbooks.tickets.report import build_report
from tests.test_ticket_sla import at, desk_at, phone, service

STEPS = [("accept", {}), ("start", {}), ("reply", {"note": "已电话告知补发安排", "via": "电话"}), ("resolve", {}),
         ("followup", {"satisfaction": 4}), ("close", {})]


def closed(tickets, clock):
    t = phone(tickets)
    for action, extra in STEPS:
        clock.now += timedelta(minutes=20)
        t = tickets.transition(t.id, action, actor="agent:lin", expected_version=t.version, **extra)
    return t


def test_a_closed_ticket_is_archived_after_its_reopen_window_and_then_frozen(tmp_path):
    tickets, clock = service(tmp_path, at(2026, 6, 1, 10, 0), staff={"王经理": "管理层"})
    t = closed(tickets, clock)  # closed 1 June 12:00
    with pytest.raises(TicketError, match=r"closed 2026-06-01 12:00 and may be reopened until 2026-07-01 12:00 \(30 "
                                          r"days, tickets.reopen_window_days\): archive it after that"):
        tickets.archive(t.id, actor="agent:lin", expected_version=t.version)
    open_one = phone(tickets)
    with pytest.raises(TicketError, match="is 新建: only a closed \\(已关闭\\) ticket is archived"):
        tickets.archive(open_one.id, actor="agent:lin", expected_version=open_one.version)
    clock.now = at(2026, 7, 2, 9, 0).astimezone(UTC)
    t = tickets.archive(t.id, actor="agent:lin", expected_version=t.version)
    assert t.status == "已归档"
    assert tickets.timeline(t.id)[-1]["kind"] == "archive"
    trail = AuditLog(tickets.conn).entries(t.number)
    assert [(e["actor"], e["action"]) for e in trail] == [("agent:lin", "ticket.archive")]
    # frozen: reopening is refused with a sentence, and so is every other change
    with pytest.raises(TicketError) as refused:
        tickets.transition(t.id, "reopen", actor="agent:lin", expected_version=t.version, note="用户再次来电")
    assert str(refused.value) == (f"ticket {t.number} was archived on 2026-07-02 09:00 and cannot be reopened: an "
                                  "archived record is frozen; take the customer's new complaint as a new ticket "
                                  "(`ticket new`)")
    for change in (lambda: tickets.add_note(t.id, "补记", actor="agent:lin", expected_version=t.version),
                   lambda: tickets.assign(t.id, "调查", actor="agent:lin", expected_version=t.version),
                   lambda: tickets.classify(t.id, actor="agent:lin", expected_version=t.version, severity="重要"),
                   lambda: tickets.extend(t.id, at(2026, 7, 10, 18, 0), approved_by="王经理", actor="agent:lin",
                                          expected_version=t.version),
                   lambda: tickets.archive(t.id, actor="agent:lin", expected_version=t.version)):
        with pytest.raises(TicketError, match="an archived record is frozen"):
            change()
    assert tickets.get(t.id).version == t.version
    # out of the working lists, there when asked for, and in the report
    assert [x.id for x in tickets.list()] == [open_one.id] and tickets.count() == 1
    assert [x.id for x in tickets.list(status="已归档")] == [t.id] and tickets.count(archived=True) == 2
    assert tickets.count(open_only=True) == 1 and tickets.count_overdue(clock.now) == 1  # only the open one is late
    report = build_report(tickets, period="month", until=clock.now)
    assert report.total == 2 and report.statuses == {"新建": 1, "已关闭": 1}  # as June ended: archived in July


def test_the_periodic_archive_takes_every_ticket_closed_before_the_date_whose_window_has_passed(tmp_path):
    tickets, clock = service(tmp_path, at(2026, 6, 1, 10, 0))
    old = closed(tickets, clock)
    clock.now = at(2026, 7, 1, 10, 0).astimezone(UTC)
    recent = closed(tickets, clock)  # closed 1 July 12:00: reopenable until 31 July
    working = phone(tickets)
    clock.now = at(2026, 7, 15, 10, 0).astimezone(UTC)
    done, left = tickets.archive_closed(at(2026, 7, 15, 0, 0), actor="cli:ops")
    assert [t.number for t in done] == [old.number]
    assert [(t.number, "may be reopened until 2026-07-31 12:00" in why) for t, why in left] == [(recent.number, True)]
    assert {t.status for t in tickets.list(archived=True)} == {"已归档", "已关闭", "新建"}
    assert tickets.get(working.id).status == "新建"


def test_archive_from_the_cli(tmp_path, monkeypatch, capsys):
    tickets, clock, cfg = desk_at(tmp_path, at(2026, 6, 1, 10, 0), monkeypatch)
    first, second = closed(tickets, clock), closed(tickets, clock)
    clock.now = at(2026, 7, 6, 10, 0).astimezone(UTC)
    ticket = ["--config", str(cfg), "ticket", "--as", "林晓"]
    assert main([*ticket, "archive", first.number]) == 0
    assert first.number in capsys.readouterr().out
    assert main([*ticket, "archive", "--closed-before", "2026-06-02"]) == 0
    out, err = capsys.readouterr()
    assert second.number in out and "1 archived, 0 left (closed before 2026-06-02 00:00)" in err
    assert main([*ticket, "reopen", first.number]) == 1
    assert "cannot be reopened: an archived record is frozen" in capsys.readouterr().err
    assert main([*ticket, "list"]) == 0
    assert first.number not in capsys.readouterr().out
    for asked in (["--archived"], ["--status", "已归档"]):
        assert main([*ticket, "list", *asked]) == 0
        listed = capsys.readouterr().out
        assert first.number in listed and second.number in listed
    assert main([*ticket, "archive"]) == 1
    assert "ticket archive N, or ticket archive --closed-before DATE" in capsys.readouterr().err


def test_what_the_customer_said_at_the_follow_up_is_masked_where_the_contact_is(tmp_path):
    tickets, clock = service(tmp_path, at(2026, 6, 1, 10, 0))
    t = phone(tickets)
    for action, extra in STEPS[:-1]:
        clock.now += timedelta(minutes=20)
        if action == "followup":
            extra = {**extra, "comment": "还行，下次直接打我13912345678"}
        t = tickets.transition(t.id, action, actor="agent:lin", expected_version=t.version, **extra)
    listed = t.to_dict(contact=False)  # what `ticket list --json` and viewers get
    assert listed["satisfaction_comment"] == "还行，下次直接打我139****5678"
    assert "13912345678" not in str(listed["satisfaction_history"])
    assert t.to_dict()["satisfaction_comment"].endswith("13912345678")  # the agent's own view, as for the contact


def test_a_closed_ticket_is_reopened_only_within_its_reopen_window(tmp_path):
    tickets, clock = service(tmp_path, at(2026, 6, 1, 10, 0))
    t = closed(tickets, clock)  # closed 1 June 12:00: reopenable until 1 July 12:00
    clock.now = at(2026, 7, 1, 11, 59).astimezone(UTC)
    t = tickets.transition(t.id, "reopen", actor="agent:lin", expected_version=t.version, note="用户再次来电")
    assert t.status == "处理中"
    late = closed(tickets, clock)  # closed 1 July 13:59
    clock.now = at(2026, 8, 1, 9, 0).astimezone(UTC)  # the window ended 31 July 13:59, not yet archived
    with pytest.raises(TicketError, match=r"could be reopened until 2026-07-31 13:59 \(30 days, "
                                          r"tickets.reopen_window_days\); take the customer's new complaint as a new"):
        tickets.transition(late.id, "reopen", actor="agent:lin", expected_version=late.version, note="用户再次来电")
    assert tickets.require(late.id).status == "已关闭"
