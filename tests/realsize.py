"""Replies at the sizes and in the shapes the sites send, built from the replay server's site renderers.

A real m.weibo.cn search page of 20-50 posts is 40-160 KB (each mblog carries its user, badges,
pictures, video and display settings), a timeline page 40-80 KB, a JD comment page 20-35 KB of
GBK JSONP, a Tmall page of 20 rates over 20 KB. Fixtures of a few KB hid that block detection
read only the first 20 KB of each reply. The texts are written for these tests: reviews,
complaints and chatter with the characters that break naive handling (&, quotes, emoji, <, @, #).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

from crawlers.replay.scenario import Author, Post
from crawlers.replay.sites import jd, jutousu, tmall, tousu, weibo
from crawlers.replay.sites.common import page_of

BRAND = "极光优选"
NOW = datetime(2025, 6, 14, 4, 0, tzinfo=UTC)
TEXTS = [
    "@极光优选 快递七天还没到，客服只会说在催了，这是第三次催单了。",
    "在极光优选买的空气炸锅到了，包装很用心&好评，做鸡翅十五分钟就好 😋",
    "极光优选的台灯用了一个月开关就失灵了，申请售后说要等\"专员\"联系，已经一周没人理。",
    "#极光优选退款难# 退款申请提交二十天了还在审核中，钱到底什么时候退？",
    "极光优选客服回复很快，换货第二天就寄出了，给个赞👍",
    "同事推荐的极光优选电饭煲，煮饭确实香，就是内胆涂层有点薄 <不确定耐不耐用>",
    "极光优选的耳机左边没声音，拆开包装就这样，质检是怎么过的？？",
    "又在极光优选下单了，这次的物流居然两天就到了，点赞",
    "极光优选发货把地址写错了，快递员打电话才知道，客服还说是我填错的……",
    "极光优选的会员价比活动价还贵，这种定价是认真的吗？价格保护也不给。",
    "收到极光优选的赠品是过期的湿巾，生产日期2023年，已截图留证。",
    "极光优选官方客服态度挺好的，耐心帮我查了物流，最后找到了包裹。",
]
LONG = ("极光优选售后经历全记录：" + "第一天申请退货，客服说会安排上门取件；第二天没人来，再问说快递员请假了；"
        * 9 + "到现在已经两周，问题还是没有解决。")


def posts(n: int, source: str = "weibo", start_id: int = 4_900_000_000_001_000, **extra: Any) -> list[Post]:
    """`n` posts newest first, a few minutes apart, every fifth one long and every seventh a repost."""
    out = []
    for i in range(n):
        author = Author(id=str(5_100_000_000 + i * 7919), name=f"用户{i:03d}小鹿", followers=(i * 977) % 40_000,
                        verified=i % 11 == 0)
        long = i % 5 == 4
        post_extra: dict[str, Any] = {"long": True} if long else {}
        if i % 7 == 3 and source == "weibo":
            post_extra["retweet"] = {"id": str(4_800_000_000_000_000 + i), "text": TEXTS[(i + 5) % len(TEXTS)],
                                     "author": {"id": 1_700_000_000 + i, "name": f"原博主{i}", "followers": 52_000},
                                     "reposts": 230, "comments": 41, "likes": 980}
        out.append(Post(
            id=str(start_id - i * 13), source=source, created_at=NOW - timedelta(minutes=4 * i + 1),
            text=LONG if long else TEXTS[i % len(TEXTS)], pool="chat", author=author,
            reposts=i * 3, comments=i * 2 + 1, likes=i * 17 % 300,
            rating=(1, 2, 5, 4, 5)[i % 5] if source in ("jd", "tmall") else None, extra={**post_extra, **extra},
        ))
    return out


def _dumps(payload: Any, pretty: bool) -> bytes:
    # m.weibo.cn sends minified JSON with \u escapes; pretty-printed copies (saved by tools, proxies)
    # keep the characters as they are
    if pretty:
        return json.dumps(payload, ensure_ascii=False, indent=4).encode("utf-8")
    return json.dumps(payload, ensure_ascii=True, separators=(",", ":")).encode("utf-8")


def weibo_search(n: int = 30, pretty: bool = False) -> tuple[bytes, list[Post]]:
    chunk = posts(n)
    return _dumps(weibo.search_page(chunk, BRAND, BRAND, 1, 1000), pretty), chunk


def weibo_timeline(n: int = 20, pretty: bool = False, prefix: str = "230413") -> tuple[bytes, list[Post]]:
    chunk = posts(n)
    return _dumps(weibo.timeline_page(chunk, BRAND, prefix, "2000000001", 1000, more=True), pretty), chunk


def weibo_hotflow_child(n: int = 20, total: int = 45) -> tuple[bytes, dict, list[dict]]:
    """Page 1 of hotFlowChild: `n` of a comment's `total` replies, newest first, the next page's cursor."""
    post = posts(1)[0]
    author = Author(id="5100000009", name="柚子不酸", followers=230, verified=False)
    comment = {"k": 0, "id": str(int(post.id) + 1), "at": post.created_at + timedelta(minutes=2),
               "text": TEXTS[0], "author": author}
    people = posts(12)
    every = [{"j": j, "id": str(int(comment["id"]) * 1000 + j + 1), "at": comment["at"] + timedelta(minutes=j + 1),
              "author": people[j % len(people)].author,
              "text": f"回复@{author.name}:{TEXTS[(j + 3) % len(TEXTS)]}"} for j in range(total)][::-1]
    return _dumps(weibo.child_page(post, comment, every, every[:n], every[n]["id"]), False), comment, every[:n]


def jd_comments(n: int = 10, sku: str = "100012043978") -> tuple[bytes, list[Post]]:
    every = posts(60, source="jd")
    chunk = every[:n]
    return jd.jsonp_gbk(jd.comments_page(every, sku, chunk, 0, n)), chunk


def tmall_rates(n: int = 20) -> tuple[bytes, list[Post]]:
    every = posts(80, source="tmall")
    payload = tmall.rate_page(every, page_of(every, 1, n), 1, n)
    return f"\r\njsonp928({json.dumps(payload, ensure_ascii=False)})".encode(), every[:n]


def tmall_mtop(n: int = 20) -> tuple[bytes, list[Post]]:
    every = posts(80, source="tmall")
    payload = tmall.mtop_reply(tmall.mtop_module(every[:n], has_next=True, day_dates=True))
    return f"mtopjsonp3({json.dumps(payload, ensure_ascii=False)})".encode(), every[:n]


def tousu_list(n: int = 10) -> tuple[bytes, list[Post]]:
    chunk = posts(n, source="tousu_sina")
    return _dumps(tousu.list_reply(chunk, BRAND, 1, n, 300, "complaints"), False), chunk


def jutousu_list(n: int = 10) -> tuple[bytes, list[Post]]:
    chunk = posts(n, source="jutousu")
    return _dumps({"postList": [jutousu.post_json(p) for p in chunk], "pageNo": 1, "total": 300}, False), chunk


def _padding(kb: int, seed: str) -> str:
    """Inline style and script of the size login and captcha pages carry before their form."""
    rules = "".join(f".m-{seed}-{i}{{margin:{i % 9}px;padding:{i % 7}px {i % 5}px;color:#{i * 2654435 % 0xFFFFFF:06x}}}"
                    for i in range(kb * 12))
    script = "".join(f"var _{seed}{i}=function(a,b){{return a*{i}+b^{i * 31 % 997};}};" for i in range(kb * 10))
    return f"<style>{rules}</style><script>{script}</script>"


def login_page(site: str) -> bytes:
    """A login page as the sites send it instead of data: large, the telling part far into the page."""
    form = {
        "weibo": ('<form action="https://passport.weibo.com/sso/login" method="post">'
                  '<input name="username" placeholder="手机号或邮箱"><input type="password" name="password"></form>'),
        "jd": ('<form id="formlogin" action="https://passport.jd.com/uc/loginService" method="post">'
               '<input id="loginname" placeholder="邮箱/用户名/登录手机"><div id="o-authcode">验证码</div></form>'),
        "jutousu": '<div class="login-box"><h2>登录聚投诉</h2><input name="mobile"></div>',
    }[site]
    return (f"<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>欢迎</title>{_padding(36, site)}</head>"
            f"<body><div id=\"app\">{form}</div></body></html>").encode()


def captcha_page() -> bytes:
    return (f"<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>提示</title>{_padding(36, 'cap')}</head>"
            "<body><div class=\"verify\"><p>请输入验证码以继续访问</p><img src=\"/captcha.php?r=1\"></div>"
            "</body></html>").encode()
