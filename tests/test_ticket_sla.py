"""SLA clocks in working days: Chinese public holidays and make-up working days, reopening, extension, 回访."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import yaml

from crisiswatch.config import TicketSettings, WorkCalendarSettings
from crisiswatch.db import connect
from playbooks.tickets.models import TicketError
from playbooks.tickets.service import TicketService
from tests.test_tickets import Clock

SH = ZoneInfo("Asia/Shanghai")


def at(*args: int) -> datetime:
    return datetime(*args, tzinfo=SH)


def phone(tickets: TicketService, severity: str = "一般", **kw):
    return tickets.intake(channel="phone", customer="王女士", contact="13812345678", summary="快递五天没到",
                          category="logistics", severity=severity, actor="agent:lin", **kw)


def service(tmp_path, now: datetime, **settings) -> tuple[TicketService, Clock]:
    clock = Clock(now.astimezone(UTC))
    return TicketService(connect(tmp_path / "t.db"), settings=TicketSettings(**settings), clock=clock), clock


def test_deadlines_skip_the_national_day_holiday(tmp_path):
    # Wednesday 30 Sep 2026 10:00; 1-7 October are public holidays
    tickets, _ = service(tmp_path, at(2026, 9, 30, 10, 0))
    t = phone(tickets)
    assert t.ack_due == at(2026, 9, 30, 11, 0)
    # 2 working days = 18 working hours: 30 Sep 10-18 (8 h), 8 Oct 9-18 (9 h), 9 Oct 9-10 (1 h)
    assert t.response_due == at(2026, 10, 9, 10, 0)
    plain, _ = service(tmp_path / "plain", at(2026, 9, 30, 10, 0), calendar=WorkCalendarSettings(country=None))
    assert phone(plain).response_due == at(2026, 10, 2, 10, 0)  # weekdays only: the holiday would be worked


def test_a_make_up_working_day_counts(tmp_path):
    # Friday 9 Oct 2026 10:00; Saturday 10 Oct is a make-up working day (调休) for the National Day holiday
    tickets, _ = service(tmp_path, at(2026, 10, 9, 10, 0))
    t = phone(tickets)
    # Fri 10-18 (8 h), Sat 9-18 (9 h), Mon 9-10 (1 h)
    assert t.response_due == at(2026, 10, 12, 10, 0)
    assert tickets.clock.calendar.is_workday(at(2026, 10, 10, 0, 0).date())
    assert not tickets.clock.calendar.is_workday(at(2026, 10, 11, 0, 0).date())


def test_days_the_library_does_not_know_yet_come_from_the_config(tmp_path):
    extra = WorkCalendarSettings(extra_holidays=[at(2027, 2, 11, 0, 0).date()],
                                 extra_workdays=[at(2027, 2, 20, 0, 0).date()])
    tickets, _ = service(tmp_path, at(2027, 2, 10, 17, 0), calendar=extra)
    cal = tickets.clock.calendar
    assert not cal.is_workday(at(2027, 2, 11, 0, 0).date()) and cal.is_workday(at(2027, 2, 20, 0, 0).date())


def test_reopening_after_an_on_time_closure_breaches_nothing(tmp_path):
    tickets, clock = service(tmp_path, at(2026, 6, 1, 10, 0))  # Monday
    t = phone(tickets)
    steps = [("accept", {}), ("start", {}), ("reply", {"note": "已电话告知补发安排", "via": "电话"}),
             ("resolve", {}), ("followup", {"satisfaction": 4}), ("close", {})]
    for action, extra in steps:
        clock.now += timedelta(minutes=20)
        t = tickets.transition(t.id, action, actor="agent:lin", expected_version=t.version, **extra)
    assert tickets.check_sla()["breaches"] == []
    clock.now = at(2026, 6, 24, 10, 0).astimezone(UTC)  # after the first 15-working-day limit (23 June)
    t = tickets.transition(t.id, "reopen", actor="agent:lin", expected_version=t.version, note="用户再次来电")
    assert t.resolve_due > clock.now and t.started_at == clock.now
    assert tickets.check_sla()["breaches"] == []
    t = tickets.get(t.id)
    assert (t.breaches, t.escalation_level, "管理层" in t.departments) == (0, 0, False)
    assert t.satisfaction is None and t.score == 4 and t.satisfaction_history[0]["score"] == 4
    clock.now = t.resolve_due + timedelta(minutes=1)  # the fresh limit still binds
    assert [b["timer"] for b in tickets.check_sla()["breaches"]] == ["feedback", "resolve"]


def test_followup_is_due_three_working_days_after_resolution(tmp_path):
    tickets, clock = service(tmp_path, at(2026, 6, 1, 10, 0))
    t = phone(tickets)
    for action, extra in [("accept", {}), ("start", {}), ("reply", {"note": "已补发", "via": "电话"}), ("resolve", {})]:
        t = tickets.transition(t.id, action, actor="agent:lin", expected_version=t.version, **extra)
    assert t.followup_due == at(2026, 6, 4, 10, 0)  # Mon 10:00 + 3 working days
    clock.now = t.followup_due.astimezone(UTC) + timedelta(minutes=1)
    assert [b["timer"] for b in tickets.check_sla()["breaches"]] == ["followup"]


def test_the_first_reply_sets_the_result_deadline(tmp_path):
    tickets, clock = service(tmp_path, at(2026, 6, 1, 10, 0))
    t = phone(tickets)
    assert t.feedback_due == at(2026, 6, 8, 10, 0)  # 2 + 3 working days
    for action, extra in [("accept", {}), ("start", {})]:
        t = tickets.transition(t.id, action, actor="agent:lin", expected_version=t.version, **extra)
    clock.now = at(2026, 6, 2, 10, 0).astimezone(UTC)
    t = tickets.transition(t.id, "reply", actor="agent:lin", expected_version=t.version, note="已查明，明日补发",
                           via="电话")
    assert t.feedback_due == at(2026, 6, 5, 10, 0)  # 3 working days after the plan was given


def test_extension_needs_an_approver_and_stops_at_thirty_working_days(tmp_path):
    tickets, _ = service(tmp_path, at(2026, 6, 1, 10, 0), staff={"王经理": "管理层", "lin": "客服"})
    t = phone(tickets)
    assert t.resolve_due == at(2026, 6, 23, 10, 0)  # 15 working days, not counting the Dragon Boat holiday (19 June)
    with pytest.raises(TicketError, match="approved by someone other"):
        tickets.extend(t.id, at(2026, 7, 1, 18, 0), approved_by="lin", actor="agent:lin", expected_version=t.version)
    with pytest.raises(TicketError, match="extended to 2026-07-14 10:00 at the latest"):
        tickets.extend(t.id, at(2026, 7, 20, 18, 0), approved_by="王经理", actor="agent:lin",
                       expected_version=t.version)
    t = tickets.extend(t.id, at(2026, 7, 10, 18, 0), approved_by="王经理", actor="agent:lin", expected_version=t.version)
    assert t.resolve_due == at(2026, 7, 10, 18, 0) and t.extension_approved_by == "王经理"
    assert tickets.timeline(t.id)[-1]["detail"]["approved_by"] == "王经理"


def test_a_reminder_comes_when_most_of_the_working_time_is_gone_not_the_clock_time(tmp_path):
    # Monday 3 March 2025 10:00: the first response of an 一般 ticket is due in 2 working days, Wednesday 10:00
    tickets, clock = service(tmp_path, at(2025, 3, 3, 10, 0))
    t = phone(tickets)
    t = tickets.transition(t.id, "accept", actor="agent:lin", expected_version=t.version)
    assert t.response_due == at(2025, 3, 5, 10, 0)
    clock.now = at(2025, 3, 4, 15, 0).astimezone(UTC)  # 14 of its 18 working hours gone: not yet
    assert [r["timer"] for r in tickets.check_sla()["reminders"]] == []
    # 80 % is 14.4 working hours, Tuesday 15:24; by the clock it came at Wednesday 00:30, one working hour left
    clock.now = at(2025, 3, 4, 15, 30).astimezone(UTC)
    assert [r["timer"] for r in tickets.check_sla()["reminders"]] == ["response"]


def test_a_deadline_in_a_year_without_an_official_schedule_is_said_to_be_estimated(tmp_path, caplog):
    import logging

    # late December: a 15-working-day limit runs into a year whose 调休 the State Council has not published
    tickets, _ = service(tmp_path, at(2030, 12, 20, 10, 0))
    with caplog.at_level(logging.WARNING, logger="playbooks.tickets.sla"):
        phone(tickets)
        phone(tickets)
    said = [r.getMessage() for r in caplog.records]
    assert said == [f"the CN holiday calendar has no official schedule for {year} yet: working days there are "
                    "estimated; add it to tickets.calendar (extra_holidays, extra_workdays) once it is published"
                    for year in (2030, 2031)]  # once a year, not once a ticket
    assert tickets.clock.calendar.estimated_years == {2030, 2031}
    known, _ = service(tmp_path / "known", at(2026, 3, 2, 10, 0))  # a published year says nothing
    caplog.clear()
    phone(known)
    assert not caplog.records


def desk_at(tmp_path, now: datetime, monkeypatch, **tickets_config):
    """The service and the CLI on one database, both on the test's clock."""
    from crisiswatch.config import parse_config
    from tests.conftest import config_dict

    cfg = tmp_path / "crisiswatch.yaml"
    data = config_dict(tmp_path, tickets=tickets_config) if tickets_config else config_dict(tmp_path)
    cfg.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    clock = Clock(now.astimezone(UTC))
    built = TicketService.from_config.__func__
    monkeypatch.setattr(TicketService, "from_config",
                        classmethod(lambda cls, config, conn, **kw: built(cls, config, conn, **{**kw, "clock": clock})))
    config = parse_config(data, str(cfg))
    return TicketService.from_config(config, connect(config.state_store)), clock, cfg


