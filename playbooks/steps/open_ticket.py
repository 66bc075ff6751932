"""`open_ticket`: one tracked complaint per incident, numbered, graded, with SLA deadlines."""

from __future__ import annotations

from pydantic import Field

from crisiswatch.mention import CATEGORIES
from playbooks.context import StepContext
from playbooks.steps.base import Step, StepOptions, StepResult
from playbooks.tickets.models import DEPARTMENTS


class OpenTicketOptions(StepOptions):
    title: str = "{brand_name} 负面舆情：{summary}"
    department: str = Field(default="客服", pattern="|".join(DEPARTMENTS))
    category: str | None = Field(default=None, description="default: the incident's main category")


class OpenTicketStep(Step):
    type = "open_ticket"
    Options = OpenTicketOptions

    def run(self, ctx: StepContext) -> StepResult:
        existing = ctx.tickets.for_incident(ctx.incident.id)
        if existing is not None:  # an incident that re-triggers joins its ticket
            ctx.outputs["ticket_number"] = existing.number
            return StepResult("skipped", {"ticket": existing.number, "reason": "incident already has a ticket"})
        variables = ctx.variables()
        category = self.options.category or variables["category"]
        if category not in CATEGORIES:
            category = "other"
        facts = ctx.incident.facts
        evidence = [{"url": p.get("url", ""), "text": p.get("text", ""), "author": p.get("author", ""),
                     "created_at": p.get("created_at", "")} for p in facts.get("top_posts", [])]
        if ctx.dry_run:
            return StepResult("done", {"would_open": True, "severity": ctx.severity, "category": category})
        ticket = ctx.tickets.open(
            title=self.options.title.format(**variables)[:200], severity=ctx.severity, category=category,
            brand=ctx.incident.brand, department=self.options.department, channel="public_opinion",
            incident_id=ctx.incident.id, source_url=evidence[0]["url"] if evidence else "",
            author_handle=evidence[0]["author"] if evidence else "", evidence=evidence,
            mention_ids=[p["id"] for p in facts.get("top_posts", []) if p.get("id")], actor=f"playbook:{ctx.playbook}",
        )
        ctx.outputs["ticket_number"] = ticket.number
        return StepResult("done", {"ticket": ticket.number, "severity": ticket.severity,
                                   "resolve_due": ticket.resolve_due.isoformat()})
