"""SLA watch: reminders when most of a limit has passed, breaches when it has, each reported once.

A breach escalates the ticket one tier (its escalation level rises and the escalation department
joins the case) and is counted on the ticket; the marks table keeps both from repeating. A timer that
stays late is said again once per day it stays late (a working day for a grade on business hours, 24
hours for one around the clock): the manuals' 超时未办结的每日督办, so a breach nobody acted on is not
forgotten after its one alert. It is not escalated or counted again: the ticket was late once.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

from crisiswatch.db import transaction
from playbooks.tickets.ledger import TicketLedger
from playbooks.tickets.models import SETTLED, TIMER_LABELS


def check_sla(tickets: TicketLedger, now: datetime) -> dict[str, list[dict[str, Any]]]:
    """Reminders for timers nearly due and breaches for timers past due, each reported once, and the
    ticket said again ("still_late") for each further day its longest-late timer stays late.

    A breach escalates the ticket one tier (its escalation level rises and the escalation
    department joins the case) and is counted on the ticket.
    """
    out: dict[str, list[dict[str, Any]]] = {"reminders": [], "breaches": [], "still_late": []}
    settled = ",".join("?" * len(SETTLED))  # no clock runs in a closed or archived ticket
    rows = tickets.conn.execute(f"SELECT id FROM tickets WHERE status NOT IN ({settled}) ORDER BY id",
                                SETTLED).fetchall()
    for row in rows:
        ticket = tickets.require(row[0])
        late = ticket.late(now)  # the one rule the dashboard and `ticket list --breached` read too
        # a ticket late on several timers is said again for the one late longest, not once per timer
        longest = min(late, key=ticket.due, default=None)
        for timer in ticket.running():
            due = ticket.due(timer)
            start = ticket.resolved_at if timer == "followup" and ticket.resolved_at else ticket.started_at
            limit = (tickets.settings.followup_within if timer == "followup"
                     else getattr(tickets.clock.table[ticket.severity], timer))
            remind = tickets.clock.reminder(ticket.severity, limit, start, due, tickets.settings.remind_at)
            kind = "breach" if timer in late else "reminder" if now >= remind else None
            days = days_late(tickets, ticket.severity, due, now) if kind == "breach" else 0
            if kind is None:
                continue
            if _mark(tickets, ticket.id, timer, kind, due, now):
                if days:  # found days after it fell due: the breach is today's word, no second one today
                    _mark(tickets, ticket.id, timer, f"still_late:{days}", due, now)
            elif days and timer == longest and _mark(tickets, ticket.id, timer, f"still_late:{days}", due, now):
                kind = "still_late"  # told at the breach; said again once for each further day it stays late
            else:
                continue
            item = {"ticket": ticket.number, "timer": timer, "label": TIMER_LABELS[timer],
                    "due": due.isoformat(), "due_local": tickets.local(due), "severity": ticket.severity,
                    "department": ticket.department, "owner": ticket.owner}
            if kind == "still_late":
                item.update(days_late=days, escalated_to=tickets.settings.escalate_to)
                with transaction(tickets.conn):
                    tickets.record_event(ticket.id, now, "sla", "sla_still_late", timer=timer, due=due.isoformat(),
                                         days=days, told=tickets.settings.escalate_to)
                out["still_late"].append(item)
            elif kind == "breach":
                item["escalated_to"] = tickets.settings.escalate_to
                _breach(tickets, ticket.id, timer, due, now)
                out["breaches"].append(item)
            else:
                with transaction(tickets.conn):
                    tickets.record_event(ticket.id, now, "sla", "sla_reminder", timer=timer, due=due.isoformat())
                out["reminders"].append(item)
    return out


def days_late(tickets: TicketLedger, severity: str, due: datetime, now: datetime) -> int:
    """Whole days a timer has been late: working days for a grade on business hours, else 24-hour days."""
    if tickets.clock.counts_business_hours(severity):
        calendar = tickets.clock.calendar
        return int(calendar.working_time_between(due, now) / calendar.day_length)
    return int((now - due) / timedelta(days=1))


def _mark(tickets: TicketLedger, ticket_id: int, timer: str, kind: str, due: datetime, now: datetime) -> bool:
    cur = tickets.conn.execute("INSERT INTO ticket_sla_marks(ticket_id, timer, kind, due, at)"
                            " VALUES (?,?,?,?,?) ON CONFLICT DO NOTHING", (ticket_id, timer, kind, due.isoformat(), now.isoformat()))
    return cur.rowcount == 1


def _breach(tickets: TicketLedger, ticket_id: int, timer: str, due: datetime, now: datetime) -> None:
    tier = tickets.settings.escalate_to
    with transaction(tickets.conn):
        row = tickets.conn.execute("SELECT departments FROM tickets WHERE id=?", (ticket_id,)).fetchone()
        departments = list(dict.fromkeys([*json.loads(row[0]), tier]))
        tickets.conn.execute(
            "UPDATE tickets SET breaches=breaches+1, escalation_level=escalation_level+1, departments=?,"
            " updated_at=?, version=version+1 WHERE id=?",
            (json.dumps(departments, ensure_ascii=False), now.isoformat(), ticket_id))
        event = tickets.record_event(ticket_id, now, "sla", "sla_breached", timer=timer, due=due.isoformat(),
                            escalated_to=tier)
    tickets.mirror_change("updated", tickets.require(ticket_id), event)
