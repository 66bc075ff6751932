"""The support console's operations: find mentions, take and convert complaints, drive tickets, statements.

Ticket rules (lifecycle, SLA, replies, optimistic locking) live in `playbooks.tickets`, statement
approval and publication in `playbooks.publishing`; this only adapts them to what the pages ask.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from crisiswatch.config import Config
from crisiswatch.mention import SEVERITIES, Mention
from index.base import Backend, MentionFilter
from playbooks.publishing import StatementDesk
from playbooks.statements import Statement, StatementVersion
from playbooks.tickets.flows import sweep_on_read
from playbooks.tickets.intake import Suggestion, suggest, take
from playbooks.tickets.models import DEFAULT_REPLY_VIA, DEPARTMENTS, Ticket, TicketError
from playbooks.tickets.replies import check_reply
from playbooks.tickets.service import TicketService

DEFAULT_DEPARTMENT = "客服"  # when the routing table names none


@dataclass(frozen=True)
class ConvertDefaults:
    category: str
    severity: str
    department: str


class ConsoleService:
    def __init__(self, backend: Backend, tickets: TicketService, config: Config) -> None:
        self.backend = backend
        self.tickets = tickets
        self.config = config

    # -- mentions --------------------------------------------------------------------------------
    def find(self, query: str, flt: MentionFilter, limit: int = 50) -> list[Mention]:
        """Full-text search when there is a query, else the newest posts; ValueError for a bad query."""
        query = query.strip()[:200]
        return self.backend.search(query, flt, limit) if query else self.backend.latest(flt, limit)

    def mention(self, mention_id: str) -> Mention | None:
        return self.backend.get(mention_id)

    def tickets_for_mention(self, mention_id: str) -> list[Ticket]:
        return self.tickets.holding(mention_id)

    def convert_defaults(self, mention: Mention) -> ConvertDefaults:
        category = mention.category or "other"
        severity = mention.severity or SEVERITIES[0]
        routed = self.tickets.departments_for(category, severity)
        return ConvertDefaults(category, severity, routed[0] if routed else DEFAULT_DEPARTMENT)

    def convert(self, mention_ids: list[str], *, actor: str, category: str | None, severity: str | None,
                department: str | None) -> Ticket:
        mentions = [m for m in (self.backend.get(i) for i in mention_ids) if m is not None]
        if not mentions:
            raise TicketError("no such mention")
        if severity is not None and severity not in SEVERITIES:
            raise TicketError(f"unknown severity {severity!r}")
        if department is not None and department not in DEPARTMENTS:
            raise TicketError(f"unknown department {department!r}")
        return self.tickets.convert(mentions, actor=actor, category=category, severity=severity,
                                    department=department)

    # -- tickets ---------------------------------------------------------------------------------
    def list_tickets(self, *, status: str | None = None, severity: str | None = None,
                     category: str | None = None, brand: str | None = None, breached: bool | None = None,
                     owner: str | None = None, limit: int = 200) -> list[Ticket]:
        self.sweep()
        return self.tickets.list(status=status, severity=severity, category=category, brand=brand,
                                 breached=breached, owner=owner, open_only=bool(owner) and not status, limit=limit)

    def count_tickets(self, *, status: str | None = None, severity: str | None = None, category: str | None = None,
                      brand: str | None = None, breached: bool | None = None, owner: str | None = None) -> int:
        return self.tickets.count(status=status, severity=severity, category=category, brand=brand,
                                  breached=breached, owner=owner, open_only=bool(owner) and not status)

    def sweep(self) -> None:
        """Breaches are counted whoever looks (the alerts queue for the run loop to send)."""
        sweep_on_read(self.config, self.tickets, self.tickets.conn)

    @property
    def staff(self) -> dict[str, str]:
        return dict(self.config.tickets.staff)

    def suggest(self, summary: str, expectation: str) -> Suggestion:
        return suggest([f"{summary} {expectation}".strip()])[0]

    def intake(self, form: dict[str, str], *, actor: str) -> Ticket:
        """The intake form, once the agent has confirmed (or changed) the suggested category and grade."""
        brand = form.get("brand") or (self.config.brands[0].key if len(self.config.brands) == 1 else "")
        ticket, _ = take(self.tickets, channel=form.get("channel", ""), customer=form.get("customer", ""),
                         contact=form.get("contact", ""), summary=form.get("summary", ""),
                         expectation=form.get("expectation", ""), category=form.get("category") or None,
                         severity=form.get("severity") or None, order_no=form.get("order", ""), brand=brand,
                         owner=form.get("owner", ""), actor=actor)
        return ticket

    def draft_reply(self, ticket: Ticket) -> str:
        return self.tickets.draft_reply(ticket)

    def reply(self, ticket: Ticket, text: str, via: str | None, *, actor: str, expected_version: int) -> Ticket:
        """Replying to a new case accepts and starts it first, but only once the reply itself is acceptable."""
        check_reply(text, via or DEFAULT_REPLY_VIA[ticket.intake], self.tickets.draft_reply(ticket))
        for step, status in (("accept", "新建"), ("start", "已受理")):
            if ticket.status == status:
                ticket = self.tickets.transition(ticket.id, step, actor=actor, expected_version=expected_version)
                expected_version = ticket.version
        return self.tickets.transition(ticket.id, "reply", actor=actor, expected_version=expected_version,
                                       note=text, via=via)

    def extend(self, ticket: Ticket, until: datetime, approved_by: str, *, actor: str,
               expected_version: int) -> Ticket:
        return self.tickets.extend(ticket.id, until, approved_by=approved_by, actor=actor,
                                   expected_version=expected_version)

    # -- statements ------------------------------------------------------------------------------
    def statements(self) -> StatementDesk:
        return StatementDesk(self.config, self.tickets.conn)

    def statement_list(self) -> list[Statement]:
        return self.statements().list()

    def statement_page(self) -> tuple[list[Statement], dict[int, list[StatementVersion]]]:
        """The statements, newest first, and the earlier rounds of those revised or put to approvers again."""
        desk = self.statements()
        found = desk.list()
        return found, {s.id: list(reversed(desk.history(s.id))) for s in found if s.version > 1}

    def ticket(self, number: str) -> Ticket | None:
        return self.tickets.by_number(number)

    def timeline(self, ticket: Ticket) -> list[dict[str, Any]]:
        return self.tickets.timeline(ticket.id)

    def act(self, ticket: Ticket, action: str, *, actor: str, expected_version: int,
            note: str | None = None, satisfaction: int | None = None, close_reason: str | None = None) -> Ticket:
        return self.tickets.transition(ticket.id, action, actor=actor, expected_version=expected_version,
                                       note=note, satisfaction=satisfaction, close_reason=close_reason)

    def merge(self, ticket: Ticket, into: str, *, actor: str, expected_version: int) -> Ticket:
        """`ticket merge DUP --into KEEP`: the ticket kept, after the duplicate joined it."""
        keep = self.tickets.by_number(into.strip())
        if keep is None:
            raise TicketError(f"no ticket {into.strip()}")
        return self.tickets.merge(ticket.id, keep.id, actor=actor, expected_version=expected_version)

    def followup_unreached(self, ticket: Ticket, *, actor: str, expected_version: int, note: str | None = None) -> Ticket:
        return self.tickets.followup_unreached(ticket.id, actor=actor, expected_version=expected_version, note=note)

    def wait(self, ticket: Ticket, action: str, *, actor: str, expected_version: int, note: str) -> Ticket:
        """`pause` (waiting for the customer, the note says for what) or `resume` the SLA clocks."""
        if action == "pause":
            return self.tickets.pause(ticket.id, actor=actor, expected_version=expected_version, note=note)
        return self.tickets.resume(ticket.id, actor=actor, expected_version=expected_version, note=note or None)

    def note(self, ticket: Ticket, text: str, *, actor: str, expected_version: int) -> Ticket:
        return self.tickets.add_note(ticket.id, text, actor=actor, expected_version=expected_version)

    def classify(self, ticket: Ticket, *, category: str, severity: str, actor: str, expected_version: int) -> Ticket:
        """The classify form, which shows both fields: only what the agent changed is set (as `ticket classify
        --category/--severity`), so an unchanged grade does not set its deadlines again."""
        category = category if category and category != ticket.category else None
        severity = severity if severity and severity != ticket.severity else None
        if category is None and severity is None:
            raise TicketError(f"nothing to change: {ticket.number} is already {ticket.category} and {ticket.severity}")
        return self.tickets.classify(ticket.id, actor=actor, expected_version=expected_version, category=category,
                                     severity=severity)

    def complete_task(self, ticket: Ticket, item: int, *, actor: str, expected_version: int) -> Ticket:
        """Tick off checklist item `item` (1-based, as `ticket done N ITEM`)."""
        task = ticket.tasks[item - 1] if 0 < item <= len(ticket.tasks) else None
        if task is not None and task.get("done"):
            raise TicketError(f"task {item} of {ticket.number} is already done (by {task.get('by') or '-'})")
        return self.tickets.complete_task(ticket.id, item - 1, actor=actor, expected_version=expected_version)

    def assign(self, ticket: Ticket, *, department: str, owner: str, actor: str, expected_version: int) -> Ticket:
        """The assign form: a department, and optionally a person from the staff list who works in it.

        No owner: the ticket goes to the department (its owner stays only if they work there). An owner from
        another department is refused rather than silently winning over the department chosen beside them."""
        department, owner = department.strip(), owner.strip()
        if not department and not owner:
            raise TicketError("choose a department or a person to assign the ticket to")
        if department and department not in DEPARTMENTS:
            raise TicketError(f"unknown department {department!r} (departments: {', '.join(DEPARTMENTS)})")
        if not owner:
            return self.tickets.assign(ticket.id, department, actor=actor, expected_version=expected_version)
        works_in = self.tickets.department_of(owner)  # refuses a name that is not on the staff list
        if department and works_in != department:
            raise TicketError(f"{owner} works in {works_in}, not {department}: choose a person from {department},"
                              f" or no person to give the ticket to {department} alone")
        return self.tickets.assign(ticket.id, owner, actor=actor, expected_version=expected_version)
