"""Tmall reviews: the mtop review API the item page uses now (signed, `_m_h5_tk` token round trip),
and the older rate.tmall.com list_detail_rate (`jsonp928({"rateDetail":{...}})`), pages from 1.

Scenario events may carry `extra`: `reply: "..."` (the shop's reply) and `append: "..."` (the buyer's
appended review), sent by the mtop API.
"""

from __future__ import annotations

import json
from typing import Any

from crawlers import mtop
from crawlers.replay.reply import Reply
from crawlers.replay.sites.common import (
    B62,
    china_time,
    int_arg,
    masked,
    page_count,
    page_of,
    pick,
    relative_day,
    token,
)

PATH = "/list_detail_rate.htm"
MTOP_API = "mtop.alibaba.review.list.for.new.pc.detail"
MTOP_PATH = f"/h5/{MTOP_API}/1.0/"


def rate(post: Any, layout_changed: bool = False) -> dict[str, Any]:
    """A rate as rate.tmall.com sends it, among the member, picture and service fields around the text."""
    stars = post.rating or 5
    pics = [f"//img.alicdn.com/bao/uploaded/i{n % 4 + 1}/{token(f'rp{post.id}{n}', 10, '0123456789')}/"
            f"O1CN01{token(f'rate{post.id}{n}', 22, B62)}_!!0-rate.jpg"
            for n in range(pick(post.id, [0, 0, 1, 2, 4], "pics"))]
    body: dict[str, Any] = {
        "aliMallSeller": False, "anony": True, "appendComment": None, "attributes": "",
        "attributesMap": {}, "aucNumId": "", "auctionPicUrl": "", "auctionPrice": "",
        "auctionSku": f"颜色分类:{pick(post.id, ['白色', '黑色', '灰色'], 'c')};"
                      f"规格:{pick(post.id, ['标准装', '家庭装'], 's')}",
        "auctionTitle": "", "buyCount": 0, "carServiceLocation": "", "cmsSource": "天猫",
        "displayRatePic": pick(post.id, ["b_red_3.gif", "b_blue_1.gif", ""], "ratepic"),
        "displayRateSum": pick(post.id, [12, 251, 1033], "sum"),
        "displayUserLink": "", "displayUserNick": masked(post.author.name),
        "displayUserNumId": "", "displayUserRateLink": "", "dsr": 0.0, "fromMall": True, "fromMemory": 0,
        "gold": False, "goldUser": False, "headExtraPic": "",
        "id": int(post.id), "memberIcon": "", "pics": pics, "picsSmall": "", "position": "920-11-18,20;",
        "rateContent": post.text, "rateDate": china_time(post.created_at),
        "reply": "", "sellerId": 2200000001, "serviceRateContent": "", "structuredRateList": [],
        "tamllSweetLevel": pick(post.id, [0, 1, 2, 3], "lv"),
        "tmallSweetPic": pick(post.id, ["tmall-grade-t1-18.png", "tmall-grade-t3-18.png", ""], "sweet"),
        "tradeEndTime": int(post.created_at.timestamp() * 1000) - 3 * 86_400_000,
        "tradeId": "", "useful": True, "userIdEncryption": "", "userInfo": "", "userVipLevel": 0,
        "userVipPic": "",
        # Taobao's good/neutral/bad grade; Tmall's web list shows no stars
        "rateType": 1 if stars >= 4 else (0 if stars == 3 else -1),
    }
    if layout_changed:
        body["content"] = body.pop("rateContent")
        body["gmtCreate"] = body.pop("rateDate")
    return body


def rate_page(posts: list[Any], chunk: list[Any], page: int, size: int, layout_changed: bool = False) -> dict[str, Any]:
    return {"rateDetail": {
        "rateCount": {"total": len(posts), "shop": 0, "picNum": 0, "used": 0},
        "rateDanceInfo": {"currentMilles": 1700000000000, "intervalMilles": 0, "showChooseTopic": False,
                          "storeType": 4},
        "rateList": [rate(p, layout_changed) for p in chunk],
        "searchinfo": "", "from": "search", "isTmallRate": True,
        "paginator": {"lastPage": page_count(len(posts), size), "page": page, "items": len(posts)},
        "tags": [],
    }}


