"""s.weibo.com's HTML search results: the site handler for path /weibo (m.weibo.cn's JSON is in weibo.py).

Cards as the site renders them (card-wrap with mid, avatar verification svg, p.txt and the
hidden full text for long posts, div.from with time and app, action counts), a page list in
`ul.s-scroll` and `a.next`, at most 50 pages per query and time range, and the no-result card.
"""

from __future__ import annotations

import math
from datetime import datetime
from html import escape
from typing import Any
from urllib.parse import urlencode

from crawlers.normalize import CHINA
from crawlers.replay.reply import Reply
from crawlers.replay.sites.weibo import LONG_CUT, PAGE_CAP, bid, is_long
from crawlers.weibo_html import Slice

_SVG = {True: '<svg id="woo_svg_vblue" class="woo-svg"><use xlink:href="#woo_svg_vblue"></use></svg>', False: ""}


def handle(server: Any, path: str, query: dict[str, str], layout_changed: bool = False,
           cookies: dict[str, str] | None = None) -> Reply | None:
    return html_search(server, query, layout_changed) if path == "/weibo" else None


def html_search(server: Any, query: dict[str, str], layout_changed: bool = False) -> Any:
    keyword = query.get("q", "")
    page = max(int(query.get("page", "1") or 1), 1)
    posts = [p for p in server.posts("weibo") if keyword and keyword in p.text]
    if scope := query.get("timescope", ""):
        piece = Slice.parse(scope)
        posts = [p for p in posts if piece.start <= p.created_at < piece.end]
    size = server.page_size  # 10 cards a page on the real site
    pages = min(math.ceil(len(posts) / size), PAGE_CAP)
    chunk = posts[(page - 1) * size: page * size] if page <= pages else []
    now = server.clock()
    if chunk:
        body = "\n".join(_card(p, now, layout_changed) for p in chunk) + _pager(query, page, pages)
    else:
        body = ('<div class="card card-no-result s-pt20b40"><p>抱歉，未找到“'
                f'{escape(keyword)}”相关结果。</p></div>')
    doc = (f"<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>{escape(keyword)} - 微博搜索</title></head>"
           f"<body><div class=\"m-main\"><div id=\"pl_feedlist_index\">{body}</div></div></body></html>")
    return Reply(200, doc.encode("utf-8"), "text/html; charset=utf-8")


def _pager(query: dict[str, str], page: int, pages: int) -> str:
    def href(n: int) -> str:
        return "/weibo?" + urlencode({**query, "page": n})

    items = "".join(f'<li><a href="{escape(href(n))}">第{n}页</a></li>' for n in range(1, pages + 1))
    nxt = f'<a class="next" href="{escape(href(page + 1))}">下一页</a>' if page < pages else ""
    return (f'<div class="m-page"><div><span class="list"><a class="pagenum">第{page}页</a>'
            f'<ul class="s-scroll" node-type="feed_list_page_morelist">{items}</ul></span>{nxt}</div></div>')


def _when(at: datetime, now: datetime) -> str:
    """Every format s.weibo.com prints: 刚刚, N秒前, N分钟前, 今天HH:MM, MM月DD日 HH:MM, YYYY年MM月DD日 HH:MM."""
    age = (now - at).total_seconds()
    local, today = at.astimezone(CHINA), now.astimezone(CHINA)
    if age < 10:
        return "刚刚"
    if age < 60:
        return f"{int(age)}秒前"
    if age < 3600:
        return f"{int(age // 60)}分钟前"
    if local.date() == today.date():
        return f"今天{local:%H:%M}"
    if local.year == today.year:
        return f"{local:%m月%d日 %H:%M}"
    return f"{local:%Y年%m月%d日 %H:%M}"


def _action(kind: str, label: str, n: int) -> str:
    return f'<li><a action-type="feed_list_{kind}" href="javascript:void(0);">{label} {n or ""}</a></li>'


def _card(post: Any, now: datetime, layout_changed: bool) -> str:
    uid, nick = post.author.id, escape(post.author.name)
    text = escape(post.text)
    if is_long(post):
        short = escape(post.text[:LONG_CUT])
        texts = (f'<p class="txt" node-type="feed_list_content" nick-name="{nick}">{short}'
                 '<a href="javascript:void(0);" action-type="fl_unfold">展开<i class="wbicon">c</i></a></p>'
                 f'<p class="txt" node-type="feed_list_content_full" nick-name="{nick}" style="display: none">'
                 f'{text}<a href="javascript:void(0);" action-type="fl_fold">收起<i class="wbicon">d</i></a></p>')
    else:
        texts = f'<p class="txt" node-type="feed_list_content" nick-name="{nick}">{text}</p>'
    time_cls = "from"
    if layout_changed:  # a redesign: new class names the parser does not know
        texts = texts.replace('class="txt"', 'class="wbpro-feed-content"').replace("feed_list_content", "fc")
        time_cls = "wbpro-feed-head-info"
    likes = (f'<li><a action-type="feed_list_like" href="javascript:void(0);"><button class="woo-like-main">'
             f'<span class="woo-like-iconWrap"></span><span class="woo-like-count">{post.likes or "赞"}</span>'
             '</button></a></li>')
    return (
        f'<div class="card-wrap" action-type="feed_list_item" mid="{post.id}"><div class="card"><div class="card-feed">'
        f'<div class="avator"><a href="//weibo.com/{uid}?refer_flag=1001030103_" target="_blank">'
        f'<img src="https://tvax1.sinaimg.cn/crop.0.0.180.180.50/{uid}.jpg">{_SVG[post.author.verified]}</a></div>'
        '<div class="content" node-type="like"><div class="info"><div></div>'
        f'<div><a href="//weibo.com/{uid}?refer_flag=1001030103_" class="name" target="_blank" nick-name="{nick}">'
        f'{nick}</a></div></div>{texts}'
        f'<div class="{time_cls}"><a href="//weibo.com/{uid}/{bid(post.id)}?refer_flag=1001030103_" target="_blank">'
        f' {_when(post.created_at, now)} </a> 来自 <a href="https://app.weibo.com/t/feed/1" rel="nofollow">iPhone客户端</a>'
        '</div></div></div>'
        f'<div class="card-act"><ul>{_action("forward", "转发", post.reposts)}'
        f'{_action("comment", "评论", post.comments)}{likes}</ul></div></div></div>'
    )
