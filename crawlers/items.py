"""Spiders yield plain dicts shaped like `Mention`; the validation pipeline turns them into one.

Keeping the item a dict (not a Scrapy Item subclass) lets the X collector and the replay
tests feed the same pipelines without Scrapy.
"""

from __future__ import annotations

from typing import Any

from crisiswatch.mention import Author, Engagement, Mention

__all__ = ["Author", "Engagement", "Mention", "review_dict"]


def review_dict(*, source: str, native_id: Any, url: str, content: str, follow_up: str, author: str,
                query: str, brand: str, extra: dict[str, Any], engagement: dict[str, int] | None = None,
                ) -> dict[str, Any]:
    """A shop review as a Mention-shaped dict, its follow-up (追评) kept in the text.

    A follow-up review is often where the complaint is, so it is searchable with the review (and
    in `extra` on its own). Missing required fields stay empty so validation names them.
    """
    item: dict[str, Any] = {
        "source": source,
        "native_id": str(native_id or ""),
        "url": url,
        "text": f"{content}\n追评：{follow_up}" if content and follow_up else content,
        "author": {"name": author},
        "query": query,
        "brands": [brand] if brand else [],
        "extra": extra,
    }
    if engagement is not None:
        item["engagement"] = engagement
    return item
