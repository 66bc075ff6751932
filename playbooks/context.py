"""What a running step can see and use: the incident, its facts, and the services it may call."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from alerts.dispatch import AlertDispatcher
from crisiswatch.audit import AuditLog
from crisiswatch.config import Config
from monitor.incidents.models import Incident
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

    @property
    def brand_name(self) -> str:
        brand = self.config.brand(self.incident.brand)
        return brand.display_name if brand else self.incident.brand

    def variables(self) -> dict[str, Any]:
        """Names usable in step templates such as `title: "{brand_name} 负面激增"`."""
        facts = self.incident.facts
        return {
            "brand": self.incident.brand, "brand_name": self.brand_name, "severity": self.severity,
            "incident": self.incident.label, "summary": self.incident.summary,
            "top_terms": "、".join(facts.get("top_terms", [])[:5]),
            "category": next(iter(facts.get("categories", {})), "other"),
            "ticket": self.outputs.get("ticket_number", ""),
        }
