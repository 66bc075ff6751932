"""Instants as people read them: in the team's time zone (`alerts.timezone`), to the minute.

Times are stored in UTC; every page, Slack message, report and CLI line shows them in the team's zone
through this one function, so they read alike. A time stored without an offset is UTC here, as it was
written: `astimezone()` alone would read it in the server's own zone, and a server in another zone
would show every such time hours off.
"""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

MINUTE = "%Y-%m-%d %H:%M"


def local_time(value: datetime | str | None, zone: ZoneInfo | str, fmt: str = MINUTE, empty: str = "") -> str:
    """`value` (a datetime or an ISO 8601 string) in `zone`, formatted by `fmt`; `empty` for none."""
    if not value:
        return empty
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(ZoneInfo(zone) if isinstance(zone, str) else zone).strftime(fmt)
