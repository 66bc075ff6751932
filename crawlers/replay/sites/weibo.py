"""Weibo in its real shapes: m.weibo.cn JSON (search, account timeline, long text, comments) and
s.weibo.com's HTML search with time slices, `a.next`, the 50-page cap and the no-result card.

Scenario events may carry `extra`: `long: true` (the list shows a cut text, `/statuses/extend`
the whole), `pinned: true` (mblogtype 2 on top of the account's timeline), `comment_texts: [...]`.
"""

from __future__ import annotations

import hashlib
import html
import math
from datetime import datetime, timedelta
from typing import Any

from crawlers.normalize import CHINA

_B62 = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
LONG_CUT = 100  # characters the list shows of a long post before "...全文"
PAGE_CAP = 50
HTML_PAGE_SIZE = 10


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


def is_long(post: Any) -> bool:
    return bool(post.extra.get("long")) or len(post.text) > 140


def mblog(post: Any, brand_name: str, layout_changed: bool = False) -> dict[str, Any]:
    text = post.text.replace(f"@{brand_name}", f"<a href='/n/{brand_name}'>@{brand_name}</a>")
    long = is_long(post)
    if long:
        text = f"{post.text[:LONG_CUT]} ...<a href=\"/status/{post.id}\">全文</a>"
    body: dict[str, Any] = {
        # a scenario may give the raw time text, e.g. a malformed one that validation must dead-letter
        "created_at": post.extra.get("created_at") or weibo_time(post.created_at),
        "id": post.id, "idstr": post.id, "mid": post.id, "bid": bid(post.id),
        "text": text, "textLength": len(post.text) * 2, "source": "iPhone客户端",
        "reposts_count": _count(post.reposts), "comments_count": _count(post.comments),
        "attitudes_count": _count(post.likes), "isLongText": long,
        "mblogtype": 2 if post.extra.get("pinned") else 0,
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
    if path == "/api/container/getIndex":
        container = query.get("containerid", "")
        if container.startswith("107603"):
            return timeline(server, container[6:], query, layout_changed)
        if container.startswith("100103"):
            return search(server, container, query, layout_changed)
        return _json({"ok": 0, "msg": "这里还没有内容"})
    if path == "/statuses/extend":
        return extend(server, query.get("id", ""))
    if path == "/comments/hotflow":
        return hotflow(server, query.get("id") or query.get("mid", ""), query.get("max_id"), layout_changed)
    if path == "/api/comments/show":
        return comments_show(server, query.get("id", ""), int(query.get("page", "1") or 1), layout_changed)
    if path == "/weibo":
        from crawlers.replay.sites.weibo_html import html_search  # s.weibo.com's half of this site

        return html_search(server, query, layout_changed)
    return None


def _json(payload: Any) -> Any:
    from crawlers.replay.server import Reply

    return Reply.json(payload)


def _empty() -> Any:
    return _json({"ok": 0, "msg": "这里还没有内容", "data": {"cards": []}})


def search(server: Any, container: str, query: dict[str, str], layout_changed: bool) -> Any:
    keyword = container.split("&q=", 1)[-1] if "&q=" in container else query.get("q", "")
    page = max(int(query.get("page", "1") or 1), 1)
    posts = [p for p in server.posts("weibo") if keyword and keyword in p.text]
    size = server.page_size
    chunk = posts[(page - 1) * size: page * size]
    if not chunk:
        return _empty()
    brand_name = server.scenario.brand["names"][0]
    cards = [{"card_type": 9, "itemid": f"seqid:{p.id}", "mblog": mblog(p, brand_name, layout_changed)}
             for p in chunk]
    # the real search mixes bare cards with card_group (type 11) blocks
    grouped = [cards[0]] + ([{"card_type": 11, "card_group": cards[1:]}] if len(cards) > 1 else [])
    return _json({"ok": 1, "data": {
        "cardlistInfo": {"containerid": container, "v_p": "42", "page": page + 1, "total": len(posts)},
        "cards": grouped,
    }})


def timeline(server: Any, uid: str, query: dict[str, str], layout_changed: bool) -> Any:
    """An account's posts: pinned first, then newest first; pages by `since_id` or `page`."""
    own = [p for p in server.posts("weibo") if p.author.id == uid]
    ordered = [p for p in own if p.extra.get("pinned")] + [p for p in own if not p.extra.get("pinned")]
    size = server.page_size
    if since_id := query.get("since_id"):
        ids = [p.id for p in ordered]
        offset = ids.index(since_id) + 1 if since_id in ids else len(ids)
    else:
        offset = (max(int(query.get("page", "1") or 1), 1) - 1) * size
    chunk = ordered[offset: offset + size]
    if not chunk:
        return _empty()
    brand_name = server.scenario.brand["names"][0]
    info: dict[str, Any] = {"containerid": f"107603{uid}", "v_p": 42, "show_style": 1, "total": len(ordered)}
    if offset + size < len(ordered):
        info["since_id"] = int(chunk[-1].id)
    return _json({"ok": 1, "data": {"cardlistInfo": info, "cards": [
        {"card_type": 9, "itemid": f"107603{uid}_-_{p.id}", "mblog": mblog(p, brand_name, layout_changed)}
        for p in chunk]}})


def _post(server: Any, native_id: str) -> Any:
    return next((p for p in server.posts("weibo") if p.id == native_id), None)


def extend(server: Any, native_id: str) -> Any:
    post = _post(server, native_id)
    if post is None:
        return _json({"ok": 0, "msg": "该微博不存在"})
    return _json({"ok": 1, "data": {"ok": 1, "longTextContent": html.escape(post.text, quote=False),
                                    "reposts_count": post.reposts, "comments_count": post.comments,
                                    "attitudes_count": _count(post.likes)}})


def comments(server: Any, post: Any) -> list[dict[str, Any]]:
    """The post's comments published by the replay clock, newest first (deterministic per post)."""
    texts = post.extra.get("comment_texts") or []
    others = [p for p in server.scenario.posts if p.source == "weibo" and p.id != post.id]
    n = len(texts) or min(post.comments, 60)
    out = []
    for k in range(n):
        other = others[(int(post.id) + k * 7) % len(others)] if others else post
        at = post.created_at + timedelta(minutes=3 * (k + 1))
        if at > server.clock():
            break
        out.append({"k": k, "id": str(int(post.id) + 1 + k), "at": at,
                    "text": texts[k] if texts else f"回复：{other.text[:60]}", "author": other.author})
    return out[::-1]


def _comment_json(c: dict, post: Any, when: str, layout_changed: bool) -> dict[str, Any]:
    body = {"created_at": when, "id": c["id"], "rootid": c["id"], "mid": post.id, "text": c["text"],
            "source": "来自上海", "like_count": c["k"] % 5, "total_number": 0,
            "user": {"id": int(c["author"].id), "screen_name": c["author"].name,
                     "followers_count": c["author"].followers, "verified": c["author"].verified}}
    if layout_changed:
        body["created_time"] = body.pop("created_at")
        body["content"] = body.pop("text")
    return body


def hotflow(server: Any, native_id: str, max_id: str | None, layout_changed: bool) -> Any:
    post = _post(server, native_id)
    if post is None:
        return _json({"ok": 0, "msg": "暂无评论"})
    every = comments(server, post)
    ids = [c["id"] for c in every]
    offset = ids.index(max_id) if max_id and max_id in ids else 0
    chunk = every[offset: offset + server.page_size]
    nxt = every[offset + server.page_size]["id"] if offset + server.page_size < len(every) else 0
    return _json({"ok": 1, "data": {
        "data": [_comment_json(c, post, weibo_time(c["at"]), layout_changed) for c in chunk],
        "total_number": len(every), "max_id": int(nxt), "max": math.ceil(len(every) / server.page_size),
        "max_id_type": 0}})


def comments_show(server: Any, native_id: str, page: int, layout_changed: bool) -> Any:
    post = _post(server, native_id)
    every = comments(server, post) if post else []
    chunk = every[(page - 1) * server.page_size: page * server.page_size]
    if not chunk:
        return _json({"ok": 0, "msg": "还没有人评论哦~快来抢沙发！"})
    now = server.clock()
    return _json({"ok": 1, "msg": "数据获取成功", "data": {
        "data": [_comment_json(c, post, _mobile_time(c["at"], now), layout_changed) for c in chunk],
        "total_number": len(every), "max": math.ceil(len(every) / server.page_size)}})


def _mobile_time(at: datetime, now: datetime) -> str:
    """m.weibo.cn's older relative times (comments/show): 刚刚, N分钟前, N小时前, 昨天 HH:MM, MM-DD."""
    age = (now - at).total_seconds()
    local, today = at.astimezone(CHINA), now.astimezone(CHINA)
    if age < 60:
        return "刚刚"
    if age < 3600:
        return f"{int(age // 60)}分钟前"
    if local.date() == today.date():
        return f"{int(age // 3600)}小时前"
    if local.date() == today.date() - timedelta(days=1):
        return f"昨天 {local:%H:%M}"
    return f"{local:%m-%d}" if local.year == today.year else f"{local:%Y-%m-%d}"

