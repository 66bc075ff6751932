"""A loopback HTTP server that plays a scenario back in each site's real response shapes.

Site handlers (one module per site under `sites/`) turn the scenario's posts into that
site's JSON or HTML. Faults (captcha, 432, 418, 500, a changed layout) can be injected for
given paths, so tests exercise the spiders' real failure handling over real HTTP.

Sessions as the sites keep them: `require_login(site, cookie, *values)` makes a site answer only
requests carrying one of those cookie values, and everything else with that site's login wall
(m.weibo.cn: 432 without a cookie, `ok:-100` to passport with a stale one; JD: `{}`; Tmall mtop:
`FAIL_SYS_SESSION_EXPIRED`; rate.tmall.com: a redirect to login.taobao.com). `expire(site, value)`
ends one account's session, as the site does after some minutes or hours. m.weibo.cn sets an
`XSRF-TOKEN` cookie on a session's first reply; the mtop gateway hands out `_m_h5_tk`.
"""

from __future__ import annotations

import hashlib
import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from http.cookies import SimpleCookie
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from crawlers.replay.reply import Reply
from crawlers.replay.scenario import Scenario
from crawlers.replay.sites import SITE_HANDLERS
from crawlers.tousu_signature import SALT as TOUSU_SALT


@dataclass
class Fault:
    """Answer requests whose path+query contains `match` with a failure, `times` times (0 = always)."""

    match: str
    reply: str  # captcha | login | 432 | 418 | 403 | 500 | html | layout | empty | throttled | refused | ...
    times: int = 1
    used: int = 0


FAULT_REPLIES = {
    "captcha": lambda: Reply.json({"ok": -100, "errno": "-100", "msg": "",
                                   "url": "https://m.weibo.cn/captcha?scene=limit&referer=/", "extra": ""}),
    "login": lambda: Reply.json({"ok": -100, "url": "https://passport.weibo.com/sso/signin?entry=wapsso"}),
    "432": lambda: Reply(432, b""),
    "418": lambda: Reply(418, b""),
    "403": lambda: Reply(403, b"<html><body>403 Forbidden</body></html>", "text/html"),
    "500": lambda: Reply(500, b"Internal Server Error", "text/plain"),
    "html": lambda: Reply(200, "<html><head><title>请登录</title></head><body>验证码</body></html>".encode(),
                          "text/html; charset=utf-8"),
    "empty": lambda: Reply.json({"ok": 0, "msg": "这里还没有内容", "data": {"cards": []}}),
    # m.weibo.cn's throttle reply: ok:0 like the empty list, but a block
    "throttled": lambda: Reply.json({"ok": 0, "errno": "100005", "msg": "请求过于频繁,歇歇吧"}),
    # an ok:0 crisiswatch does not know: neither a block nor the end of the list
    "refused": lambda: Reply.json({"ok": 0, "msg": "出错了"}),
    "jd_empty": lambda: Reply(200, b"{}", "text/html;charset=GBK"),
    # club.jd.com's throttle reply: 200 with nothing in the body (public crawlers sleep and retry on it)
    "jd_blank": lambda: Reply(200, b"", "text/html;charset=GBK"),
    "array": lambda: Reply.json([{"ok": 1}]),
    # 黑猫投诉's 风控 (risk control): a list that says it holds complaints, with none in it
    "tousu_throttled": lambda: Reply.json({"result": {"status": {"code": 0, "msg": "操作成功"}, "data": {
        "pager": {"current": 2, "next": 3, "page_amount": 3, "page_size": 10, "item_count": 23}, "complaints": []}}}),
    # 黑猫投诉's keyword search without a login
    "tousu_login": lambda: Reply.json({"result": {"status": {"code": -1, "msg": "请先登录"}, "data": {}}}),
}
# which site a path belongs to, for sessions (m.weibo.cn JSON, s.weibo.com search, JD club, Tmall)
SITE_PATHS = {"weibo": ("/api/container/getIndex", "/statuses/extend", "/comments/hotflow", "/comments/hotFlowChild",
                        "/api/comments/show", "/weibo"),
              "jd": ("/comment/",), "tmall": ("/h5/mtop.", "/list_detail_rate.htm")}


VISITOR_PAGE = ('<!DOCTYPE html><html><head><meta charset="utf-8"><title>Sina Visitor System</title></head><body>'
                '<div id="message">正在验证您的浏览器</div>'
                '<script src="https://passport.weibo.com/js/visitor/mini.js"></script></body></html>').encode()


def login_wall(site: str, path: str, had_cookie: bool) -> Reply:
    """What each site answers a request without a valid login session."""
    if site == "weibo" and path == "/weibo":  # s.weibo.com: the visitor check, under its own title
        return Reply(200, VISITOR_PAGE, "text/html; charset=utf-8")
    if site == "weibo":
        if not had_cookie:
            return Reply(432, b"", "text/html; charset=utf-8")
        return Reply.json({"ok": -100, "url": "https://passport.weibo.com/sso/signin?entry=wapsso&source=wapssowb"})
    if site == "jd":
        return Reply(200, b"{}", "text/html;charset=GBK")
    if path.startswith("/h5/mtop."):
        return Reply.json({"api": path.split("/")[2], "data": {}, "ret": ["FAIL_SYS_SESSION_EXPIRED::Session过期"],
                           "v": "1.0"})
    return Reply(302, b"", "text/html", headers={"Location": "https://login.taobao.com/member/login.jhtml"})


