"""`assign`: route the incident's ticket to departments by category (the routing table in config)."""

from __future__ import annotations

from pydantic import Field

from playbooks.context import StepContext
from playbooks.steps.base import DEPARTMENT, Step, StepOptions, StepResult, with_ticket
from playbooks.tickets.models import DEPARTMENTS


class AssignOptions(StepOptions):
    department: str | None = Field(default=None, pattern=DEPARTMENT, description="default: by the routing table")
    also: list[str] = Field(default_factory=list, description="more departments on the case")
    category: str | None = Field(default=None, description="route as this category (default: the ticket's)")

    def model_post_init(self, __context: object) -> None:
        bad = [d for d in self.also if d not in DEPARTMENTS]
        if bad:
            raise ValueError(f"unknown department {bad[0]!r} (departments: {', '.join(DEPARTMENTS)})")


class AssignStep(Step):
    type = "assign"
    Options = AssignOptions

    def run(self, ctx: StepContext) -> StepResult:
        ticket = ctx.ticket()
        category = self.options.category or (ticket.category if ticket else ctx.category)
        routed = ctx.tickets.departments_for(category, ctx.severity)
        lead = self.options.department or routed[0]
        departments = list(dict.fromkeys([lead, *routed, *self.options.also]))
        if ctx.dry_run or ticket is None:
            key = "would_assign" if ctx.dry_run else "departments"
            return StepResult("done" if ctx.dry_run else "skipped",
                              {key: departments, **({} if ctx.dry_run else {"reason": "no ticket yet"})})
        ticket = with_ticket(ctx, lambda t: ctx.tickets.assign(t.id, lead, actor=ctx.actor,
                                                              expected_version=t.version, now=ctx.now))
        ticket = with_ticket(ctx, lambda t: ctx.tickets.add_departments(t.id, departments, actor=ctx.actor,
                                                                       expected_version=t.version, now=ctx.now))
        return StepResult("done", {"ticket": ticket.number, "department": ticket.department,
                                   "departments": ticket.departments})
