"""Deadlines counted on a work calendar that has changed since: recounted from each ticket's start.

China publishes next year's holidays and make-up working days (调休) late in the year; until then a deadline
that runs into that year is counted on the library's guess (`WorkCalendar.estimated`, which `ticket show`
calls "estimated"). Once the calendar knows the year (a newer `holidays` package, or the year's days in
`tickets.calendar`), the deadlines already stored would keep the guess: one on a holiday, or one that
misses a 调休 working day. So each calendar's days are fingerprinted per year, and the fingerprint the
stored deadlines were counted on is kept in the audit trail (subject `work-calendar`, one line each time
it changes). A year whose fingerprint differs has every open ticket whose clocks run through it recounted
from its start on the new calendar, as the desk counted them: the grade's limits, the result due after the
plan (the first reply), waits for the customer (each moving the deadlines later by the time it lasted),
approved extensions, deadlines set by hand and duplicates merged in (the earlier of the two). Each ticket
changed gets a timeline event and an audit line; a ticket changed meanwhile by someone else is left, said,
and its year stays unrecorded so that the next run takes it up again.
"""

from __future__ import annotations

import builtins
import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from crisiswatch.audit import AuditLog
from crisiswatch.db import transaction
from playbooks.tickets.models import SETTLED, TIMERS, Ticket, TicketConflict, TicketError
from playbooks.tickets.service import TicketService
from playbooks.tickets.sla import WorkCalendar

CALENDAR_SUBJECT = "work-calendar"  # the audit trail's subject for the calendar the deadlines are counted on
YEARS_AHEAD = 1  # years past this one whose calendar is fingerprinted even before a ticket runs into them


@dataclass
class Recomputed:
    """What a recomputation found: the years whose calendar changed, the tickets moved, and those left (with why)."""

    changed_years: builtins.list[int]
    moved: builtins.list[tuple[Ticket, dict[str, tuple[datetime, datetime]]]] = field(default_factory=list)
    left: builtins.list[tuple[Ticket, str]] = field(default_factory=list)
    first: bool = False  # no fingerprint was recorded before: this one is the baseline


def year_fingerprint(calendar: WorkCalendar, year: int) -> dict[str, Any]:
    """The year's days off on weekdays and working days on weekends, digested, and whether they are a guess."""
    day, days = date(year, 1, 1), []
    while day.year == year:
        if calendar.is_workday(day) != (day.isoweekday() in calendar.hours.days):
            days.append(day.isoformat())
        day += timedelta(days=1)
    return {
        "days": hashlib.sha256(",".join(days).encode()).hexdigest()[:16],
        "estimated": calendar.estimated(date(year, 1, 1)),
    }


def recorded_fingerprints(tickets: TicketService) -> dict[int, dict[str, Any]] | None:
    """The fingerprints the stored deadlines were counted on (None: never recorded)."""
    row = tickets.conn.execute(
        "SELECT detail FROM audit_log WHERE subject=? ORDER BY id DESC LIMIT 1", (CALENDAR_SUBJECT,)
    ).fetchone()
    if row is None:
        return None
    return {int(year): mark for year, mark in json.loads(row["detail"]).get("years", {}).items()}


def recomputed_deadlines(
    tickets: TicketService, ticket: Ticket, until: datetime | None = None
) -> dict[str, datetime]:
    """The ticket's deadlines counted again from when its clocks last started, on today's calendar, replaying
    what moved them since (up to `until`, for a duplicate at the time it was merged)."""
    clock, severity, start = tickets.clock, ticket.severity, ticket.started_at
    due = clock.deadlines(severity, start)
    steps = [(datetime.fromisoformat(e["at"]), e["kind"], e["detail"]) for e in tickets.timeline(ticket.id)]
    if tickets.planned(ticket):  # the result is due `feedback` after the plan (the first reply)
        steps.append((ticket.first_reply_at, "planned", {}))
    paused_at = None
    for at, kind, detail in sorted((s for s in steps if s[0] >= start), key=lambda s: s[0]):
        if until is not None and at > until:
            break
        if kind == "planned":
            due["feedback"] = clock.feedback_after_plan(severity, at, due["resolve"])
        elif kind == "paused":
            paused_at = at
        elif kind == "resumed" and paused_at is not None:  # as `TicketService.resume` moves them
            waited = clock.waited(severity, paused_at, at)
            due = {
                timer: when
                if (met := ticket.met_at(timer)) is not None and met <= at
                else clock.add(when, waited, severity)
                for timer, when in due.items()
            }
            paused_at = None
        elif kind == "extended" and ticket.extension_approved_by:  # an approved date, not a count
            due["resolve"] = datetime.fromisoformat(detail["until"])
        elif kind == "deadlines":  # set by hand
            due.update(
                {timer: datetime.fromisoformat(when) for timer, when in detail.items() if timer in TIMERS}
            )
        elif kind == "merged_from":  # the customer had waited since the duplicate was taken
            duplicate = tickets.by_number(detail["number"])
            if duplicate is not None:
                theirs = recomputed_deadlines(tickets, duplicate, until=at)
                for key in detail.get("deadlines", []):
                    timer = key.removesuffix("_due")
                    due[timer] = min(due[timer], theirs[timer])
    if ticket.resolved_at is not None and ticket.followup_due is not None:
        due["followup"] = clock.add(ticket.resolved_at, tickets.settings.followup_within, severity)
    return due


