"""Mirrors of the ticket store in other systems (Kibana Cases with the Elasticsearch backend).

SQLite stays the system of record; a mirror is told about every create and update and may fail
without losing anything (the failure is logged and the ticket's timeline says so).
"""

from __future__ import annotations

import logging
import os
from typing import Any, Protocol

from crisiswatch.db import StateConnection
from index.kibana import kibana_client
from index.kibana_cases import CaseRef, KibanaCases
from playbooks.tickets.models import Ticket

logger = logging.getLogger(__name__)


class TicketMirror(Protocol):
    def created(self, ticket: Ticket) -> None: ...

    def updated(self, ticket: Ticket, event: dict[str, Any]) -> None: ...


class NullMirror:
    """The default: nothing outside SQLite to keep in step."""

    def created(self, ticket: Ticket) -> None:
        return None

    def updated(self, ticket: Ticket, event: dict[str, Any]) -> None:
        return None


class KibanaCaseMirror:
    """One Kibana case per ticket (index/kibana_cases.py); the case id and version are kept in SQLite."""


    def __init__(self, cases: Any, conn: StateConnection) -> None:
        self.cases = cases
        self.conn = conn

    def _save(self, ticket: Ticket, ref: Any) -> None:
        self.conn.execute("INSERT INTO ticket_mirror(ticket_id, system, ref_id, ref_version)"
                          " VALUES (?, 'kibana', ?, ?) ON CONFLICT(ticket_id, system) DO UPDATE SET"
                          " ref_id=excluded.ref_id, ref_version=excluded.ref_version", (ticket.id, ref.id, ref.version))

    def created(self, ticket: Ticket) -> None:
        self._save(ticket, self.cases.create(ticket))

    def updated(self, ticket: Ticket, event: dict[str, Any]) -> None:
        row = self.conn.execute("SELECT ref_id, ref_version FROM ticket_mirror WHERE ticket_id=? AND system='kibana'",
                                (ticket.id,)).fetchone()
        if row is None:  # opened before the mirror was configured
            self.created(ticket)
            return
        self._save(ticket, self.cases.update(CaseRef(row[0], row[1]), ticket))


def mirror_for(index_url: str, conn: StateConnection | None = None) -> TicketMirror:
    """Kibana Cases when the index is Elasticsearch/OpenSearch and KIBANA_URL is set, else nothing."""
    if conn is None or not index_url.startswith(("elasticsearch", "opensearch", "es", "http")):
        return NullMirror()
    url = os.environ.get("KIBANA_URL")
    if not url:
        return NullMirror()
    try:
        return KibanaCaseMirror(KibanaCases(kibana_client(url), space=os.environ.get("KIBANA_SPACE")), conn)
    except Exception as exc:  # noqa: BLE001 - a mirror that cannot start must not stop ticketing
        logger.warning("Kibana Cases mirror not started: %s", exc)
        return NullMirror()
