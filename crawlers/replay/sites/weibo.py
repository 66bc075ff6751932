"""Weibo in its real shapes: m.weibo.cn JSON (search, account timeline, long text, comments) and
s.weibo.com's HTML search with time slices, `a.next`, the 50-page cap and the no-result card.

Scenario events may carry `extra`: `long: true` (the list shows a cut text, `/statuses/extend`
the whole), `pinned: true` (mblogtype 2 on top of the account's timeline), `comment_texts: [...]`,
`retweet: {id, text, author, hours_before}` (a repost of that original), `dated_ahead_hours: N`
(the post shows a time N hours after it was published, as a wrong device clock makes it),
`replies: [n0, n1, ...]` (replies under comment k; by default k % 4 of them, one a minute after the
comment). hotflow shows a comment's newest reply inline when k is odd; hotFlowChild lists them all.
"""

from __future__ import annotations

import hashlib
import html
import math
from datetime import datetime, timedelta
from typing import Any

from crawlers.normalize import CHINA
from crawlers.replay.reply import Reply
from crawlers.replay.scenario import Author
from crawlers.replay.sites.common import B62, escape, pick, token

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


def user_json(author: Any) -> dict[str, Any]:
    """The user object m.weibo.cn sends with every post, with the badges and images that make it large."""
    uid = str(author.id)
    avatar = token(f"avatar:{uid}", 32)
    return {
        "id": int(uid), "screen_name": author.name,
        "profile_image_url": f"https://tvax{int(uid) % 4 + 1}.sinaimg.cn/crop.0.0.996.996.180/{avatar}.jpg"
                             f"?KID=imgbed,tva&Expires={1_700_000_000 + int(uid) % 99_999}&ssig={token(uid, 10, B62)}",
        "profile_url": f"https://m.weibo.cn/u/{uid}?uid={uid}&luicode=10000011&lfid=100103type%3D1",
        "statuses_count": pick(uid, [48, 312, 1_008, 4_520, 12_876], "statuses"),
        "verified": author.verified, "verified_type": 0 if author.verified else -1,
        **({"verified_type_ext": 1, "verified_reason": f"{author.name}官方微博"} if author.verified else {}),
        "close_blue_v": False, "description": pick(uid, ["热爱生活，认真购物。", "记录日常，偶尔吐槽。",
                                                         "一个普通的上班族", ""], "desc"),
        "gender": pick(uid, ["f", "m"], "gender"), "mbtype": pick(uid, [0, 2, 12], "mbtype"),
        "urank": pick(uid, [4, 9, 21, 36, 43], "urank"), "mbrank": pick(uid, [0, 1, 3, 6], "mbrank"),
        "follow_me": False, "following": False,
        "followers_count": _count(author.followers), "follow_count": pick(uid, [67, 240, 283, 512], "follow"),
        "cover_image_phone": "https://tva1.sinaimg.cn/crop.0.0.640.640.640/549d0121tw1egm1kjly3jj20hs0hsq4f.jpg",
        "avatar_hd": f"https://wx1.sinaimg.cn/orj480/{avatar}.jpg", "like": False, "like_me": False,
        "badge": {k: 1 for k in pick(uid, [("user_name_certificate",),
                                            ("bind_taobao", "unread_pool", "unread_pool_ext", "user_name_certificate"),
                                            ("vip_activity2", "national_day_2018", "wbzy_2018", "hongbaofei_2019",
                                             "user_name_certificate", "wusi_2019", "earth_2019")], "badge")},
    }


def _pics(post_id: str) -> list[dict[str, Any]]:
    count = pick(post_id, [0, 0, 0, 1, 3, 4, 9], "pics")
    out = []
    for i in range(count):
        pid = token(f"pic:{post_id}:{i}", 32)
        out.append({"pid": pid, "url": f"https://wx3.sinaimg.cn/orj360/{pid}.jpg", "size": "orj360",
                    "geo": {"width": 360, "height": 480, "croped": False},
                    "large": {"size": "large", "url": f"https://wx3.sinaimg.cn/large/{pid}.jpg",
                              "geo": {"width": "1080", "height": "1440", "croped": False}}})
    return out


