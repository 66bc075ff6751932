"""rate.tmall.com's list_detail_rate: `jsonp928({"rateDetail":{...}})`, pages counted from 1."""

from __future__ import annotations

import json
from typing import Any

from crawlers.replay.sites.common import china_time, int_arg, masked, page_count, page_of, pick

PATH = "/list_detail_rate.htm"


def rate(post: Any, layout_changed: bool = False) -> dict[str, Any]:
    stars = post.rating or 5
    body: dict[str, Any] = {
        "id": int(post.id), "displayUserNick": masked(post.author.name), "rateContent": post.text,
        "rateDate": china_time(post.created_at),
        "auctionSku": f"颜色分类:{pick(post.id, ['白色', '黑色', '灰色'], 'c')};"
                      f"规格:{pick(post.id, ['标准装', '家庭装'], 's')}",
        "reply": "", "appendComment": None, "pics": [], "tamllSweetLevel": pick(post.id, [0, 1, 2, 3], "lv"),
        # Taobao's good/neutral/bad grade; Tmall's web list shows no stars
        "rateType": 1 if stars >= 4 else (0 if stars == 3 else -1),
        "cmsSource": "天猫", "useful": True,
    }
    if layout_changed:
        body["content"] = body.pop("rateContent")
        body["gmtCreate"] = body.pop("rateDate")
    return body


def handle(server: Any, path: str, query: dict[str, str], layout_changed: bool = False) -> Any:
    from crawlers.replay.server import Reply

    if path != PATH:
        return None
    item_id = query.get("itemId", "")
    wanted = server.scenario.ids.get("tmall")
    posts = server.posts("tmall") if item_id and (not wanted or item_id == wanted) else []
    size = server.page_size
    page = max(int_arg(query, "currentPage", 1), 1)
    last = page_count(len(posts), size)
    payload = {"rateDetail": {
        "rateCount": {"total": len(posts), "picNum": 0, "used": 0},
        "rateList": [rate(p, layout_changed) for p in page_of(posts, page, size)],
        "paginator": {"lastPage": last, "page": page, "items": len(posts)},
        "searchinfo": "", "from": "search", "tags": [],
    }}
    callback = query.get("callback") or "jsonp928"
    body = f"\r\n{callback}({json.dumps(payload, ensure_ascii=False)})"
    return Reply(200, body.encode("utf-8"), "text/javascript;charset=UTF-8")
