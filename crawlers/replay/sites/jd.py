"""club.jd.com's comment API: `fetchJSON_comment98({...});` in GBK, pages counted from 0."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from crawlers.replay.sites.common import china_time, int_arg, masked, page_count, pick

PATH = "/comment/productPageComments.action"
MAX_PAGE = 100  # JD never lists past page 100


def comment(post: Any, sku: str, layout_changed: bool = False) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": int(post.id), "guid": hashlib.md5(post.id.encode()).hexdigest(),
        "content": post.text, "creationTime": china_time(post.created_at),
        "isTop": False, "referenceId": sku, "referenceName": "", "referenceType": "Product",
        "score": post.rating or 5, "status": 1, "nickname": masked(post.author.name),
        "userLevelName": pick(post.id, ["PLUS会员", "金牌会员", "银牌会员", "注册会员"], "level"),
        "userClientShow": pick(post.id, ["来自京东iPhone客户端", "来自京东Android客户端", ""], "client"),
        "productColor": pick(post.id, ["经典白", "曜石黑", "雾霾蓝"], "color"),
        "productSize": pick(post.id, ["标准版", "升级版"], "size"),
        "replyCount": post.comments, "usefulVoteCount": post.likes, "imageCount": 0, "replies": [],
    }
    if layout_changed:  # a redesign that renames fields: the spider must dead-letter, not crash
        body["commentContent"] = body.pop("content")
        body["createTime"] = body.pop("creationTime")
    return body


def handle(server: Any, path: str, query: dict[str, str], layout_changed: bool = False) -> Any:
    from crawlers.replay.server import Reply

    if path != PATH:
        return None
    sku = query.get("productId", "")
    wanted = server.scenario.ids.get("jd")
    posts = server.posts("jd") if sku and (not wanted or sku == wanted) else []
    size = server.page_size
    page = max(int_arg(query, "page", 0), 0)
    chunk = posts[page * size:(page + 1) * size] if page < MAX_PAGE else []
    ratings = [p.rating or 5 for p in posts]
    payload = {
        "productAttr": None,
        "productCommentSummary": {
            "skuId": int(sku) if sku.isdigit() else 0, "commentCount": len(posts),
            "commentCountStr": f"{len(posts)}+", "goodRate": round(sum(r >= 4 for r in ratings) / len(ratings), 3)
            if ratings else 0, "poorCount": sum(r <= 2 for r in ratings),
            **{f"score{s}Count": sum(r == s for r in ratings) for s in range(1, 6)},
        },
        "hotCommentTagStatistics": [],
        "maxPage": min(page_count(len(posts), size), MAX_PAGE),
        "comments": [comment(p, sku, layout_changed) for p in chunk],
    }
    callback = query.get("callback") or "fetchJSON_comment98"
    body = f"{callback}({json.dumps(payload, ensure_ascii=False)});"
    # JD's club API has always answered in GBK; GB18030 encodes what GBK cannot (emoji)
    return Reply(200, body.encode("gb18030"), "text/html;charset=GBK")
