"""Mirror crisiswatch tickets as Kibana Cases through kibana-py's cases API.

The ticket stays the source of truth; the case is a read-mostly copy for teams who live in Kibana.
The case id and version are returned to the caller to store (Kibana updates need the version).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from crisiswatch.mention import CATEGORY_LABELS

# crisiswatch grade -> Kibana case severity
SEVERITY = {"一般": "low", "重要": "medium", "紧急": "high", "重大": "critical"}
# ticket lifecycle -> Kibana case status (open, in-progress, closed)
STATUS = {"新建": "open", "已受理": "in-progress", "处理中": "in-progress", "已回复": "in-progress",
          "已解决": "closed", "已回访": "closed", "已关闭": "closed", "已归档": "closed"}


@dataclass(frozen=True)
class CaseRef:
    id: str
    version: str


def _body(reply: Any) -> dict[str, Any]:
    return reply.body if hasattr(reply, "body") else reply


class KibanaCases:
    """create/update a case per ticket; `client` is a `kibana.Kibana`."""

    def __init__(self, client: Any, space: str | None = None, owner: str = "cases") -> None:
        self.client = client
        self.space = space
        self.owner = owner

    @staticmethod
    def fields(ticket: Any) -> dict[str, Any]:
        lines = [f"crisiswatch ticket {ticket.number} · {ticket.brand} · "
                 f"{CATEGORY_LABELS.get(ticket.category, ticket.category)} · {ticket.department}",
                 f"resolve by {ticket.resolve_due:%Y-%m-%d %H:%M} UTC"]
        if ticket.source_url:
            lines.append(f"source: {ticket.source_url}")
        return {"title": f"[{ticket.number}] {ticket.title}"[:160], "description": "\n".join(lines),
                "tags": ["crisiswatch", *([ticket.brand] if ticket.brand else []), ticket.category],
                "severity": SEVERITY.get(ticket.severity, "low"), "category": ticket.category[:50]}

    def create(self, ticket: Any) -> CaseRef:
        case = _body(self.client.cases.create(owner=self.owner, space_id=self.space, validate_spaces=False,
                                              **self.fields(ticket)))
        return CaseRef(case["id"], case["version"])

    def update(self, ref: CaseRef, ticket: Any) -> CaseRef:
        fields = self.fields(ticket)
        reply = _body(self.client.cases.update(
            id=ref.id, version=ref.version, title=fields["title"], severity=fields["severity"],
            tags=fields["tags"], status=STATUS.get(ticket.status, "open"), space_id=self.space,
            validate_spaces=False))
        case = reply[0] if isinstance(reply, list) else reply
        return CaseRef(case["id"], case["version"])