def _page_info(post: Any) -> dict[str, Any] | None:
    if pick(post.id, [0, 0, 0, 1], "video") == 0:
        return None
    fid = token(f"fid:{post.id}", 16, "0123456789")
    sig = token(f"sig:{post.id}", 10, B62)
    return {"page_pic": {"url": f"https://wx4.sinaimg.cn/orj480/{token('cover' + post.id, 32)}.jpg"},
            "page_url": f"https://m.weibo.cn/p/index?containerid=230444{fid}&url_type=39&object_type=video&pos=1",
            "page_title": f"{post.author.name}的微博视频", "content1": f"{post.author.name}的微博视频",
            "content2": post.text[:40], "type": "video",
            "media_info": {"video_orientation": "vertical", "name": f"{post.author.name}的微博视频",
                           "duration": pick(post.id, [9, 14, 37, 58], "dur"),
                           "stream_url": f"https://f.video.weibocdn.com/{token('ld' + post.id, 28, B62)}.mp4"
                                         f"?label=mp4_ld&template=360x640.24.0&Expires=1700000000&ssig={sig}",
                           "stream_url_hd": f"https://f.video.weibocdn.com/{token('hd' + post.id, 28, B62)}.mp4"
                                            f"?label=mp4_hd&template=540x960.24.0&Expires=1700000000&ssig={sig}",
                           "h5_url": f"https://video.weibo.com/show?fid=1034:{fid}"},
            "play_count": f"{pick(post.id, [3, 12, 86], 'plays')}万次播放"}


def mblog(post: Any, brand_name: str, layout_changed: bool = False) -> dict[str, Any]:
    """An mblog as m.weibo.cn sends it: the fields crisiswatch reads among the many it does not."""
    text = escape(post.text).replace(f"@{brand_name}", f"<a href='/n/{brand_name}'>@{brand_name}</a>")
    text += "".join(f'<span class="url-icon"><img alt={e} src="//h5.sinaimg.cn/m/emoticon/icon/default/'
                    f'd_{token(e + post.id, 8)}.png" style="width:1em; height:1em;" /></span>'
                    for e in pick(post.id, [(), ("[怒]",), ("[哈哈]", "[赞]"), ()], "emoji"))
    long = is_long(post)
    if long:
        text = f"{escape(post.text[:LONG_CUT])} ...<a href=\"/status/{post.id}\">全文</a>"
    pics = _pics(post.id)
    body: dict[str, Any] = {
        "visible": {"type": 0, "list_id": 0},
        # a scenario may give the raw time text (a malformed one that validation must dead-letter), or
        # date a post ahead of its publication (`extra.dated_ahead_hours`: its author's clock is wrong)
        "created_at": post.extra.get("created_at")
        or weibo_time(post.created_at + timedelta(hours=float(post.extra.get("dated_ahead_hours", 0)))),
        "id": post.id, "idstr": post.id, "mid": post.id, "bid": bid(post.id),
        "can_edit": False, "show_additional_indication": 0,
        "text": text, "textLength": len(post.text) * 2, "source": pick(post.id, SOURCES_APPS, "app"),
        "favorited": False, "pic_ids": [p["pid"] for p in pics], "pic_types": ",".join("0" for _ in pics),
        "is_paid": False, "mblog_vip_type": 0,
        "user": user_json(post.author),
        "reposts_count": _count(post.reposts), "comments_count": _count(post.comments),
        "reprint_cmt_count": 0, "attitudes_count": _count(post.likes), "pending_approval_count": 0,
        "isLongText": long, "reward_exhibition_type": 0, "hide_flag": 0,
        "mblogtype": 2 if post.extra.get("pinned") else 0, "more_info_type": 0,
        "number_display_strategy": {"apply_scenario_flag": 3, "display_text_min_number": 1000000,
                                    "display_text": "100万+"},
        "content_auth": 0, "comment_manage_info": {"comment_permission_type": -1, "approval_comment_type": 0},
        "pic_num": len(pics), "region_name": f"发布于 {pick(post.id, REGIONS, 'region')}",
        "mlevel": 0, "edit_config": {"edited": False}, "mblog_menu_new_style": 0, "show_attitude_bar": 0,
        "weibo_position": 1, "cardid": pick(post.id, ["star_212", "star_118", ""], "cardid"),
    }
    if pics:
        body.update(pics=pics, thumbnail_pic=pics[0]["url"].replace("orj360", "thumbnail"),
                    bmiddle_pic=pics[0]["url"].replace("orj360", "bmiddle"),
                    original_pic=pics[0]["large"]["url"], picStatus=",".join(f"{i}:1" for i in range(len(pics))))
    if page_info := _page_info(post):
        body["page_info"] = page_info
    if retweet := post.extra.get("retweet"):
        body["retweeted_status"] = retweeted(retweet, post)
        body["raw_text"] = post.text
    if layout_changed:  # a redesign that renames fields: the spider must dead-letter, not crash
        body["created_time"] = body.pop("created_at")
        body["content"] = body.pop("text")
    return body