def resolved_on_time(tickets: TicketService, clock: Clock):
    """A 一般 phone complaint opened Monday 1 June 2026 10:00, answered the same day, resolved Thursday 4 June:
    办结 is due 23 June, and it was met on 4 June."""
    t = phone(tickets)
    for action, extra in (("accept", {}), ("start", {}), ("reply", {"note": "已电话告知补发安排", "via": "电话"})):
        clock.now += timedelta(minutes=20)
        t = tickets.transition(t.id, action, actor="agent:lin", expected_version=t.version, **extra)
    clock.now = at(2026, 6, 4, 10, 0).astimezone(UTC)
    t = tickets.transition(t.id, "resolve", actor="agent:lin", expected_version=t.version)
    assert t.resolve_due == at(2026, 6, 23, 10, 0)
    return t


def listed_breached(cfg, capsys) -> str:
    from crisiswatch.cli import main

    assert main(["--config", str(cfg), "ticket", "list", "--breached"]) == 0
    return capsys.readouterr().out


def test_a_ticket_resolved_on_time_never_breaches_its_completion_limit(tmp_path, monkeypatch, capsys):
    # 回访 may take up to 20 working days here, so on 23 June (办结 day) nothing at all is late
    tickets, clock, cfg = desk_at(tmp_path, at(2026, 6, 1, 10, 0), monkeypatch, followup_within="20wd")
    t = resolved_on_time(tickets, clock)
    clock.now = at(2026, 6, 23, 12, 0).astimezone(UTC)
    assert tickets.check_sla()["breaches"] == []
    t = tickets.get(t.id)
    assert (t.breaches, t.escalation_level, t.departments) == (0, 0, ["客服"])
    # the SLA watch, the dashboard's 超时工单 and `ticket list --breached` say the same: nothing is late
    assert not t.overdue(clock.now) and tickets.count_overdue(clock.now) == 0
    assert t.number not in listed_breached(cfg, capsys)


