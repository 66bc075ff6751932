"""`draft_statement`: a holding statement drafted from a template, published only once approved.

The draft is stored (table `statements`). An approval is requested from the named approvers
(`alerts.approvals`: Slack buttons, `crisiswatch statement approve`, or the console); the step waits
for their decision and then for the publication (`crisiswatch statement publish`, or the console):
the golden window runs until the statement is out, not until a draft exists.

A rejection or an expired request does not end the wait: the statement is revised or put to the
approvers again (`crisiswatch statement revise|resubmit`, or the console), and the step's status says
so. The step is done when a statement is published, and ends (skipped) when the incident closes
without one.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from pydantic import Field

from alerts.approvals import ApprovalService
from crisiswatch.errors import CrisiswatchError
from crisiswatch.mention import CATEGORY_LABELS
from playbooks.context import StepContext
from playbooks.publishing import next_round
from playbooks.statements import REVISABLE, StatementStore, render
from playbooks.steps.base import Step, StepOptions, StepResult, duration_field, span

# how long a brand has for its first public word, by grade (e.g. 4 h for a 重大 product-safety crisis)
GOLDEN_WINDOW = {"重大": "4h", "紧急": "12h", "重要": "24h", "一般": "48h"}


class DraftStatementOptions(StepOptions):
    template: str = "holding_statement"
    approvers: list[str] = Field(min_length=1)
    golden_window: str | None = Field(default=None, description="default: by grade (重大 4h, 紧急 12h, ...)")
    timeout_minutes: int = Field(default=120, ge=1)
    next_update: str = "24小时"

    _durations = duration_field("golden_window")


def approvals(ctx: StepContext) -> Any:
    return ApprovalService(ctx.config, ctx.conn, ctx.dispatcher, clock=lambda: ctx.now)


RAW_VARIABLES = ("top_terms", "summary")  # words from posts (terms; a detector's summary may quote one)


class DraftStatementStep(Step):
    type = "draft_statement"
    Options = DraftStatementOptions
    # approvers may take hours, reject, or never answer; the escalation behind this step must not wait for them
    holds_playbook = False

    def variables(self, ctx: StepContext) -> dict[str, Any]:
        """Curated facts only (brand, category, counts, times): a public statement never carries words
        taken from posts, which anyone, an attacker too, can choose."""
        facts = ctx.incident.facts
        local = ctx.now.astimezone(ctx.tickets.tz)
        curated = {k: v for k, v in ctx.variables().items() if k not in RAW_VARIABLES}
        return {**curated, "topic": CATEGORY_LABELS.get(ctx.category, "相关"),
                "mentions": facts.get("mentions", 0), "next_update": self.options.next_update,
                "date": f"{local.year}年{local.month}月{local.day}日", "incident_start": ctx.incident.opened_at}

    def check(self, ctx: StepContext) -> list[tuple[str, str]]:
        try:
            render(self.options.template, self.variables(ctx))
        except CrisiswatchError as exc:
            return [("template", str(exc))]
        return []

    def run(self, ctx: StepContext) -> StepResult:
        o = self.options
        window = span(o.golden_window or GOLDEN_WINDOW.get(ctx.severity, "24h"))
        start = ctx.incident.opened_at
        if ctx.dry_run:
            text = render(o.template, self.variables(ctx))
            return StepResult("waiting", {"would_draft": text[:200], "approvers": o.approvers,
                                          "golden_window_minutes": int(window / timedelta(minutes=1))})
        store = StatementStore(ctx.conn)
        statement = store.for_incident(ctx.incident.id, ctx.playbook)
        if statement is None:
            text = render(o.template, self.variables(ctx))
            with ctx.fenced():
                statement = store.draft(
                    incident_id=ctx.incident.id, playbook=ctx.playbook,
                    ticket_number=ctx.outputs.get("ticket_number", ""), template=o.template, text=text,
                    approvers=o.approvers, incident_start=start, ready_at=ctx.now,
                    window_minutes=int(window / timedelta(minutes=1)))
        detail = {"statement": statement.id, "version": statement.version,
                  "ready_after_minutes": round((statement.ready_at - start) / timedelta(minutes=1)),
                  "golden_window_minutes": statement.window_minutes, "missed_window": statement.late(ctx.now)}
        if statement.status == "published":  # from the CLI or the console, whatever became of its requests
            return StepResult("done", {**detail, "statement_status": "published", "approval": statement.approval_id,
                                       "decided_by": statement.decided_by, "published_by": statement.published_by})
        if not ctx.incident.is_open:
            return StepResult("skipped", {**detail, "statement_status": statement.status,
                                          "reason": f"the incident closed without a published statement "
                                                    f"(statement {statement.id} is {statement.status})"})
        try:
            service = approvals(ctx)
        except ImportError:  # the draft is kept and the golden window recorded; approval is asked on a later tick
            return StepResult("waiting", {**detail, "approval": None, "reason": "alerts.approvals unavailable"})
        if statement.approval_id is None and statement.status == "draft":
            subject = f"statement:{ctx.incident.label}:{ctx.playbook}"
            with ctx.fenced():
                # asked already by a process that died before noting it here: the approvers are not asked twice
                asked = service.pending_for(subject, statement.text)
                approval_id = asked.id if asked else service.request(subject, o.approvers, statement.text,
                                                                     o.timeout_minutes, severity=ctx.severity,
                                                                     brand=ctx.incident.brand)
                store.set_approval(statement.id, str(approval_id))
            return StepResult("waiting", {**detail, "approval": approval_id, "approvers": o.approvers})
        if statement.status == "draft":
            with ctx.fenced():
                service.expire_due()
                approval = service.get(int(statement.approval_id))
                if approval is None or approval.status == "pending":
                    return StepResult("waiting", {**detail, "approval": statement.approval_id,
                                                  "statement_status": "draft",
                                                  "reason": "waiting for the approvers: " + ", ".join(
                                                      statement.approver_list)})
                store.decide(statement.id, approval.status, approval.decided_by, ctx.now)  # approved/rejected/expired
            statement = store.get(statement.id)
        if statement.status == "approved":
            return StepResult("waiting", {**detail, "approval": statement.approval_id, "statement_status": "approved",
                                          "reason": f"approved: publish with `crisiswatch statement publish "
                                                    f"{statement.id}` or in the console"})
        if statement.status in REVISABLE:  # no statement out yet: the wait goes on until one is
            why = (f"rejected by {statement.decided_by}" if statement.status == "rejected"
                   else "the approval request expired unanswered")
            return StepResult("waiting", {**detail, "approval": statement.approval_id,
                                          "statement_status": statement.status, "decided_by": statement.decided_by,
                                          "reason": f"{why}: nothing is published yet; {next_round(statement)}"})
        return StepResult("done", {**detail, "statement_status": statement.status})  # published meanwhile
