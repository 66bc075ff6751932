"""聚投诉 (ts.21cn.com): the post search API (shortened topics) and each post's page with the full text."""

from __future__ import annotations

import re
from typing import Any

from crawlers.replay.reply import Reply
from crawlers.replay.sites.common import escape, int_arg, page_of, pick, title_of, token

SEARCH = "/front/api/search/searchPostList.do"
_SHOW = re.compile(r"^/tousu/show/id/(\d+)/?$")
SHORT = 30  # the list cuts topics at about this many characters and adds "..."


def post_json(post: Any, layout_changed: bool = False) -> dict[str, Any]:
    short = post.text if len(post.text) <= SHORT else post.text[:SHORT] + "..."
    body: dict[str, Any] = {
        "id": int(post.id), "title": title_of(post.text), "shortTopic": short, "username": post.author.name,
        "ctime": int(post.created_at.timestamp()), "shuqiu": pick(post.id, ["退款", "赔偿", "道歉", "发货"], "sq"),
        "postKey": post.id[-12:], "merchantname": "", "status": pick(post.id, [0, 1, 2], "st"),
        "replyCount": post.comments, "viewCount": post.likes * 5 + 30,
        "headPic": f"https://ts.21cn.com/images/head/{token('h' + post.id, 12)}.png", "isTop": 0,
    }
    if layout_changed:
        body["topic"] = body.pop("shortTopic")
        body["createTime"] = body.pop("ctime")
    return body


def handle(server: Any, path: str, query: dict[str, str], layout_changed: bool = False,
           cookies: dict[str, str] | None = None) -> Any:
    if path == SEARCH:
        keyword = query.get("title", "")
        posts = [p for p in server.posts("jutousu") if keyword and keyword in p.text]
        if getattr(server, "jutousu_by_relevance", False):
            posts.sort(key=lambda p: token("relevance" + p.id, 12))
        page = max(int_arg(query, "pageNo", 1), 1)
        return Reply.json({"postList": [post_json(p, layout_changed) for p in page_of(posts, page, server.page_size)]})
    if m := _SHOW.match(path):
        post = next((p for p in server.posts("jutousu") if p.id == m.group(1)), None)
        if post is None:
            return Reply(404, "<html><body>帖子不存在</body></html>".encode(), "text/html; charset=utf-8")
        title = escape(title_of(post.text))
        page = (f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{title}-聚投诉</title></head><body>"
                f"<h1 class='tousu_title'>{title}</h1><div class='tousu_info'><span>{escape(post.author.name)}</span>"
                f"</div><div class='tousu_content'><p>{escape(post.text)}</p></div></body></html>")
        return Reply(200, page.encode("utf-8"), "text/html; charset=utf-8")
    return None