def test_after_resolution_only_the_follow_up_can_be_late_and_everyone_says_so(tmp_path, monkeypatch, capsys):
    tickets, clock, cfg = desk_at(tmp_path, at(2026, 6, 1, 10, 0), monkeypatch)
    t = resolved_on_time(tickets, clock)
    assert t.followup_due == at(2026, 6, 9, 10, 0)  # 3 working days after the resolution
    clock.now = at(2026, 6, 23, 12, 0).astimezone(UTC)  # 回访 never done; 办结 was met on 4 June
    assert [b["timer"] for b in tickets.check_sla()["breaches"]] == ["followup"]
    t = tickets.get(t.id)
    assert (t.breaches, t.escalation_level) == (1, 1)
    assert t.late(clock.now) == ["followup"] and t.overdue(clock.now)
    assert tickets.count_overdue(clock.now) == 1  # the dashboard's 超时工单
    assert t.number in listed_breached(cfg, capsys)
    # once the 回访 is done the ticket is on time again, in all three
    t = tickets.transition(t.id, "followup", actor="agent:lin", expected_version=t.version, satisfaction=5)
    assert tickets.check_sla()["breaches"] == [] and not tickets.get(t.id).overdue(clock.now)
    assert tickets.count_overdue(clock.now) == 0 and t.number not in listed_breached(cfg, capsys)


