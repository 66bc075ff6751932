"""Deadlines counted in late December on a guessed calendar for January are recomputed once the year's holidays
and make-up working days (调休) are known: by `ticket recompute-deadlines` and by the run loop at start."""

from __future__ import annotations

from datetime import UTC, date

import yaml

from crisiswatch.audit import AuditLog
from crisiswatch.cli import main
from crisiswatch.config import TicketSettings, WorkCalendarSettings
from crisiswatch.db import connect
from playbooks.tickets.recompute import recompute_deadlines
from playbooks.tickets.service import TicketService
from tests.test_ticket_sla import at, desk_at, phone
from tests.test_tickets import Clock

# 2027 as if the State Council had published it: Monday 4 January off, Saturday 9 January worked (调休)
PUBLISHED = {"extra_holidays": [date(2027, 1, 4)], "extra_workdays": [date(2027, 1, 9)]}
UPDATED_AT = at(2027, 1, 7, 12, 0)  # the config gains the year; the loop restarts


def desk(tickets: TicketService, clock: Clock) -> dict[str, int]:
    """The same week at the desk, on whatever calendar `tickets` has; the tickets' ids by name."""
    clock.now = at(2026, 12, 30, 10, 0).astimezone(UTC)  # Wednesday
    made = {"plain": phone(tickets).id, "waited": phone(tickets).id, "major": phone(tickets, "重大").id}
    clock.now = at(2026, 12, 30, 11, 0).astimezone(UTC)
    waited = tickets.require(made["waited"])
    tickets.pause(waited.id, actor="agent:lin", expected_version=waited.version, note="等待客户补充照片")
    clock.now = at(2026, 12, 31, 15, 0).astimezone(UTC)
    waited = tickets.require(made["waited"])
    tickets.resume(waited.id, actor="agent:lin", expected_version=waited.version)
    clock.now = at(2026, 12, 31, 17, 30).astimezone(UTC)  # acknowledged within the hour, or on Monday the 4th
    made["evening"] = phone(tickets).id
    closed = phone(tickets)
    for action, extra in (
        ("accept", {}),
        ("start", {}),
        ("reply", {"note": "已电话告知补发安排", "via": "电话"}),
        ("resolve", {}),
        ("followup", {"satisfaction": 5}),
        ("close", {}),
    ):
        closed = tickets.transition(
            closed.id, action, actor="agent:lin", expected_version=closed.version, **extra
        )
    made["closed"] = closed.id
    clock.now = at(2027, 1, 7, 10, 0).astimezone(UTC)  # Thursday: 2 working days end on the 调休 Saturday
    made["thursday"] = phone(tickets).id
    return made


def audit_trail(tickets: TicketService) -> list[dict]:
    return list(reversed(AuditLog(tickets.conn).entries(limit=10_000)))  # oldest first


def settings(**calendar) -> TicketSettings:
    return TicketSettings(calendar=WorkCalendarSettings(**calendar))


