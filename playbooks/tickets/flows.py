"""Flows that cross domains for tickets: posts from the index become complaints; SLA sweeps alert."""

from __future__ import annotations

import logging
from datetime import timedelta

from alerts.dispatch import AlertDispatcher, build_channels
from alerts.message import AlertMessage
from crisiswatch.config import Config
from crisiswatch.db import StateConnection
from index.base import Backend, MentionFilter
from playbooks.tickets.models import TIMER_LABELS, Ticket, TicketError
from playbooks.tickets.recompute import Recomputed, recompute_deadlines
from playbooks.tickets.service import TicketService

logger = logging.getLogger(__name__)
CLUSTER_SPAN = timedelta(days=7)  # copies of a post are looked for this far around it
MAX_COPIES = 500  # evidence a converted cluster brings; the ticket's record stays readable
SLA_KINDS = {"reminders": "ticket_sla_reminder", "breaches": "ticket_sla_breach", "still_late": "ticket_sla_still_late"}


def convert_from_index(tickets: TicketService, backend: Backend, mention_id: str, *, actor: str,
                       cluster: bool = False, category: str | None = None, severity: str | None = None,
                       department: str | None = None) -> Ticket:
    """`ticket convert MENTION_ID [--cluster]`: the post, or every copy in its near-duplicate cluster."""
    mention = backend.get(mention_id)
    if mention is None:
        raise TicketError(f"no mention {mention_id!r} in the index")
    mentions = [mention]
    if cluster and mention.cluster_id:
        flt = MentionFilter(brand=mention.brands[0] if mention.brands else None,
                            since=mention.created_at - CLUSTER_SPAN, until=mention.created_at + CLUSTER_SPAN)
        copies = [m for m in backend.scan(flt, batch_size=500)
                  if m.cluster_id == mention.cluster_id and m.id != mention.id]
        if len(copies) > MAX_COPIES:
            logger.warning("the cluster holds %d copies of the post; the ticket takes the first %d as evidence",
                           len(copies), MAX_COPIES)
        mentions += copies[:MAX_COPIES]
    return tickets.convert(mentions, actor=actor, category=category, severity=severity, department=department)


def sla_sweep(config: Config, conn: StateConnection, dispatcher: AlertDispatcher,
              tickets: TicketService | None = None) -> dict[str, list[dict]]:
    """The run loop's SLA check: reminders and breaches become alerts to the response routes."""
    tickets = tickets or TicketService.from_config(config, conn)
    found = tickets.check_sla()
    base = config.alerts.dashboard_url.rstrip("/")
    for kind, items in found.items():
        for item in items:
            ticket = tickets.by_number(item["ticket"])
            verb = ("即将超时" if kind == "reminders" else f"已超时，升级至{item.get('escalated_to', '')}"
                    if kind == "breaches" else f"仍超时（已{item['days_late']}天），再次报{item['escalated_to']}")
            message = AlertMessage(
                kind=SLA_KINDS[kind], title=f"工单 {item['ticket']} {item['label']}{verb}",
                severity=item["severity"], brand=ticket.brand if ticket else "",
                summary=f"{item['label']}时限 {item['due_local']} · 部门 {item['department']}"
                        + (f" · 负责人 {item['owner']}" if item.get('owner') else ""),
                incident_id=ticket.incident_id if ticket else None, ticket_number=item["ticket"],
                thread_key=f"incident:{ticket.incident_id}" if ticket and ticket.incident_id else None,
                links={"工单 Ticket": f"{base}/tickets/{item['ticket']}"}, timezone=config.alerts.timezone,
                brand_name=config.brand_name(ticket.brand) if ticket else "",
            )
            day = f":{item['days_late']}" if kind == "still_late" else ""
            dispatcher.enqueue(f"ticket:{item['ticket']}:sla:{item['timer']}:{kind}:{item['due']}{day}", message)
    return found


def sweep_on_read(config: Config, tickets: TicketService, conn: StateConnection) -> dict[str, list[dict]]:
    """Breaches are counted whenever someone reads tickets (CLI, console, report), not only by the run loop.

    The alerts go to the outbox with the run loop's routes; `crisiswatch run` or `alerts deliver` sends them.
    """
    return sla_sweep(config, conn, AlertDispatcher(config, conn, build_channels(config)), tickets)


def calendar_sweep(config: Config, conn: StateConnection, actor: str = "crisiswatch") -> Recomputed:
    """The run loop's check at start (the config and the holidays package are read then): when the work calendar
    changed for a year since the stored deadlines were counted (its holidays and 调休 published), the open tickets
    running through it are recomputed, each said in one line, and the summary; a ticket left is a warning."""
    tickets = TicketService.from_config(config, conn)
    result = recompute_deadlines(tickets, actor=actor)
    for ticket, moves in result.moved:
        logger.info("%s: deadlines recomputed on the new %s calendar: %s", ticket.number,
                    "/".join(map(str, result.changed_years)), describe_moves(tickets, moves))
    for ticket, why in result.left:
        logger.warning("%s: deadlines not recomputed (tried again at the next start): %s", ticket.number, why)
    if result.changed_years:
        logger.info("work calendar changed for %s: %d tickets' deadlines recomputed, %d left",
                    "/".join(map(str, result.changed_years)), len(result.moved), len(result.left))
    return result


def describe_moves(tickets: TicketService, moves: dict[str, tuple]) -> str:
    """`办结 2027-01-20 18:00 → 2027-01-21 18:00 · 受理 …` in the team's zone."""
    return " · ".join(f"{TIMER_LABELS.get(timer, timer)} {tickets.local(old)} → {tickets.local(new)}"
                      for timer, (old, new) in moves.items())
