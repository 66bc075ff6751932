"""Recognising the ways sites refuse a crawler: login walls, captchas, throttling codes, punish pages.

A block is only ever a positive sign the site gave: a status code the sites use for refusals, a
redirect to a login or captcha page, a login or captcha page itself, Weibo's `ok:-100` or its
throttle reply (errno 100005, "请求过于频繁"), Tmall's
`rgv587_flag` punish reply, an mtop `FAIL_SYS_USER_VALIDATE`, JD's bare `{}`, or JD's empty 200 reply
(its throttle: nothing at all, or the callback with nothing in it). The whole body
is read (a real Weibo search page is 40-160 KB): a reply that cannot be read is never called a
block, it is left to the spider, which reports it as an unreadable page.

Each block has a kind. `login` means the site wants a valid login cookie: with a cookie sent, that
cookie has expired; without one, the source needs one. The other kinds (captcha, throttled,
forbidden, punished) are anti-bot refusals that a new cookie does not cure.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from crawlers.jsonp import response_text

LOGIN, CAPTCHA, THROTTLED, FORBIDDEN, PUNISHED = "login", "captcha", "throttled", "forbidden", "punished"


@dataclass(frozen=True)
class Block:
    reason: str
    kind: str

    @property
    def wants_login(self) -> bool:
        return self.kind == LOGIN


BLOCK_STATUS = {
    403: Block("HTTP 403 forbidden", FORBIDDEN),
    418: Block("HTTP 418 (Weibo throttling)", THROTTLED),
    432: Block("HTTP 432 (Weibo: no valid login cookie)", LOGIN),
}
LOGIN_HOSTS = ("passport.weibo.com", "passport.weibo.cn", "passport.jd.com", "login.taobao.com",
               "login.tmall.com", "login.sina.com.cn", "/login", "/signin")
CAPTCHA_PATHS = ("captcha", "/punish", "_____tmd_____", "verify", "risk_handler")
# Markers of a login or captcha page: searched in its <title> and in the whole page when an HTML
# page came where JSON was expected. Order matters: JD's login form asks for a 验证码 too.
PAGE_MARKERS = (
    ("rgv587_flag", Block("Tmall punish page (rgv587)", PUNISHED)),
    ("_____tmd_____/punish", Block("Tmall punish page", PUNISHED)),
    ("passport.jd.com", Block("JD login page", LOGIN)),
    ("登录聚投诉", Block("聚投诉 login wall", LOGIN)),
    # Weibo's visitor check is served to requests without a valid SUB login cookie (s.weibo.com)
    ("Sina Visitor System", Block("Weibo visitor check page (no valid login cookie)", LOGIN)),
    ("passport.weibo.com", Block("Weibo login page", LOGIN)),
    ("passport.weibo.cn", Block("Weibo login page", LOGIN)),
    ("login.sina.com.cn", Block("Sina login page", LOGIN)),
    ("login.taobao.com", Block("Taobao login page", LOGIN)),
    ("验证码", Block("captcha page (验证码)", CAPTCHA)),
    ("安全验证", Block("captcha page (安全验证)", CAPTCHA)),
    ("请登录", Block("login page (请登录)", LOGIN)),
)
# HTML pages that JSON-API spiders also fetch (complaint detail pages). Their bodies are users'
# own words, and a complaint about an SMS 验证码 is common: only the page <title> is checked.
# s.weibo.com's search results are posts too: its body is read only when it holds no result card and
# no no-result card (a wall page served under a neutral title), see `search_wall`.
_SEARCH_PAGE = "/weibo?q="
_SEARCH_CARDS = ("card-wrap", "card-no-result")
HTML_PAGES = ("/complaint/view/", "/tousu/show/id/", _SEARCH_PAGE)
_TITLE = re.compile(r"<title[^>]*>(.*?)</title>", re.I | re.S)
_MTOP_LOGIN = ("FAIL_SYS_SESSION_EXPIRED", "FAIL_SYS_LOGIN")
_MTOP_PUNISH = ("FAIL_SYS_USER_VALIDATE", "RGV587_ERROR")
# m.weibo.cn's throttle reply: {"ok":0,"errno":"100005","msg":"请求过于频繁,歇歇吧"} (not the end of a list)
_WEIBO_THROTTLE_ERRNO = "100005"
_WEIBO_THROTTLE_MSG = "请求过于频繁"
# club.jd.com answers a throttled client with an empty 200 body (public crawlers sleep and retry on it);
# the comment API never sends an empty answer otherwise, so it is not an unreadable page
_EMPTY_MEANS_THROTTLED = ("/comment/productPageComments.action",)
_EMPTY_CALLBACK = re.compile(r"^[\w$.]+\(\s*\)\s*;?$")


def block_of(response: Any, expects_json: bool) -> Block | None:
    """The block this response is, or None when it is a real answer (possibly empty or unreadable)."""
    status = response.status
    if status in BLOCK_STATUS:
        return BLOCK_STATUS[status]
    if 300 <= status < 400:
        location = response.headers.get(b"Location", b"").decode("latin-1")
        if any(h in location for h in LOGIN_HOSTS):
            return Block(f"redirect to a login page ({_short(location)})", LOGIN)
        if any(p in location.lower() for p in CAPTCHA_PATHS):
            return Block(f"redirect to a captcha page ({_short(location)})", CAPTCHA)
        return None
    if status >= 400:
        return None  # 404/5xx are errors for RetryMiddleware, not blocks
    text = response_text(response)
    url = getattr(response, "url", "")
    if any(page in url for page in HTML_PAGES):
        title = _TITLE.search(text)
        block = _page_block(title.group(1)) if title else None
        return block or (search_wall(text) if _SEARCH_PAGE in url else None)
    stripped = text.lstrip().lstrip("\ufeff")
    if any(path in url for path in _EMPTY_MEANS_THROTTLED) and (
            not stripped.strip() or _EMPTY_CALLBACK.match(stripped.strip())):
        return Block("empty reply (JD withholds comments from a throttled client)", THROTTLED)
    if not expects_json:
        return _page_block(text)
    if stripped.startswith("<"):
        # an HTML page where JSON was expected is a block only when it says so (title or markers)
        title = _TITLE.search(stripped)
        block = (_page_block(title.group(1)) if title else None) or _page_block(stripped)
        return Block(f"HTML {block.reason} where JSON was expected", block.kind) if block else None
    payload = json_payload(stripped)
    return _json_block(payload) if isinstance(payload, dict) else None


def block_reason(response: Any, expects_json: bool) -> str | None:
    """Why this response is a block, or None when it is a real answer."""
    block = block_of(response, expects_json)
    return block.reason if block else None


def _json_block(payload: dict) -> Block | None:
    if not payload:  # JD answers a missing or expired cookie with a bare {}
        return Block("empty JSON object {} (data withheld: login cookie missing or expired)", LOGIN)
    if payload.get("ok") in (-100, "-100"):
        url = str(payload.get("url", ""))
        if any(h in url for h in LOGIN_HOSTS):
            return Block("Weibo login required (ok:-100)", LOGIN)
        return Block("Weibo captcha (ok:-100)", CAPTCHA)
    if (str(payload.get("errno", "")) == _WEIBO_THROTTLE_ERRNO
            or _WEIBO_THROTTLE_MSG in str(payload.get("msg", ""))):
        return Block(f"Weibo throttling (errno {payload.get('errno', '?')}: {str(payload.get('msg', ''))[:30]})",
                     THROTTLED)
    if "rgv587_flag" in payload:
        return Block("Tmall punish page (rgv587)", PUNISHED)
    if login := _tousu_login(payload):
        return Block(f"黑猫投诉 login required ({login})", LOGIN)
    ret = " ".join(str(r) for r in payload.get("ret") or []) if isinstance(payload.get("ret"), list) else ""
    if any(code in ret for code in _MTOP_LOGIN):
        return Block(f"mtop login session expired ({ret[:60]})", LOGIN)
    if any(code in ret for code in _MTOP_PUNISH):
        return Block(f"mtop anti-bot check ({ret[:60]})", PUNISHED)
    return None


def _tousu_login(payload: dict) -> str:
    """黑猫投诉's refusal of a request that needs a login (its keyword search): result.status with 登录 in msg."""
    result = payload.get("result")
    status = result.get("status") if isinstance(result, dict) else None
    if not isinstance(status, dict) or str(status.get("code", 0)) == "0":
        return ""
    msg = str(status.get("msg", ""))
    return msg[:30] if "登录" in msg else ""


def search_wall(text: str) -> Block | None:
    """An s.weibo.com search page that is a login or captcha wall: no result card, no no-result card,
    and a wall's marker. Pages with cards are posts, whatever their words say."""
    if any(card in text for card in _SEARCH_CARDS):
        return None
    return _page_block(text)


def _page_block(text: str) -> Block | None:
    return next((block for marker, block in PAGE_MARKERS if marker in text), None)


def _short(url: str) -> str:
    """Where a redirect points, without its query (which may carry tokens)."""
    return url.split("?", 1)[0][:80]


def json_payload(text: str) -> Any:
    """JSON or JSONP (`callback({...});`) text as a value, or None when it is neither."""
    text = text.strip()
    if not text:
        return None
    if text[0] in "{[":
        try:
            return json.loads(text)
        except ValueError:
            return None
    start, end = text.find("("), text.rfind(")")
    if 0 < start < end and text[:start].strip().replace("_", "").replace(".", "").replace("$", "").isalnum():
        try:
            return json.loads(text[start + 1:end])
        except ValueError:
            return None
    return None