def review_vo(post: Any, layout_changed: bool = False, day_dates: bool = False) -> dict[str, Any]:
    """A review as the mtop API sends it (reviewVOList entries).

    Public samples date reviews by day ("3天前", "2个月前"): `day_dates` sends that; otherwise the
    review's time (the demo's scenarios are minute by minute, and a day-dated batch would read as a
    spike at midnight).
    """
    pics = [f"//img.alicdn.com/imgextra/i{n % 4 + 1}/O1CN01{token(f'mt{post.id}{n}', 22, B62)}_!!0-rate.jpg"
            for n in range(pick(post.id, [0, 1, 2, 3], "mpics"))]
    body: dict[str, Any] = {
        "allowInteract": "true",
        "buyCreditLevelPic": f"https://img.alicdn.com/imgextra/i4/O1CN01{token('lv' + post.id, 22, B62)}"
                             "_!!6000000002457-2-tps-92-45.png",
        "headPicUrl": f"http://img.alicdn.com/tps/TB1{token('hp' + post.id, 21, B62)}-210-210.png_70x70.jpg",
        "id": post.id,
        "interactionVO": {"alreadyLike": "false", "commentCount": str(post.comments), "likeCount": str(post.likes),
                          "opinionCount": "0", "readCount": str(post.likes * 9 + 57), "reviewId": post.id},
        "reply": "", "reviewDate": relative_day(post.created_at) if day_dates else china_time(post.created_at),
        "reviewPicPathList": pics,
        "reviewWordContent": post.text,
        "skuText": {"颜色分类": pick(post.id, ["白色", "黑色", "灰色"], "c"), "规格": pick(post.id, ["标准装", "家庭装"], "s")},
        "userNick": masked(post.author.name), "videoVOList": [],
    }
    if reply := post.extra.get("reply"):
        body["reply"] = reply
    if append := post.extra.get("append"):
        body["reviewAppendVO"] = {"appendedWordContent": append, "appendDays": "1"}
    if layout_changed:
        body["content"] = body.pop("reviewWordContent")
        body["gmtCreate"] = body.pop("reviewDate")
    return body


def mtop_module(chunk: list[Any], has_next: bool, layout_changed: bool = False,
                day_dates: bool = False) -> dict[str, Any]:
    return {"module": {"reviewVOList": [review_vo(p, layout_changed, day_dates) for p in chunk],
                       "hasNext": "true" if has_next else "false", "reviewCount": str(len(chunk)),
                       "filterInfo": {"orderType": "feedbackdate"}}}


def mtop_reply(data: dict[str, Any], ret: str = "SUCCESS::调用成功") -> dict[str, Any]:
    return {"api": MTOP_API, "data": data, "ret": [ret], "v": "1.0"}


def _mtop(server: Any, query: dict[str, str], cookies: dict[str, str], layout_changed: bool) -> Any:
    callback = query.get("callback")

    def answer(payload: dict[str, Any], set_cookies: tuple[str, ...] = ()) -> Any:
        body = json.dumps(payload, ensure_ascii=False)
        body = f"{callback}({body})" if callback else body
        return Reply(200, body.encode("utf-8"), "application/json;charset=UTF-8", cookies=list(set_cookies))

    issued = server.mtop_tokens
    tk = mtop.token_of(cookies)
    if not tk or tk not in issued:
        fresh = token(f"tk{len(issued)}", 32)
        issued.add(fresh)
        code = "FAIL_SYS_TOKEN_EMPTY::令牌为空" if not tk else "FAIL_SYS_TOKEN_EXOIRED::令牌过期"
        return answer(mtop_reply({}, code), (f"{mtop.TOKEN_COOKIE}={fresh}_1700000000000; Domain=.tmall.com; Path=/",
                                             f"_m_h5_tk_enc={token('enc' + fresh, 32)}; Domain=.tmall.com; Path=/"))
    data = query.get("data", "")
    if query.get("sign") != mtop.sign(tk, query.get("t", ""), query.get("appKey", ""), data):
        return answer(mtop_reply({}, "FAIL_SYS_ILLEGAL_ACCESS::非法请求"))
    try:
        request = json.loads(data)
    except ValueError:
        return answer(mtop_reply({}, "FAIL_SYS_ILLEGAL_ACCESS::非法请求"))
    item_id = str(request.get("itemId", ""))
    wanted = server.scenario.ids.get("tmall")
    posts = server.posts("tmall") if item_id and (not wanted or item_id == wanted) else []
    size, page = int(request.get("pageSize") or 20), max(int(request.get("pageNum") or 1), 1)
    chunk = page_of(posts, page, size)
    if not chunk and page > 1:  # past the last page the gateway answers without a module
        return answer(mtop_reply({}))
    # an item without reviews: a module with an empty list (a first page without a module is unreadable)
    return answer(mtop_reply(mtop_module(chunk, page * size < len(posts), layout_changed, server.mtop_day_dates)))


def handle(server: Any, path: str, query: dict[str, str], layout_changed: bool = False,
           cookies: dict[str, str] | None = None) -> Any:
    if path == MTOP_PATH:
        return _mtop(server, query, cookies or {}, layout_changed)
    if path != PATH:
        return None
    item_id = query.get("itemId", "")
    wanted = server.scenario.ids.get("tmall")
    posts = server.posts("tmall") if item_id and (not wanted or item_id == wanted) else []
    size = server.page_size
    page = max(int_arg(query, "currentPage", 1), 1)
    payload = rate_page(posts, page_of(posts, page, size), page, size, layout_changed)
    callback = query.get("callback") or "jsonp928"
    body = f"\r\n{callback}({json.dumps(payload, ensure_ascii=False)})"
    return Reply(200, body.encode("utf-8"), "text/javascript;charset=UTF-8")
