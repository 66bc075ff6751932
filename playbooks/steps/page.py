"""`page`: start an escalation policy for the incident (who is paged, in what order, how soon)."""

from __future__ import annotations

from alerts.escalation import parse_notify
from crisiswatch.errors import CrisiswatchError
from playbooks.context import StepContext
from playbooks.paging import escalation_service
from playbooks.steps.base import Step, StepOptions, StepResult
from playbooks.steps.notify import page_operator


class PageOptions(StepOptions):
    policy: str


class PageStep(Step):
    type = "page"
    Options = PageOptions

    def check(self, ctx: StepContext) -> list[tuple[str, str]]:
        problem = policy_problem(ctx, self.options.policy)
        return [("policy", problem)] if problem else []

    def run(self, ctx: StepContext) -> StepResult:
        policies = getattr(ctx.config.alerts, "escalation_policies", {}) or {}
        if self.options.policy not in policies:
            # shipped playbooks name a policy the team configures; without any there is nobody to page. A team
            # that has policies and a playbook naming another has a typo: the crisis pages nobody, so it is said
            problem = policy_problem(ctx, self.options.policy)
            if problem and not ctx.dry_run:
                page_operator(ctx, f"playbook_page_unknown:{ctx.incident.id}:{ctx.playbook}:{self.options.policy}",
                              f"预案未能呼叫 playbook paged nobody: {ctx.playbook}", f"playbook {ctx.playbook}: {problem}")
            return StepResult("skipped", {"policy": self.options.policy,
                                          "reason": problem or "not in alerts.escalation_policies"})
        if ctx.dry_run:
            return StepResult("done", {"would_page": self.options.policy})
        service = escalation_service(ctx.config, ctx.conn, ctx.dispatcher, clock=lambda: ctx.now)
        with ctx.fenced():
            started = service.start(ctx.incident.id, self.options.policy, actor=ctx.actor)
        return StepResult("done", {"policy": self.options.policy, "started": _plain(started)})


def _plain(value: object) -> object:
    """Whatever `start` returns, in a form the run record can store."""
    if value is None or isinstance(value, str | int | float | bool | list | dict):
        return value
    if hasattr(value, "__dict__"):
        return {k: str(v) for k, v in vars(value).items() if not k.startswith("_")}
    return str(value)


def policy_problem(ctx: StepContext, name: str) -> str | None:
    """Why paging `name` would reach nobody, when the team configured paging (None: it would, or no policy
    is configured at all, which is the documented skip of the shipped playbooks)."""
    policies = getattr(ctx.config.alerts, "escalation_policies", {}) or {}
    if not policies:
        return None
    if name not in policies:
        return (f"unknown escalation policy {name!r} (alerts.escalation_policies: {', '.join(policies)}):"
                " this step pages nobody")
    for i, step in enumerate(policies[name].steps):
        try:
            parse_notify(ctx.config, step.notify)
        except CrisiswatchError as exc:
            return f"escalation policy {name!r} step {i + 1}: {exc}"
    return None
