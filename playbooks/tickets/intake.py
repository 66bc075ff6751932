"""Complaints that did not come from a crawled post: a call, an e-mail, a chat, in-app feedback, a
call-centre export. The classifier suggests category and grade; the agent confirms or corrects them.
"""

from __future__ import annotations

import csv
import difflib
import io
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from crisiswatch.errors import CrisiswatchError
from crisiswatch.mention import CATEGORIES, SEVERITIES
from monitor.enrich.complaint import classify_many
from monitor.enrich.complaint_model import load_complaint_model
from playbooks.tickets.models import INTAKE, Ticket, TicketError
from playbooks.tickets.service import TicketService

# received_at: when the customer complained (ISO 8601; without an offset, in the team's zone), where the SLA
# clocks and the report periods start; empty: the import's own time
CSV_COLUMNS = ("channel", "customer", "contact", "summary", "expectation", "category", "severity", "order",
               "brand", "owner", "received_at")
REQUIRED = ("channel", "customer", "contact", "summary")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_PHONE = re.compile(r"^\+?[\d\s-]{7,20}$")


@dataclass(frozen=True)
class Suggestion:
    category: str
    severity: str
    reasons: list[str]
    # The next likeliest category: the model's first two hold one of the annotators' categories for 96 % of
    # complaints, the first alone for 87 % (`benchmarks/complaint_cv.py`), so the agent sees it beside the first.
    alternative: str | None = None

    def as_detail(self) -> dict[str, Any]:
        detail = {"category": self.category, "severity": self.severity, "reasons": self.reasons[:5]}
        return detail | ({"alternative": self.alternative} if self.alternative else {})


def suggest(texts: list[str]) -> list[Suggestion]:
    """The classifier's category, the next likeliest one and the grade for each complaint text.

    A complaint taken at the desk is one whatever the detector thinks of its wording, so when the detector
    doubts it the category is still the model's likeliest (read as if it were a complaint), not "other";
    the grade is then 一般 and the reasons say what the detector thought. Without a model file the
    lexicon's first category (or other) and no alternative."""
    results = classify_many(texts)
    model = load_complaint_model()
    ranked = (model.probabilities(texts).argsort(axis=1)[:, ::-1] if model is not None and texts else None)
    out = []
    for i, result in enumerate(results):
        likeliest = [model.keys[k] for k in ranked[i]] if ranked is not None else []
        if result.complaint and result.categories:
            category = result.categories[0]
        else:
            category = likeliest[0] if likeliest else "other"
        alternative = next((k for k in likeliest if k != category), None)
        out.append(Suggestion(category, result.severity or SEVERITIES[0], list(result.reasons), alternative))
    return out


def check_contact(contact: str) -> str:
    value = contact.strip()
    if not (_EMAIL.match(value) or _PHONE.match(value)):
        raise TicketError("contact must be a phone number or an e-mail address")
    return value


def take(tickets: TicketService, *, channel: str, customer: str, contact: str, summary: str, actor: str,
         expectation: str = "", category: str | None = None, severity: str | None = None, order_no: str = "",
         brand: str = "", owner: str = "", suggestion: Suggestion | None = None,
         received_at: datetime | None = None) -> tuple[Ticket, Suggestion | None]:
    """One complaint in; category and grade the agent did not give come from the classifier (and say so).
    `received_at`: when the customer complained, if before now (the SLA clocks start there)."""
    if category is not None and category not in CATEGORIES:
        raise TicketError(f"unknown category {category!r} (categories: {', '.join(CATEGORIES)})")
    if severity is not None and severity not in SEVERITIES:
        raise TicketError(f"unknown grade {severity!r} (grades: {', '.join(SEVERITIES)})")
    check_contact(contact)
    if (category is None or severity is None) and suggestion is None:
        suggestion = suggest([f"{summary} {expectation}".strip()])[0]
    ticket = tickets.intake(
        channel=channel, customer=customer, contact=contact, summary=summary, expectation=expectation,
        category=category or suggestion.category, severity=severity or suggestion.severity, order_no=order_no,
        brand=brand, owner=owner, actor=actor, now=received_at,
        suggested=suggestion.as_detail() if suggestion and (category is None or severity is None) else None)
    return ticket, suggestion


