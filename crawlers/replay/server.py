"""A loopback HTTP server that plays a scenario back in each site's real response shapes.

Site handlers (one module per site under `sites/`) turn the scenario's posts into that
site's JSON or HTML. Faults (captcha, 432, 418, 500, a changed layout) can be injected for
given paths, so tests exercise the spiders' real failure handling over real HTTP.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from crawlers.replay.scenario import Scenario


@dataclass
class Reply:
    status: int = 200
    body: bytes = b""
    content_type: str = "application/json; charset=utf-8"
    headers: dict[str, str] = field(default_factory=dict)

    @classmethod
    def json(cls, payload: Any, status: int = 200) -> Reply:
        return cls(status, json.dumps(payload, ensure_ascii=False).encode("utf-8"))


@dataclass
class Fault:
    """Answer requests whose path+query contains `match` with a failure, `times` times (0 = always)."""

    match: str
    reply: str  # captcha | login | 432 | 418 | 403 | 500 | html | layout | empty
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
}


class ReplayServer:
    def __init__(self, scenario: Scenario, host: str = "127.0.0.1", port: int = 0,
                 clock: Any = None, page_size: int = 10) -> None:
        from crawlers.replay.sites import SITE_HANDLERS

        self.scenario = scenario
        self.clock = clock or (lambda: datetime.now(UTC))
        self.page_size = page_size
        self.faults: list[Fault] = []
        self.requests: list[str] = []
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

    def _serve(self, handler: BaseHTTPRequestHandler) -> None:
        target = handler.path
        with self._lock:
            self.requests.append(target)
        parts = urlsplit(target)
        query = {k: v[-1] for k, v in parse_qs(parts.query, keep_blank_values=True).items()}
        fault = self._fault_for(target)
        reply = None
        if fault is not None and fault.reply != "layout":
            reply = FAULT_REPLIES[fault.reply]()
        else:
            for handle in self.handlers:
                reply = handle(self, parts.path, query, layout_changed=fault is not None)
                if reply is not None:
                    break
        reply = reply or Reply(404, b'{"error":"not found"}')
        handler.send_response(reply.status)
        handler.send_header("Content-Type", reply.content_type)
        handler.send_header("Content-Length", str(len(reply.body)))
        for key, value in reply.headers.items():
            handler.send_header(key, value)
        handler.end_headers()
        handler.wfile.write(reply.body)
