"""club.jd.com's comment API: `fetchJSON_comment98({...});` in GBK, pages counted from 0.

Scenario events may carry `extra`: `replies: [...]` (the shop's customer-service replies) and
`after_comment: "..."` (the buyer's appended review, 追评).
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from crawlers.replay.reply import Reply
from crawlers.replay.sites.common import china_time, int_arg, masked, page_count, pick, token

PATH = "/comment/productPageComments.action"
MAX_PAGE = 100  # JD never lists past page 100


def comment(post: Any, sku: str, layout_changed: bool = False) -> dict[str, Any]:
    """A comment as club.jd.com sends it, with the images, order and product fields around the text."""
    n_images = pick(post.id, [0, 0, 1, 3, 5], "images")
    images = [{"id": int(token(f"img{post.id}{i}", 10, "123456789")), "associateId": int(post.id[-9:]),
               "productId": 0, "imgUrl": f"//img30.360buyimg.com/n0/s128x96_jfs/t1/{token(f'jfs{post.id}{i}', 6, '0123456789')}"
                                         f"/{token(f'path{post.id}{i}', 4, '0123456789')}/{token(f'f{post.id}{i}', 5)}"
                                         f"/{token(f'jpg{post.id}{i}', 16)}/{token(f'x{post.id}{i}', 16)}.jpg",
               "available": 1, "pin": "", "dealt": 0, "imgTitle": "", "isMain": 0, "jShow": 0}
              for i in range(n_images)]
    body: dict[str, Any] = {
        "id": int(post.id), "topped": 0, "guid": hashlib.md5(post.id.encode()).hexdigest(),
        "content": post.text, "creationTime": china_time(post.created_at), "isDelete": False,
        "isTop": False, "userImageUrl": f"storage.360buyimg.com/i.imageUpload/{token('u' + post.id, 24)}_mid.jpg",
        "topped2": 0, "replyCount": post.comments, "score": post.rating or 5, "imageStatus": 1, "title": "",
        "usefulVoteCount": post.likes, "userClient": pick(post.id, [2, 4, 21], "uc"), "discussionId": 0,
        "imageCount": n_images, "anonymousFlag": 1, "plusAvailable": pick(post.id, [0, 201], "plus"),
        "mobileVersion": "", "images": images, "mergeOrderStatus": 2,
        "productColor": pick(post.id, ["经典白", "曜石黑", "雾霾蓝"], "color"),
        "productSize": pick(post.id, ["标准版", "升级版"], "size"), "textIntegral": 20, "imageIntegral": 20,
        "ownId": 0, "ownType": 0, "extMap": {"buyCount": pick(post.id, [1, 1, 2, 3], "buy")},
        "status": 1, "referenceId": sku, "referenceTime": china_time(post.created_at),
        "nickname": masked(post.author.name), "replyCount2": 0, "userImage": "",
        "orderId": 0, "integral": 40, "productSales": "[]", "userLevelId": "105",
        "userImgFlag": 0, "userProvince": "", "isReplyGrade": False, "days": pick(post.id, [1, 3, 7, 15], "days"),
        "afterDays": 0, "afterUserComment": None, "referenceName": "",
        "userLevelName": pick(post.id, ["PLUS会员", "金牌会员", "银牌会员", "注册会员"], "level"),
        "userClientShow": pick(post.id, ["来自京东iPhone客户端", "来自京东Android客户端", ""], "client"),
        "referenceType": "Product", "referenceImage": f"jfs/t1/{token('ri' + sku, 24)}.jpg",
        "firstCategory": 737, "secondCategory": 794, "thirdCategory": 878,
        "aesPin": token(f"aes{post.id}", 40, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-"),
        "jwotestProduct": None, "isMobile": True, "replies": [],
    }
    if replies := post.extra.get("replies"):
        body["replies"] = [{"id": int(post.id) * 10 + i, "content": text, "nickname": "京东客服",
                            "creationTime": china_time(post.created_at)} for i, text in enumerate(replies)]
    if after := post.extra.get("after_comment"):
        body["afterDays"] = 1
        body["afterUserComment"] = {"id": int(post.id), "hAfterUserComment": {"content": after},
                                    "created": china_time(post.created_at)}
    if layout_changed:  # a redesign that renames fields: the spider must dead-letter, not crash
        body["commentContent"] = body.pop("content")
        body["createTime"] = body.pop("creationTime")
    return body


def comments_page(posts: list[Any], sku: str, chunk: list[Any], page: int, size: int,
                  layout_changed: bool = False) -> dict[str, Any]:
    ratings = [p.rating or 5 for p in posts]
    good = sum(r >= 4 for r in ratings)
    return {
        "jwotestProduct": None, "score": 0, "soType": 5, "imageListCount": 500, "vTagStatistics": None,
        "csv": "comment,ct-cs,ct-s-0",
        "productAttr": None, "hotCommentTagStatistics": [
            {"id": token(f"tag{sku}{n}", 12, "0123456789"), "name": name, "count": 100 + n * 37, "type": 4,
             "canBeFiltered": True, "stand": 1, "rid": f"{sku}{n}", "productId": int(sku) if sku.isdigit() else 0,
             "ckeKeyWordBury": f"eid=100^^tagid={n}^^pid=20005^^sku={sku}^^sversion=1001^^token={token(sku + name, 16)}"}
            for n, name in enumerate(["送货快", "质量很好", "包装精美", "性价比高", "客服热情"])],
        "productCommentSummary": {
            "skuId": int(sku) if sku.isdigit() else 0, "productId": int(sku) if sku.isdigit() else 0,
            "commentCount": len(posts), "commentCountStr": f"{len(posts)}+",
            "goodRate": round(good / len(ratings), 3) if ratings else 0,
            "goodRateShow": round(100 * good / len(ratings)) if ratings else 0, "goodCount": good,
            "poorCount": sum(r <= 2 for r in ratings), "generalCount": sum(r == 3 for r in ratings),
            "afterCount": 0, "showCount": 0, "videoCount": 0, "defaultGoodCount": 0, "averageScore": 5,
            **{f"score{s}Count": sum(r == s for r in ratings) for s in range(1, 6)},
        },
        "maxPage": min(page_count(len(posts), size), MAX_PAGE),
        "testId": "cmt", "comments": [comment(p, sku, layout_changed) for p in chunk],
    }


def jsonp_gbk(payload: dict[str, Any], callback: str = "fetchJSON_comment98") -> bytes:
    """JD's club API has always answered in GBK; GB18030 encodes what GBK cannot (emoji)."""
    return f"{callback}({json.dumps(payload, ensure_ascii=False)});".encode("gb18030")


def handle(server: Any, path: str, query: dict[str, str], layout_changed: bool = False,
           cookies: dict[str, str] | None = None) -> Any:
    if path != PATH:
        return None
    sku = query.get("productId", "")
    wanted = server.scenario.ids.get("jd")
    posts = server.posts("jd") if sku and (not wanted or sku == wanted) else []
    size = server.page_size
    page = max(int_arg(query, "page", 0), 0)
    shown = 0 if getattr(server, "jd_repeat_first_page", False) else page  # how JD withholds later pages
    chunk = posts[shown * size:(shown + 1) * size] if page < MAX_PAGE else []
    payload = comments_page(posts, sku, chunk, page, size, layout_changed)
    return Reply(200, jsonp_gbk(payload, query.get("callback") or "fetchJSON_comment98"), "text/html;charset=GBK")
