"""`task`: a checklist on the ticket (核查订单与物流记录, 联系用户...), each item completable by staff."""

from __future__ import annotations

from pydantic import Field

from playbooks.context import StepContext
from playbooks.steps.base import Step, StepOptions, StepResult, fill, with_ticket


class TaskOptions(StepOptions):
    items: list[str] = Field(min_length=1)


class TaskStep(Step):
    type = "task"
    Options = TaskOptions
    templates = ("items",)

    def run(self, ctx: StepContext) -> StepResult:
        items = [fill(i, ctx.variables()) for i in self.options.items]
        if ctx.dry_run:
            return StepResult("done", {"would_add_tasks": items})
        ticket = with_ticket(ctx, lambda t: ctx.tickets.add_tasks(t.id, items, actor=ctx.actor,
                                                                  expected_version=t.version, now=ctx.now))
        return StepResult("done", {"ticket": ticket.number, "tasks": items})
