"""Waiting for the customer (补充材料): the SLA clocks stop, and the deadlines move by the working time waited."""

from __future__ import annotations

from datetime import UTC

import pytest

from crisiswatch.cli import main
from crisiswatch.db import connect
from playbooks.tickets.models import TicketError
from playbooks.tickets.service import TicketService
from tests.test_ticket_sla import at, desk_at, phone
from tests.test_tickets import Clock

pytest_plugins = ["tests.stores"]


def test_waiting_for_the_customer_stops_the_clocks_and_moves_the_deadlines(tmp_path, monkeypatch, capsys):
    tickets, clock, cfg = desk_at(tmp_path, at(2026, 10, 12, 10, 0), monkeypatch)  # Monday
    t = phone(tickets)
    assert (t.response_due, t.resolve_due) == (at(2026, 10, 14, 10, 0), at(2026, 11, 2, 10, 0))
    ticket = ["--config", str(cfg), "ticket", "--as", "林晓"]
    clock.now = at(2026, 10, 12, 10, 10).astimezone(UTC)
    assert main([*ticket, "accept", t.number]) == 0 and main([*ticket, "start", t.number]) == 0
    clock.now = at(2026, 10, 13, 10, 0).astimezone(UTC)
    assert main([*ticket, "pause", t.number, "--note", "等待客户补充商品照片"]) == 0
    assert "等待客户 since 2026-10-13 10:00" in capsys.readouterr().out
    for day in (14, 15, 16):  # past the 首次响应 deadline while waiting: nothing is late
        clock.now = at(2026, 10, day, 9, 30).astimezone(UTC)
        assert tickets.check_sla(clock.now)["breaches"] == [] and tickets.require(t.id).late(clock.now) == []
        assert main([*ticket, "list", "--breached"]) == 0
        assert t.number not in capsys.readouterr().out
    assert main([*ticket, "reply", t.number, "已收到照片，正在核实"]) == 1
    assert f"resume it first (`ticket resume {t.number}`)" in capsys.readouterr().err
    clock.now = at(2026, 10, 16, 10, 0).astimezone(UTC)  # Friday: three working days waited (Tue to Fri 10:00)
    assert main([*ticket, "resume", t.number, "--note", "客户已发来照片"]) == 0
    t = tickets.require(t.id)
    assert t.paused_at is None
    assert (t.response_due, t.resolve_due) == (at(2026, 10, 19, 10, 0), at(2026, 11, 5, 10, 0))
    assert t.ack_due == at(2026, 10, 12, 11, 0)  # reached before the wait: stays as it was
    kinds = [e["kind"] for e in tickets.timeline(t.id)]
    assert kinds[-2:] == ["paused", "resumed"] and tickets.timeline(t.id)[-1]["detail"]["waited_minutes"] == 27 * 60


def test_a_round_the_clock_grade_waits_in_clock_time(state_url):
    clock = Clock(at(2026, 10, 12, 10, 0).astimezone(UTC))
    tickets = TicketService(connect(state_url), clock=clock)
    t = phone(tickets, "紧急")
    assert t.response_due == at(2026, 10, 12, 14, 0)
    t = tickets.pause(t.id, actor="agent:lin", expected_version=t.version, note="等待客户提供订单截图",
                      now=at(2026, 10, 12, 11, 0))
    with pytest.raises(TicketError, match="has waited for the customer since 2026-10-12 11:00"):
        tickets.pause(t.id, actor="agent:lin", expected_version=t.version, note="again")
    assert tickets.check_sla(at(2026, 10, 12, 20, 0)) == {"reminders": [], "breaches": [], "still_late": []}
    t = tickets.resume(t.id, actor="agent:lin", expected_version=t.version, now=at(2026, 10, 12, 20, 0))
    assert t.response_due == at(2026, 10, 12, 23, 0)  # nine hours waited
    with pytest.raises(TicketError, match="is not waiting for the customer"):
        tickets.resume(t.id, actor="agent:lin", expected_version=t.version)
