"""What the review and complaint site handlers share: paging, masked nicknames, stable choices."""

from __future__ import annotations

import hashlib
import html
from collections.abc import Sequence
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
