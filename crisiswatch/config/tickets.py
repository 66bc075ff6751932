"""Playbook folder and complaint tickets: SLA per grade, working days and hours, routing, staff."""

from __future__ import annotations

import re
from datetime import date, timedelta

from pydantic import Field, field_validator

from crisiswatch.config.base import StrictModel, TimeZoneName, parse_duration
from crisiswatch.mention import SEVERITIES


class PlaybookSettings(StrictModel):
    dir: str | None = Field(default=None, description="default: the playbooks shipped with crisiswatch")
    max_attempts: int = Field(default=5, ge=1, description="tries of a failing step (1, 2, 4, 8 … min apart) before it "
                              "is given up: paged once more, listed by `status`, put back by `playbook retry`")


_WORKING_DAYS = re.compile(r"^(\d+)wd$")


def parse_sla_span(text: str) -> tuple[int, timedelta]:
    """'15wd' -> (15 working days, 0); '4h' -> (0, 4 h). Working days follow the team's work calendar."""
    value = str(text).replace(" ", "")
    days = _WORKING_DAYS.match(value)
    if days:
        return int(days.group(1)), timedelta(0)
    try:
        return 0, parse_duration(value)
    except ValueError:
        raise ValueError(f"bad SLA limit {text!r} (use working days such as 2wd, or 30m, 4h, 1h30m)") from None


class SlaLimits(StrictModel):
    """Time limits for one grade: acknowledge, first response, feedback, completion (`2wd`, `4h`, ...)."""

    ack: str
    response: str
    feedback: str
    resolve: str

    @field_validator("ack", "response", "feedback", "resolve")
    @classmethod
    def _duration(cls, value: str) -> str:
        parse_sla_span(value)
        return value


class BusinessHours(StrictModel):
    """SLA clocks for these grades only run inside working hours (team time zone)."""

    start: str = Field(default="09:00", pattern=r"^([01]\d|2[0-3]):[0-5]\d$")
    end: str = Field(default="18:00", pattern=r"^([01]\d|2[0-3]):[0-5]\d$")
    days: list[int] = Field(default_factory=lambda: [1, 2, 3, 4, 5], description="ISO weekdays, 1 = Monday")
    grades: list[str] = Field(default_factory=lambda: ["一般", "重要"], description="urgent grades run 24x7")

    @field_validator("days")
    @classmethod
    def _days(cls, value: list[int]) -> list[int]:
        if not value or any(d < 1 or d > 7 for d in value):
            raise ValueError("days must be ISO weekdays 1..7 (1 = Monday)")
        return value

    @field_validator("grades")
    @classmethod
    def _grades(cls, value: list[str]) -> list[str]:
        bad = [g for g in value if g not in SEVERITIES]
        if bad:
            raise ValueError(f"unknown grade {bad[0]!r} (grades: {', '.join(SEVERITIES)})")
        return value


TICKET_DEPARTMENTS = ("客服", "调查", "技术", "法律", "管理层")


DEFAULT_ROUTING: dict[str, list[str]] = {
    "product_quality": ["调查"], "logistics": ["客服"], "after_sales": ["客服"], "service_attitude": ["客服"],
    "payment_billing": ["技术"], "fraud_security_privacy": ["法律", "技术"], "price": ["客服"],
    "false_advertising": ["法律"], "other": ["客服"],
}


INTAKE_CHANNELS = ("phone", "email", "chat", "app", "social", "third_party")
INTAKE_CHANNEL_LABELS = {"phone": "电话", "email": "邮件", "chat": "在线客服", "app": "应用内反馈", "social": "社交媒体",
                         "third_party": "第三方平台"}
REPLY_CHANNELS = ("书面", "电话", "在线客服")


class WorkCalendarSettings(StrictModel):
    """Which days are working days: a country's public holidays and make-up working days (调休), plus yours."""

    country: str | None = Field(default="CN", description="`holidays` country code; null: weekdays only")
    extra_holidays: list[date] = Field(default_factory=list, description="days off the library does not know yet")
    extra_workdays: list[date] = Field(default_factory=list, description="make-up working days it does not know yet")


class TicketSettings(StrictModel):
    """Complaint tickets: SLA per grade, working days and hours, routing, staff, joining and repeat windows."""

    timezone: TimeZoneName | None = Field(default=None, description="default: alerts.timezone")
    sla: dict[str, SlaLimits] = Field(default_factory=dict, description="per-grade overrides of DEFAULT_SLA")
    business_hours: BusinessHours | None = Field(default_factory=BusinessHours,
                                                 description="null: every grade's hours run around the clock")
    calendar: WorkCalendarSettings = Field(default_factory=WorkCalendarSettings)
    followup_within: str = Field(default="3wd", description="回访 due this long after resolution")
    extension_cap: str = Field(default="30wd", description="办结 may be extended, with approval, up to this")
    staff: dict[str, str] = Field(default_factory=dict,
                                  description="person -> department (owners, my queue; 管理层 approves extensions)")
    reply_templates: str | None = Field(default=None, description="folder of reply templates (default: shipped)")
    service_contact: str = Field(default="官方客服热线", description="how customers reach you, quoted in replies")
    remind_at: float = Field(default=0.8, gt=0, lt=1, description="remind when this share of a limit has passed")
    escalate_to: str = "管理层"
    join_window_minutes: int = Field(default=60, ge=0)
    repeat_window_days: int = Field(default=30, ge=0)
    reopen_window_days: int = Field(default=30, ge=0, description="a closed ticket may be reopened this long; after "
                                    "it `ticket archive` may freeze it (default: as long as a repeat is linked)")
    routing: dict[str, list[str]] = Field(default_factory=lambda: dict(DEFAULT_ROUTING))
    major_adds: str = Field(default="管理层", description="重大 tickets also go to this department")

    @field_validator("sla")
    @classmethod
    def _grades(cls, value: dict[str, SlaLimits]) -> dict[str, SlaLimits]:
        bad = [g for g in value if g not in SEVERITIES]
        if bad:
            raise ValueError(f"unknown grade {bad[0]!r} (grades: {', '.join(SEVERITIES)})")
        return value

    @field_validator("routing")
    @classmethod
    def _routing(cls, value: dict[str, list[str]]) -> dict[str, list[str]]:
        for category, departments in value.items():
            if category not in DEFAULT_ROUTING:
                raise ValueError(f"unknown category {category!r} (categories: {', '.join(DEFAULT_ROUTING)})")
            bad = [d for d in departments if d not in TICKET_DEPARTMENTS] if departments else ["(none)"]
            if bad:
                raise ValueError(f"routing.{category}: unknown department {bad[0]!r} "
                                 f"(departments: {', '.join(TICKET_DEPARTMENTS)})")
        return {**DEFAULT_ROUTING, **value}

    @field_validator("followup_within", "extension_cap")
    @classmethod
    def _span(cls, value: str) -> str:
        parse_sla_span(value)
        return value

    @field_validator("staff")
    @classmethod
    def _staff(cls, value: dict[str, str]) -> dict[str, str]:
        for person, department in value.items():
            if department not in TICKET_DEPARTMENTS:
                raise ValueError(f"{person}: unknown department {department!r} "
                                 f"(departments: {', '.join(TICKET_DEPARTMENTS)})")
            if person in TICKET_DEPARTMENTS:
                raise ValueError(f"{person!r} is a department name, not a person")
        return value

    @field_validator("escalate_to", "major_adds")
    @classmethod
    def _department(cls, value: str) -> str:
        if value not in TICKET_DEPARTMENTS:
            raise ValueError(f"unknown department {value!r} (departments: {', '.join(TICKET_DEPARTMENTS)})")
        return value
