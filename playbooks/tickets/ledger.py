"""What the ticket helpers (SLA watch, repeat linking) need of the ticket service.

The service passes itself to them; they depend on this interface, not on the service module,
which imports them.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Protocol

from crisiswatch.config import TicketSettings
from crisiswatch.db import StateConnection
from playbooks.tickets.models import Ticket
from playbooks.tickets.sla import SlaClock


class TicketLedger(Protocol):
    conn: StateConnection
    settings: TicketSettings
    clock: SlaClock

    def require(self, ticket_id: int | str) -> Ticket: ...

    def record_event(self, ticket_id: int, now: datetime, actor: str, kind: str, **detail: Any) -> dict[str, Any]: ...

    def local(self, when: datetime | None) -> str: ...

    def mirror_change(self, what: str, ticket: Ticket, event: dict[str, Any] | None = None) -> None: ...
