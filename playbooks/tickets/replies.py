"""Replies to the customer: drafted from per-category YAML templates with the manual's seven parts.

A template renders the ticket's facts (Jinja2 sandbox, unknown names are errors) and leaves marked
blanks (【请填写：…】) for what only the agent knows: what was found and what will be done. A reply
is refused when it is empty, still has blanks, or is the unedited draft; a written reply (书面) must
keep all seven parts.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import yaml
from jinja2 import StrictUndefined, TemplateError
from jinja2.sandbox import SandboxedEnvironment

from crisiswatch.errors import CrisiswatchError
from crisiswatch.mention import CATEGORIES, CATEGORY_LABELS
from playbooks.tickets.models import INTAKE_LABELS, Ticket, TicketError

# the manual's reply (§6.2), in order
PARTS = ("投诉概述", "处理过程", "处理结果", "后续改进", "满意度调查", "联系方式", "歉意与感谢")
BLANK = "【请填写"
SHIPPED = Path(__file__).parent.parent / "replies"
_ENV = SandboxedEnvironment(undefined=StrictUndefined, autoescape=False)
_HEADING = re.compile(r"^【(" + "|".join(PARTS) + r")】\s*$", re.MULTILINE)


@dataclass(frozen=True)
class ReplyTemplate:
    category: str
    parts: dict[str, str]  # part -> Jinja source
    path: str


def ticket_facts(ticket: Ticket, tz: ZoneInfo, service_contact: str, followup_within: str) -> dict[str, Any]:
    """What a reply may say about the case. Never the contact itself: the customer knows it."""
    opened = ticket.created_at.astimezone(tz)
    days = followup_within[:-2] + "个工作日" if followup_within.endswith("wd") else followup_within
    return {
        "number": ticket.number, "customer": ticket.customer, "summary": ticket.summary or ticket.title,
        "expectation": ticket.expectation, "category": ticket.category,
        "category_label": CATEGORY_LABELS.get(ticket.category, ticket.category),
        "channel_label": INTAKE_LABELS.get(ticket.intake, ticket.intake), "opened": f"{opened:%Y年%m月%d日}",
        "department": ticket.department, "owner": ticket.owner, "order_no": ticket.order_no,
        "service_contact": service_contact, "followup_within": days, "brand": ticket.brand,
    }


def _load(path: Path, category: str) -> ReplyTemplate:
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise CrisiswatchError(f"reply template {path}: cannot read ({exc})") from None
    parts = raw.get("parts") if isinstance(raw, dict) else None
    if not isinstance(parts, dict):
        raise CrisiswatchError(f"reply template {path}: parts: a mapping of the seven parts is required")
    unknown = [p for p in parts if p not in PARTS]
    if unknown:
        raise CrisiswatchError(f"reply template {path}: parts.{unknown[0]}: unknown part "
                               f"(parts: {', '.join(PARTS)})")
    for part, source in parts.items():
        try:
            _ENV.parse(str(source))
        except TemplateError as exc:
            raise CrisiswatchError(f"reply template {path}: parts.{part}: {exc}") from None
    return ReplyTemplate(category, {k: str(v) for k, v in parts.items()}, str(path))


class ReplyTemplates:
    """`default.yaml` (all seven parts) and `<category>.yaml` files that replace some of them."""

    def __init__(self, folder: Path | None = None) -> None:
        self.folder = folder or SHIPPED
        default = self.folder / "default.yaml"
        if not default.exists():
            raise CrisiswatchError(f"reply templates {self.folder}: default.yaml is missing")
        self.default = _load(default, "default")
        missing = [p for p in PARTS if p not in self.default.parts]
        if missing:
            raise CrisiswatchError(f"reply template {default}: parts.{missing[0]}: missing (default.yaml needs all "
                                   f"seven: {', '.join(PARTS)})")
        self.by_category: dict[str, ReplyTemplate] = {}
        for path in sorted(self.folder.glob("*.y*ml")):
            if path.stem == "default":
                continue
            if path.stem not in CATEGORIES:
                raise CrisiswatchError(f"reply template {path}: unknown category {path.stem!r} "
                                       f"(name the file after one of: {', '.join(CATEGORIES)})")
            self.by_category[path.stem] = _load(path, path.stem)

    def parts_for(self, category: str) -> dict[str, tuple[str, str]]:
        """part -> (Jinja source, file it comes from)."""
        own = self.by_category.get(category)
        return {p: (own.parts[p], own.path) if own and p in own.parts else (self.default.parts[p], self.default.path)
                for p in PARTS}

    def render(self, category: str, facts: dict[str, Any]) -> str:
        out = []
        for part, (source, path) in self.parts_for(category).items():
            try:
                text = _ENV.from_string(source).render(**facts).strip()
            except TemplateError as exc:
                raise CrisiswatchError(f"reply template {path}: parts.{part}: {exc}") from None
            out.append(f"【{part}】\n{text}")
        return "\n\n".join(out) + "\n"

    def check_all(self, facts: dict[str, Any]) -> list[str]:
        """Render every category's reply against `facts`; returns one line per problem."""
        problems = []
        for category in ("other", *self.by_category):
            try:
                self.render(category, facts)
            except CrisiswatchError as exc:
                problems.append(str(exc))
        return problems


def sections(text: str) -> dict[str, str]:
    """The seven parts as written: heading -> the text under it."""
    found = list(_HEADING.finditer(text))
    return {m.group(1): text[m.end():(found[i + 1].start() if i + 1 < len(found) else len(text))].strip()
            for i, m in enumerate(found)}


def normalise(text: str) -> str:
    """One kind of line break (a browser textarea sends CRLF)."""
    return text.replace("\r\n", "\n").replace("\r", "\n")


def check_reply(text: str, channel: str, draft: str | None = None) -> str:
    """The reply as it may be sent, or TicketError saying what is missing."""
    body = normalise(text or "").strip()
    if not body:
        raise TicketError("an empty reply is refused: say what was found and what will be done")
    if draft is not None and body == normalise(draft).strip():  # a browser's textarea sends CRLF
        raise TicketError("the reply is the unedited template: fill in what was found and what will be done")
    if BLANK in body:
        parts = sections(body)
        blanks = [p for p, t in parts.items() if BLANK in t] or ["(text)"]
        raise TicketError(f"the reply still has blanks to fill in (【请填写…】 in {'、'.join(blanks)})")
    if channel == "书面":
        parts = sections(body)
        missing = [p for p in PARTS if not parts.get(p)]
        if missing:
            raise TicketError(f"a written reply (书面) needs all seven parts; missing or empty: {'、'.join(missing)}")
    return body
