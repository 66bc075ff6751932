"""Recognising the ways sites refuse a crawler: captcha, login wall, throttling codes, punish pages."""

from __future__ import annotations

import json
import re
from typing import Any

BLOCK_STATUS = {403: "HTTP 403 forbidden", 418: "HTTP 418 (Weibo throttling)", 432: "HTTP 432 (Weibo: no valid login cookie)"}
LOGIN_HOSTS = ("passport.weibo.com", "passport.jd.com", "login.taobao.com", "login.tmall.com", "/login")
BODY_MARKERS = (
    ("rgv587_flag", "Tmall punish page (rgv587)"),
    ("_____tmd_____/punish", "Tmall punish page"),
    ("passport.jd.com", "JD login page"),  # before 验证码: JD's login form asks for one too
    ("验证码", "captcha page (验证码)"),
    ("登录聚投诉", "聚投诉 login wall"),
    ("passport.weibo.com", "Weibo login redirect"),
)
# HTML pages that JSON-API spiders also fetch (complaint detail pages). Their bodies are users'
# own words, and a complaint about an SMS 验证码 is common: only the page <title> is checked.
# s.weibo.com's search results are posts too (the spider recognises its login/captcha pages itself).
HTML_PAGES = ("/complaint/view/", "/tousu/show/id/", "/weibo?q=")
_TITLE = re.compile(r"<title[^>]*>(.*?)</title>", re.I | re.S)


def block_reason(response: Any, expects_json: bool) -> str | None:
    """Why this response is a block, or None when it is a real answer (possibly empty)."""
    status = response.status
    if status in BLOCK_STATUS:
        return BLOCK_STATUS[status]
    if 300 <= status < 400:
        location = response.headers.get(b"Location", b"").decode("latin-1")
        if any(h in location for h in LOGIN_HOSTS) or "captcha" in location:
            return f"redirect to login or captcha ({location[:80]})"
        return None
    if status >= 400:
        return None  # 404/5xx are errors for RetryMiddleware, not blocks
    body = response.body[:20_000]
    try:
        text = body.decode(getattr(response, "encoding", None) or "utf-8", errors="replace")
    except LookupError:
        text = body.decode("utf-8", errors="replace")
    stripped = text.lstrip()
    if any(page in getattr(response, "url", "") for page in HTML_PAGES):
        title = _TITLE.search(text)
        return _marker_reason(title.group(1)) if title else None
    if expects_json:
        payload = _json_payload(stripped)
        if payload is None:
            if stripped.startswith("<"):
                return _marker_reason(text) or "HTML page where JSON was expected (login or captcha page)"
            return None if not stripped else "unreadable reply where JSON was expected"
        if isinstance(payload, dict):
            if payload.get("ok") in (-100, "-100"):
                url = str(payload.get("url", ""))
                return "Weibo login required (ok:-100)" if "passport" in url else "Weibo captcha (ok:-100)"
            if "rgv587_flag" in payload:
                return "Tmall punish page (rgv587)"
            if not payload:  # JD answers a missing or expired cookie with a bare {}
                return "empty JSON object {} (data withheld: cookie missing or expired)"
        return None
    return _marker_reason(text)


def _marker_reason(text: str) -> str | None:
    for marker, reason in BODY_MARKERS:
        if marker in text:
            return reason
    return None


def _json_payload(text: str) -> Any:
    """JSON or JSONP (`callback({...});`) body, or None."""
    if not text:
        return None
    if text[0] in "{[":
        try:
            return json.loads(text)
        except ValueError:
            return None
    start, end = text.find("("), text.rfind(")")
    if 0 < start < end and text[:start].replace("_", "").replace(".", "").isalnum():
        try:
            return json.loads(text[start + 1:end])
        except ValueError:
            return None
    return None
