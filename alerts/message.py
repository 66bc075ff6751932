"""A channel-neutral alert and the escaping that keeps user text inert in Slack mrkdwn."""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

from crisiswatch.localtime import local_time

_SPECIAL = re.compile(r"<(!channel|!here|!everyone|!subteam\^[^>]*|@[UW][A-Z0-9]+|#C[A-Z0-9]+)[^>]*>", re.I)
MENTION = re.compile(r"<(!subteam\^[A-Z0-9]+(\|[^<>]*)?|@[UW][A-Z0-9]+|!here|!channel)>")
_BARE = re.compile(r"(?<![\w])@(channel|here|everyone)\b", re.I)


_FORMATTING = str.maketrans({"*": "\uff0a", "_": "\uff3f", "~": "\uff5e", "`": "\uff40"})
_SCHEME = re.compile(r"(?i)\b(https?|ftp|file|mailto|slack)(:)(//)?")


def defang(text: str) -> str:
    """`https://evil.example` -> `https[:]//evil.example`: still readable, never a link anywhere."""
    return _SCHEME.sub(lambda m: f"{m.group(1)}[:]{m.group(3) or ''}", text)


def inert_mrkdwn(text: str) -> str:
    """Post text for Slack mrkdwn: no mention, link or formatting can come out of it.

    Slack has no backslash escape for * _ ~ `: they become their full-width forms (as Chinese text
    often writes them anyway), < > & are escaped, URLs defanged. Blocks carrying it are also sent
    with `verbatim: true`, so Slack auto-links nothing.
    """
    return defang(escape_mrkdwn(text)).translate(_FORMATTING)


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
    brand: str                # the brand's key (routes and links use it)
    summary: str
    incident_id: int | None = None
    ticket_number: str | None = None
    facts: dict[str, Any] = field(default_factory=dict)
    links: dict[str, str] = field(default_factory=dict)
    thread_key: str | None = None   # messages with the same key go into one thread
    mentions: list[str] = field(default_factory=list)  # from config only (escalation), never from posts
    timezone: str = "Asia/Shanghai"  # the team's zone: every time shown is in it
    brand_name: str = ""      # the brand as people call it (the key where there is none)

    def __post_init__(self) -> None:
        bad = [m for m in self.mentions if not MENTION.fullmatch(m)]
        if bad:
            raise ValueError(f"not a Slack mention: {bad[0]!r}")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> AlertMessage:
        return cls(**data)

    def local_time(self, value: str | datetime | None, fmt: str = "%m-%d %H:%M") -> str:
        """An ISO time (UTC) as the team reads it, e.g. `06-14 21:05 (Asia/Shanghai)` without the zone."""
        return local_time(value, self.timezone, fmt)


_MD_SPECIAL = re.compile(r"([\\`*_\[\]()#~|!])")
_AT_ALL = re.compile(r"@(all|everyone|here|channel|所有人)", re.I)


def neutral_markdown(text: str) -> str:
    """User text for the robots' markdown (WeCom, DingTalk, Feishu): shown as written, never acting.

    Angle brackets become full-width (no <font>, <at>, <@id> tags), markdown characters get a
    backslash, and @all-style words are broken with a word joiner so no one is pinged.
    """
    text = defang(text.replace("<", "\uff1c").replace(">", "\uff1e"))
    text = _MD_SPECIAL.sub(r"\\\1", text)
    return _AT_ALL.sub(lambda m: "@\u2060" + m.group(1), text)