def recompute_deadlines(
    tickets: TicketService,
    *,
    actor: str,
    dry_run: bool = False,
    years: Iterable[int] = (),
    now: datetime | None = None,
) -> Recomputed:
    """Recount the open tickets whose clocks run through a year whose calendar changed since the deadlines were
    counted (or through one of `years`, asked for by hand); records the new fingerprints unless `dry_run`."""
    now = now or tickets.now()
    open_tickets = _open_tickets(tickets)
    calendar = tickets.clock.calendar
    span = _years(tickets, open_tickets, now)
    current = {year: year_fingerprint(calendar, year) for year in span}
    recorded = recorded_fingerprints(tickets)
    changed = sorted(
        {year for year in current if recorded and year in recorded and recorded[year] != current[year]}
        | set(years)
    )
    result = Recomputed(changed_years=changed, first=recorded is None)
    for ticket in open_tickets if changed else []:
        _recompute_one(tickets, ticket, set(changed), actor, dry_run, now, result)
    if dry_run or (recorded == current and not years):
        return result
    # a year with a ticket left is recorded as it was, so that the next run takes that ticket up again
    keep = {year: recorded[year] for year in changed if result.left and recorded and year in recorded}
    with transaction(tickets.conn):
        AuditLog(tickets.conn).record(
            actor,
            "tickets.calendar",
            CALENDAR_SUBJECT,
            "ok" if not result.left else "incomplete",
            at=now,
            years={str(year): mark for year, mark in {**current, **keep}.items()},
            changed=changed,
            estimated=sorted(year for year, mark in current.items() if mark["estimated"]),
            recomputed=len(result.moved),
            left=[t.number for t, _ in result.left],
        )
    return result


def _recompute_one(
    tickets: TicketService,
    ticket: Ticket,
    changed: set[int],
    actor: str,
    dry_run: bool,
    now: datetime,
    result: Recomputed,
) -> None:
    for attempt in (1, 2):  # an agent's edit in between: read it again once
        fresh = recomputed_deadlines(tickets, ticket)
        first_year = ticket.started_at.astimezone(tickets.tz).year
        moves = {
            timer: (ticket.due(timer), fresh[timer])
            for timer in ticket.pending()
            if timer in fresh
            and fresh[timer] != ticket.due(timer)
            and changed & set(range(first_year, ticket.due(timer).astimezone(tickets.tz).year + 1))
        }
        if not moves:
            return
        if dry_run:
            result.moved.append((ticket, moves))
            return
        try:
            moved = tickets.recompute(
                ticket.id,
                {timer: new for timer, (_, new) in moves.items()},
                actor=actor,
                expected_version=ticket.version,
                years=sorted(changed),
                now=now,
            )
        except TicketConflict as exc:
            if attempt == 2:
                result.left.append((ticket, str(exc)))
                return
            ticket = tickets.require(ticket.id)
            continue
        except TicketError as exc:
            result.left.append((ticket, str(exc)))
            return
        result.moved.append((moved, moves))
        return


def _open_tickets(tickets: TicketService) -> builtins.list[Ticket]:
    marks = ",".join("?" * len(SETTLED))
    rows = tickets.conn.execute(
        f"SELECT id FROM tickets WHERE status NOT IN ({marks}) ORDER BY id", SETTLED
    ).fetchall()
    return [tickets.require(row[0]) for row in rows]


def _years(tickets: TicketService, open_tickets: builtins.list[Ticket], now: datetime) -> builtins.list[int]:
    """The years fingerprinted: last year to `YEARS_AHEAD` on, and every year an open ticket's clocks run in."""
    local = lambda when: when.astimezone(tickets.tz).year  # noqa: E731
    years = {local(now) - 1, local(now) + YEARS_AHEAD}
    for ticket in open_tickets:
        years.add(local(ticket.started_at))
        years.update(local(ticket.due(timer)) for timer in ticket.pending())
    return list(range(min(years), max(years) + 1))