def retweeted(original: dict[str, Any], post: Any) -> dict[str, Any]:
    """The original a repost spreads (scenario `extra.retweet`: id, text, author, hours_before)."""
    a = original.get("author") or {}
    author = Author(id=str(a.get("id", 1_800_000_001)), name=a.get("name", "原博主"),
                    followers=int(a.get("followers", 1000)), verified=bool(a.get("verified", False)))
    native_id = str(original.get("id") or int(post.id) - 7_777)
    at = post.created_at - timedelta(hours=float(original.get("hours_before", 2)))
    return {"created_at": weibo_time(at), "id": native_id, "idstr": native_id, "mid": native_id,
            "bid": bid(native_id), "text": escape(original.get("text", "")), "source": "微博 weibo.com",
            "user": user_json(author), "reposts_count": _count(int(original.get("reposts", 0))),
            "comments_count": _count(int(original.get("comments", 0))),
            "attitudes_count": _count(int(original.get("likes", 0))), "isLongText": False, "mblogtype": 0,
            "visible": {"type": 0, "list_id": 0}, "pic_ids": [], "pic_types": ""}


SOURCES_APPS = ("iPhone客户端", "HUAWEI Mate 60 Pro", "微博 weibo.com", "Redmi K70", "微博轻享版")
REGIONS = ("上海", "北京", "广东", "浙江", "四川", "江苏")


TIMELINE_CONTAINERS = ("230413", "107603")  # the account's posts: current and pre-2022 container


def handle(server: Any, path: str, query: dict[str, str], layout_changed: bool = False,
           cookies: dict[str, str] | None = None) -> Any:
    if path == "/api/container/getIndex":
        container = query.get("containerid", "")
        prefix = container[:6]
        if prefix in TIMELINE_CONTAINERS and container[6:].split("_", 1)[0].isdigit():
            if prefix not in server.weibo_timeline_containers:
                return _json({"ok": 0, "msg": "这里还没有内容", "data": {"cards": []}})
            return timeline(server, prefix, container[6:].split("_", 1)[0], query, layout_changed)
        if container.startswith("100103"):
            return search(server, container, query, layout_changed)
        return _json({"ok": 0, "msg": "这里还没有内容"})
    if path == "/statuses/extend":
        return extend(server, query.get("id", ""))
    if path == "/comments/hotflow":
        return hotflow(server, query.get("id") or query.get("mid", ""), query.get("max_id"), layout_changed)
    if path == "/comments/hotFlowChild":
        return hotflow_child(server, query.get("cid", ""), query.get("max_id"), layout_changed)
    if path == "/api/comments/show":
        return comments_show(server, query.get("id", ""), int(query.get("page", "1") or 1), layout_changed)
    return None  # s.weibo.com's half of this site (path /weibo) answers in weibo_html


def _json(payload: Any) -> Any:
    return Reply.json(payload)


def _empty() -> Any:
    return _json({"ok": 0, "msg": "这里还没有内容", "data": {"cards": []}})


def _people_card(posts: list[Any], keyword: str) -> dict[str, Any]:
    """The "相关用户" block m.weibo.cn puts among search results: users, no posts."""
    users = [{"card_type": 10, "user": user_json(p.author), "desc1": f"粉丝：{p.author.followers}",
              "desc2": "", "scheme": f"https://m.weibo.cn/u/{p.author.id}"} for p in posts[:3]]
    return {"card_type": 11, "title": f"{keyword}相关用户", "show_type": 1, "card_group": users}


def search_page(posts: list[Any], brand_name: str, keyword: str, page: int, total: int,
                layout_changed: bool = False, container: str = "") -> dict[str, Any]:
    """One page of m.weibo.cn's search: bare cards, card_group blocks and a people block among them."""
    cards = [{"card_type": 9, "itemid": f"seqid:{p.id}", "scheme": f"https://m.weibo.cn/status/{bid(p.id)}",
              "mblog": mblog(p, brand_name, layout_changed), "show_type": 1} for p in posts]
    grouped: list[dict[str, Any]] = [cards[0]] if cards else []
    for start in range(1, len(cards), 4):  # the real search mixes bare cards with card_group blocks
        grouped.append({"card_type": 11, "show_type": 1, "card_group": cards[start:start + 4]})
    if page == 1 and posts:
        grouped.insert(1, _people_card(posts, keyword))
    return {"ok": 1, "data": {
        "cardlistInfo": {"containerid": container or f"100103type=61&q={keyword}", "v_p": "42", "show_style": 1,
                         "page_type": "searchall", "page": page + 1, "total": total,
                         "title_top": keyword, "can_shared": 1},
        "cards": grouped, "showAppTips": 0, "scheme": f"sinaweibo://searchall?q={keyword}",
    }}


