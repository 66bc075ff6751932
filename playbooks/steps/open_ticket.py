"""`open_ticket`: one tracked complaint per incident, numbered, graded, with SLA deadlines.

An incident that fires again, or another incident for the same brand and category within the
join window, joins the existing ticket instead of opening a second one.
"""

from __future__ import annotations

from pydantic import Field

from crisiswatch.mention import CATEGORIES
from playbooks.context import StepContext
from playbooks.steps.base import DEPARTMENT, Step, StepOptions, StepResult, fill
from playbooks.tickets.models import Ticket


class OpenTicketOptions(StepOptions):
    title: str = "{brand_name} 负面舆情：{summary}"
    department: str | None = Field(default=None, pattern=DEPARTMENT,
                                   description="default: the routing table's department for the category")
    category: str | None = Field(default=None, description="default: the incident's main category")


class OpenTicketStep(Step):
    type = "open_ticket"
    Options = OpenTicketOptions
    templates = ("title",)

    def run(self, ctx: StepContext) -> StepResult:
        variables = ctx.variables()
        category = self.options.category or variables["category"]
        if category not in CATEGORIES:
            category = "other"
        facts = ctx.incident.facts
        posts = facts.get("top_posts", [])
        mention_ids = [p["id"] for p in posts if p.get("id")]
        existing = ctx.tickets.joinable_for_incident(ctx.incident.id, ctx.incident.brand, category, ctx.now)
        if existing is not None and not ctx.dry_run and opened_here(ctx, existing):
            # this step opened it in a process that died before recording so: the same opening, not a join
            ctx.outputs["ticket_number"] = existing.number
            return opened(existing)
        if existing is not None:  # an incident that re-triggers joins its ticket
            if not ctx.dry_run and existing.incident_id != ctx.incident.id:
                with ctx.fenced():
                    ctx.tickets.join_incident(existing.id, ctx.incident.id, mention_ids, actor=ctx.actor, now=ctx.now)
            return StepResult("skipped", {"ticket": existing.number, "reason": "joined the existing ticket"})
        if ctx.dry_run:
            return StepResult("done", {"would_open": True, "severity": ctx.severity, "category": category,
                                       "departments": ctx.tickets.departments_for(category, ctx.severity)})
        evidence = [{"mention_id": p.get("id", ""), "url": p.get("url", ""), "text": p.get("text", ""),
                     "author": p.get("author", ""), "source": p.get("source", ""),
                     "created_at": p.get("created_at", "")} for p in posts]
        title = fill(self.options.title, variables)[:200]
        with ctx.fenced():
            ticket = ctx.tickets.open(
                title=title, severity=ctx.severity, category=category,
                brand=ctx.incident.brand, department=self.options.department,
                channel=posts[0].get("source", "") if posts else "",
                incident_id=ctx.incident.id, source_url=evidence[0]["url"] if evidence else "",
                author_handle=evidence[0]["author"] if evidence else "", evidence=evidence,
                mention_ids=mention_ids, actor=ctx.actor, now=ctx.now,
            )
        ctx.outputs["ticket_number"] = ticket.number
        return opened(ticket)


def opened(ticket: Ticket) -> StepResult:
    return StepResult("done", {"ticket": ticket.number, "severity": ticket.severity,
                               "departments": ticket.departments, "resolve_due": ticket.resolve_due.isoformat()})


def opened_here(ctx: StepContext, ticket: Ticket) -> bool:
    """The incident's own ticket, opened by this playbook (a run interrupted after the opening)."""
    if ticket.incident_id != ctx.incident.id:
        return False
    created = next((e for e in ctx.tickets.timeline(ticket.id) if e["kind"] == "created"), None)
    return created is not None and created["actor"] == ctx.actor
