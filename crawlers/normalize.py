"""Site formats to plain values: Weibo's relative times and abbreviated counts."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone
from email.utils import parsedate_to_datetime

CHINA = timezone(timedelta(hours=8), "Asia/Shanghai")


def china_time(value: datetime | None) -> datetime | None:
    """A time given without a zone (--since 2025-01-05) is China time, like everything the sites show."""
    return value.replace(tzinfo=CHINA) if value is not None and value.tzinfo is None else value


_REL = re.compile(r"^(\d+)\s*(秒|分钟|小时|天|周|个月)前$")
_TODAY = re.compile(r"^(今天|昨天)\s*(\d{1,2}):(\d{2})$")
_DAY_ONLY = ("今天", "昨天", "前天")
_MONTH_DAY = re.compile(r"^(\d{1,2})[月-](\d{1,2})日?(?:\s*(\d{1,2}):(\d{2}))?$")
_FULL_CN = re.compile(r"^(\d{4})[年-](\d{1,2})[月-](\d{1,2})日?(?:\s*(\d{1,2}):(\d{2})(?::(\d{2}))?)?$")
_COUNT = re.compile(r"^([\d.]+)\s*(万|亿|w|k)?\+?$", re.I)
_UNITS = {"万": 10_000, "w": 10_000, "亿": 100_000_000, "k": 1_000}


def parse_time(value: str | int | float, now: datetime | None = None) -> datetime:
    """Every time format the sites use, as an aware UTC datetime.

    Times without a zone are China time (the sites' own). Raises ValueError on anything else,
    so a changed layout is caught by validation instead of being stored as "now".
    """
    now = (now or datetime.now(UTC)).astimezone(CHINA)
    if isinstance(value, int | float) or (isinstance(value, str) and value.strip().isdigit()):
        number = float(value)
        if number > 1e11:  # milliseconds
            number /= 1000
        return datetime.fromtimestamp(number, UTC)
    text = str(value).strip()
    if text in ("刚刚", "刚才"):
        return now.astimezone(UTC)
    if m := _REL.match(text):
        # "N个月前" (Tmall's review list) is as coarse as the site: 30 days a month
        unit, factor = {"秒": ("seconds", 1), "分钟": ("minutes", 1), "小时": ("hours", 1), "天": ("days", 1),
                        "周": ("days", 7), "个月": ("days", 30)}[m.group(2)]
        return (now - timedelta(**{unit: int(m.group(1)) * factor})).astimezone(UTC)
    if text in _DAY_ONLY:  # a day without a time: that day's midnight, China time
        day = now - timedelta(days=_DAY_ONLY.index(text))
        return day.replace(hour=0, minute=0, second=0, microsecond=0).astimezone(UTC)
    if m := _TODAY.match(text):
        day = now - timedelta(days=1 if m.group(1) == "昨天" else 0)
        return day.replace(hour=int(m.group(2)), minute=int(m.group(3)), second=0,
                           microsecond=0).astimezone(UTC)
    if m := _FULL_CN.match(text):
        y, mo, d, h, mi, s = (int(g) if g else 0 for g in m.groups())
        return datetime(y, mo, d, h, mi, s, tzinfo=CHINA).astimezone(UTC)
    if m := _MONTH_DAY.match(text):
        mo, d, h, mi = (int(g) if g else 0 for g in m.groups())
        candidate = datetime(now.year, mo, d, h, mi, tzinfo=CHINA)
        if candidate > now + timedelta(days=1):  # "12月31日" seen in January is last year
            candidate = candidate.replace(year=now.year - 1)
        return candidate.astimezone(UTC)
    try:  # "Sat Jun 14 12:00:00 +0800 2025" (Weibo, Twitter v1) and RFC 2822
        return datetime.strptime(text, "%a %b %d %H:%M:%S %z %Y").astimezone(UTC)
    except ValueError:
        pass
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
        return (parsed if parsed.tzinfo else parsed.replace(tzinfo=CHINA)).astimezone(UTC)
    except ValueError:
        pass
    try:
        return parsedate_to_datetime(text).astimezone(UTC)
    except (TypeError, ValueError):
        raise ValueError(f"unrecognised time {text!r}") from None


def follower_count(value: str | int | float | None) -> int | None:
    """A follower count as `parse_count` reads it, or None when the reply has none: unknown, not 0."""
    return None if value is None else parse_count(value)


def parse_count(value: str | int | float | None) -> int:
    """'1.2万' -> 12000, '100万+' -> 1000000, '3亿' -> 300000000; empty or '转发' -> 0."""
    if value is None:
        return 0
    if isinstance(value, int | float):
        return max(int(value), 0)
    text = value.strip().replace(",", "")
    m = _COUNT.match(text)
    if not m:
        return 0  # Weibo shows the action name ("转发", "评论", "赞") when the count is zero
    return int(round(float(m.group(1)) * _UNITS.get((m.group(2) or "").lower(), 1)))
