"""A month at the complaint desk on each state store: the National Day holiday and its 调休 Saturday, daily SLA
sweeps, 回访, and the month's report reconciled with the tickets it counts."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta

import pytest

from crisiswatch.db import connect
from playbooks.tickets.report import build_report, render
from playbooks.tickets.service import TicketService
from tests.test_ticket_sla import at
from tests.test_tickets import Clock

pytest_plugins = ["tests.stores"]
DESK = [  # (opened, category, grade, customer contact): the holiday's eve, the holiday, the 调休 Saturday, month end
    (at(2026, 9, 30, 17, 0), "logistics", "重要", "13800000001"),
    (at(2026, 10, 3, 21, 0), "product_quality", "一般", "13800000002"),
    (at(2026, 10, 9, 23, 59), "payment_billing", "一般", "13800000003"),
    (at(2026, 10, 10, 0, 1), "logistics", "一般", "13800000001"),  # the same customer again
    (at(2026, 10, 31, 23, 59), "after_sales", "紧急", "13800000004"),
    (at(2026, 11, 1, 0, 1), "logistics", "一般", "13800000005"),  # November's
]
REPLY = {"note": "已核查物流并为您补发，三天内送达", "via": "电话"}


def step(tickets, clock, t, when, action, **extra):
    clock.now = when
    return tickets.transition(t.id, action, actor="agent:lin", expected_version=tickets.require(t.id).version,
                              **extra)


def test_a_month_at_the_desk_across_the_national_day_holiday(state_url):
    clock = Clock(DESK[0][0])
    tickets = TicketService(connect(state_url), clock=clock)
    made = []
    for opened, category, grade, contact in DESK:
        clock.now = opened
        made.append(tickets.intake(channel="phone", customer="顾客", contact=contact, summary=f"{category}的问题",
                                   category=category, severity=grade, actor="agent:lin"))
    holiday_eve, holiday, friday_night, saturday, month_end, november = made
    # 23:59 on Friday and 00:01 on the 调休 Saturday: both due when the Saturday's work starts
    assert friday_night.ack_due == saturday.ack_due == at(2026, 10, 10, 10, 0)
    assert holiday.ack_due == at(2026, 10, 8, 10, 0)  # taken on the holiday: the first working hour after it

    said = Counter()
    for day in range(40):  # the run loop's sweep each evening, 30 September to 8 November
        now = at(2026, 9, 30, 19, 0) + timedelta(days=day)
        if now.date() == at(2026, 10, 8, 0, 0).date():
            for t in (holiday, friday_night):
                for action, extra in (("accept", {}), ("start", {}), ("reply", REPLY)):
                    step(tickets, clock, t, now.replace(hour=9, minute=30), action, **extra)
            step(tickets, clock, holiday, now.replace(hour=11), "resolve")
            step(tickets, clock, holiday, now.replace(hour=15), "followup", satisfaction=2,
                 close_reason="诉求超出政策")  # else the dissatisfied case goes back to handling
        if now.date() == at(2026, 10, 12, 0, 0).date():
            step(tickets, clock, friday_night, now.replace(hour=10), "resolve")
            for hour in (11, 14, 16):
                clock.now = now.replace(hour=hour)
                tickets.followup_unreached(friday_night.id, actor="agent:lin",
                                           expected_version=tickets.require(friday_night.id).version)
            step(tickets, clock, friday_night, now.replace(hour=17), "close")
        found = tickets.check_sla(now)
        said.update((now.date().isoformat(), kind) for kind, items in found.items() for _ in items)
    # nothing is said again over the holiday; the eve's ticket, never taken up, is said again each working day
    assert not any(said[(f"2026-10-0{d}", "still_late")] for d in range(1, 8))
    assert said[("2026-10-08", "still_late")] == said[("2026-10-10", "still_late")] == 1
    assert said[("2026-10-11", "still_late")] == 0  # Sunday

    report = build_report(tickets, "month", at(2026, 11, 3, 9, 0))
    october = tickets.list(since=report.since, until=report.until, limit=100)
    assert report.total == len(october) == 4  # 30 September is September's, 1 November 00:01 November's
    assert {holiday_eve.id, november.id}.isdisjoint(t.id for t in october)
    assert report.categories == dict(Counter(t.category for t in october))
    assert report.severities == dict(Counter(t.severity for t in october))
    assert sum(report.departments.values()) == report.total
    assert (report.resolved, report.on_time_rate, report.satisfaction) == (2, 1.0, {2: 1})
    assert report.repeat_rate == pytest.approx(1 / 4)  # the same phone number again on 10 October
    assert [t.number for t in october if tickets.require(t.id).breaches] == [month_end.number, saturday.number]
    assert report.sla_breach_rate == pytest.approx(1 / 4)  # the 31 October one fell late in November
    assert "| 部门 Lead department" not in render(report, "md") and "## 部门 Lead department" in render(report, "md")
    empty = build_report(tickets, "week", at(2026, 12, 1, 9, 0))
    assert (empty.total, empty.on_time_rate, sum(empty.daily[d]["opened"] for d in empty.daily)) == (0, None, 0)
    assert "(no complaints in this period)" in render(empty, "md")
