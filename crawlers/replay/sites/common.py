"""What the review and complaint site handlers share: paging, masked nicknames, stable choices."""

from __future__ import annotations

import hashlib
import html
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any, TypeVar

from crawlers.normalize import CHINA

T = TypeVar("T")


def pick(post_id: str, choices: Sequence[T], salt: str = "") -> T:
    """The same post always gets the same choice (stable across runs and servers)."""
    digest = hashlib.sha1(f"{salt}:{post_id}".encode()).hexdigest()
    return choices[int(digest[:8], 16) % len(choices)]


def masked(name: str) -> str:
    """Shops show buyers as 山***彡: first and last character only."""
    return f"{name[0]}***{name[-1]}" if len(name) > 1 else f"{name}***"


def china_time(dt: Any) -> str:
    return dt.astimezone(CHINA).strftime("%Y-%m-%d %H:%M:%S")


def relative_day(dt: Any, now: Any = None) -> str:
    """How Tmall's mtop list dates a review: 今天, N天前, N个月前, or a date once it is a year old."""
    age = ((now or datetime.now(UTC)) - dt).days
    if age < 1:
        return "今天"
    if age < 30:
        return f"{age}天前"
    if age < 365:
        return f"{age // 30}个月前"
    return dt.astimezone(CHINA).strftime("%Y年%m月%d日")


def page_of(items: list[T], page: int, size: int) -> list[T]:
    """1-based page."""
    return items[(page - 1) * size: page * size] if page >= 1 else []


def page_count(total: int, size: int) -> int:
    return (total + size - 1) // size


def int_arg(query: dict[str, str], key: str, default: int) -> int:
    try:
        return int(query.get(key) or default)
    except ValueError:
        return default


def title_of(text: str, limit: int = 24) -> str:
    """A complaint title from its text: the first clause, cut short."""
    for stop in "，。！？!?#":
        text = text.split(stop, 1)[0]
    return text.strip()[:limit] or "投诉"


def escape(text: str) -> str:
    return html.escape(text, quote=True)


def token(seed: str, length: int = 32, alphabet: str = "0123456789abcdef") -> str:
    """A stable pseudo-random token (image ids, guids, signatures in URLs) derived from `seed`."""
    out, counter = "", 0
    while len(out) < length:
        digest = hashlib.sha256(f"{seed}:{counter}".encode()).digest()
        out += "".join(alphabet[b % len(alphabet)] for b in digest)
        counter += 1
    return out[:length]


B62 = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
