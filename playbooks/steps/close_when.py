"""`close_when`: wait until the incident is resolved and the ticket followed up, then close the ticket."""

from __future__ import annotations

from pydantic import Field, field_validator

from playbooks.context import StepContext
from playbooks.steps.base import Step, StepOptions, StepResult, with_ticket
from playbooks.tickets.models import SETTLED, STATUSES, TRANSITIONS


class CloseWhenOptions(StepOptions):
    incident_resolved: bool = True
    ticket_status: str = Field(default="已回访", description="the ticket has reached at least this status")

    @field_validator("ticket_status")
    @classmethod
    def _status(cls, value: str) -> str:
        if value not in STATUSES:
            raise ValueError(f"must be one of {', '.join(STATUSES)}")
        return value


class CloseWhenStep(Step):
    type = "close_when"
    Options = CloseWhenOptions

    def run(self, ctx: StepContext) -> StepResult:
        o = self.options
        want = f"incident resolved and ticket {o.ticket_status}" if o.incident_resolved else f"ticket {o.ticket_status}"
        if ctx.dry_run:
            return StepResult("waiting", {"would_close_when": want})
        ticket = ctx.ticket()
        incident_ok = not o.incident_resolved or not ctx.incident.is_open
        ticket_ok = ticket is not None and STATUSES.index(ticket.status) >= STATUSES.index(o.ticket_status)
        if not (incident_ok and ticket_ok):
            return StepResult("waiting", {"until": want, "ticket_status": ticket.status if ticket else None})
        if ticket.status in SETTLED:  # closed, or closed and since archived
            return StepResult("done", {"ticket": ticket.number, "closed": "already"})
        if ticket.status not in TRANSITIONS["close"][0]:
            return StepResult("waiting", {"until": want, "ticket_status": ticket.status})
        # no 回访 yet, or a dissatisfied one: an agent handles it again or closes it saying why, not the playbook
        reason = ctx.tickets.why_not_closable(ticket, None)
        if reason:
            return StepResult("waiting", {"until": want, "ticket_status": ticket.status, "why": reason})
        ticket = with_ticket(ctx, lambda t: ctx.tickets.transition(
            t.id, "close", actor=ctx.actor, expected_version=t.version, note=f"closed: {want}", now=ctx.now))
        return StepResult("done", {"ticket": ticket.number, "closed": ticket.closed_at.isoformat()})
