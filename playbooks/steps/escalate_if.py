"""`escalate_if`: after a delay, if the incident is still not acknowledged (or not resolved), bring in the next tier."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import Field

from crisiswatch.audit import AuditLog
from playbooks.compose import incident_message
from playbooks.context import StepContext
from playbooks.paging import escalation_service
from playbooks.steps.base import DEPARTMENT, Step, StepOptions, StepResult, duration_field, span, with_ticket
from playbooks.steps.page import policy_problem
from playbooks.tickets.models import NEW, RESOLVED, STATUSES


class EscalateIfOptions(StepOptions):
    after: str
    unless: Literal["acknowledged", "resolved"] = "acknowledged"
    to: str = Field(default="管理层", pattern=DEPARTMENT)
    page: str | None = Field(default=None, description="also escalate this paging policy now")

    _durations = duration_field("after")


def handled(ctx: StepContext, condition: str) -> bool:
    ticket = ctx.ticket()
    if condition == "acknowledged":
        return ctx.incident.acked_by is not None or (ticket is not None and ticket.status != NEW)
    if ticket is not None:
        return STATUSES.index(ticket.status) >= STATUSES.index(RESOLVED)
    return not ctx.incident.is_open


class EscalateIfStep(Step):
    type = "escalate_if"
    Options = EscalateIfOptions

    def check(self, ctx: StepContext) -> list[tuple[str, str]]:
        if self.options.page is None:
            return []
        if not ctx.config.alerts.escalation_policies:
            return [("page", "no escalation policy configured (alerts.escalation_policies): the escalation would fail")]
        problem = policy_problem(ctx, self.options.page)
        return [("page", problem)] if problem else []

    def run(self, ctx: StepContext) -> StepResult:
        o = self.options
        if ctx.dry_run:
            return StepResult("waiting", {"would_escalate_to": o.to, "if_not": o.unless, "after": o.after})
        due = datetime.fromisoformat(ctx.state["due"]) if "due" in ctx.state else ctx.now + span(o.after)
        if ctx.now < due:
            return StepResult("waiting", {"due": due.isoformat(), "if_not": o.unless})
        if handled(ctx, o.unless):
            return StepResult("skipped", {"reason": f"{o.unless} in time", "due": due.isoformat()})
        if not ctx.incident.is_open:
            # over before anyone took it: no "事件升级" into a resolved incident's thread, and no page (the
            # escalation service refuses one for a resolved incident, which failed the step on every pass);
            # an untaken ticket is the SLA watch's to escalate (受理 breached -> tickets.escalate_to)
            return StepResult("skipped", {"reason": f"the incident was resolved before it was {o.unless}",
                                          "due": due.isoformat()})
        ticket = with_ticket(ctx, lambda t: ctx.tickets.add_departments(t.id, [o.to], actor=ctx.actor,
                                                                       expected_version=t.version, now=ctx.now))
        message = incident_message(ctx.config, ctx.incident, ctx.severity, kind="incident_escalated",
                                   ticket_number=ticket.number, backend=ctx.backend)
        message.summary = f"{o.after} 内未{'受理' if o.unless == 'acknowledged' else '解决'}，已升级至{o.to}"
        detail = {"ticket": ticket.number, "escalated_to": o.to, "because_not": o.unless}
        with ctx.fenced():
            ctx.dispatcher.enqueue(f"incident:{ctx.incident.id}:escalate_if:{ctx.playbook}:{o.to}", message)
            # a process that died after paging: the next tier is not paged twice
            if o.page and not paged_already(ctx):
                escalation_service(ctx.config, ctx.conn, ctx.dispatcher).escalate_now(ctx.incident.id, by=ctx.actor)
        if o.page:
            detail["paged"] = o.page
        return StepResult("done", detail)


def paged_already(ctx: StepContext) -> bool:
    """This playbook escalated the incident's paging before (the escalation service audits it first)."""
    return any(e["actor"] == ctx.actor and e["action"] == "escalation.escalate_now"
               for e in AuditLog(ctx.conn).entries(subject=ctx.incident.label, limit=None))


__all__ = ["EscalateIfStep", "handled"]
