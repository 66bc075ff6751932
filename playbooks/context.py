"""What a running step can see and use: the incident, its facts, and the services it may call."""

from __future__ import annotations

from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from alerts.dispatch import AlertDispatcher
from crisiswatch.audit import AuditLog
from crisiswatch.config import Config
from crisiswatch.db import StateConnection
from crisiswatch.lease import Fence, fenced
from crisiswatch.mention import CATEGORY_LABELS
from index.base import Backend
from monitor.incidents.models import Incident
from playbooks.tickets.models import Ticket
from playbooks.tickets.service import TicketService


@dataclass
class StepContext:
    config: Config
    playbook: str
    incident: Incident
    severity: str
    tickets: TicketService
    dispatcher: AlertDispatcher
    audit: AuditLog
    dry_run: bool = False
    outputs: dict[str, Any] = field(default_factory=dict)  # what earlier steps produced (ticket number, ...)
    now: datetime = field(default_factory=lambda: datetime.now(UTC))
    state: dict[str, Any] = field(default_factory=dict)  # a waiting step's own record from its last run
    conn: StateConnection | None = None
    backend: Backend | None = None  # the open index, for charts in messages (None: opened per message)
    fence: Fence | None = None  # the run loop's lease the playbooks run under (None: run by hand, no lease)

    def fenced(self) -> AbstractContextManager[None]:
        """Around each side effect of a step (a ticket opened or changed, an alert queued, a page started): in
        the run loop, one transaction that first checks the loop still holds its lease at the generation it
        took, so a loop that stalled inside the step while a standby took over stops before doing it too."""
        return fenced(self.conn, None if self.dry_run else self.fence)

    @property
    def actor(self) -> str:
        return f"playbook:{self.playbook}"

    @property
    def brand_name(self) -> str:
        return self.config.brand_name(self.incident.brand)

    @property
    def category(self) -> str:
        return next(iter(self.incident.facts.get("categories", {})), "other")

    def terms(self, limit: int = 5) -> list[str]:
        """The incident's top terms without pieces of the brand's own names (极光优选 -> not 极光, 优选)."""
        brand = self.config.brand(self.incident.brand)
        names = [n.lower() for n in (brand.names if brand else [self.incident.brand])]
        return [t for t in self.incident.facts.get("top_terms", [])
                if not any(t.lower() in n or n in t.lower() for n in names)][:limit]

    def ticket(self) -> Ticket | None:
        """The ticket an earlier step opened or joined for this incident, freshly read."""
        number = self.outputs.get("ticket_number")
        if number:
            return self.tickets.by_number(number)
        return self.tickets.for_incident(self.incident.id)

    def variables(self) -> dict[str, Any]:
        """Names usable in step templates such as `title: "{brand_name} 负面激增"`."""
        return {
            "brand": self.incident.brand, "brand_name": self.brand_name, "severity": self.severity,
            "incident": self.incident.label, "summary": self.incident.summary,
            "top_terms": "、".join(self.terms()),
            "category": self.category, "category_label": CATEGORY_LABELS.get(self.category, self.category),
            "ticket": self.outputs.get("ticket_number", ""),
        }