@dataclass
class ImportResult:
    opened: list[Ticket] = field(default_factory=list)
    rejected: list[tuple[int, str]] = field(default_factory=list)  # (line in the file, why)
    # header columns nobody reads, each with the column it may have meant: a misspelt `order_no` would
    # otherwise import every row without its order number
    unread: list[tuple[str, str | None]] = field(default_factory=list)


def received_at(value: str, tickets: TicketService) -> datetime | None:
    """A row's received_at: ISO 8601, read in the team's zone without an offset; never in the future."""
    if not value:
        return None
    try:
        when = datetime.fromisoformat(value)
    except ValueError:
        raise TicketError(f"received_at {value!r} is not a time (use 2026-06-01 09:30 or ISO 8601)") from None
    when = when if when.tzinfo else when.replace(tzinfo=tickets.tz)
    if when > tickets.now():
        raise TicketError(f"received_at {value!r} is in the future")
    return when


def import_csv(tickets: TicketService, path: Path, *, actor: str, brand: str = "",
               brands: Sequence[str] = ()) -> ImportResult:
    """A call-centre export, one complaint a row; a bad row is reported by the line it starts on and the rest
    kept. `brands`: the configured brand keys a row's brand must be one of (any, when empty)."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise CrisiswatchError(f"cannot read {path}: {exc}") from None
    # newline="": a quoted summary keeps its line breaks, and a U+2028 copied from the web is text, not a row end
    reader = csv.DictReader(io.StringIO(text, newline=""))
    missing = [c for c in REQUIRED if c not in (reader.fieldnames or [])]
    if missing:
        raise CrisiswatchError(f"{path}: the header lacks {', '.join(missing)} "
                               f"(columns: {', '.join(CSV_COLUMNS)})")
    rows, start = [], reader.line_num + 1
    for row in reader:
        rows.append((start, row))
        start = reader.line_num + 1
    result = ImportResult(unread=[(c, next(iter(difflib.get_close_matches(c, CSV_COLUMNS, n=1, cutoff=0.6)), None))
                                  for c in reader.fieldnames or [] if c not in CSV_COLUMNS])
    need = [i for i, (_, row) in enumerate(rows) if not (row.get("category") and row.get("severity"))]
    suggestions = dict(zip(need, suggest([f"{rows[i][1].get('summary') or ''} {rows[i][1].get('expectation') or ''}"
                                           for i in need]), strict=True)) if need else {}
    for i, (line, row) in enumerate(rows):
        values = {k: (row.get(k) or "").strip() for k in CSV_COLUMNS}
        try:
            if None in row:
                raise TicketError("more fields than the header has columns")
            blank = [c for c in REQUIRED if not values[c]]
            if blank:
                raise TicketError(f"{blank[0]} is empty")
            if values["channel"] not in INTAKE:
                raise TicketError(f"unknown channel {values['channel']!r} (channels: {', '.join(INTAKE)})")
            if brands and values["brand"] and values["brand"] not in brands:
                raise TicketError(f"unknown brand {values['brand']!r} (brands: {', '.join(brands)})")
            ticket, _ = take(tickets, channel=values["channel"], customer=values["customer"],
                             contact=values["contact"], summary=values["summary"], expectation=values["expectation"],
                             category=values["category"] or None, severity=values["severity"] or None,
                             order_no=values["order"], brand=values["brand"] or brand, owner=values["owner"],
                             actor=actor, suggestion=suggestions.get(i),
                             received_at=received_at(values["received_at"], tickets))
        except TicketError as exc:
            result.rejected.append((line, str(exc)))
            continue
        result.opened.append(ticket)
    return result
