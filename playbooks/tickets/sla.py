"""SLA deadlines per grade, optionally counted in business hours in the team's time zone."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from crisiswatch.config import BusinessHours, TicketSettings, parse_duration
from playbooks.tickets.models import DEFAULT_SLA, TIMERS, SlaTerms


def sla_table(settings: TicketSettings) -> dict[str, SlaTerms]:
    table = dict(DEFAULT_SLA)
    for grade, limits in settings.sla.items():
        table[grade] = SlaTerms(*(parse_duration(getattr(limits, t)) for t in TIMERS))
    return table


def _hhmm(text: str) -> time:
    hours, minutes = text.split(":")
    return time(int(hours), int(minutes))


class SlaClock:
    def __init__(self, table: dict[str, SlaTerms], tz: ZoneInfo, hours: BusinessHours | None = None) -> None:
        self.table = table
        self.tz = tz
        self.hours = hours

    def counts_business_hours(self, severity: str) -> bool:
        return self.hours is not None and severity in self.hours.grades

    def add(self, start: datetime, span: timedelta, severity: str) -> datetime:
        """`start + span`, where only working time counts for grades on business hours."""
        if not self.counts_business_hours(severity):
            return start + span
        assert self.hours is not None
        open_at, close_at = _hhmm(self.hours.start), _hhmm(self.hours.end)
        local = start.astimezone(self.tz)
        left = span
        # walk day by day: at most a few hundred iterations even for a 30-day limit
        for _ in range(3660):
            day = local.date()
            day_open = datetime.combine(day, open_at, self.tz)
            day_close = datetime.combine(day, close_at, self.tz)
            if local.isoweekday() in self.hours.days and local < day_close:
                begin = max(local, day_open)
                room = day_close - begin
                if left <= room:
                    return (begin + left).astimezone(start.tzinfo)
                left -= room
            local = datetime.combine(day + timedelta(days=1), open_at, self.tz)
        raise ValueError("business hours leave no working time")

    def deadlines(self, severity: str, start: datetime) -> dict[str, datetime]:
        terms = self.table[severity]
        return {timer: self.add(start, getattr(terms, timer), severity) for timer in TIMERS}

    def remind_at(self, severity: str, start: datetime, timer: str, share: float) -> datetime:
        """When `share` of the timer's limit has passed (in the same clock as the deadline)."""
        span = getattr(self.table[severity], timer)
        return self.add(start, span * share, severity)
