"""The incident page's facts: the header a PR lead reads in five seconds, the curve, what is spreading and
what is being done. Read only through the services that own them (incidents, tickets, statements, audit)."""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from crisiswatch.audit import AuditLog
from index.base import Backend, MentionFilter
from monitor.dashboard.service import mention_card, post_words
from monitor.explain import LEAD
from monitor.incidents.models import Incident
from monitor.incidents.service import IncidentService
from playbooks.engine import incident_severity
from playbooks.statements import Statement, StatementStore
from playbooks.steps.base import span
from playbooks.steps.draft_statement import GOLDEN_WINDOW
from playbooks.tickets.models import Ticket
from playbooks.tickets.service import TicketService

BEFORE = timedelta(hours=6)  # the curve starts this long before the incident, to show the usual level
AFTER = timedelta(hours=1)  # and ends this long after a resolution, to show the return to normal
CURVE_BUCKETS = 120
POSTS_SAMPLE = 500  # the incident window's newest posts, read one by one for terms (when facts lack them)
# step outcomes of the playbooks that say something the ticket's own events do not
AUDITED_STEPS = ("notify", "page", "draft_statement", "escalate_if", "close_when")


@dataclass(frozen=True)
class GoldenWindow:
    """Time to the first public statement: from the incident's start, by grade unless a draft says otherwise."""

    due: datetime
    minutes: int
    published_at: datetime | None  # when the first statement went out (not when it was approved)
    status: str  # none | draft | published | rejected | expired | ...

    @property
    def missed(self) -> bool:
        """Published, but after the window had closed."""
        return self.published_at is not None and self.published_at > self.due

    def overdue(self, now: datetime) -> bool:
        """Nothing published and the window already closed."""
        return self.published_at is None and now > self.due


def golden_window(incident: Incident, grade: str, statements: list[Statement]) -> GoldenWindow:
    published = [s for s in statements if s.status == "published"]
    if statements:
        first = min(statements, key=lambda s: s.window_minutes)
        minutes = first.window_minutes
        status = "published" if published else statements[0].status
    else:
        minutes = int(span(GOLDEN_WINDOW.get(grade, "24h")) / timedelta(minutes=1))
        status = "none"
    return GoldenWindow(incident.opened_at + timedelta(minutes=minutes), minutes,
                        min((s.published_at for s in published if s.published_at), default=None), status)


def _step_for(span_seconds: float) -> int:
    for step in (60, 300, 900, 1800, 3600, 3 * 3600, 6 * 3600, 86400):
        if span_seconds / step <= CURVE_BUCKETS:
            return step
    return 86400