def test_an_open_ticket_past_its_completion_limit_is_late_in_all_three(tmp_path, monkeypatch, capsys):
    tickets, clock, cfg = desk_at(tmp_path, at(2026, 6, 1, 10, 0), monkeypatch)
    t = phone(tickets)
    for action, extra in (("accept", {}), ("start", {}), ("reply", {"note": "已电话告知补发安排", "via": "电话"})):
        clock.now += timedelta(minutes=20)
        t = tickets.transition(t.id, action, actor="agent:lin", expected_version=t.version, **extra)
    clock.now = at(2026, 6, 23, 12, 0).astimezone(UTC)
    assert [b["timer"] for b in tickets.check_sla()["breaches"]] == ["feedback", "resolve"]
    assert tickets.get(t.id).late(clock.now) == ["feedback", "resolve"]
    assert tickets.count_overdue(clock.now) == 1 and t.number in listed_breached(cfg, capsys)
    assert tickets.list(breached=False) == [] and tickets.count(breached=True) == 1


def test_a_new_grade_keeps_an_approved_extension_and_the_feedback_due_after_the_plan(tmp_path):
    from monitor.dashboard.i18n_events import ticket_timeline

    tickets, clock = service(tmp_path, at(2026, 6, 1, 10, 0), staff={"王经理": "管理层"})  # Monday
    t = phone(tickets)
    for action, extra in (("accept", {}), ("start", {})):
        t = tickets.transition(t.id, action, actor="agent:lin", expected_version=t.version, **extra)
    clock.now = at(2026, 6, 1, 15, 0).astimezone(UTC)
    t = tickets.transition(t.id, "reply", actor="agent:lin", expected_version=t.version, note="已查明，明日补发",
                           via="电话")
    assert t.feedback_due == at(2026, 6, 4, 15, 0)  # 一般: 3 working days after the plan
    t = tickets.extend(t.id, at(2026, 7, 10, 18, 0), approved_by="王经理", actor="agent:lin", expected_version=t.version)
    t = tickets.classify(t.id, actor="agent:lin", expected_version=t.version, severity="重要")
    # 重要's own limits from the opening, but 办结 stays where 王经理 moved it (重要 alone: 15 June) and the result
    # is due 2 working days after the plan given at 15:00 on 1 June (from the first-response deadline: 4 June 10:00)
    assert (t.severity, t.response_due, t.feedback_due) == ("重要", at(2026, 6, 2, 10, 0), at(2026, 6, 3, 15, 0))
    assert (t.resolve_due, t.extension_approved_by) == (at(2026, 7, 10, 18, 0), "王经理")
    clock.now = at(2026, 6, 16, 10, 0).astimezone(UTC)  # past 重要's default 办结, inside the extension
    assert "resolve" not in [b["timer"] for b in tickets.check_sla()["breaches"]]
    event = next(e for e in tickets.timeline(t.id) if e["kind"] == "classified")
    assert event["detail"]["previous_severity"] == "一般"
    assert set(event["detail"]["deadlines"]) == {"response", "feedback"}  # what moved; 受理 and 办结 did not
    assert event["detail"]["extension"] == {"approved_by": "王经理", "kept": True, "until": "2026-07-10T10:00:00+00:00"}
    line = ticket_timeline([event], t.number, "zh", tickets.local)[0]["text"]
    assert line == ("确认分类与级别：重要；时限调整：首次响应 2026-06-03 10:00→2026-06-02 10:00、结果反馈 2026-06-04 15:00→"
                    "2026-06-03 15:00（结果反馈自首次回复起算）；保留 王经理 批准的延期，办结仍为 2026-07-10 18:00")


