"""回访 after the resolution: a score, or three calls that did not reach the customer, before the closing; a
dissatisfied customer's case handled again within the reopen window."""

from __future__ import annotations

from datetime import UTC, timedelta

from crisiswatch.cli import main
from tests.test_ticket_sla import at, desk_at, phone


def resolved(tickets, clock):
    t = phone(tickets)
    for action, extra in (("accept", {}), ("start", {}), ("reply", {"note": "已电话告知补发安排", "via": "电话"}),
                          ("resolve", {})):
        clock.now += timedelta(minutes=20)
        t = tickets.transition(t.id, action, actor="agent:lin", expected_version=t.version, **extra)
    return t


def test_a_case_closes_after_its_回访_or_three_calls_that_did_not_reach_the_customer(tmp_path, monkeypatch, capsys):
    tickets, clock, cfg = desk_at(tmp_path, at(2026, 10, 9, 10, 0), monkeypatch)
    t = resolved(tickets, clock)
    ticket = ["--config", str(cfg), "ticket", "--as", "林晓"]
    assert main([*ticket, "close", t.number]) == 1
    assert (f"ticket {t.number} has had no 回访: record it (`ticket followup {t.number} --score S`), or each call "
            f"that did not reach the customer (`--unreachable`, 0 of 3 so far) before closing") in capsys.readouterr().err
    for day in (10, 12, 13):  # Saturday 10 October is a 调休 working day
        clock.now = at(2026, 10, day, 15, 0).astimezone(UTC)
        assert main([*ticket, "followup", t.number, "--unreachable", "--note", "电话无人接听"]) == 0
        if day != 13:
            assert main([*ticket, "close", t.number]) == 1
    assert "try 3 of 3" in capsys.readouterr().err
    assert main([*ticket, "close", t.number]) == 0
    t = tickets.require(t.id)
    assert (t.status, t.satisfaction, t.late(clock.now)) == ("已关闭", None, [])  # no score, and 回访 is not late
    assert [e["detail"]["attempt"] for e in tickets.timeline(t.id) if e["kind"] == "followup_unreached"] == [1, 2, 3]
    assert main([*ticket, "show", t.number]) == 0
    assert "回访未联系上（第 3/3 次）" in capsys.readouterr().out


def test_a_dissatisfied_回访_sends_the_case_back_to_handling_or_is_closed_with_the_reason(tmp_path, monkeypatch,
                                                                                            capsys):
    tickets, clock, cfg = desk_at(tmp_path, at(2026, 10, 9, 10, 0), monkeypatch)
    ticket = ["--config", str(cfg), "ticket", "--as", "林晓"]
    first, second = resolved(tickets, clock), resolved(tickets, clock)
    clock.now = at(2026, 10, 12, 11, 0).astimezone(UTC)  # Monday
    assert main([*ticket, "followup", first.number, "--score", "2", "--comment", "补发的也是坏的"]) == 0
    assert "back to handling (处理中)" in capsys.readouterr().err
    first = tickets.require(first.id)
    # handled again at once, with the clocks a reopening starts: fresh from the 回访, the score kept in its history
    assert (first.status, first.score, first.reopened, first.started_at) == ("处理中", 2, 1, clock.now)
    assert (first.resolved_at, first.followed_up_at, first.followup_due, first.satisfaction) == (None, None, None, None)
    assert first.resolve_due == tickets.clock.deadlines("一般", clock.now)["resolve"]
    steps = [(e["kind"], e["detail"]["to"]) for e in tickets.timeline(first.id) if e["kind"] in ("followup", "reopen")]
    assert steps == [("followup", "已回访"), ("reopen", "处理中")]
    assert main([*ticket, "show", first.number]) == 0
    assert "工单重新打开" in capsys.readouterr().out
    assert [e["detail"].get("note") for e in tickets.timeline(first.id) if e["kind"] == "reopen"] == [
        "回访不满意（2/5），退回处理"]
    assert main([*ticket, "followup", second.number, "--score", "1", "--close-reason", "诉求超出政策，王经理已确认"]) == 0
    second = tickets.require(second.id)
    assert (second.status, second.score, second.reopened) == ("已关闭", 1, 0)
    assert tickets.timeline(second.id)[-1]["detail"] == {"to": "已关闭", "note": "诉求超出政策，王经理已确认"}
    assert main([*ticket, "followup", second.number, "--unreachable"]) == 1  # only a resolved case is called


def test_a_reason_to_close_belongs_to_a_dissatisfied_回访_only(tmp_path, monkeypatch, capsys):
    tickets, clock, cfg = desk_at(tmp_path, at(2026, 10, 9, 10, 0), monkeypatch)
    t = resolved(tickets, clock)
    assert main(["--config", str(cfg), "ticket", "followup", t.number, "--score", "4", "--close-reason", "x"]) == 1
    assert "a reason to close is given for a dissatisfied 回访 only" in capsys.readouterr().err
    assert main(["--config", str(cfg), "ticket", "followup", t.number, "--unreachable", "--close-reason", "x"]) == 1
    assert "--close-reason goes with a dissatisfied --score, not with --unreachable" in capsys.readouterr().err
    assert tickets.require(t.id).status == "已解决" and tickets.unreached_tries(tickets.require(t.id)) == 0

