"""A channel-neutral alert and the escaping that keeps user text inert in Slack mrkdwn."""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from typing import Any

_SPECIAL = re.compile(r"<(!channel|!here|!everyone|!subteam\^[^>]*|@[UW][A-Z0-9]+|#C[A-Z0-9]+)[^>]*>", re.I)
_BARE = re.compile(r"(?<![\w])@(channel|here|everyone)\b", re.I)


def escape_mrkdwn(text: str) -> str:
    """Slack's three control characters escaped, so `<!channel>` or `<http://x|y>` can't ping or link.

    Slack only interprets mentions and links inside <...>; escaping < and > makes them text.
    Bare @channel/@here words are broken with a zero-width joiner for clients that expand them.
    """
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return _BARE.sub(lambda m: "@\u2060" + m.group(1), text)


@dataclass
class AlertMessage:
    """What to say; channels decide how (Block Kit, markdown, plain text, e-mail)."""

    kind: str                 # incident_opened, incident_updated, incident_resolved, ticket_opened, health
    title: str
    severity: str
    brand: str
    summary: str
    incident_id: int | None = None
    ticket_number: str | None = None
    facts: dict[str, Any] = field(default_factory=dict)
    links: dict[str, str] = field(default_factory=dict)
    thread_key: str | None = None   # messages with the same key go into one thread

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> AlertMessage:
        return cls(**data)
