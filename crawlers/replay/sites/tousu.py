"""黑猫投诉 (tousu.sina.com.cn): signed list APIs and complaint pages, in the real paths and shapes.

The list APIs check the request signature the way the site does, so a spider that signs wrongly
gets the site's refusal here too.
"""

from __future__ import annotations

import re
from typing import Any

from crawlers.replay.reply import Reply
from crawlers.replay.sites.common import escape, int_arg, page_count, page_of, pick, title_of, token
from crawlers.tousu_signature import SALT, signature

LISTS = ("/api/company/received_complaints", "/api/index/feed", "/api/index/s")
_VIEW = re.compile(r"^/complaint/view/(\d+)/?$")
STATUSES = ("处理中", "已回复", "已完成")
APPEALS = ("退款", "赔偿损失", "补发商品", "道歉", "要求解释原因", "尽快发货")


def _main(post: Any, company: str, layout_changed: bool = False) -> dict[str, Any]:
    main: dict[str, Any] = {
        "sn": post.id, "title": title_of(post.text), "appeal": pick(post.id, APPEALS, "appeal"),
        "summary": post.text, "cotitle": company, "cost": str(pick(post.id, [0, 59, 129, 299, 899], "cost")),
        "status": pick(post.id, STATUSES, "status"), "issue": "物流问题" if "快递" in post.text else "其他",
        "timestamp": str(int(post.created_at.timestamp())), "url": f"//tousu.sina.com.cn/complaint/view/{post.id}/",
        "upvote_amount": post.likes, "comment_amount": post.comments, "share_amount": post.reposts,
        "view_amount": post.likes * 7 + 40, "uid": str(post.author.id), "coid": "6384912431",
        "cotitle_url": "//tousu.sina.com.cn/company/view/?couid=6384912431", "evaluate_u": None,
        "attaches": [], "pics": [f"https://n.sinaimg.cn/tousu/{token('tp' + post.id + str(n), 16)}.jpg"
                                 for n in range(pick(post.id, [0, 1, 3], "tpics"))],
        "stage": pick(post.id, [1, 2, 3], "stage"), "is_hot": 0,
    }
    if layout_changed:
        main["content"] = main.pop("summary")
        main["ctime"] = main.pop("timestamp")
    return main


def _refused(msg: str) -> Any:
    return Reply.json({"result": {"status": {"code": -1, "msg": msg}, "data": {}}})


HIGHLIGHT = '<span class="code-red">{}</span>'


def _highlighted(entry: dict[str, Any], keyword: str) -> dict[str, Any]:
    """The search marks the keyword in the title, summary and company name, as the site's list shows it."""
    main = dict(entry["main"])
    for key in ("title", "summary", "cotitle"):
        if isinstance(main.get(key), str) and keyword:
            main[key] = main[key].replace(keyword, HIGHLIGHT.format(keyword))
    return {**entry, "main": main}


def relevance(post: Any) -> str:
    """The keyword search lists by relevance, not by time: a stable order unrelated to the posts' times."""
    return token("relevance" + post.id, 12)


def _list(server: Any, path: str, query: dict[str, str], layout_changed: bool) -> Any:
    signed = {k: v for k, v in query.items() if k not in ("ts", "rs", "signature", "callback", "_")}
    salt = getattr(server, "tousu_salt", SALT)  # the site's web app changes it now and then
    if query.get("signature") != signature(query.get("ts", ""), query.get("rs", ""), *signed.values(), salt=salt):
        return _refused("签名错误")
    company = server.scenario.brand["names"][0]
    posts = server.posts("tousu_sina")
    if path.endswith("received_complaints"):
        wanted = server.scenario.ids.get("tousu_sina")
        posts = posts if query.get("couid") and (not wanted or query["couid"] == wanted) else []
    elif path.endswith("/s"):
        keyword = query.get("keywords", "")
        posts = sorted((p for p in posts if keyword and (keyword in p.text or keyword in company)), key=relevance)
    size = int_arg(query, "page_size", server.page_size)
    page = max(int_arg(query, "page", 1), 1)
    key = "complaints" if path.endswith("received_complaints") else "lists"
    reply = list_reply(page_of(posts, page, size), company, page, size, len(posts), key, layout_changed)
    if path.endswith("/s"):
        data = reply["result"]["data"]
        data[key] = [_highlighted(e, query.get("keywords", "")) for e in data[key]]
    return Reply.json(reply)



def list_reply(chunk: list[Any], company: str, page: int, size: int, total: int, key: str,
               layout_changed: bool = False) -> dict[str, Any]:
    amount = page_count(total, size)
    entries = [{"main": _main(p, company, layout_changed),
                "author": {"title": p.author.name, "wb_profile": "",
                           "avatar": f"https://tvax1.sinaimg.cn/default/images/default_avatar_{pick(p.id, ['male', 'female'], 'g')}_180.gif"}}
               for p in chunk]
    data: dict[str, Any] = {"pager": {"current": page, "next": min(page + 1, max(amount, 1)),
                                      "page_amount": amount, "page_size": size, "item_count": total}}
    data[key] = entries
    return {"result": {"status": {"code": 0, "msg": "操作成功"}, "timestamp": page, "data": data}}


def _view(server: Any, sn: str) -> Any:
    post = next((p for p in server.posts("tousu_sina") if p.id == sn), None)
    if post is None:
        return Reply(404, "<html><body>投诉不存在</body></html>".encode(), "text/html; charset=utf-8")
    company = server.scenario.brand["names"][0]
    main = _main(post, company)
    day = post.created_at.strftime("%Y-%m-%d")
    rows = [("投诉编号", sn), ("投诉对象", company), ("投诉问题", main["issue"]), ("投诉要求", main["appeal"]),
            ("涉诉金额", f"{main['cost']}元"), ("投诉进度", main["status"])]
    facts = "".join(f"<li><label>{escape(k)}：</label><b>{escape(v)}</b></li>" for k, v in rows)
    steps = [(post.author.name, "发起投诉", day, post.text)]
    if main["status"] != "处理中":
        steps.append((company, "商家已回复", day, "您好，已收到您的反馈，专员会尽快联系您处理，请保持电话畅通。"))
    timeline = "".join(
        f'<div class="ts-d-item"><div class="ts-d-user"><span class="u-name">{escape(n)}</span>'
        f'<span class="u-status">{escape(s)}</span><span class="u-date">{escape(d)}</span></div>'
        f'<div class="ts-d-cont"><p>{escape(c)}</p></div></div>' for n, s, d, c in steps)
    page = (f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{escape(main['title'])}_黑猫投诉</title>"
            f"</head><body><div class='ts-header'><a href='/login'>登录</a></div>"
            f"<h1 class='article'>{escape(main['title'])}</h1><ul class='ts-q-list'>{facts}</ul>"
            f"<div class='ts-d-steplist'>{timeline}</div></body></html>")
    return Reply(200, page.encode("utf-8"), "text/html; charset=utf-8")


def handle(server: Any, path: str, query: dict[str, str], layout_changed: bool = False,
           cookies: dict[str, str] | None = None) -> Any:
    if path in LISTS:
        return _list(server, path, query, layout_changed)
    if m := _VIEW.match(path):
        return _view(server, m.group(1))
    return None
