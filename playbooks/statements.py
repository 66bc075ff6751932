"""Holding statements: drafted from a template with the incident's facts, published only when approved.

The golden window (黄金时间) is the time a brand has to say something after a crisis starts: it runs
until the statement is published (`crisiswatch statement publish`, or the console), not until a draft
exists. Statements are public text: they never carry an internal id (ticket or incident number).

A rejected or expired statement is revised (a person's text, taken as written: never rendered as a
template, so a placeholder stays the characters it is and no post's words can be pulled in) or sent as
it was, and put to the same approvers again. It keeps its id and its window; `version` counts the
rounds, and each earlier round is kept in `statement_versions` with its text and decision.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from jinja2 import StrictUndefined, TemplateError
from jinja2.sandbox import SandboxedEnvironment

from crisiswatch.db import Row, StateConnection
from crisiswatch.errors import CrisiswatchError

INTERNAL = ("ticket", "incident")  # variables a public statement may not use
_INTERNAL_ID = re.compile(r"\bCW-\d{8}-\d{4}\b|\bINC-\d+\b")
TEMPLATES = Path(__file__).parent / "templates"
_ENV = SandboxedEnvironment(undefined=StrictUndefined, autoescape=False, keep_trailing_newline=False)


@dataclass
class Statement:
    id: int
    incident_id: int
    playbook: str
    ticket_number: str
    template: str
    text: str
    status: str  # draft -> approved -> published; draft -> rejected | expired
    approvers: str
    approval_id: str | None
    incident_start: datetime
    ready_at: datetime
    window_minutes: int
    missed_window: bool
    decided_by: str | None
    decided_at: datetime | None
    published_by: str | None = None
    published_at: datetime | None = None
    version: int = 1  # 1 as drafted; one more each time it is revised or put to the approvers again

    @property
    def approver_list(self) -> list[str]:
        return [a for a in self.approvers.split(",") if a]

    @property
    def window_ends(self) -> datetime:
        return self.incident_start + timedelta(minutes=self.window_minutes)

    def late(self, now: datetime) -> bool:
        """Past the golden window without a published statement (or published after it)."""
        return (self.published_at or now) > self.window_ends


REVISABLE = ("rejected", "expired")  # what a decision left without a way out, but a new round
MAX_TEXT = 4000  # characters: a holding statement is a few paragraphs (Slack shows about 2,900 of a request)
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


@dataclass(frozen=True)
class StatementVersion:
    """An earlier round of a statement: the text put to the approvers, and what became of it."""

    statement_id: int
    version: int
    text: str
    status: str
    approval_id: str | None
    decided_by: str | None
    decided_at: datetime | None
    replaced_by: str
    replaced_at: datetime
    change: str  # revised | resubmitted


def check_text(text: str) -> str:
    """A person's text for a statement, as it will be put to the approvers and published.

    Taken as written (never rendered: `{{ brand }}` or `{top_terms}` stay those characters, and Slack markup
    is made inert where the request is posted); refused when empty, too long, or carrying an internal id.
    """
    text = _CONTROL.sub("", text.replace("\r\n", "\n").replace("\r", "\n")).strip()
    if not text:
        raise CrisiswatchError("the statement text is empty")
    if len(text) > MAX_TEXT:
        raise CrisiswatchError(f"the statement text is {len(text)} characters long; keep it under {MAX_TEXT}")
    found = _INTERNAL_ID.search(text)
    if found:
        raise CrisiswatchError(f"the statement text carries an internal id ({found.group(0)}); statements are public")
    return text


def template_names() -> list[str]:
    return sorted(p.stem for p in TEMPLATES.glob("*.j2"))


def render(template: str, variables: dict[str, Any]) -> str:
    """A shipped template by name (templates/<name>.j2) or inline Jinja text, in a sandbox.

    An unknown name, an unknown variable, or an internal id in the text is an error: a statement
    never goes out as a template's name or with a blank where a fact should be.
    """
    if "{" in template:
        source = template
    else:
        path = TEMPLATES / f"{template}.j2"
        if not path.exists():
            raise CrisiswatchError(f"unknown statement template {template!r} "
                                   f"(shipped: {', '.join(template_names())}; or inline Jinja text)")
        source = path.read_text(encoding="utf-8")
    public = {k: v for k, v in variables.items() if k not in INTERNAL}
    try:
        text = _ENV.from_string(source).render(**public).strip()
    except TemplateError as exc:
        why = " (statements are public: no ticket or incident ids)" if any(
            f"'{k}'" in str(exc) for k in INTERNAL) else ""
        raise CrisiswatchError(f"statement template {template[:40]!r}: {exc}{why}") from None
    if _INTERNAL_ID.search(text):
        raise CrisiswatchError(f"statement template {template[:40]!r}: the text carries an internal id "
                               f"({_INTERNAL_ID.search(text).group(0)}); statements are public")
    return text


def _row(r: Row) -> Statement:
    data = dict(r)
    for key in ("incident_start", "ready_at", "decided_at", "published_at"):
        data[key] = datetime.fromisoformat(data[key]) if data[key] else None
    data["missed_window"] = bool(data["missed_window"])
    return Statement(**data)


class StatementStore:
    def __init__(self, conn: StateConnection) -> None:
        self.conn = conn

    def draft(self, *, incident_id: int, playbook: str, ticket_number: str, template: str, text: str,
              approvers: list[str], incident_start: datetime, ready_at: datetime, window_minutes: int) -> Statement:
        missed = (ready_at - incident_start).total_seconds() > window_minutes * 60  # late already as a draft
        self.conn.execute(
            "INSERT INTO statements(incident_id, playbook, ticket_number, template, text, approvers,"
            " incident_start, ready_at, window_minutes, missed_window) VALUES (?,?,?,?,?,?,?,?,?,?)"
            " ON CONFLICT DO NOTHING",
            (incident_id, playbook, ticket_number, template[:200], text, ",".join(approvers),
             incident_start.isoformat(), ready_at.isoformat(), window_minutes, int(missed)))
        return self.for_incident(incident_id, playbook)

    def for_incident(self, incident_id: int, playbook: str) -> Statement | None:
        row = self.conn.execute("SELECT * FROM statements WHERE incident_id=? AND playbook=?",
                                (incident_id, playbook)).fetchone()
        return _row(row) if row else None

    def all(self, incident_id: int | None = None) -> list[Statement]:
        if incident_id is None:
            rows = self.conn.execute("SELECT * FROM statements ORDER BY id")
        else:
            rows = self.conn.execute("SELECT * FROM statements WHERE incident_id=? ORDER BY id", (incident_id,))
        return [_row(r) for r in rows.fetchall()]

    def set_approval(self, statement_id: int, approval_id: str) -> None:
        self.conn.execute("UPDATE statements SET approval_id=? WHERE id=?", (approval_id, statement_id))

    def get(self, statement_id: int) -> Statement | None:
        row = self.conn.execute("SELECT * FROM statements WHERE id=?", (statement_id,)).fetchone()
        return _row(row) if row else None

    def decide(self, statement_id: int, status: str, by: str | None, at: datetime) -> None:
        self.conn.execute("UPDATE statements SET status=?, decided_by=?, decided_at=? WHERE id=? AND status='draft'",
                          (status, by, at.isoformat(), statement_id))

    def history(self, statement_id: int) -> list[StatementVersion]:
        """The earlier rounds of a statement, oldest first."""
        rows = self.conn.execute("SELECT * FROM statement_versions WHERE statement_id=? ORDER BY version",
                                 (statement_id,)).fetchall()
        out = []
        for r in rows:
            data = dict(r)
            for key in ("decided_at", "replaced_at"):
                data[key] = datetime.fromisoformat(data[key]) if data[key] else None
            out.append(StatementVersion(**data))
        return out

    def new_round(self, statement: Statement, text: str, by: str, at: datetime) -> Statement:
        """Keeps the decided round in the history and makes the statement a draft again (new text or the same),
        without an approval yet: the caller asks for one in the same transaction.

        Refused unless the statement is still as `statement` says (rejected or expired, that version)."""
        if statement.status not in REVISABLE:
            raise CrisiswatchError(f"statement {statement.id} is {statement.status}: only a rejected or expired "
                                   "statement is revised or put to its approvers again")
        cur = self.conn.execute(
            "UPDATE statements SET text=?, status='draft', approval_id=NULL, decided_by=NULL, decided_at=NULL,"
            " version=? WHERE id=? AND version=? AND status=?",
            (text, statement.version + 1, statement.id, statement.version, statement.status))
        if cur.rowcount != 1:
            raise CrisiswatchError(f"statement {statement.id} changed meanwhile; look again")
        self.conn.execute(
            "INSERT INTO statement_versions(statement_id, version, text, status, approval_id, decided_by, decided_at,"
            " replaced_by, replaced_at, change) VALUES (?,?,?,?,?,?,?,?,?,?)",
            (statement.id, statement.version, statement.text, statement.status, statement.approval_id,
             statement.decided_by, statement.decided_at.isoformat() if statement.decided_at else None, by,
             at.isoformat(), "resubmitted" if text == statement.text else "revised"))
        return self.get(statement.id)

    def publish(self, statement_id: int, by: str, at: datetime) -> Statement:
        """Records the publication; the golden window is judged by it. Only an approved statement goes out."""
        statement = self.get(statement_id)
        if statement is None:
            raise CrisiswatchError(f"no statement {statement_id}")
        if statement.status != "approved":
            raise CrisiswatchError(f"statement {statement_id} is {statement.status}: only an approved statement "
                                   "can be published")
        missed = at > statement.window_ends
        cur = self.conn.execute(
            "UPDATE statements SET status='published', published_by=?, published_at=?, missed_window=?"
            " WHERE id=? AND status='approved'", (by, at.isoformat(), int(missed), statement_id))
        if cur.rowcount != 1:
            raise CrisiswatchError(f"statement {statement_id} changed meanwhile; look again")
        return self.get(statement_id)