def test_a_new_grade_whose_own_limit_is_later_than_the_extension_drops_it_and_says_so(tmp_path):
    from monitor.dashboard.i18n_events import ticket_timeline

    tickets, _ = service(tmp_path, at(2026, 6, 1, 10, 0), staff={"王经理": "管理层"})
    t = phone(tickets, severity="重要")
    assert t.resolve_due == at(2026, 6, 15, 10, 0)
    t = tickets.extend(t.id, at(2026, 6, 18, 18, 0), approved_by="王经理", actor="agent:lin", expected_version=t.version)
    t = tickets.classify(t.id, actor="agent:lin", expected_version=t.version, severity="一般")
    assert (t.resolve_due, t.extension_approved_by) == (at(2026, 6, 23, 10, 0), "")  # 15 working days, no label
    event = tickets.timeline(t.id)[-1]
    assert event["detail"]["extension"]["kept"] is False
    assert "resolve" in event["detail"]["deadlines"]
    line = ticket_timeline([event], t.number, "zh", tickets.local)[0]["text"]
    assert line.endswith("；新级别的办结时限晚于 王经理 批准的延期（2026-06-18 18:00），延期不再适用")


def test_only_a_named_member_of_management_approves_an_extension(tmp_path):
    tickets, _ = service(tmp_path, at(2026, 6, 1, 10, 0), staff={"林晓": "客服", "周敏": "调查", "王经理": "管理层",
                                                                "赵总": "管理层"})
    t = phone(tickets)
    until = at(2026, 7, 10, 18, 0)
    for made_up, why in (("X", "X is not in tickets.staff"), ("周敏", "周敏 is in 调查, not 管理层")):
        with pytest.raises(TicketError) as refused:
            tickets.extend(t.id, until, approved_by=made_up, actor="林晓", expected_version=t.version)
        assert str(refused.value) == f"an extension is approved by a member of 管理层 (王经理、赵总); {why}"
    assert tickets.get(t.id).resolve_due == at(2026, 6, 23, 10, 0) and tickets.timeline(t.id)[-1]["kind"] == "created"
    t = tickets.extend(t.id, until, approved_by="赵总", actor="林晓", expected_version=t.version)
    assert (t.resolve_due, t.extension_approved_by) == (until, "赵总")
    nobody, _ = service(tmp_path / "nobody", at(2026, 6, 1, 10, 0), staff={"林晓": "客服"})
    t = phone(nobody)
    with pytest.raises(TicketError, match=r"tickets.staff names none: add them \(e.g. 王经理: 管理层\)"):
        nobody.extend(t.id, until, approved_by="王经理", actor="林晓", expected_version=t.version)