def search(server: Any, container: str, query: dict[str, str], layout_changed: bool) -> Any:
    """Search by `100103type=N&q=...`: type 61 (实时) newest first; the others (type 1, 综合, the app's
    default; 60, 热门) rank by popularity, where old hot posts come before new quiet ones."""
    keyword = container.split("&q=", 1)[-1] if "&q=" in container else query.get("q", "")
    page = max(int(query.get("page", "1") or 1), 1)
    posts = [p for p in server.posts("weibo") if keyword and keyword in p.text]
    if not container.startswith("100103type=61&"):
        posts.sort(key=lambda p: (p.likes + 3 * p.reposts + 2 * p.comments, p.created_at), reverse=True)
    size = server.page_size
    chunk = posts[(page - 1) * size: page * size]
    if not chunk:
        return _empty()
    brand_name = server.scenario.brand["names"][0]
    return _json(search_page(chunk, brand_name, keyword, page, len(posts), layout_changed, container))


def timeline(server: Any, prefix: str, uid: str, query: dict[str, str], layout_changed: bool) -> Any:
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
    return _json(timeline_page(chunk, server.scenario.brand["names"][0], prefix, uid, len(ordered),
                               more=offset + size < len(ordered), layout_changed=layout_changed))


def timeline_page(posts: list[Any], brand_name: str, prefix: str, uid: str, total: int, more: bool,
                  layout_changed: bool = False) -> dict[str, Any]:
    info: dict[str, Any] = {"containerid": f"{prefix}{uid}", "v_p": 42, "show_style": 1, "total": total,
                            "autoLoadMoreIndex": 6}
    if more:
        info["since_id"] = int(posts[-1].id)
    cards = [{"card_type": 9, "itemid": f"{prefix}{uid}_-_{p.id}",
              "scheme": f"https://m.weibo.cn/status/{bid(p.id)}?mblogid={bid(p.id)}&luicode=10000011",
              "mblog": mblog(p, brand_name, layout_changed), "show_type": 0} for p in posts]
    if prefix == "230413":  # the current profile tab wraps some posts in card_group blocks
        cards = cards[:1] + ([{"card_type": 11, "card_group": cards[1:3]}] if len(cards) > 1 else []) + cards[3:]
    return {"ok": 1, "data": {"cardlistInfo": info, "cards": cards, "scheme": ""}}


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


def _comment_json(c: dict, post: Any, when: str, layout_changed: bool, replies: list[dict] | None = None,
                  inline: bool = True) -> dict[str, Any]:
    shown = replies[:1] if replies and inline and c["k"] % 2 else []  # the newest reply, as hotflow shows one
    body = {"created_at": when, "id": c["id"], "rootid": c["id"], "floor_number": c["k"] + 1, "mid": post.id,
            "text": c["text"], "disable_reply": 0, "comment_badge": _badges(c["id"]),
            "source": "来自上海", "like_count": _likes(c), "total_number": len(replies or []),
            "comments": [_reply_json(r, c, layout_changed) for r in shown] or False,
            "max_id": int(replies[1]["id"]) if shown and len(replies) > 1 else 0,
            "isLikedByMblogAuthor": False, "more_info_type": 0, "bid": bid(c["id"]), "liked": False,
            "readtimetype": "comment", "user": user_json(c["author"])}
    if layout_changed:
        body["created_time"] = body.pop("created_at")
        body["content"] = body.pop("text")
    return body


def _badges(seed: str) -> list[dict[str, Any]]:
    """The fan badges m.weibo.cn hangs on comments and replies (a good part of their size)."""
    if pick(seed, [0, 1, 1], "badge") == 0:
        return []
    return [{"pic_url": f"https://h5.sinaimg.cn/upload/1007/25/2020/05/17/feed_icon_{token(seed, 10)}.png",
             "name": "loyal_fans", "length": 1.33, "actionlog": {"act_code": "3671", "ext": "status:fans"},
             "scheme": "https://kefu.weibo.com/faqdetail?id=20848"}]


REPLY_TEXTS = ("我也是，催了三次了", "同问，有结果了吗", "客服让我再等等[怒]", "已经投诉了，等回复", "+1 一样的情况",
               "今天刚退款成功，坚持找客服", "物流一直不动 & 电话打不通", "楼上说的对 <真的>")


