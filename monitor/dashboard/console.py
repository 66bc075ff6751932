"""The support console's operations: find mentions, prefill and convert a complaint, drive tickets.

Ticket rules (lifecycle, SLA, optimistic locking) live in `playbooks.tickets`; this only adapts them
to what the console pages ask.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from crisiswatch.config import Config
from crisiswatch.mention import SEVERITIES, Mention
from index.base import Backend, MentionFilter
from playbooks.tickets.models import DEPARTMENTS, Ticket, TicketError
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
        return [t for t in self.tickets.list(limit=500) if mention_id in t.mention_ids]

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
                     limit: int = 200) -> list[Ticket]:
        return self.tickets.list(status=status, severity=severity, category=category, brand=brand,
                                 breached=breached, limit=limit)

    def ticket(self, number: str) -> Ticket | None:
        return self.tickets.by_number(number)

    def timeline(self, ticket: Ticket) -> list[dict[str, Any]]:
        return self.tickets.timeline(ticket.id)

    def act(self, ticket: Ticket, action: str, *, actor: str, expected_version: int,
            note: str | None = None, satisfaction: int | None = None) -> Ticket:
        return self.tickets.transition(ticket.id, action, actor=actor, expected_version=expected_version,
                                       note=note, satisfaction=satisfaction)

    def note(self, ticket: Ticket, text: str, *, actor: str, expected_version: int) -> Ticket:
        return self.tickets.add_note(ticket.id, text, actor=actor, expected_version=expected_version)

    def assign(self, ticket: Ticket, department: str, *, actor: str, expected_version: int) -> Ticket:
        return self.tickets.assign(ticket.id, department, actor=actor, expected_version=expected_version)