class IncidentPageService:
    def __init__(self, backend: Backend, incidents: IncidentService, tickets: TicketService,
                 statements: StatementStore, audit: AuditLog, display_name: Callable[[str], str],
                 stop: set[str] | frozenset[str] = frozenset(), people: dict[str, str] | None = None) -> None:
        self.backend = backend
        self.people = people or {}  # Slack member ids -> the people they are (alerts.slack.users)
        self.incidents = incidents
        self.tickets = tickets
        self.statements = statements
        self.audit = audit
        self.display_name = display_name
        self.stop = stop  # the brand's own names and stop words are not what is spreading

    def page(self, incident_id: int, now: datetime | None = None) -> dict[str, Any] | None:
        incident = self.incidents.get(incident_id)
        if incident is None:
            return None
        now = now or datetime.now(UTC)
        grade = incident_severity(incident)
        ticket = self.tickets.for_incident(incident.id)
        statements = self.statements.all(incident.id)
        end = incident.resolved_at or now
        window = MentionFilter(brand=incident.brand, since=incident.opened_at - LEAD, until=end)
        return {
            "incident": incident, "brand_name": self.display_name(incident.brand), "grade": grade,
            "ticket": ticket, "golden": golden_window(incident, grade, statements), "statements": statements,
            "curve": self.curve(incident, now), "spreading": self.spreading(incident, window),
            "tasks": ticket.tasks if ticket else [], "acked_by": self.person(incident.acked_by),
            "timeline": [self._named(e) for e in self.timeline(incident, ticket, statements)],
        }

    def person(self, actor: str | None) -> str:
        """Who acted, as people call them: a Slack member id (`U0…`, `slack:U0…`) by its name in the staff list."""
        if not actor:
            return ""
        return self.people.get(actor.removeprefix("slack:"), actor)

    def _named(self, event: dict[str, Any]) -> dict[str, Any]:
        """A timeline event with its actor (and the `by` its text names) as people call them."""
        detail = event["detail"]
        if isinstance(detail.get("by"), str):
            detail = {**detail, "by": self.person(detail["by"])}
        return {**event, "actor": self.person(event["actor"]), "detail": detail}

    def mark(self, incident_id: int) -> str | None:
        """Changes whenever what the page says of the response changes: the incident (acknowledged, resolved,
        raised), its ticket, its statements and what the playbooks did. The curve moves with the clock."""
        incident = self.incidents.get(incident_id)
        if incident is None:
            return None
        ticket = self.tickets.for_incident(incident.id)
        statements = [(s.id, s.version, s.status) for s in self.statements.all(incident.id)]
        said = (len(self.incidents.events(incident.id)), len(self.audit.entries(incident.label, limit=None)))
        # the same on every dashboard process behind a load balancer (hash() is salted per process)
        digest = hashlib.sha1(repr((statements, said)).encode()).hexdigest()[:12]
        return f"{incident.version}.{ticket.version if ticket else 0}.{digest}"

    def curve(self, incident: Incident, now: datetime) -> dict[str, Any]:
        """Volume and negative share around the incident, with its window and its baseline (per bucket)."""
        # a resolved incident's curve ends a little after its resolution: read days later, running to now
        # drew its whole crisis in a few bars of hours or days
        last = min(now, incident.resolved_at + AFTER) if incident.resolved_at else now
        end = max(last, incident.opened_at + timedelta(hours=1))
        since = incident.opened_at - BEFORE
        step = _step_for((end - since).total_seconds())
        first = int(since.timestamp()) // step * step
        slots = list(range(first, int(end.timestamp()) + step, step))
        flt = MentionFilter(brand=incident.brand, since=datetime.fromtimestamp(first, UTC),
                            until=datetime.fromtimestamp(slots[-1] + step, UTC))
        index = {ts: i for i, ts in enumerate(slots)}
        total, negative = [0] * len(slots), [0] * len(slots)
        for series, band in ((total, None), (negative, "negative")):
            query = MentionFilter(**{**flt.__dict__, "sentiment_band": band})
            for bucket in self.backend.counts_over_time(query, step):
                i = index.get(int(bucket.start.timestamp()))
                if i is not None:
                    series[i] += bucket.count
        minutes = incident.facts.get("minutes") or 1
        baseline = incident.baseline * step / (int(minutes) * 60) if incident.rule in (
            "negative_spike", "volume_spike") else None
        clock = now.timestamp()
        return {"slots": [datetime.fromtimestamp(ts, UTC).isoformat() for ts in slots], "interval": step,
                "total": total, "negative": negative,
                "share": [round(n / t, 3) if t else None for n, t in zip(negative, total, strict=True)],
                "baseline": None if baseline is None else round(baseline, 2),
                "baseline_kind": incident.rule, "opened_at": incident.opened_at.isoformat(),
                "until": (incident.resolved_at or now).isoformat(),
                "partial": next((i for i, ts in enumerate(slots) if ts <= clock < ts + step), None)}

    def spreading(self, incident: Incident, window: MentionFilter) -> dict[str, Any]:
        """The widest-reaching posts in full, the largest near-duplicate clusters, terms and sources."""
        negative_only = MentionFilter(**{**window.__dict__, "sentiment_band": "negative"})
        top = self.backend.by_reach(negative_only, limit=5) or self.backend.by_reach(window, limit=5)
        posts = self.backend.latest(window, limit=POSTS_SAMPLE)  # read one by one for terms
        clusters = []
        for cluster_id, size in self.backend.counts_by(window, "cluster_id", limit=3):  # counted over the window
            copies = replace(window, cluster_id=cluster_id)
            widest = self.backend.by_reach(copies, limit=1)
            if size > 1 and widest:
                clusters.append({"size": size, "sample": mention_card(widest[0]),
                                 "sources": sorted(s for s, _ in self.backend.counts_by(copies, "source"))})
        facts = incident.facts
        negative = [m for m in posts if m.sentiment_band == "negative"]
        focus = negative or posts
        terms = facts.get("top_terms") or [w for w, _ in Counter(
            w for m in focus for w in post_words(m.text) if len(w) > 1 and w not in self.stop).most_common(8)]
        # where the negative posts come from and what they are about, counted over the incident so far; the
        # onset's counts (facts, a few minutes of posts) only when the window has none
        sources = dict(self.backend.counts_by(negative_only, "source", limit=5)) or facts.get("sources") or {}
        categories = dict(self.backend.counts_by(negative_only, "category", limit=5)) or facts.get("categories") or {}
        return {
            "top_posts": [{**mention_card(m), "text": m.text} for m in top],
            "clusters": clusters, "terms": list(terms)[:8], "sources": sources, "categories": categories,
            "mentions": self.backend.count(window), "negative": self.backend.count(negative_only),
        }

    def timeline(self, incident: Incident, ticket: Ticket | None, statements: list[Statement]) -> list[dict]:
        """Everything done about the incident, oldest first: kind is a key the page translates, never shown raw."""
        events: list[dict[str, Any]] = []
        for e in self.incidents.events(incident.id):
            # the opening is stamped when it was stored; the incident itself says when it began
            at = incident.opened_at.isoformat() if e["kind"] == "opened" else e["at"]
            events.append({"at": at, "kind": f"incident.{e['kind']}", "actor": e["detail"].get("by", ""),
                           "detail": e["detail"]})
        for entry in self.audit.entries(incident.label, limit=None):  # all of it: its repeats are collapsed below
            action = entry["action"]
            if action in AUDITED_STEPS or action.startswith(("escalation.", "slack.")):
                events.append({"at": entry["at"], "kind": f"step.{action}.{entry['outcome']}"
                               if action in AUDITED_STEPS else action, "actor": entry["actor"],
                               "detail": entry["detail"]})
        if ticket is not None:
            for e in self.tickets.timeline(ticket.id):
                events.append({"at": e["at"], "kind": f"ticket.{e['kind']}", "actor": e["actor"],
                               "detail": {**e["detail"], "ticket": ticket.number}})
        for s in statements:
            events.append({"at": s.ready_at.isoformat(), "kind": "statement.drafted", "actor": f"playbook:{s.playbook}",
                           "detail": {"approvers": s.approvers}})
            for approval in self.audit.entries(f"statement:{incident.label}:{s.playbook}", limit=50):
                events.append({"at": approval["at"], "kind": approval["action"], "actor": approval["actor"],
                               "detail": approval["detail"]})
            if s.published_at is not None:  # when it went out, by whom (its approval is in the audit above)
                late = s.published_at > s.window_ends
                events.append({"at": s.published_at.isoformat(),
                               "kind": "statement.published_late" if late else "statement.published",
                               "actor": s.published_by or "", "detail": {}})
            elif s.decided_at is not None and s.status in ("rejected", "expired"):
                events.append({"at": s.decided_at.isoformat(), "kind": f"statement.{s.status}",
                               "actor": s.decided_by or "", "detail": {}})
            for earlier in self.statements.history(s.id):  # the rounds before a revision, with their decisions
                if earlier.decided_at is not None:
                    events.append({"at": earlier.decided_at.isoformat(), "kind": f"statement.{earlier.status}",
                                   "actor": earlier.decided_by or "", "detail": {"version": earlier.version}})
        return sorted(events, key=lambda e: datetime.fromisoformat(e["at"]))
