"""Complaint tickets: open or convert, join, link repeats, walk the lifecycle, watch the SLA.

Numbering is CW-YYYYMMDD-NNNN per day in the team's time zone. Every change is one UPDATE
guarded by the version the caller read (optimistic locking), so two agents never lose an
update: the second gets a `TicketConflict` and reloads.
"""

from __future__ import annotations

import builtins
import itertools
import json
import logging
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from crisiswatch.audit import AuditLog
from crisiswatch.config import Config, TicketSettings
from crisiswatch.db import Row, StateConnection, insert_id, on_commit, transaction
from crisiswatch.localtime import local_time
from crisiswatch.mention import CATEGORIES, SEVERITIES, Mention
from crisiswatch.pii import mask as mask_pii
from playbooks.tickets import linking, sla_watch
from playbooks.tickets.mirror import NullMirror, TicketMirror
from playbooks.tickets.models import (
    ARCHIVED,
    CLOSED,
    DEFAULT_REPLY_VIA,
    DEPARTMENTS,
    FALSE_ALARM,
    INTAKE,
    OPEN_STATUSES,
    REPLY_VIA,
    RESOLVED,
    SETTLED,
    STATUSES,
    TIMERS,
    TRANSITIONS,
    WATCHED_TIMERS,
    SlaTerms,
    Ticket,
    TicketConflict,
    TicketError,
)
from playbooks.tickets.replies import ReplyTemplates, check_reply, normalise, ticket_facts
from playbooks.tickets.sla import SlaClock

logger = logging.getLogger(__name__)
_STAMPS = ("created_at", "updated_at", "ack_due", "response_due", "feedback_due", "resolve_due", "acked_at",
           "first_reply_at", "resolved_at", "followed_up_at", "closed_at", "sla_start", "followup_due", "paused_at")
_MILESTONE = {"accept": "acked_at", "resolve": "resolved_at", "followup": "followed_up_at", "close": "closed_at"}


_SETTLED = ",".join("?" * len(SETTLED))  # placeholders for `status NOT IN (...)`
APPROVERS = "管理层"  # the department whose members approve an extension of 办结 (the manual: "with approval")
MERGED = "merged"  # the ticket_links reason of a duplicate merged into the ticket kept
UNREACHABLE_TRIES = 3  # the manuals: a customer not reached at three 回访 calls may be closed as 无法联系
DISSATISFIED = 2  # a 回访 score at or under this is 不满意: handled again (reopen), or closed with the reason


def _utc(when: datetime) -> datetime:
    """Times are stored in UTC: the queries compare them as text, and "20:00+08:00" sorts after "16:00+00:00"."""
    return when.astimezone(UTC)


def _ticket(row: Row, mention_ids: list[str], related: list[dict[str, Any]]) -> Ticket:
    data = dict(row)
    for key in _STAMPS:
        data[key] = datetime.fromisoformat(data[key]) if data[key] else None
    for key in ("evidence", "tasks", "departments", "satisfaction_history"):
        data[key] = json.loads(data[key])
    return Ticket(**data, mention_ids=mention_ids, related=related)


