"""SLA deadlines per grade, counted in working days and hours of the team's calendar and time zone.

A limit is written in working days (`15wd`, the manuals' unit) or in hours and minutes (`1h`, `30m`).
Working days follow the team's work calendar: weekdays, minus public holidays, plus the make-up
working days (调休) that China moves onto weekends. One working day is one full span of business
hours, so "2 working days" from Monday 10:00 ends on Wednesday 10:00, and from a Saturday it ends
at the close of Tuesday. Hours count working time for the grades on business hours, and clock time
for the urgent grades that run around the clock.
"""

from __future__ import annotations

import logging
from datetime import date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

import holidays

from crisiswatch.config import BusinessHours, TicketSettings, WorkCalendarSettings, parse_sla_span
from playbooks.tickets.models import DEFAULT_SLA, TIMERS, SlaTerms

logger = logging.getLogger(__name__)
DEFAULT_HOURS = BusinessHours()


def sla_table(settings: TicketSettings) -> dict[str, SlaTerms]:
    table = dict(DEFAULT_SLA)
    for grade, limits in settings.sla.items():
        table[grade] = SlaTerms(*(getattr(limits, t) for t in TIMERS))
    return table


def _hhmm(text: str) -> time:
    hours, minutes = text.split(":")
    return time(int(hours), int(minutes))


@lru_cache(maxsize=8)
def _country_holidays(country: str) -> holidays.HolidayBase:
    # years are filled in on first look-up of a date; one object per country serves every ticket
    return holidays.country_holidays(country)


@lru_cache(maxsize=8)
def _first_estimated_year(country: str) -> int | None:
    """The first year after the last one whose make-up working days the library knows (None: a country
    without them, where a guessed year looks like a known one)."""
    calendar = _country_holidays(country)
    for year in range(date.today().year - 1, date.today().year + 10):
        _ = date(year, 1, 1) in calendar  # fills the year in, make-up days included
    made_up = {d.year for d in calendar.weekend_workdays}
    return max(made_up) + 1 if made_up else None


class WorkCalendar:
    """Working days and hours in one time zone."""

    def __init__(self, tz: ZoneInfo, hours: BusinessHours | None = None,
                 calendar: WorkCalendarSettings | None = None) -> None:
        self.tz = tz
        self.hours = hours or DEFAULT_HOURS
        settings = calendar or WorkCalendarSettings()
        self.public = _country_holidays(settings.country) if settings.country else None
        self.extra_holidays = set(settings.extra_holidays)
        self.extra_workdays = set(settings.extra_workdays)
        self.open_at, self.close_at = _hhmm(self.hours.start), _hhmm(self.hours.end)
        self.years_checked: set[int] = set()
        self.estimated_years: set[int] = set()
        self.day_length = datetime.combine(date.min, self.close_at) - datetime.combine(date.min, self.open_at)
        if self.day_length <= timedelta(0):
            raise ValueError("business hours: end must be after start")

    def is_workday(self, day: date) -> bool:
        if day.year not in self.years_checked:
            self._check_year(day.year)
        if day in self.extra_workdays:
            return True
        if day in self.extra_holidays:
            return False
        if self.public is not None:
            if day in self.public:  # looking a day up fills in its year, make-up working days included
                return False
            if day in self.public.weekend_workdays:
                return True
        return day.isoweekday() in self.hours.days

    def _check_year(self, year: int) -> None:
        """China publishes each year's holidays and make-up working days (调休) late in the year before; the
        library guesses a year it has no schedule for, without them. A deadline there is said to be a guess."""
        self.years_checked.add(year)
        if self.public is None or any(d.year == year for d in self.extra_workdays):
            return
        first = _first_estimated_year(self.public.country)
        if first is not None and year >= first:
            self.estimated_years.add(year)
            logger.warning("the %s holiday calendar has no official schedule for %d yet: working days there are "
                           "estimated; add it to tickets.calendar (extra_holidays, extra_workdays) once it is "
                           "published", self.public.country, year)

    def estimated(self, day: date) -> bool:
        """Whether the day's year has no official schedule yet (its working days are the library's guess)."""
        if day.year not in self.years_checked:
            self._check_year(day.year)
        return day.year in self.estimated_years

    def holiday_name(self, day: date) -> str | None:
        return self.public.get(day) if self.public is not None else None

    def add_working_time(self, start: datetime, span: timedelta) -> datetime:
        """`start + span`, where only the business hours of working days count."""
        local = start.astimezone(self.tz)
        left = span
        for _ in range(3660):  # day by day: at most a few hundred steps even for a 30-working-day limit
            day = local.date()
            day_open = datetime.combine(day, self.open_at, self.tz)
            day_close = datetime.combine(day, self.close_at, self.tz)
            if self.is_workday(day) and local < day_close:
                begin = max(local, day_open)
                room = day_close - begin
                if left <= room:
                    return (begin + left).astimezone(start.tzinfo)
                left -= room
            local = datetime.combine(day + timedelta(days=1), self.open_at, self.tz)
        raise ValueError("the work calendar leaves no working time")

    def working_time_between(self, start: datetime, end: datetime) -> timedelta:
        """How much working time lies between two instants (for handling time in working hours)."""
        if end <= start:
            return timedelta(0)
        total, local, stop = timedelta(0), start.astimezone(self.tz), end.astimezone(self.tz)
        while local < stop:
            day = local.date()
            day_open = datetime.combine(day, self.open_at, self.tz)
            day_close = datetime.combine(day, self.close_at, self.tz)
            if self.is_workday(day):
                begin, finish = max(local, day_open), min(stop, day_close)
                if finish > begin:
                    total += finish - begin
            local = datetime.combine(day + timedelta(days=1), time(0), self.tz)
        return total


