"""m.weibo.cn's JSON shapes: container getIndex search, as in the real API."""

from __future__ import annotations

import hashlib
from typing import Any

from crawlers.normalize import CHINA

_B62 = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"


def bid(native_id: str) -> str:
    n = int(hashlib.md5(native_id.encode()).hexdigest()[:12], 16)
    out = ""
    while n and len(out) < 9:
        n, r = divmod(n, 62)
        out += _B62[r]
    return out


def weibo_time(dt: Any) -> str:
    return dt.astimezone(CHINA).strftime("%a %b %d %H:%M:%S +0800 %Y")


def _count(n: int) -> int | str:
    # the API writes large counts as strings like "1.2万"
    return f"{n / 10_000:.1f}万" if n >= 100_000 else n


def mblog(post: Any, brand_name: str, layout_changed: bool = False) -> dict[str, Any]:
    text = post.text.replace(f"@{brand_name}", f"<a href='/n/{brand_name}'>@{brand_name}</a>")
    body: dict[str, Any] = {
        "created_at": weibo_time(post.created_at),
        "id": post.id, "idstr": post.id, "mid": post.id, "bid": bid(post.id),
        "text": text, "textLength": len(post.text) * 2, "source": "iPhone客户端",
        "reposts_count": _count(post.reposts), "comments_count": _count(post.comments),
        "attitudes_count": _count(post.likes), "isLongText": False, "mblogtype": 0,
        "region_name": "发布于 上海",
        "user": {
            "id": int(post.author.id), "screen_name": post.author.name,
            "followers_count": _count(post.author.followers), "verified": post.author.verified,
            "verified_type": 0 if post.author.verified else -1,
        },
    }
    if layout_changed:  # a redesign that renames fields: the spider must dead-letter, not crash
        body["created_time"] = body.pop("created_at")
        body["content"] = body.pop("text")
    return body


def handle(server: Any, path: str, query: dict[str, str], layout_changed: bool = False) -> Any:
    from crawlers.replay.server import Reply

    if path != "/api/container/getIndex":
        return None
    container = query.get("containerid", "")
    if not container.startswith("100103"):
        return Reply.json({"ok": 0, "msg": "这里还没有内容"})
    keyword = container.split("&q=", 1)[-1] if "&q=" in container else query.get("q", "")
    page = max(int(query.get("page", "1") or 1), 1)
    posts = [p for p in server.posts("weibo") if keyword and keyword in p.text]
    size = server.page_size
    chunk = posts[(page - 1) * size: page * size]
    if not chunk:
        return Reply.json({"ok": 0, "msg": "这里还没有内容", "data": {"cards": []}})
    brand_name = server.scenario.brand["names"][0]
    cards = [{"card_type": 9, "itemid": f"seqid:{p.id}", "mblog": mblog(p, brand_name, layout_changed)}
             for p in chunk]
    # the real search mixes bare cards with card_group (type 11) blocks
    grouped = [cards[0]] + ([{"card_type": 11, "card_group": cards[1:]}] if len(cards) > 1 else [])
    return Reply.json({"ok": 1, "data": {
        "cardlistInfo": {"containerid": container, "v_p": "42", "page": page + 1, "total": len(posts)},
        "cards": grouped,
    }})
