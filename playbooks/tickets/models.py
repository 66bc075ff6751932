"""Ticket records, the lifecycle table and the SLA table from the complaint-handling manuals."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from crisiswatch.config import INTAKE_CHANNELS, REPLY_CHANNELS, TICKET_DEPARTMENTS
from crisiswatch.errors import CrisiswatchError
from crisiswatch.pii import mask as mask_pii

# 已归档: a closed ticket frozen after the reopen window (`TicketService.archive`): no action changes it any more
STATUSES = ("新建", "已受理", "处理中", "已回复", "已解决", "已回访", "已关闭", "已归档")
NEW, ACCEPTED, IN_PROGRESS, REPLIED, RESOLVED, FOLLOWED_UP, CLOSED, ARCHIVED = STATUSES
DEPARTMENTS = TICKET_DEPARTMENTS
INTAKE = INTAKE_CHANNELS
REPLY_VIA = REPLY_CHANNELS
INTAKE_LABELS = {"phone": "电话", "email": "邮件", "chat": "在线客服", "app": "应用内反馈", "social": "社交媒体",
                 "third_party": "第三方平台"}
# where a crawled post came from, as an intake channel: social media or a third-party site
SOURCE_INTAKE = {"weibo": "social", "weibo_comments": "social", "x": "social", "jd": "third_party",
                 "tmall": "third_party", "tousu_sina": "third_party", "jutousu": "third_party"}
# how a reply usually goes back, by intake channel (the agent may choose another)
DEFAULT_REPLY_VIA = {"phone": "电话", "email": "书面", "chat": "在线客服", "app": "在线客服", "social": "在线客服",
                     "third_party": "书面"}

# action -> (statuses it may start from, status it leads to)
TRANSITIONS: dict[str, tuple[tuple[str, ...], str]] = {
    "accept": ((NEW,), ACCEPTED),
    "start": ((ACCEPTED,), IN_PROGRESS),
    "reply": ((IN_PROGRESS, REPLIED), REPLIED),
    "resolve": ((REPLIED,), RESOLVED),
    "followup": ((RESOLVED,), FOLLOWED_UP),
    "close": ((RESOLVED, FOLLOWED_UP), CLOSED),
    "reopen": ((RESOLVED, FOLLOWED_UP, CLOSED), IN_PROGRESS),
}
ACTIONS = tuple(TRANSITIONS)
# A ticket a crisis playbook opened for an incident dismissed as a false alarm: closed (已关闭) by its own event
# ("dismissed"), with no 回访 (no customer raised it); the monthly report counts it apart under this name
FALSE_ALARM = "误报"
OPEN_STATUSES = (NEW, ACCEPTED, IN_PROGRESS, REPLIED)
SETTLED = (CLOSED, ARCHIVED)  # no SLA clock runs in these (every milestone reached)

# Which timer each milestone stops: acknowledgement, first response (first reply), feedback of the
# result (resolved) and completion (resolved too: 办结 is the resolution, not the 回访 after it); 回访 runs
# once the ticket is resolved, until the follow-up or the closing. So after resolution only 回访 can be late.
TIMERS = ("ack", "response", "feedback", "resolve")
WATCHED_TIMERS = (*TIMERS, "followup")
TIMER_LABELS = {"ack": "受理", "response": "首次响应", "feedback": "结果反馈", "resolve": "办结", "followup": "回访"}


class TicketError(CrisiswatchError):
    """A ticket action that cannot be done: unknown ticket, illegal transition, bad value."""


class TicketConflict(TicketError):
    """Someone else changed the ticket since it was read (optimistic locking)."""


@dataclass(frozen=True)
class SlaTerms:
    """Limits for one grade (`2wd` working days, `4h`): acknowledge, first response (the investigation
    and plan), feedback of the result after the plan, completion."""

    ack: str
    response: str
    feedback: str
    resolve: str


# The manual (§4.1) for the ordinary complaint: respond within 1 hour, first investigation within 2
# working days, the result within 3 working days of the plan, done within 15 working days (extendable
# with approval to 30). Graver grades get shorter limits; 紧急 and 重大 hours run around the clock.
DEFAULT_SLA: dict[str, SlaTerms] = {
    "一般": SlaTerms("1h", "2wd", "3wd", "15wd"),
    "重要": SlaTerms("1h", "1wd", "2wd", "10wd"),
    "紧急": SlaTerms("30m", "4h", "1wd", "5wd"),
    "重大": SlaTerms("15m", "1h", "4h", "3wd"),
}


@dataclass
class Ticket:
    id: int
    number: str
    title: str
    status: str
    brand: str
    category: str
    severity: str
    department: str
    channel: str
    incident_id: int | None
    source_url: str
    author_handle: str
    evidence: list[dict[str, Any]]
    created_at: datetime
    updated_at: datetime
    ack_due: datetime
    response_due: datetime
    feedback_due: datetime
    resolve_due: datetime
    version: int
    mention_ids: list[str] = field(default_factory=list)
    departments: list[str] = field(default_factory=list)
    author_id: str = ""
    order_no: str = ""
    tasks: list[dict[str, Any]] = field(default_factory=list)
    acked_at: datetime | None = None
    first_reply_at: datetime | None = None
    resolved_at: datetime | None = None
    followed_up_at: datetime | None = None
    closed_at: datetime | None = None
    replies: int = 0
    reopened: int = 0
    satisfaction: int | None = None
    satisfaction_comment: str = ""
    breaches: int = 0
    escalation_level: int = 0
    related: list[dict[str, Any]] = field(default_factory=list)
    customer: str = ""
    contact: str = ""
    summary: str = ""
    expectation: str = ""
    owner: str = ""
    reply_channel: str = ""
    sla_start: datetime | None = None
    followup_due: datetime | None = None
    extension_approved_by: str = ""
    satisfaction_history: list[dict[str, Any]] = field(default_factory=list)
    paused_at: datetime | None = None  # waiting for the customer since then: no clock runs (`TicketService.pause`)

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES

    @property
    def intake(self) -> str:
        """The intake channel: phone, email, ... or, for a crawled post, social or third_party."""
        return self.channel if self.channel in INTAKE else SOURCE_INTAKE.get(self.channel, "social")

    @property
    def contact_masked(self) -> str:
        return mask_contact(self.contact)

    @property
    def started_at(self) -> datetime:
        """When the SLA clocks last started: opening, or the latest reopening."""
        return self.sla_start or self.created_at

    @property
    def score(self) -> int | None:
        """The latest 回访 score, kept through a reopening until a new 回访 replaces it."""
        if self.satisfaction:
            return self.satisfaction
        return self.satisfaction_history[-1]["score"] if self.satisfaction_history else None

    def due(self, timer: str) -> datetime | None:
        return getattr(self, f"{timer}_due")

    def met_at(self, timer: str) -> datetime | None:
        """When the milestone that stops `timer` was reached, or None while it runs."""
        if timer == "followup":
            return self.followed_up_at or self.closed_at
        if timer == "ack":
            return self.acked_at
        if timer == "response":
            return self.first_reply_at
        return self.resolved_at  # feedback of the result and 办结 both stop at the resolution

    def running(self) -> list[str]:
        """The timers whose clocks run now: they have a deadline and their milestone is not reached, and the ticket is
        not waiting for the customer."""
        if self.paused_at is not None:
            return []
        return self.pending()

    def pending(self) -> list[str]:
        """The timers whose milestone is not reached, running or paused."""
        return [timer for timer in WATCHED_TIMERS if self.due(timer) is not None and self.met_at(timer) is None]

    def late(self, now: datetime) -> list[str]:
        """THE rule for lateness: the timers still running past their deadline. The SLA watch breaches exactly
        these, and `overdue` (the dashboard's 超时工单, `ticket list --breached`) asks the same question."""
        return [timer for timer in self.running() if self.due(timer) <= now]

    def overdue(self, now: datetime) -> bool:
        """Past a deadline whose milestone it has not reached (an unanswered 回访 after resolution included)."""
        return bool(self.late(now))

    @property
    def summary_masked(self) -> str:
        """The customer's words with any phone, e-mail, ID or address they gave masked, as the contact is."""
        return mask_pii(self.summary).text

    @property
    def expectation_masked(self) -> str:
        return mask_pii(self.expectation).text

    def to_dict(self, *, contact: bool = True) -> dict[str, Any]:
        """Every field; the customer's contact (and what they said, which may repeat it) in full only when the
        reader needs it to reach them."""
        out = {k: v.isoformat() if isinstance(v, datetime) else v for k, v in self.__dict__.items()}
        out["intake"] = self.intake
        if not contact:
            out.update(contact=self.contact_masked, summary=self.summary_masked, expectation=self.expectation_masked,
                       satisfaction_comment=mask_pii(self.satisfaction_comment).text,
                       satisfaction_history=[{**h, "comment": mask_pii(h["comment"]).text} if h.get("comment") else h
                                             for h in self.satisfaction_history])
        return out


def mask_contact(contact: str) -> str:
    """A phone number or e-mail address as lists and logs may show it: 138****5678, l***@example.com."""
    value = contact.strip()
    if not value:
        return ""
    if "@" in value:
        name, _, domain = value.partition("@")
        return f"{name[:1]}***@{domain}"
    digits = [c for c in value if c.isdigit()]
    if len(digits) >= 7:
        return "".join(digits[:3]) + "****" + "".join(digits[-4:])
    return value[:1] + "***"