class SlaClock:
    def __init__(self, table: dict[str, SlaTerms], calendar: WorkCalendar, business_grades: list[str]) -> None:
        self.table = table
        self.calendar = calendar
        self.tz = calendar.tz
        self.business_grades = set(business_grades)

    @classmethod
    def from_settings(cls, settings: TicketSettings, tz: ZoneInfo,
                      table: dict[str, SlaTerms] | None = None) -> SlaClock:
        calendar = WorkCalendar(tz, settings.business_hours, settings.calendar)
        grades = settings.business_hours.grades if settings.business_hours is not None else []
        return cls(table or sla_table(settings), calendar, grades)

    def counts_business_hours(self, severity: str) -> bool:
        return severity in self.business_grades

    def add(self, start: datetime, limit: str | timedelta, severity: str) -> datetime:
        """`start` plus a limit: working days on the work calendar; hours in working time or clock time."""
        days, span = (0, limit) if isinstance(limit, timedelta) else parse_sla_span(limit)
        end = self.calendar.add_working_time(start, self.calendar.day_length * days) if days else start
        if not span:
            return end
        if self.counts_business_hours(severity):
            return self.calendar.add_working_time(end, span)
        return end + span

    def waited(self, severity: str, paused: datetime, resumed: datetime) -> timedelta:
        """How long a wait for the customer stopped the grade's clocks: working time for a business-hours grade,
        clock time for a round-the-clock one (`add` then moves a deadline later by it)."""
        if self.counts_business_hours(severity):
            return self.calendar.working_time_between(paused, resumed)
        return resumed - paused

    def reminder(self, severity: str, limit: str | timedelta, start: datetime, due: datetime, share: float) -> datetime:
        """When `share` of the way from `start` to `due` has passed, measured as the limit is: working time for
        working days and for a business-hours grade (80 % of "2wd" from Monday 10:00 is Tuesday 15:24, not
        Wednesday 00:30), clock time for a round-the-clock grade's hours."""
        days, _ = (0, limit) if isinstance(limit, timedelta) else parse_sla_span(limit)
        if days or self.counts_business_hours(severity):
            return self.calendar.add_working_time(start, self.calendar.working_time_between(start, due) * share)
        return start + max(due - start, timedelta(0)) * share

    def deadlines(self, severity: str, start: datetime) -> dict[str, datetime]:
        """The four deadlines of a grade from `start`; the result is due `feedback` after the response."""
        terms = self.table[severity]
        out = {timer: self.add(start, getattr(terms, timer), severity) for timer in ("ack", "response", "resolve")}
        out["feedback"] = min(self.add(out["response"], terms.feedback, severity), out["resolve"])
        return {timer: out[timer] for timer in TIMERS}

    def feedback_after_plan(self, severity: str, planned_at: datetime, resolve_due: datetime) -> datetime:
        """The manual: the result within N working days of telling the customer the plan (the first reply)."""
        return min(self.add(planned_at, self.table[severity].feedback, severity), resolve_due)