def test_deadlines_counted_before_the_year_was_published_are_recomputed_across_the_year_boundary(
    tmp_path, state_url
):
    clock = Clock(at(2026, 12, 30, 9, 0).astimezone(UTC))
    guessed = TicketService(connect(state_url), settings=settings(), clock=clock)
    assert recompute_deadlines(guessed, actor="crisiswatch").first  # the loop's start: the calendar recorded
    ids = desk(guessed, clock)
    before = {name: guessed.require(i) for name, i in ids.items()}
    # what the desk would have counted had the year been known all along
    known = TicketService(
        connect(tmp_path / "known.db"), settings=settings(**PUBLISHED), clock=Clock(clock.now)
    )
    reference = {name: known.require(i) for name, i in desk(known, known.now).items()}

    clock.now = UPDATED_AT.astimezone(UTC)
    published = TicketService(connect(state_url), settings=settings(**PUBLISHED), clock=clock)
    audit = len(audit_trail(published))
    preview = recompute_deadlines(published, actor="crisiswatch", dry_run=True)
    assert preview.changed_years == [2027] and {t.number for t, _ in preview.moved} == {
        before[n].number for n in ("plain", "waited", "major", "evening", "thursday")
    }
    assert all(published.require(i).version == before[n].version for n, i in ids.items())  # nothing changed
    assert len(audit_trail(published)) == audit

    done = recompute_deadlines(published, actor="crisiswatch")
    assert (done.changed_years, done.left) == ([2027], [])
    for name, i in ids.items():
        t, want = published.require(i), reference[name]
        assert {timer: t.due(timer) for timer in t.pending()} == {
            timer: want.due(timer) for timer in want.pending()
        }, name
    evening, thursday = published.require(ids["evening"]), published.require(ids["thursday"])
    # acknowledgement due on the day that turned out a holiday, and 首次响应 that missed the 调休 Saturday
    assert before["evening"].ack_due == at(2027, 1, 4, 9, 30) and evening.ack_due == at(2027, 1, 5, 9, 30)
    assert before["thursday"].response_due == at(2027, 1, 11, 10, 0)
    assert thursday.response_due == at(2027, 1, 9, 10, 0)
    # the wait for the customer still counts: its working time is added on the new calendar
    assert published.require(ids["waited"]).resolve_due > published.require(ids["plain"]).resolve_due
    # a closed ticket is left alone
    assert published.require(ids["closed"]).version == before["closed"].version
    event = published.timeline(ids["evening"])[-1]
    assert (event["kind"], event["actor"], event["detail"]["years"]) == (
        "deadlines_recomputed",
        "crisiswatch",
        [2027],
    )
    assert event["detail"]["deadlines"]["ack"] == {
        "from": at(2027, 1, 4, 9, 30).astimezone(UTC).isoformat(),
        "to": at(2027, 1, 5, 9, 30).astimezone(UTC).isoformat(),
    }
    trail = audit_trail(published)[audit:]
    assert sorted(e["subject"] for e in trail if e["action"] == "ticket.deadlines_recomputed") == sorted(
        t.number for t, _ in done.moved
    )
    summary = [e for e in trail if e["action"] == "tickets.calendar"]
    assert len(summary) == 1 and summary[0]["detail"]["changed"] == [2027]
    assert summary[0]["detail"]["recomputed"] == 5 and summary[0]["detail"]["left"] == []

    # the next start: nothing left to do, nothing said
    again = recompute_deadlines(published, actor="crisiswatch")
    assert (again.changed_years, again.moved) == ([], [])
    assert len(audit_trail(published)) == audit + len(trail)


def test_the_command_previews_and_the_run_loop_recomputes_at_start(tmp_path, monkeypatch, capsys):
    from alerts.dispatch import AlertDispatcher
    from crisiswatch.config import load_config
    from monitor.loop import RunLoop

    tickets, clock, cfg = desk_at(tmp_path, at(2026, 12, 30, 10, 0), monkeypatch)
    ticket = ["--config", str(cfg), "ticket", "--as", "林晓"]
    assert main([*ticket, "recompute-deadlines"]) == 0
    assert "recorded as it is now" in capsys.readouterr().err
    t = phone(tickets)
    assert t.response_due == at(2027, 1, 4, 10, 0)
    main([*ticket, "show", t.number])
    assert "estimated: the 2027 holiday calendar is not published yet" in capsys.readouterr().out

    data = yaml.safe_load(cfg.read_text(encoding="utf-8"))
    data["tickets"] = {"calendar": {key: [d.isoformat() for d in days] for key, days in PUBLISHED.items()}}
    cfg.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    clock.now = at(2027, 1, 2, 10, 0).astimezone(UTC)
    assert main([*ticket, "recompute-deadlines", "--dry-run"]) == 0
    out, err = capsys.readouterr()
    assert f"{t.number}  首次响应 2027-01-04 10:00 → 2027-01-05 10:00" in out
    assert "1 tickets would move on the 2027 calendar, 0 left" in err
    assert tickets.require(t.id).version == t.version

    config = load_config(str(cfg))
    loop = RunLoop(
        config,
        None,
        connect(config.state_store),
        AlertDispatcher(config, tickets.conn, {}),
        clock=clock,
        role="detect",
    )
    assert loop.pass_once().failed_stages == []
    t = tickets.require(t.id)
    kinds = [e["kind"] for e in tickets.timeline(t.id)]
    assert t.response_due == at(2027, 1, 5, 10, 0) and kinds.count("deadlines_recomputed") == 1
    # before the pass's SLA check, so that its reminders are for the recomputed deadlines
    assert kinds.index("deadlines_recomputed") < kinds.index("sla_reminder")
    main([*ticket, "show", t.number])
    shown = capsys.readouterr().out
    assert (
        "estimated" not in shown
        and "SLA 时限按新日历重算：首次响应 2027-01-04 10:00→2027-01-05 10:00" in shown
    )
    assert main([*ticket, "recompute-deadlines"]) == 0  # the loop did it: nothing more to do
    assert "has not changed since the deadlines were counted" in capsys.readouterr().err