class TicketService:
    def __init__(self, conn: StateConnection, timezone: str = "Asia/Shanghai",
                 sla: dict[str, SlaTerms] | None = None, *, settings: TicketSettings | None = None,
                 mirror: TicketMirror | None = None, clock: Callable[[], datetime] | None = None) -> None:
        self.conn = conn
        self.settings = settings or TicketSettings()
        self.tz = ZoneInfo(self.settings.timezone or timezone)
        self.clock = SlaClock.from_settings(self.settings, self.tz, sla)
        self.sla = self.clock.table
        self._replies: ReplyTemplates | None = None
        self.mirror = mirror or NullMirror()
        self.now = clock or (lambda: datetime.now(UTC))

    @classmethod
    def from_config(cls, config: Config, conn: StateConnection, *, mirror: TicketMirror | None = None,
                    clock: Callable[[], datetime] | None = None) -> TicketService:
        return cls(conn, timezone=config.alerts.timezone, settings=config.tickets, mirror=mirror, clock=clock)

    # ---- reading -------------------------------------------------------------------------------

    def get(self, ticket_id: int | str) -> Ticket | None:
        if isinstance(ticket_id, str) and not ticket_id.isdigit():
            return self.by_number(ticket_id)
        row = self.conn.execute("SELECT * FROM tickets WHERE id=?", (int(ticket_id),)).fetchone()
        if row is None:
            return None
        mentions = [r[0] for r in self.conn.execute(
            "SELECT mention_id FROM ticket_mentions WHERE ticket_id=? ORDER BY mention_id", (row["id"],))]
        related = [
            {"number": r["number"], "reason": r["reason"], "direction": r["direction"]}
            for r in self.conn.execute(
                "SELECT t.number, l.reason, 'earlier' AS direction FROM ticket_links l"
                " JOIN tickets t ON t.id = l.related_id WHERE l.ticket_id=?"
                " UNION ALL SELECT t.number, l.reason, 'later' FROM ticket_links l"
                " JOIN tickets t ON t.id = l.ticket_id WHERE l.related_id=? ORDER BY 1", (row["id"], row["id"]))
        ]
        return _ticket(row, mentions, related)

    def by_number(self, number: str) -> Ticket | None:
        row = self.conn.execute("SELECT id FROM tickets WHERE number=?", (number,)).fetchone()
        return self.get(row[0]) if row else None

    def require(self, ticket_id: int | str) -> Ticket:
        ticket = self.get(ticket_id)
        if ticket is None:
            raise TicketError(f"no ticket {ticket_id}")
        return ticket

    def for_incident(self, incident_id: int) -> Ticket | None:
        row = self.conn.execute("SELECT id FROM tickets WHERE incident_id=? ORDER BY id LIMIT 1",
                                (incident_id,)).fetchone()
        return self.get(row[0]) if row else None

    def all_for_incident(self, incident_id: int) -> builtins.list[Ticket]:
        """Every ticket opened for the incident, oldest first (a fail-safe one beside the playbook's, say)."""
        rows = self.conn.execute("SELECT id FROM tickets WHERE incident_id=? ORDER BY id", (incident_id,)).fetchall()
        return [self.get(r[0]) for r in rows]

    def list(self, status: str | None = None, severity: str | None = None, category: str | None = None,
             brand: str | None = None, breached: bool | None = None, limit: int = 100,
             department: str | None = None, since: datetime | None = None,
             until: datetime | None = None, owner: str | None = None,
             open_only: bool = False, now: datetime | None = None,
             archived: bool = False) -> builtins.list[Ticket]:
        """The newest `limit` tickets that match; `count` with the same filters says how many there are.

        The working lists leave archived (已归档) tickets out: `archived=True` or `status="已归档"` shows them.

        `breached`: past an SLA deadline at `now` (True) or not (False), by `Ticket.overdue`, the rule the SLA
        watch breaches by and the dashboard's 超时工单 counts by."""
        where, params = self._filter(status, severity, category, brand, breached, department, since, until, owner,
                                     open_only, archived)
        if breached is not None:
            ids = self._by_lateness(where, params, breached, now)
            return [self.get(i) for i in itertools.islice(ids, limit)]
        rows = self.conn.execute(f"SELECT id FROM tickets{where} ORDER BY id DESC LIMIT ?", [*params, limit])
        return [self.get(r[0]) for r in rows.fetchall()]

    def count(self, status: str | None = None, severity: str | None = None, category: str | None = None,
              brand: str | None = None, breached: bool | None = None, department: str | None = None,
              since: datetime | None = None, until: datetime | None = None, owner: str | None = None,
              open_only: bool = False, now: datetime | None = None, archived: bool = False) -> int:
        where, params = self._filter(status, severity, category, brand, breached, department, since, until, owner,
                                     open_only, archived)
        if breached is not None:
            return sum(1 for _ in self._by_lateness(where, params, breached, now))
        return self.conn.execute(f"SELECT COUNT(*) FROM tickets{where}", params).fetchone()[0]

    def _by_lateness(self, where: str, params: builtins.list[Any], late: bool,
                     now: datetime | None) -> Iterator[int]:
        """Ids, newest first, of the matching tickets that are (or are not) overdue at `now`."""
        now = _utc(now or self.now())
        for row in self.conn.execute(f"SELECT * FROM tickets{where} ORDER BY id DESC", params).fetchall():
            if _ticket(row, [], []).overdue(now) == late:
                yield row["id"]

    @staticmethod
    def _filter(status: str | None, severity: str | None, category: str | None, brand: str | None,
                breached: bool | None, department: str | None, since: datetime | None, until: datetime | None,
                owner: str | None, open_only: bool, archived: bool = False) -> tuple[str, builtins.list[Any]]:
        clauses, params = [], []
        for column, value in (("status", status), ("severity", severity), ("category", category),
                              ("brand", brand), ("owner", owner)):
            if value:
                clauses.append(f"{column}=?")
                params.append(value)
        if department:
            clauses.append("(department=? OR departments LIKE ?)")
            params += [department, f'%"{department}"%']
        if breached or open_only:  # a settled ticket has no clock running, so it cannot be late (`Ticket.late`)
            clauses.append(f"status NOT IN ({_SETTLED})")
            params += SETTLED
        elif not archived and status != ARCHIVED:
            clauses.append("status != ?")
            params.append(ARCHIVED)
        if since:
            clauses.append("created_at >= ?")
            params.append(since.astimezone(UTC).isoformat())
        if until:
            clauses.append("created_at < ?")
            params.append(until.astimezone(UTC).isoformat())
        return (f" WHERE {' AND '.join(clauses)}" if clauses else ""), params

    def holding(self, mention_id: str) -> builtins.list[Ticket]:
        """The tickets a post was converted into or joined, newest first, however old."""
        rows = self.conn.execute("SELECT DISTINCT ticket_id FROM ticket_mentions WHERE mention_id=? ORDER BY ticket_id"
                                 " DESC", (mention_id,))
        return [t for t in (self.get(r[0]) for r in rows.fetchall()) if t is not None]

    def count_overdue(self, now: datetime, brand: str | None = None) -> int:
        """How many tickets are past a deadline whose milestone they have not reached (`Ticket.overdue`, the rule
        of the SLA watch and `ticket list --breached`): all of them, however old."""
        return self.count(brand=brand, breached=True, now=now)

    def timeline(self, ticket_id: int | str) -> builtins.list[dict[str, Any]]:
        ticket = self.require(ticket_id)
        rows = self.conn.execute("SELECT at, actor, kind, detail FROM ticket_events WHERE ticket_id=? ORDER BY id",
                                 (ticket.id,))
        return [{"at": r["at"], "actor": r["actor"], "kind": r["kind"], "detail": json.loads(r["detail"])}
                for r in rows.fetchall()]

    # ---- opening -------------------------------------------------------------------------------

    def _next_number(self, now: datetime) -> str:
        day = now.astimezone(self.tz).strftime("%Y%m%d")
        self.conn.execute(
            "INSERT INTO ticket_sequence(day, last) VALUES (?, 1) ON CONFLICT(day) DO UPDATE SET last=ticket_sequence.last+1",
            (day,),
        )
        last = self.conn.execute("SELECT last FROM ticket_sequence WHERE day=?", (day,)).fetchone()[0]
        return f"CW-{day}-{last:04d}"

    def record_event(self, ticket_id: int, now: datetime, actor: str, kind: str, **detail: Any) -> dict[str, Any]:
        body = json.dumps(detail, ensure_ascii=False, default=str)
        self.conn.execute("INSERT INTO ticket_events(ticket_id, at, actor, kind, detail) VALUES (?,?,?,?,?)",
                          (ticket_id, now.isoformat(), actor, kind, body))
        return {"at": now.isoformat(), "actor": actor, "kind": kind, "detail": detail}

    def departments_for(self, category: str, severity: str) -> builtins.list[str]:
        """The routing table: a category's departments, and 管理层 on top for 重大."""
        out = list(self.settings.routing.get(category) or self.settings.routing.get("other") or ["客服"])
        if severity == SEVERITIES[-1] and self.settings.major_adds not in out:
            out.append(self.settings.major_adds)
        return out

    def department_of(self, person: str) -> str:
        """A person's department from the staff list (`tickets.staff`)."""
        department = self.settings.staff.get(person)
        if department is None:
            known = "、".join(self.settings.staff) or "none: list people under tickets.staff"
            raise TicketError(f"unknown department or person {person!r} (departments: {', '.join(DEPARTMENTS)};"
                              f" staff: {known})")
        return department

    def intake(self, *, channel: str, customer: str, contact: str, summary: str, actor: str,
               category: str, severity: str, expectation: str = "", order_no: str = "", brand: str = "",
               owner: str = "", suggested: dict[str, Any] | None = None, now: datetime | None = None) -> Ticket:
        """A complaint taken by phone, e-mail, chat, in the app, on social media or a third-party site."""
        if channel not in INTAKE:
            raise TicketError(f"unknown channel {channel!r} (channels: {', '.join(INTAKE)})")
        for name, value in (("customer", customer), ("contact", contact), ("summary", summary)):
            if not value.strip():
                raise TicketError(f"a complaint needs the {name}")
        # the title is what lists, alerts and the Kibana case show: no phone number the customer dictated in it
        title = mask_pii(summary.strip().replace("\n", " ")).text[:60]
        return self.open(title=title, severity=severity, category=category, brand=brand, channel=channel,
                         actor=actor, now=now, order_no=order_no.strip(), customer=customer.strip(),
                         contact=contact.strip(), summary=summary.strip(), expectation=expectation.strip(),
                         owner=owner, suggested=suggested)

    def open(self, *, title: str, severity: str, category: str = "other", brand: str = "",
             department: str | None = None, channel: str = "", incident_id: int | None = None,
             source_url: str = "", author_handle: str = "", evidence: builtins.list[dict[str, Any]] | None = None,
             mention_ids: builtins.list[str] | None = None, actor: str = "crisiswatch",
             now: datetime | None = None, author_id: str = "", order_no: str = "",
             clusters: dict[str, str] | None = None, sources: dict[str, str] | None = None,
             customer: str = "", contact: str = "", summary: str = "", expectation: str = "",
             owner: str = "", suggested: dict[str, Any] | None = None) -> Ticket:
        now = _utc(now or self.now())
        if severity not in SEVERITIES:
            raise TicketError(f"unknown grade {severity!r} (grades: {', '.join(SEVERITIES)})")
        if category not in CATEGORIES:
            raise TicketError(f"unknown category {category!r}")
        departments = self.departments_for(category, severity)
        if owner:
            department = self.department_of(owner)
        if department:
            _check_department(department)
            departments = [department, *(d for d in departments if d != department)]
        due = self.clock.deadlines(severity, now)
        with transaction(self.conn):
            number = self._next_number(now)
            ticket_id = insert_id(
                self.conn, "INSERT INTO tickets(number, title, status, brand, category, severity, department, departments,"
                " channel, incident_id, source_url, author_handle, author_id, order_no, evidence, created_at,"
                " updated_at, ack_due, response_due, feedback_due, resolve_due, sla_start, customer, contact,"
                " summary, expectation, owner)"
                " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                (number, title[:200], STATUSES[0], brand, category, severity, departments[0],
                 json.dumps(departments, ensure_ascii=False), channel, incident_id, source_url, author_handle,
                 author_id, order_no, json.dumps(evidence or [], ensure_ascii=False), now.isoformat(),
                 now.isoformat(), *(due[t].isoformat() for t in TIMERS), now.isoformat(), customer, contact,
                 summary, expectation, owner),
            )
            self._add_mentions(ticket_id, mention_ids or [], clusters or {}, sources or {})
            # the contact is personal data: it stays on the ticket and out of the event log
            extra = {"channel": channel, "owner": owner} if channel in INTAKE else {}
            if suggested:
                extra["suggested"] = suggested
            self.record_event(ticket_id, now, actor, "created", severity=severity, category=category,
                              departments=departments, mentions=len(mention_ids or []), **extra)
            linking.link_repeats(self, ticket_id, now, actor)
        ticket = self.require(ticket_id)
        self.mirror_change("created", ticket)
        return ticket

    def _add_mentions(self, ticket_id: int, mention_ids: builtins.list[str], clusters: dict[str, str],
                      sources: dict[str, str]) -> int:
        rows = [(ticket_id, m, clusters.get(m, ""), sources.get(m, "")) for m in mention_ids]
        return sum(self.conn.execute("INSERT INTO ticket_mentions(ticket_id, mention_id, cluster_id, source)"
                                     " VALUES (?,?,?,?) ON CONFLICT DO NOTHING", row).rowcount for row in rows)

    def _joinable(self, mentions: builtins.list[Mention]) -> Ticket | None:
        """A ticket that already holds one of these posts (unless archived: its record is frozen), or an unclosed one
        that holds their near-duplicate cluster."""
        ids = [m.id for m in mentions]
        clusters = [m.cluster_id for m in mentions if m.cluster_id]
        marks = ",".join("?" * len(ids))
        row = self.conn.execute(
            f"SELECT t.id FROM ticket_mentions tm JOIN tickets t ON t.id = tm.ticket_id"
            f" WHERE tm.mention_id IN ({marks}) AND t.status != ? ORDER BY t.status = ?, t.id LIMIT 1",
            [*ids, ARCHIVED, CLOSED]).fetchone()
        if row is None and clusters:
            marks = ",".join("?" * len(clusters))
            row = self.conn.execute(
                f"SELECT t.id FROM ticket_mentions tm JOIN tickets t ON t.id = tm.ticket_id"
                f" WHERE tm.cluster_id IN ({marks}) AND t.status NOT IN ({_SETTLED}) ORDER BY t.id LIMIT 1",
                [*clusters, *SETTLED]).fetchone()
        return self.get(row[0]) if row else None

    def convert(self, mentions: builtins.list[Mention], *, actor: str, category: str | None = None,
                severity: str | None = None, department: str | None = None, now: datetime | None = None,
                order_no: str | None = None) -> Ticket:
        """A public post (or its near-duplicate cluster) becomes a tracked complaint, or joins one."""
        if not mentions:
            raise TicketError("nothing to convert: no posts given")
        now = _utc(now or self.now())
        existing = self._joinable(mentions)
        if existing is not None:
            return self.join(existing.id, mentions, actor=actor, now=now)
        first = mentions[0]
        title = first.text.replace("\n", " ")[:60]
        return self.open(
            title=title, severity=severity or linking.gravest(mentions),
            category=category or linking.main_category(mentions), brand=first.brands[0] if first.brands else "",
            department=department, channel=first.source, source_url=first.url, author_handle=first.author.name,
            author_id=f"{first.source}:{first.author.id}" if first.author.id else "",
            order_no=order_no if order_no is not None else linking.order_number(first),
            evidence=[linking.evidence(m, now) for m in mentions], mention_ids=[m.id for m in mentions],
            clusters={m.id: m.cluster_id or "" for m in mentions}, sources={m.id: m.source for m in mentions},
            actor=actor, now=now,
        )

    def join(self, ticket_id: int, mentions: builtins.list[Mention], *, actor: str,
             now: datetime | None = None) -> Ticket:
        """More posts for a complaint already tracked: kept as evidence, no second ticket."""
        now = _utc(now or self.now())
        with transaction(self.conn, lock=f"ticket:{ticket_id}"):
            ticket = self.require(ticket_id)
            if ticket.status == ARCHIVED:
                raise TicketError(self._frozen(ticket, "joined"))
            added = self._add_mentions(ticket.id, [m.id for m in mentions], {m.id: m.cluster_id or "" for m in mentions},
                                       {m.id: m.source for m in mentions})
            if not added:
                return ticket
            have = {e.get("mention_id") for e in ticket.evidence}
            evidence = ticket.evidence + [linking.evidence(m, now) for m in mentions if m.id not in have][:50]
            self.conn.execute("UPDATE tickets SET evidence=?, updated_at=?, version=version+1 WHERE id=?",
                              (json.dumps(evidence, ensure_ascii=False), now.isoformat(), ticket.id))
            event = self.record_event(ticket.id, now, actor, "joined", mentions=added)
        ticket = self.require(ticket.id)
        self.mirror_change("updated", ticket, event)
        return ticket

    def join_incident(self, ticket_id: int, incident_id: int, mention_ids: builtins.list[str], *, actor: str,
                      now: datetime | None = None) -> Ticket:
        now = _utc(now or self.now())
        with transaction(self.conn, lock=f"ticket:{ticket_id}"):
            added = self._add_mentions(ticket_id, mention_ids, {}, {})
            self.record_event(ticket_id, now, actor, "joined", incident=incident_id, mentions=added)
        return self.require(ticket_id)

    def joinable_for_incident(self, incident_id: int, brand: str, category: str,
                              now: datetime | None = None) -> Ticket | None:
        """The incident's own ticket, or an unclosed one for the same brand and category opened within the window."""
        own = self.for_incident(incident_id)
        if own is not None and own.status != ARCHIVED:
            return own
        since = (_utc(now or self.now()) - timedelta(minutes=self.settings.join_window_minutes)).isoformat()
        row = self.conn.execute(
            f"SELECT id FROM tickets WHERE brand=? AND category=? AND incident_id IS NOT NULL AND status NOT IN"
            f" ({_SETTLED}) AND created_at >= ? ORDER BY id LIMIT 1", (brand, category, *SETTLED, since)).fetchone()
        return self.get(row[0]) if row else None

    # ---- changing (optimistic locking) ---------------------------------------------------------

    def _change(self, ticket_id: int | str, expected_version: int, actor: str, kind: str,
                sets: dict[str, Any], now: datetime | None = None, check: Callable[[Ticket], None] | None = None,
                then: builtins.list[tuple[str, dict[str, Any]]] = (), **detail: Any) -> Ticket:
        """One guarded UPDATE and its event (then any further events `then` names, in the same transaction)."""
        now = _utc(now or self.now())
        # one ticket's edits take turns on PostgreSQL (other tickets' go on); the version check below
        # is the optimistic lock that tells an agent someone else changed it first
        with transaction(self.conn, lock=f"ticket:{ticket_id}"):
            ticket = self.require(ticket_id)
            if ticket.status == ARCHIVED:
                raise TicketError(self._frozen(ticket, kind))
            if ticket.version != expected_version:
                raise TicketConflict(
                    f"ticket {ticket.number} was changed by someone else (now version {ticket.version}, "
                    f"you had {expected_version}); reload it and try again")
            if check:
                check(ticket)
            values = {k: (v(ticket) if callable(v) else v) for k, v in sets.items()}
            values = {k: _utc(v).isoformat() if isinstance(v, datetime) else v for k, v in values.items()}
            assignments = "".join(f"{k}=?, " for k in values)
            cur = self.conn.execute(
                f"UPDATE tickets SET {assignments}updated_at=?, version=version+1 WHERE id=? AND version=?",
                [*values.values(), now.isoformat(), ticket.id, expected_version])
            if cur.rowcount != 1:
                raise TicketConflict(f"ticket {ticket.number} was changed by someone else; reload it and try again")
            event = self.record_event(ticket.id, now, actor, kind, **detail)
            for later_kind, later_detail in then:
                self.record_event(ticket.id, now, actor, later_kind, **later_detail)
        updated = self.require(ticket.id)
        self.mirror_change("updated", updated, event)
        return updated

    @property
    def replies(self) -> ReplyTemplates:
        if self._replies is None:
            folder = self.settings.reply_templates
            self._replies = ReplyTemplates(Path(folder) if folder else None)
        return self._replies

    def draft_reply(self, ticket: Ticket) -> str:
        """The reply template for the ticket's category, filled with its facts, for the agent to edit."""
        facts = ticket_facts(ticket, self.tz, self.settings.service_contact, self.settings.followup_within)
        return self.replies.render(ticket.category, facts)

    def transition(self, ticket_id: int | str, action: str, *, actor: str, expected_version: int,
                   note: str | None = None, satisfaction: int | None = None, comment: str | None = None,
                   now: datetime | None = None, via: str | None = None, close_reason: str | None = None) -> Ticket:
        """One step of the lifecycle. A reply (`note`, sent `via` 书面/电话/在线客服) must say something.

        A dissatisfied 回访 (a score of `DISSATISFIED` or less) sends the case back to handling, as the manuals
        do: the same change reopens it (处理中, fresh clocks as `reopen` gives). With `close_reason` the agent
        closes it instead, saying why not (the close-with-a-note path)."""
        if action not in TRANSITIONS:
            raise TicketError(f"unknown action {action!r} (actions: {', '.join(TRANSITIONS)})")
        allowed, target = TRANSITIONS[action]
        now = _utc(now or self.now())
        if action == "followup" and (satisfaction is None or not 1 <= int(satisfaction) <= 5):
            raise TicketError("a follow-up (回访) needs a satisfaction score from 1 to 5")
        close_reason = (close_reason or "").strip()
        if close_reason and (action != "followup" or int(satisfaction) > DISSATISFIED):
            raise TicketError(f"a reason to close is given for a dissatisfied 回访 only (a score of 1 to "
                              f"{DISSATISFIED}); close a ticket with `ticket close --note`")
        handled_again = action == "followup" and int(satisfaction) <= DISSATISFIED and not close_reason
        if via is not None and via not in REPLY_VIA:
            raise TicketError(f"unknown reply channel {via!r} (channels: {', '.join(REPLY_VIA)})")
        if action == "reply":
            note = normalise(note or "").strip()

        def check(ticket: Ticket) -> None:
            if ticket.status not in allowed:
                raise TicketError(f"ticket {ticket.number} is {ticket.status}: cannot {action} "
                                  f"(only from {'/'.join(allowed)})")
            if action == "reply":
                channel = via or DEFAULT_REPLY_VIA[ticket.intake]
                check_reply(note or "", channel, self.draft_reply(ticket))
            if ticket.paused_at is not None:
                raise TicketError(f"ticket {ticket.number} has waited for the customer since "
                                  f"{self.local(ticket.paused_at)}: resume it first (`ticket resume {ticket.number}`)")
            if action == "close":
                self._check_closable(ticket, note)
            if action == "reopen" and (kept := self.merged_into(ticket)):
                raise TicketError(f"ticket {ticket.number} was merged into {kept}: reopen {kept} instead")
            if action == "reopen" and ticket.status == CLOSED and now >= self.reopenable_until(ticket):
                # past the window the case is settled: a new grievance is a new ticket, linked as a repeat
                raise TicketError(f"ticket {ticket.number} was closed {self.local(ticket.closed_at)}: it could be "
                                  f"reopened until {self.local(self.reopenable_until(ticket))} "
                                  f"({self.settings.reopen_window_days} days, tickets.reopen_window_days); take the "
                                  f"customer's new complaint as a new ticket (`ticket new`)")

        sets: dict[str, Any] = {"status": target}
        if action in _MILESTONE:
            sets[_MILESTONE[action]] = now
        if action == "reply":
            sets["replies"] = lambda t: t.replies + 1
            sets["first_reply_at"] = lambda t: t.first_reply_at or now
            sets["reply_channel"] = lambda t: via or DEFAULT_REPLY_VIA[t.intake]
            # the first reply carries the plan: the result is due within the feedback limit of it
            sets["feedback_due"] = lambda t: t.feedback_due if t.first_reply_at else \
                self.clock.feedback_after_plan(t.severity, now, t.resolve_due)
        if action == "resolve":
            sets["followup_due"] = lambda t: self.clock.add(now, self.settings.followup_within, t.severity)
        if action == "followup":
            sets.update(satisfaction=int(satisfaction), satisfaction_comment=comment or "")
            sets["satisfaction_history"] = lambda t: json.dumps(
                [*t.satisfaction_history, {"score": int(satisfaction), "comment": comment or "", "at": now.isoformat(),
                                           "by": actor}], ensure_ascii=False)
        then: builtins.list[tuple[str, dict[str, Any]]] = []
        if action == "reopen" or handled_again:
            sets.update(self._reopening(now))
        if handled_again:  # the followup's own event, then the reopening's, in the same change
            sets["status"] = TRANSITIONS["reopen"][1]
            then.append(("reopen", {"to": TRANSITIONS["reopen"][1], "dissatisfied": int(satisfaction),
                                    "note": f"回访不满意（{int(satisfaction)}/5），退回处理"}))
        detail: dict[str, Any] = {"to": target}
        if note:
            detail["note" if action != "reply" else "text"] = note
        if action == "reply":
            detail["via"] = via or "default"
        if action == "followup":
            detail.update(satisfaction=int(satisfaction), comment=comment or "")
        ticket = self._change(ticket_id, expected_version, actor, action, sets, now, check, then=then, **detail)
        if close_reason:  # dissatisfied, and closed all the same: the closing says why not
            return self.transition(ticket.id, "close", actor=actor, expected_version=ticket.version,
                                   note=close_reason, now=now)
        return ticket

    def _reopening(self, now: datetime) -> dict[str, Any]:
        """What a reopening sets: fresh clocks from it; the earlier 回访 score stays in satisfaction_history."""
        return {"reopened": lambda t: t.reopened + 1, "resolved_at": None, "followed_up_at": None, "closed_at": None,
                "satisfaction": None, "satisfaction_comment": "", "followup_due": None, "sla_start": now,
                "extension_approved_by": "",
                "feedback_due": lambda t: self.clock.deadlines(t.severity, now)["feedback"],
                "resolve_due": lambda t: self.clock.deadlines(t.severity, now)["resolve"]}

    def pause(self, ticket_id: int | str, *, actor: str, expected_version: int, note: str,
              now: datetime | None = None) -> Ticket:
        """Waiting for the customer (补充材料, 确认方案): the SLA clocks stop until `resume`. The manuals do not count
        time the customer holds the case; the note says what is awaited."""
        if not (note or "").strip():
            raise TicketError("say what the customer is asked for (--note), e.g. 等待客户补充照片")

        def check(t: Ticket) -> None:
            if not t.is_open:
                raise TicketError(f"ticket {t.number} is {t.status}: only an open case waits for the customer")
            if t.paused_at is not None:
                raise TicketError(f"ticket {t.number} has waited for the customer since {self.local(t.paused_at)}")

        now = _utc(now or self.now())
        return self._change(ticket_id, expected_version, actor, "paused", {"paused_at": now}, now, check,
                            note=note.strip())

    def resume(self, ticket_id: int | str, *, actor: str, expected_version: int, note: str | None = None,
               now: datetime | None = None) -> Ticket:
        """The customer answered: every deadline still running moves later by the time the wait lasted (working time
        for a grade on business hours, clock time for one around the clock)."""
        now = _utc(now or self.now())
        ticket = self.require(ticket_id)
        if ticket.paused_at is None:
            raise TicketError(f"ticket {ticket.number} is not waiting for the customer")
        sets: dict[str, Any] = {"paused_at": None}
        waited = self.clock.waited(ticket.severity, ticket.paused_at, now)
        moved = {timer: self.clock.add(ticket.due(timer), waited, ticket.severity)
                 for timer in ticket.pending()} if waited else {}
        sets.update({f"{timer}_due": at for timer, at in moved.items()})

        def check(t: Ticket) -> None:
            if t.paused_at != ticket.paused_at:
                raise TicketConflict(f"ticket {t.number} was changed by someone else; reload it and try again")

        detail: dict[str, Any] = {"waited_minutes": int(waited.total_seconds() // 60),
                                  "deadlines": {t: at.isoformat() for t, at in moved.items()}}
        if note:
            detail["note"] = note
        return self._change(ticket_id, expected_version, actor, "resumed", sets, now, check, **detail)

    def merge(self, ticket_id: int | str, into: int | str, *, actor: str, expected_version: int,
              now: datetime | None = None) -> Ticket:
        """A duplicate (the same complaint taken twice, by phone and by e-mail) joins the ticket kept: its posts and
        evidence move over, the kept ticket's running deadlines become the earlier of the two (the customer has
        waited since the first), and the duplicate is closed as merged, out of the report's counts. Returns the kept
        ticket."""
        now = _utc(now or self.now())
        with transaction(self.conn, lock=f"ticket:{ticket_id}"):
            dup, keep = self.require(ticket_id), self.require(into)
            if dup.id == keep.id:
                raise TicketError(f"ticket {dup.number} cannot be merged into itself")
            if dup.version != expected_version:
                raise TicketConflict(f"ticket {dup.number} was changed by someone else (now version {dup.version}, "
                                     f"you had {expected_version}); reload it and try again")
            for t in (dup, keep):
                if not t.is_open:
                    raise TicketError(f"ticket {t.number} is {t.status}: only open tickets are merged")
            self.conn.execute("INSERT INTO ticket_mentions(ticket_id, mention_id, cluster_id, source) SELECT ?,"
                              " mention_id, cluster_id, source FROM ticket_mentions WHERE ticket_id=?"
                              " ON CONFLICT DO NOTHING", (keep.id, dup.id))
            have = {e.get("mention_id") for e in keep.evidence if e.get("mention_id")}
            evidence = keep.evidence + [e for e in dup.evidence if e.get("mention_id") not in have]
            earlier = {f"{timer}_due": _utc(min(keep.due(timer), dup.due(timer))).isoformat()
                       for timer in keep.pending() if timer in dup.pending() and dup.due(timer) < keep.due(timer)}
            assignments = "".join(f"{k}=?, " for k in earlier)
            cur = self.conn.execute(f"UPDATE tickets SET {assignments}evidence=?, updated_at=?, version=version+1"
                                    f" WHERE id=? AND version=?",
                                    [*earlier.values(), json.dumps(evidence, ensure_ascii=False), now.isoformat(),
                                     keep.id, keep.version])
            if cur.rowcount != 1:
                raise TicketConflict(f"ticket {keep.number} was changed by someone else; reload it and try again")
            self.conn.execute("UPDATE tickets SET status=?, closed_at=?, paused_at=NULL, updated_at=?,"
                              " version=version+1 WHERE id=?", (CLOSED, now.isoformat(), now.isoformat(), dup.id))
            # the two were likely linked as a repeat when the second was taken: the link now says merged
            self.conn.execute("DELETE FROM ticket_links WHERE (ticket_id=? AND related_id=?) OR (ticket_id=? AND"
                              " related_id=?)", (dup.id, keep.id, keep.id, dup.id))
            self.conn.execute("INSERT INTO ticket_links(ticket_id, related_id, reason) VALUES (?,?,?)",
                              (dup.id, keep.id, MERGED))
            closed = self.record_event(dup.id, now, actor, "merged", to=CLOSED, into=keep.number)
            joined = self.record_event(keep.id, now, actor, "merged_from", number=dup.number,
                                       mentions=len(dup.mention_ids), deadlines=sorted(earlier))
        self.mirror_change("updated", self.require(dup.id), closed)
        kept = self.require(keep.id)
        self.mirror_change("updated", kept, joined)
        return kept

    @staticmethod
    def merged_into(ticket: Ticket) -> str | None:
        """The number of the ticket a duplicate was merged into, or None."""
        return next((r["number"] for r in ticket.related if r["reason"] == MERGED and r["direction"] == "earlier"),
                    None)

    def unreached_tries(self, ticket: Ticket) -> int:
        """回访 calls that did not reach the customer since the ticket was last resolved."""
        since = ticket.resolved_at.isoformat() if ticket.resolved_at else ""
        return sum(1 for e in self.timeline(ticket.id) if e["kind"] == "followup_unreached" and e["at"] >= since)

    def followup_unreached(self, ticket_id: int | str, *, actor: str, expected_version: int,
                           note: str | None = None, now: datetime | None = None) -> Ticket:
        """A 回访 call that did not reach the customer; after the third the ticket may be closed without a score."""
        # counted from the ticket as read; `_change` refuses it if the ticket moved on meanwhile
        attempt = self.unreached_tries(self.require(ticket_id)) + 1

        def check(t: Ticket) -> None:
            if t.status != RESOLVED:
                raise TicketError(f"ticket {t.number} is {t.status}: a 回访 is tried once it is resolved ({RESOLVED})")

        detail: dict[str, Any] = {"note": note} if note else {}
        return self._change(ticket_id, expected_version, actor, "followup_unreached", {}, now, check,
                            attempt=attempt, of=UNREACHABLE_TRIES, **detail)

    def why_not_closable(self, ticket: Ticket, note: str | None) -> str | None:
        """The manual closes a case after its 回访: a score, or three calls that did not reach the customer; a
        dissatisfied customer's case is handled again, unless whoever closes it says why not (`note`)."""
        if ticket.status == RESOLVED:
            tries = self.unreached_tries(ticket)
            if tries < UNREACHABLE_TRIES:
                return (f"ticket {ticket.number} has had no 回访: record it (`ticket followup {ticket.number} --score "
                        f"S`), or each call that did not reach the customer (`--unreachable`, {tries} of "
                        f"{UNREACHABLE_TRIES} so far) before closing")
        elif ticket.satisfaction is not None and ticket.satisfaction <= DISSATISFIED and not (note or "").strip():
            return (f"the customer was dissatisfied at the 回访 ({ticket.satisfaction}/5): reopen ticket "
                    f"{ticket.number} to handle it again (`ticket reopen`), or close it with --note saying why not")
        return None

    def _check_closable(self, ticket: Ticket, note: str | None) -> None:
        reason = self.why_not_closable(ticket, note)
        if reason:
            raise TicketError(reason)

    def archive(self, ticket_id: int | str, *, actor: str, expected_version: int, note: str | None = None,
                now: datetime | None = None) -> Ticket:
        """已关闭 → 已归档, once the reopen window (`tickets.reopen_window_days`) has passed since the closing. The
        record is frozen from then on (no action changes it, reopening included), leaves the working lists and
        stays in the reports; the archiving is in the ticket's timeline and the audit trail."""
        now = _utc(now or self.now())

        def check(t: Ticket) -> None:
            if t.status != CLOSED:
                raise TicketError(f"ticket {t.number} is {t.status}: only a closed ({CLOSED}) ticket is archived")
            reopenable = self.reopenable_until(t)
            if now < reopenable:
                raise TicketError(f"ticket {t.number} was closed {self.local(t.closed_at)} and may be reopened until "
                                  f"{self.local(reopenable)} ({self.settings.reopen_window_days} days, "
                                  f"tickets.reopen_window_days): archive it after that")

        detail: dict[str, Any] = {"to": ARCHIVED}
        if note:
            detail["note"] = note
        ticket = self._change(ticket_id, expected_version, actor, "archive", {"status": ARCHIVED}, now, check,
                              **detail)
        with transaction(self.conn):
            AuditLog(self.conn).record(actor, "ticket.archive", ticket.number, at=now,
                                       closed_at=ticket.closed_at.isoformat() if ticket.closed_at else None)
        return ticket

    def archive_closed(self, before: datetime, *, actor: str, now: datetime | None = None
                       ) -> tuple[builtins.list[Ticket], builtins.list[tuple[Ticket, str]]]:
        """The periodic archive: every closed ticket closed before `before` whose reopen window has passed. Returns
        those archived and those left (still reopenable, or changed meanwhile) with why."""
        now = _utc(now or self.now())
        rows = self.conn.execute("SELECT id FROM tickets WHERE status=? AND closed_at < ? ORDER BY id",
                                 (CLOSED, _utc(before).isoformat())).fetchall()
        done, left = [], []
        for row in rows:
            ticket = self.require(row[0])
            try:
                done.append(self.archive(ticket.id, actor=actor, expected_version=ticket.version, now=now,
                                         note=f"closed before {self.local(before)}"))
            except TicketError as exc:  # TicketConflict included: someone reopened it meanwhile
                left.append((ticket, str(exc)))
        return done, left

    def reopenable_until(self, ticket: Ticket) -> datetime:
        """The end of a closed ticket's reopen window: when it may be archived."""
        closed = ticket.closed_at or ticket.updated_at
        return closed + timedelta(days=self.settings.reopen_window_days)

    def _frozen(self, ticket: Ticket, kind: str) -> str:
        archived = next((e["at"] for e in reversed(self.timeline(ticket.id)) if e["kind"] == "archive"), None)
        when = f" on {self.local(archived)}" if archived else ""
        if kind == "reopen":
            return (f"ticket {ticket.number} was archived{when} and cannot be reopened: an archived record is frozen;"
                    f" take the customer's new complaint as a new ticket (`ticket new`)")
        return f"ticket {ticket.number} was archived{when}: an archived record is frozen and nothing changes it"

    def extend(self, ticket_id: int | str, until: datetime, *, approved_by: str, actor: str,
               expected_version: int, now: datetime | None = None) -> Ticket:
        """Move the 办结 deadline later, up to the cap (30 working days), approved by a named member of 管理层 in
        `tickets.staff` other than the agent asking."""
        if not approved_by.strip():
            raise TicketError("an extension needs the name of who approved it (--approved-by)")
        if approved_by.strip() in (actor, actor.split(":")[-1]):
            raise TicketError("an extension is approved by someone other than the agent asking for it")
        self._check_approver(approved_by.strip())

        def check(t: Ticket) -> None:
            if not t.is_open and t.status != "已解决":
                raise TicketError(f"ticket {t.number} is {t.status}: nothing to extend")
            if until <= t.resolve_due:
                raise TicketError(f"ticket {t.number} is already due {self.local(t.resolve_due)}: "
                                  "an extension must be later")
            cap = self.clock.add(t.started_at, self.settings.extension_cap, t.severity)
            if until > cap:
                raise TicketError(f"ticket {t.number} can be extended to {self.local(cap)} at the latest "
                                  f"({self.settings.extension_cap} from {self.local(t.started_at)})")

        return self._change(ticket_id, expected_version, actor, "extended",
                            {"resolve_due": until, "extension_approved_by": approved_by.strip()}, now, check,
                            until=until.isoformat(), approved_by=approved_by.strip())

    def extension_approvers(self) -> builtins.list[str]:
        """Who may approve an extension: the people `tickets.staff` puts in 管理层."""
        return [person for person, department in self.settings.staff.items() if department == APPROVERS]

    def _check_approver(self, name: str) -> None:
        approvers = self.extension_approvers()
        if name in approvers:
            return
        where = self.settings.staff.get(name)
        who = f"{name} is in {where}, not {APPROVERS}" if where else f"{name} is not in tickets.staff"
        if not approvers:
            raise TicketError(f"an extension is approved by a member of {APPROVERS}, and tickets.staff names none: "
                              f"add them (e.g. 王经理: {APPROVERS}); {who}")
        raise TicketError(f"an extension is approved by a member of {APPROVERS} ({'、'.join(approvers)}); {who}")

    def classify(self, ticket_id: int | str, *, actor: str, expected_version: int, category: str | None = None,
                 severity: str | None = None, now: datetime | None = None, note: str | None = None) -> Ticket:
        """The agent confirms or corrects the category and grade. A new grade sets its deadlines from when the clocks
        started, except what the grade does not decide: an approved extension later than the new 办结 stays, and
        once the plan was given (the first reply) the result stays due `feedback` after it. The event records
        every deadline that moved and what became of the extension."""
        if category is not None and category not in CATEGORIES:
            raise TicketError(f"unknown category {category!r}")
        if severity is not None and severity not in SEVERITIES:
            raise TicketError(f"unknown grade {severity!r} (grades: {', '.join(SEVERITIES)})")
        sets: dict[str, Any] = {}
        detail: dict[str, Any] = {"category": category, "severity": severity}
        if note:  # why, when it was not the agent's reading (the incident's grade rose)
            detail["note"] = note
        if category:
            sets["category"] = category
        if severity:
            sets["severity"] = severity
            # computed from the ticket as read; `_change` refuses it if the ticket moved on meanwhile
            ticket = self.require(ticket_id)
            if ticket.version == expected_version and severity != ticket.severity:
                due, extension = self._regraded(ticket, severity)
                sets.update({f"{timer}_due": at for timer, at in due.items()})
                detail["previous_severity"] = ticket.severity
                detail["deadlines"] = {timer: {"from": ticket.due(timer).isoformat(), "to": at.isoformat()}
                                       for timer, at in due.items() if at != ticket.due(timer)}
                if self.planned(ticket):
                    detail["feedback_from"] = "reply"
                if extension:
                    detail["extension"] = {"approved_by": ticket.extension_approved_by, "kept": extension == "kept",
                                           "until": ticket.resolve_due.isoformat()}
                    if extension == "dropped":
                        sets["extension_approved_by"] = ""
        return self._change(ticket_id, expected_version, actor, "classified", sets, now, **detail)

    def _regraded(self, ticket: Ticket, severity: str) -> tuple[dict[str, datetime], str]:
        """The deadlines under another grade, and "kept"/"dropped" for an approved extension ("" without one)."""
        due = self.clock.deadlines(severity, ticket.started_at)
        extension = ""
        if ticket.extension_approved_by:
            extension = "kept" if ticket.resolve_due > due["resolve"] else "dropped"
            if extension == "kept":
                due["resolve"] = ticket.resolve_due
        if self.planned(ticket):  # the plan was given: the result is due `feedback` after it
            due["feedback"] = self.clock.feedback_after_plan(severity, ticket.first_reply_at, due["resolve"])
        return due, extension

    @staticmethod
    def planned(ticket: Ticket) -> bool:
        """Whether the customer was given the plan (a first reply) since the clocks last started."""
        return ticket.first_reply_at is not None and ticket.first_reply_at >= ticket.started_at

    def dismiss(self, ticket_id: int | str, *, actor: str, expected_version: int, reason: str,
                now: datetime | None = None) -> Ticket:
        """Close a ticket opened for an incident dismissed as a false alarm (误报): straight to 已关闭, with no
        reply, resolution or 回访, since no customer raised it and nobody waits for an answer. A customer's
        ticket is refused: its grievance is answered whatever became of the incident."""
        def check(t: Ticket) -> None:
            if t.incident_id is None or t.customer:
                raise TicketError(f"ticket {t.number} was raised by a customer, not opened for an incident: close it "
                                  f"the usual way (`ticket close`)")
            if t.status not in OPEN_STATUSES:
                raise TicketError(f"ticket {t.number} is {t.status}: only an open ticket is closed as {FALSE_ALARM}")

        now = _utc(now or self.now())
        return self._change(ticket_id, expected_version, actor, "dismissed", {"status": CLOSED, "closed_at": now,
                            "paused_at": None}, now, check, to=CLOSED, resolution=FALSE_ALARM, note=reason)

    def respond_publicly(self, ticket_id: int | str, *, actor: str, expected_version: int, statement_id: int,
                         now: datetime | None = None) -> Ticket:
        """A published holding statement is the first response (首次响应) of a ticket opened for its incident:
        no single customer raised it, so the public is the one answered, and the statement is the answer with
        the plan (what is being checked, what was stopped). It stops the 首次响应 clock and, as a first reply
        does, starts the result's (结果反馈 due `feedback` after it). The status stays the desk's to move."""
        def check(t: Ticket) -> None:
            if t.incident_id is None or t.customer:
                raise TicketError(f"ticket {t.number} was raised by a customer: a public statement does not "
                                  f"answer them (reply to them: `ticket reply`)")
            if t.first_reply_at is not None:
                raise TicketError(f"ticket {t.number} had its first response at {self.local(t.first_reply_at)}")

        now = _utc(now or self.now())
        sets: dict[str, Any] = {
            "first_reply_at": now,
            "feedback_due": lambda t: self.clock.feedback_after_plan(t.severity, now, t.resolve_due)}
        return self._change(ticket_id, expected_version, actor, "statement_published", sets, now, check,
                            statement=statement_id)

    def local(self, when: datetime | str | None) -> str:
        """A time as staff read it: in the team's time zone."""
        return local_time(when, self.tz, empty="-")

    def add_note(self, ticket_id: int | str, text: str, *, actor: str, expected_version: int,
                 now: datetime | None = None) -> Ticket:
        if not text.strip():
            raise TicketError("a note needs some text")
        return self._change(ticket_id, expected_version, actor, "note", {}, now, text=text)

    def assign(self, ticket_id: int | str, to: str, *, actor: str, expected_version: int,
               now: datetime | None = None) -> Ticket:
        """To a department, or to a person (who brings their department); the previous owner is recorded."""
        person = "" if to in DEPARTMENTS else to
        department = self.department_of(person) if person else to
        ticket = self.require(ticket_id)
        owner = person or (ticket.owner if self.settings.staff.get(ticket.owner) == department else "")
        return self._change(ticket_id, expected_version, actor, "assigned", {
            "department": department, "owner": owner,
            "departments": lambda t: json.dumps([department, *(d for d in t.departments if d != department)],
                                                ensure_ascii=False),
        }, now, department=department, owner=owner, previous_owner=ticket.owner,
            previous_department=ticket.department)

    def add_departments(self, ticket_id: int | str, departments: builtins.list[str], *, actor: str,
                        expected_version: int, now: datetime | None = None) -> Ticket:
        """More departments on the case (e.g. 技术 for a privacy leak); the lead department stays."""
        for d in departments:
            _check_department(d)
        return self._change(ticket_id, expected_version, actor, "departments_added", {
            "departments": lambda t: json.dumps(list(dict.fromkeys([*t.departments, *departments])),
                                                ensure_ascii=False),
        }, now, departments=departments)

    def set_deadlines(self, ticket_id: int | str, deadlines: dict[str, datetime], *, actor: str,
                      expected_version: int, now: datetime | None = None) -> Ticket:
        bad = [t for t in deadlines if t not in TIMERS]
        if bad:
            raise TicketError(f"unknown timer {bad[0]!r} (timers: {', '.join(TIMERS)})")
        return self._change(ticket_id, expected_version, actor, "deadlines",
                            {f"{t}_due": at for t, at in deadlines.items()}, now,
                            **{t: at.isoformat() for t, at in deadlines.items()})

    def recompute(self, ticket_id: int | str, deadlines: dict[str, datetime], *, actor: str, expected_version: int,
                years: builtins.list[int], now: datetime | None = None) -> Ticket:
        """Deadlines counted again on a work calendar that learned `years` (`recompute.recompute_deadlines`): the
        timeline and the audit trail say which moved, from when to when."""
        bad = [t for t in deadlines if t not in WATCHED_TIMERS]
        if bad:
            raise TicketError(f"unknown timer {bad[0]!r} (timers: {', '.join(WATCHED_TIMERS)})")
        now = _utc(now or self.now())
        before = self.require(ticket_id)
        moved = {t: {"from": before.due(t).isoformat(), "to": _utc(at).isoformat()} for t, at in deadlines.items()}
        ticket = self._change(ticket_id, expected_version, actor, "deadlines_recomputed",
                              {f"{t}_due": at for t, at in deadlines.items()}, now, years=years, deadlines=moved)
        with transaction(self.conn):
            AuditLog(self.conn).record(actor, "ticket.deadlines_recomputed", ticket.number, at=now, years=years,
                                       deadlines=moved)
        return ticket

    def add_tasks(self, ticket_id: int | str, items: builtins.list[str], *, actor: str, expected_version: int,
                  now: datetime | None = None) -> Ticket:
        def merged(t: Ticket) -> str:
            have = {task["text"] for task in t.tasks}
            tasks = t.tasks + [{"text": i, "done": False, "by": None, "at": None} for i in items if i not in have]
            return json.dumps(tasks, ensure_ascii=False)

        return self._change(ticket_id, expected_version, actor, "tasks_added", {"tasks": merged}, now, items=items)

    def complete_task(self, ticket_id: int | str, index: int, *, actor: str, expected_version: int,
                      now: datetime | None = None) -> Ticket:
        now = _utc(now or self.now())

        def check(t: Ticket) -> None:
            if not 0 <= index < len(t.tasks):
                raise TicketError(f"ticket {t.number} has no task {index + 1} (it has {len(t.tasks)})")

        def done(t: Ticket) -> str:
            tasks = [dict(task) for task in t.tasks]
            tasks[index].update(done=True, by=actor, at=now.isoformat())
            return json.dumps(tasks, ensure_ascii=False)

        return self._change(ticket_id, expected_version, actor, "task_done", {"tasks": done}, now, check,
                            task=index + 1)

    # ---- SLA -----------------------------------------------------------------------------------

    def check_sla(self, now: datetime | None = None) -> dict[str, builtins.list[dict[str, Any]]]:
        """Reminders for timers nearly due and breaches for timers past due, each once (see sla_watch)."""
        return sla_watch.check_sla(self, _utc(now or self.now()))

    def mirror_change(self, what: str, ticket: Ticket, event: dict[str, Any] | None = None) -> None:
        """The index's copy follows the state store once the change is committed: inside a larger transaction
        (a dismissal) that rolls back, the copy is left as it was."""
        on_commit(self.conn, lambda: self._mirror(what, ticket, event))

    def _mirror(self, what: str, ticket: Ticket, event: dict[str, Any] | None) -> None:
        try:
            if what == "created":
                self.mirror.created(ticket)
            else:
                self.mirror.updated(ticket, event or {})
        except Exception as exc:  # noqa: BLE001 - SQLite holds the truth; a mirror failure is only logged
            logger.warning("ticket %s not mirrored: %s", ticket.number, exc)


def _check_department(department: str) -> None:
    if department not in DEPARTMENTS:
        raise TicketError(f"unknown department {department!r} (departments: {', '.join(DEPARTMENTS)})")
