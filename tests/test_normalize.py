from datetime import UTC, datetime

import pytest

from crawlers.normalize import parse_count, parse_time

NOW = datetime(2025, 6, 14, 6, 0, tzinfo=UTC)  # 14:00 in China


@pytest.mark.parametrize(("text", "expected"), [
    ("刚刚", datetime(2025, 6, 14, 6, 0, tzinfo=UTC)),
    ("30秒前", datetime(2025, 6, 14, 5, 59, 30, tzinfo=UTC)),
    ("5分钟前", datetime(2025, 6, 14, 5, 55, tzinfo=UTC)),
    ("2小时前", datetime(2025, 6, 14, 4, 0, tzinfo=UTC)),
    ("今天 12:30", datetime(2025, 6, 14, 4, 30, tzinfo=UTC)),
    ("昨天 23:10", datetime(2025, 6, 13, 15, 10, tzinfo=UTC)),
    ("06月14日 12:30", datetime(2025, 6, 14, 4, 30, tzinfo=UTC)),
    ("06-13", datetime(2025, 6, 12, 16, 0, tzinfo=UTC)),
    ("2024年06月14日 12:30", datetime(2024, 6, 14, 4, 30, tzinfo=UTC)),
    ("2024-06-14 12:30:05", datetime(2024, 6, 14, 4, 30, 5, tzinfo=UTC)),
    ("Sat Jun 14 12:00:00 +0800 2025", datetime(2025, 6, 14, 4, 0, tzinfo=UTC)),
    ("2025-06-14T04:00:00Z", datetime(2025, 6, 14, 4, 0, tzinfo=UTC)),
    ("1749873600", datetime(2025, 6, 14, 4, 0, tzinfo=UTC)),
    (1749873600000, datetime(2025, 6, 14, 4, 0, tzinfo=UTC)),
])
def test_every_time_format_is_utc(text, expected):
    assert parse_time(text, NOW) == expected


def test_month_day_in_january_means_last_december():
    assert parse_time("12月31日 23:00", datetime(2026, 1, 2, tzinfo=UTC)).year == 2025


def test_unknown_time_is_an_error_not_now():
    with pytest.raises(ValueError, match="unrecognised time"):
        parse_time("上周某天", NOW)


@pytest.mark.parametrize(("text", "expected"), [
    ("1.2万", 12_000), ("100万+", 1_000_000), ("3亿", 300_000_000), ("63.4万", 634_000), ("1,234", 1234),
    ("转发", 0), ("", 0), (None, 0), (57, 57), ("2k", 2000),
])
def test_counts(text, expected):
    assert parse_count(text) == expected
