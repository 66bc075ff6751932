"""`page`: start an escalation policy for the incident (who is paged, in what order, how soon)."""

from __future__ import annotations

from playbooks.context import StepContext
from playbooks.paging import escalation_service
from playbooks.steps.base import Step, StepOptions, StepResult


class PageOptions(StepOptions):
    policy: str


class PageStep(Step):
    type = "page"
    Options = PageOptions

    def run(self, ctx: StepContext) -> StepResult:
        policies = getattr(ctx.config.alerts, "escalation_policies", {}) or {}
        if self.options.policy not in policies:
            # shipped playbooks name a policy the team configures; without it there is nobody to page
            return StepResult("skipped", {"policy": self.options.policy,
                                          "reason": "not in alerts.escalation_policies"})
        if ctx.dry_run:
            return StepResult("done", {"would_page": self.options.policy})
        service = escalation_service(ctx.config, ctx.conn, ctx.dispatcher, clock=lambda: ctx.now)
        started = service.start(ctx.incident.id, self.options.policy, actor=ctx.actor)
        return StepResult("done", {"policy": self.options.policy, "started": _plain(started)})


def _plain(value: object) -> object:
    """Whatever `start` returns, in a form the run record can store."""
    if value is None or isinstance(value, str | int | float | bool | list | dict):
        return value
    if hasattr(value, "__dict__"):
        return {k: str(v) for k, v in vars(value).items() if not k.startswith("_")}
    return str(value)
