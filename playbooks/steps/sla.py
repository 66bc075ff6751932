"""`sla`: set or override the ticket's deadlines, from a grade's table or explicit durations."""

from __future__ import annotations

from pydantic import Field, field_validator

from crisiswatch.mention import SEVERITIES
from playbooks.context import StepContext
from playbooks.steps.base import Step, StepOptions, StepResult, duration_field, span, with_ticket
from playbooks.tickets.models import TIMERS


class SlaOptions(StepOptions):
    grade: str | None = Field(default=None, description="use this grade's limits (e.g. 重大)")
    ack: str | None = None
    response: str | None = None
    feedback: str | None = None
    resolve: str | None = None

    _durations = duration_field("ack", "response", "feedback", "resolve")

    @field_validator("grade")
    @classmethod
    def _grade(cls, value: str | None) -> str | None:
        if value is not None and value not in SEVERITIES:
            raise ValueError(f"must be one of {', '.join(SEVERITIES)}")
        return value


class SlaStep(Step):
    type = "sla"
    Options = SlaOptions

    def run(self, ctx: StepContext) -> StepResult:
        ticket = ctx.ticket()
        start = ticket.created_at if ticket else ctx.now
        deadlines = ctx.tickets.clock.deadlines(self.options.grade, start) if self.options.grade else {}
        for timer in TIMERS:
            value = getattr(self.options, timer)
            if value:
                deadlines[timer] = start + span(value)
        shown = {t: d.isoformat() for t, d in deadlines.items()}
        if ctx.dry_run or ticket is None:
            return StepResult("done" if ctx.dry_run else "skipped",
                              {"would_set": shown} if ctx.dry_run else {"reason": "no ticket yet"})
        if not deadlines:
            return StepResult("skipped", {"ticket": ticket.number, "reason": "nothing to change"})
        ticket = with_ticket(ctx, lambda t: ctx.tickets.set_deadlines(t.id, deadlines, actor=ctx.actor,
                                                                     expected_version=t.version, now=ctx.now))
        return StepResult("done", {"ticket": ticket.number, "deadlines": shown})
