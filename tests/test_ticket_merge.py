"""Duplicates merged: the same complaint taken twice becomes one ticket, counted once."""

from __future__ import annotations

from datetime import UTC, timedelta

import pytest

from crisiswatch.cli import main
from crisiswatch.db import connect
from playbooks.tickets.models import TicketError
from playbooks.tickets.report import build_report
from playbooks.tickets.service import TicketService
from tests.test_ticket_sla import at, desk_at
from tests.test_tickets import Clock

pytest_plugins = ["tests.stores"]


def take(tickets, channel, contact, summary="快递五天没到，电话也打不通"):
    return tickets.intake(channel=channel, customer="王女士", contact=contact, summary=summary,
                          category="logistics", severity="一般", actor="agent:lin")


def test_a_duplicate_is_merged_into_the_ticket_kept_and_counted_once(state_url):
    clock = Clock(at(2026, 10, 12, 10, 0).astimezone(UTC))
    tickets = TicketService(connect(state_url), clock=clock)
    first = take(tickets, "phone", "13812345678")
    clock.now += timedelta(days=1)
    second = take(tickets, "email", "13812345678")  # the same complaint again, by e-mail a day later
    assert [r["reason"] for r in second.related] == ["same_contact"]
    kept = tickets.merge(first.id, second.id, actor="agent:lin", expected_version=first.version)
    assert kept.id == second.id and kept.response_due == first.response_due  # the customer waited since the first
    dup = tickets.require(first.id)
    assert dup.status == "已关闭" and TicketService.merged_into(dup) == second.number
    assert tickets.timeline(dup.id)[-1]["detail"]["into"] == second.number
    with pytest.raises(TicketError, match=f"was merged into {second.number}: reopen {second.number} instead"):
        tickets.transition(dup.id, "reopen", actor="agent:lin", expected_version=dup.version)
    with pytest.raises(TicketError, match="only open tickets are merged"):
        tickets.merge(second.id, first.id, actor="agent:lin", expected_version=kept.version)
    report = build_report(tickets, "7d", until=clock.now + timedelta(hours=1))
    assert report.total == 1 and report.repeat_rate == 0  # one complaint, taken twice


def test_merge_from_the_cli(tmp_path, monkeypatch, capsys):
    tickets, clock, cfg = desk_at(tmp_path, at(2026, 10, 12, 10, 0), monkeypatch)
    a, b = take(tickets, "phone", "13812345678"), take(tickets, "chat", "13900000000", "屏幕有坏点")
    assert main(["--config", str(cfg), "ticket", "merge", b.number, "--into", a.number]) == 0
    assert f"{b.number} merged into {a.number}" in capsys.readouterr().err
    assert main(["--config", str(cfg), "ticket", "show", a.number]) == 0
    out = capsys.readouterr().out
    assert f"并入重复工单 {b.number}" in out and f"related: {b.number} (重复工单已合并, later)" in out