def replies(server: Any, post: Any, c: dict) -> list[dict[str, Any]]:
    """Comment `c`'s replies published by the replay clock, newest first."""
    counts = post.extra.get("replies") or []
    n = int(counts[c["k"]]) if c["k"] < len(counts) else c["k"] % 4
    others = [p for p in server.scenario.posts if p.source == "weibo"] or [post]
    out = []
    for j in range(n):
        at = c["at"] + timedelta(minutes=j + 1)
        if at > server.clock():
            break
        author = others[(int(c["id"]) + j * 5) % len(others)].author
        out.append({"j": j, "id": str(int(c["id"]) * 1000 + j + 1), "at": at, "author": author,
                    "text": f"回复@{c['author'].name}:{REPLY_TEXTS[(c['k'] + j) % len(REPLY_TEXTS)]}"})
    return out[::-1]


def _reply_json(r: dict, c: dict, layout_changed: bool) -> dict[str, Any]:
    words = r["text"].split(":", 1)[-1]
    name = c["author"].name
    body = {"created_at": weibo_time(r["at"]), "id": r["id"], "rootid": c["id"], "floor_number": 0,
            "text": f"回复<a href='/n/{name}'>@{name}</a>:{escape(words)}", "disable_reply": 0,
            "comment_badge": _badges(r["id"]), "user": user_json(r["author"]), "mid": r["id"],
            "reply_original_text": words, "readtimetype": "comment", "shouldShowColon": 0, "bid": bid(r["id"]),
            "source": pick(r["id"], ["来自上海", "来自广东", "来自四川"], "region"), "like_count": r["j"] % 5,
            "liked": False}
    if layout_changed:
        body["created_time"] = body.pop("created_at")
        body["content"] = body.pop("text")
    return body


def _comment(server: Any, cid: str) -> tuple[Any, dict] | None:
    for post in server.posts("weibo"):
        for c in comments(server, post):
            if c["id"] == cid:
                return post, c
    return None


ERROR_PAGE = ('<!DOCTYPE html><html lang="zh"><head><meta charset="UTF-8"><title>微博-出错了</title></head><body>'
              '<div class="h5-4box"><p class="h5-4con">暂无数据</p><div class="h5-5con"><a href="/">返回首页</a>'
              '</div></div></body></html>').encode()


def hotflow_child(server: Any, cid: str, max_id: str | None, layout_changed: bool) -> Any:
    """A comment's replies newest first, paged by `max_id` (the next reply's id, 0 after the last), flat: no
    second `data` around the list as in hotflow. A removed comment answers m.weibo.cn's HTML error page."""
    found = _comment(server, cid)
    if found is None:
        return Reply(200, ERROR_PAGE, "text/html; charset=utf-8")
    post, c = found
    every = replies(server, post, c)
    ids = [r["id"] for r in every]
    offset = ids.index(max_id) if max_id and max_id in ids else 0
    chunk = every[offset: offset + server.page_size]
    nxt = every[offset + server.page_size]["id"] if offset + server.page_size < len(every) else 0
    return _json(child_page(post, c, every, chunk, nxt, layout_changed))


def child_page(post: Any, c: dict, every: list[dict], chunk: list[dict], nxt: str | int,
               layout_changed: bool = False) -> dict[str, Any]:
    """One hotFlowChild page: `chunk` of the comment's replies `every`, `nxt` the next page's max_id."""
    return {"ok": 1, "data": [_reply_json(r, c, layout_changed) for r in chunk],
            "total_number": len(every), "max_id": int(nxt), "max_id_type": 0,
            "rootComment": [_comment_json(c, post, weibo_time(c["at"]), False, every, inline=False)]}


def _likes(c: dict) -> int:
    """A comment's likes: the early comments gathered the most (so hotflow lists the newest last)."""
    return max(0, 3 * (60 - c["k"])) + c["k"] % 3


def hotflow(server: Any, native_id: str, max_id: str | None, layout_changed: bool) -> Any:
    """Comments sorted by likes, as hotflow lists them (not by time): a new comment comes last."""
    post = _post(server, native_id)
    if post is None:
        return _json({"ok": 0, "msg": "暂无评论"})
    every = sorted(comments(server, post), key=lambda c: (-_likes(c), c["id"]))
    ids = [c["id"] for c in every]
    offset = ids.index(max_id) if max_id and max_id in ids else 0
    chunk = every[offset: offset + server.page_size]
    nxt = every[offset + server.page_size]["id"] if offset + server.page_size < len(every) else 0
    return _json({"ok": 1, "data": {
        "data": [_comment_json(c, post, weibo_time(c["at"]), layout_changed, replies(server, post, c))
                 for c in chunk],
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
        "data": [_comment_json(c, post, _mobile_time(c["at"], now), layout_changed, inline=False)
                 for c in chunk],
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