@dataclass
class LoginRequirement:
    cookie: str
    valid: set[str]


class ReplayServer:
    def __init__(self, scenario: Scenario, host: str = "127.0.0.1", port: int = 0,
                 clock: Any = None, page_size: int = 10) -> None:
        self.scenario = scenario
        self.clock = clock or (lambda: datetime.now(UTC))
        self.page_size = page_size
        self.faults: list[Fault] = []
        self.requests: list[str] = []
        self.request_headers: list[dict[str, str]] = []
        self.logins: dict[str, LoginRequirement] = {}
        self.mtop_tokens: set[str] = set()
        self.mtop_day_dates = False  # True: Tmall's mtop list dates reviews by day, as public samples show
        self.jd_repeat_first_page = False  # True: JD answers every page with the first page's comments
        self.jutousu_by_relevance = False  # True: 聚投诉's search lists by relevance instead of newest first
        self.tousu_salt = TOUSU_SALT  # the salt 黑猫投诉 checks request signatures with (its web app changes it)
        # which timeline containers m.weibo.cn answers (drop "230413" to play the pre-2022 site)
        self.weibo_timeline_containers = {"230413", "107603"}
        self.handlers = SITE_HANDLERS
        self._lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
                server._serve(self)

            do_POST = do_GET

            def log_message(self, *args: Any) -> None:  # keep test output clean
                return

        self.httpd = ThreadingHTTPServer((host, port), Handler)
        self.httpd.daemon_threads = True
        self.thread: threading.Thread | None = None

    @property
    def base_url(self) -> str:
        host, port = self.httpd.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> ReplayServer:
        self.thread = threading.Thread(target=self.httpd.serve_forever, name="replay-server", daemon=True)
        self.thread.start()
        return self

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def __enter__(self) -> ReplayServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def require_login(self, site: str, cookie: str, *values: str) -> None:
        """`site` (weibo, jd, tmall) answers only requests whose `cookie` holds one of `values`."""
        self.logins[site] = LoginRequirement(cookie, set(values))

    def expire(self, site: str, value: str) -> None:
        """One account's session ends: its cookie now meets the login wall."""
        self.logins[site].valid.discard(value)

    def inject(self, match: str, reply: str, times: int = 1) -> None:
        if reply not in FAULT_REPLIES and reply != "layout":
            raise ValueError(f"unknown fault {reply!r}")
        self.faults.append(Fault(match, reply, times))

    def posts(self, source: str) -> list:
        return [p for p in self.scenario.visible(self.clock()) if p.source == source]

    def _fault_for(self, target: str) -> Fault | None:
        with self._lock:
            for fault in self.faults:
                if fault.match in target and (fault.times == 0 or fault.used < fault.times):
                    fault.used += 1
                    return fault
        return None

    def _site(self, path: str) -> str:
        return next((site for site, prefixes in SITE_PATHS.items() if path.startswith(prefixes)), "")

    def _session_reply(self, site: str, path: str, cookies: dict[str, str]) -> Reply | None:
        need = self.logins.get(site)
        if need is None or cookies.get(need.cookie) in need.valid:
            return None
        return login_wall(site, path, bool(cookies))

    def _serve(self, handler: BaseHTTPRequestHandler) -> None:
        target = handler.path
        jar = SimpleCookie()
        try:
            jar.load(handler.headers.get("Cookie", ""))
        except Exception:  # noqa: BLE001 (a malformed header is a request without cookies)
            jar = SimpleCookie()
        cookies = {k: m.value for k, m in jar.items()}
        with self._lock:
            self.requests.append(target)
            self.request_headers.append({k: v for k, v in handler.headers.items()})
        parts = urlsplit(target)
        query = {k: v[-1] for k, v in parse_qs(parts.query, keep_blank_values=True).items()}
        site = self._site(parts.path)
        reply = self._session_reply(site, parts.path, cookies)
        fault = self._fault_for(target) if reply is None else None
        if reply is None and fault is not None and fault.reply != "layout":
            reply = FAULT_REPLIES[fault.reply]()
        elif reply is None:
            for handle in self.handlers:
                reply = handle(self, parts.path, query, layout_changed=fault is not None, cookies=cookies)
                if reply is not None:
                    break
        reply = reply or Reply(404, b'{"error":"not found"}')
        if site == "weibo" and "XSRF-TOKEN" not in cookies and reply.status == 200:
            # m.weibo.cn starts a session's XSRF token on its first answer
            xsrf = hashlib.sha1(target.encode()).hexdigest()[:6]
            reply.cookies.append(f"XSRF-TOKEN={xsrf}; expires=Sat, 01-Jan-2050 00:00:00 GMT; Max-Age=1200; "
                                 "path=/; domain=.weibo.cn; SameSite=Lax")
        handler.send_response(reply.status)
        handler.send_header("Content-Type", reply.content_type)
        handler.send_header("Content-Length", str(len(reply.body)))
        for key, value in reply.headers.items():
            handler.send_header(key, value)
        for line in reply.cookies:
            handler.send_header("Set-Cookie", line)
        handler.end_headers()
        handler.wfile.write(reply.body)