def test_the_cli_refuses_a_made_up_approval_in_one_line(tmp_path, monkeypatch, capsys):
    from crisiswatch.cli import main

    tickets, _, cfg = desk_at(tmp_path, at(2026, 6, 1, 10, 0), monkeypatch, staff={"林晓": "客服", "王经理": "管理层"})
    t = phone(tickets)
    extend = ["--config", str(cfg), "ticket", "--as", "林晓", "extend", t.number, "--until", "2026-07-10T18:00"]
    assert main([*extend, "--approved-by", "X"]) == 1
    err = capsys.readouterr().err
    assert err.strip().splitlines()[-1] == ("crisiswatch: an extension is approved by a member of 管理层 (王经理); "
                                            "X is not in tickets.staff")
    assert main([*extend, "--approved-by", "王经理"]) == 0
    assert tickets.get(t.id).extension_approved_by == "王经理"


def test_a_breach_left_late_is_said_again_each_working_day_not_over_the_holiday(tmp_path):
    # 重要, Wednesday 30 Sep 2026 17:00, never accepted: 受理 was due 18:00 that day, then 1-7 October are off
    tickets, _ = service(tmp_path, at(2026, 9, 30, 17, 0))
    t = phone(tickets, "重要")
    said = []
    for day in [30, *range(1, 13)]:
        now = at(2026, 9 if day == 30 else 10, day, 18, 1)
        for _ in range(2):  # a second sweep the same evening says nothing new
            found = tickets.check_sla(now)
            said += [(now.date().isoformat(), kind, i["timer"], i.get("days_late"))
                     for kind in ("breaches", "still_late") for i in found[kind]]
    assert said == [
        ("2026-09-30", "breaches", "ack", None),
        # the holiday adds no working time: nothing is said again until the first working day after it
        ("2026-10-08", "breaches", "response", None), ("2026-10-08", "still_late", "ack", 1),
        ("2026-10-09", "still_late", "ack", 2),
        ("2026-10-10", "breaches", "feedback", None), ("2026-10-10", "still_late", "ack", 3),  # 调休 Saturday
        ("2026-10-12", "still_late", "ack", 4),  # Sunday 11 October is a day off
    ]
    t = tickets.require(t.id)
    assert (t.breaches, t.escalation_level) == (3, 3)  # said again, not escalated or counted again
    kinds = [e["kind"] for e in tickets.timeline(t.id)]
    assert kinds.count("sla_still_late") == 4


def test_show_says_a_deadline_in_a_year_not_yet_published_is_estimated(tmp_path, monkeypatch, capsys):
    from crisiswatch.cli import main

    tickets, clock, cfg = desk_at(tmp_path, at(2026, 10, 12, 10, 0), monkeypatch)
    ticket = ["--config", str(cfg), "ticket", "--as", "林晓"]
    assert main([*ticket, "show", phone(tickets).number]) == 0  # due within 2026: as published
    assert "estimated" not in capsys.readouterr().out
    clock.now = at(2026, 12, 30, 10, 0).astimezone(UTC)
    late_december, early = phone(tickets), phone(tickets, "重大")
    assert late_december.resolve_due.year == 2027 and early.resolve_due == at(2027, 1, 5, 10, 0)
    assert main([*ticket, "show", late_december.number]) == 0
    assert "estimated: the 2027 holiday calendar is not published yet" in capsys.readouterr().out
    clock.now = at(2026, 12, 30, 10, 5).astimezone(UTC)
    for action in ("accept", "start"):
        early = tickets.transition(early.id, action, actor="agent:lin", expected_version=early.version)
    early = tickets.transition(early.id, "reply", actor="agent:lin", expected_version=early.version,
                               note="已电话告知处理方案", via="电话")
    early = tickets.transition(early.id, "resolve", actor="agent:lin", expected_version=early.version)
    assert early.followup_due.year == 2027
    assert main([*ticket, "show", early.number]) == 0  # only the 回访 still runs, due in 2027: estimated too
    assert "estimated: the 2027" in capsys.readouterr().out
