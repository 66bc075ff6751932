"""`notify`: tell the response team, through the outbox, with the numbers and top posts.

Every message about an incident shares its thread, so several playbooks on one incident make
one top-level alert and replies under it.
"""

from __future__ import annotations

from playbooks.compose import incident_message
from playbooks.context import StepContext
from playbooks.steps.base import Step, StepOptions, StepResult, fill


class NotifyOptions(StepOptions):
    kind: str = "incident_opened"
    title: str | None = None  # e.g. "{brand_name} 产品安全预案启动"
    text: str | None = None  # e.g. "调查牵头，管理层与法务介入（工单 {ticket}）"


class NotifyStep(Step):
    type = "notify"
    Options = NotifyOptions
    templates = ("title", "text")

    def run(self, ctx: StepContext) -> StepResult:
        message = incident_message(ctx.config, ctx.incident, ctx.severity, kind=self.options.kind,
                                   ticket_number=ctx.outputs.get("ticket_number"), backend=ctx.backend)
        if self.options.title:
            message.title = f"{fill(self.options.title, ctx.variables())} ({ctx.incident.label})"
        if self.options.text:
            message.summary = fill(self.options.text, ctx.variables())
        routes = ctx.dispatcher.routes_for(message)
        if ctx.dry_run:
            return StepResult("done", {"would_notify": [f"{c}:{t}" for c, t in routes]})
        with ctx.fenced():
            new = ctx.dispatcher.enqueue(f"incident:{ctx.incident.id}:{self.options.kind}:{ctx.playbook}", message)
        return StepResult("done", {"routes": [f"{c}:{t}" for c, t in routes], "enqueued": new})


def page_operator(ctx: StepContext, key: str, title: str, reason: str) -> int:
    """Tell the operator (not the response team) what broke in a playbook and why; once per `key`."""
    message = incident_message(ctx.config, ctx.incident, ctx.severity, kind="operator",
                               ticket_number=ctx.outputs.get("ticket_number"), chart=False)
    message.title = f"{title} ({ctx.incident.label})"
    message.summary = reason
    message.thread_key = None  # the operator's channel, not the incident's thread
    with ctx.fenced():
        return ctx.dispatcher.enqueue(key, message)
