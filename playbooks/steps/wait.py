"""`wait`: pause the playbook for a duration; the engine's tick resumes it."""

from __future__ import annotations

from datetime import datetime

from playbooks.context import StepContext
from playbooks.steps.base import Step, StepOptions, StepResult, duration_field, span


class WaitOptions(StepOptions):
    duration: str

    _durations = duration_field("duration")


class WaitStep(Step):
    type = "wait"
    Options = WaitOptions

    def run(self, ctx: StepContext) -> StepResult:
        until = ctx.state.get("until")
        until_at = datetime.fromisoformat(until) if until else ctx.now + span(self.options.duration)
        if ctx.dry_run:
            return StepResult("waiting", {"would_wait": self.options.duration})
        if ctx.now >= until_at:
            return StepResult("done", {"waited": self.options.duration, "until": until_at.isoformat()})
        return StepResult("waiting", {"until": until_at.isoformat()})
