"""Weibo's mblog objects (m.weibo.cn JSON) as Mention-shaped dicts."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from crawlers.normalize import parse_count, parse_time


def mblog_cards(data: dict) -> list[dict]:
    """mblogs from a getIndex reply: card_type 9 cards, also inside card_group (type 11) cards."""
    out = []
    for card in (data.get("data") or {}).get("cards") or []:
        if card.get("card_type") == 9 and card.get("mblog"):
            out.append(card["mblog"])
        for sub in card.get("card_group") or []:
            if sub.get("card_type") == 9 and sub.get("mblog"):
                out.append(sub["mblog"])
    return out


def mblog_item(mblog: dict, *, query: str = "", brand: str = "", now: datetime | None = None,
               source: str = "weibo") -> dict[str, Any]:
    """A Mention-shaped dict; missing required fields stay missing so validation names them."""
    user = mblog.get("user") or {}
    bid = mblog.get("bid") or ""
    uid = str(user.get("id", ""))
    item: dict[str, Any] = {
        "source": source,
        "native_id": str(mblog.get("id") or mblog.get("mid") or ""),
        "url": f"https://m.weibo.cn/detail/{mblog.get('id')}" if not bid else f"https://weibo.com/{uid}/{bid}",
        "text": mblog.get("text") or "",
        "author": {
            "id": uid,
            "name": user.get("screen_name", ""),
            "followers": parse_count(user.get("followers_count")),
            "verified": bool(user.get("verified")),
        },
        "engagement": {
            "reposts": parse_count(mblog.get("reposts_count")),
            "comments": parse_count(mblog.get("comments_count")),
            "likes": parse_count(mblog.get("attitudes_count") or mblog.get("like_count")),
        },
        "query": query,
        "brands": [brand] if brand else [],
        "extra": {k: mblog[k] for k in ("bid", "region_name", "source", "isLongText") if mblog.get(k)},
    }
    if mblog.get("created_at"):
        try:
            item["created_at"] = parse_time(mblog["created_at"], now)
        except ValueError:
            item["created_at"] = mblog["created_at"]  # validation rejects it with the reason
    if retweeted := mblog.get("retweeted_status"):
        item["extra"]["retweet_of"] = str(retweeted.get("id", ""))
    return item
