"""A loopback server that speaks the Slack Web API methods crisiswatch uses.

slack-sdk's WebClient is pointed at it with `base_url`, so tests exercise the real client:
its JSON encoding, retry handlers (429 + Retry-After, 5xx, connection errors) and parsing.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs


@dataclass
class Call:
    method: str
    params: dict[str, Any]
    headers: dict[str, str]


@dataclass
class SlackAPIServer:
    token: str = "xoxb-test-token"
    calls: list[Call] = field(default_factory=list)
    faults: list[tuple[str, int, dict[str, str], float]] = field(default_factory=list)  # method, status, headers, delay
    _ts: int = 0

    def __post_init__(self) -> None:
        server = self
        self._lock = threading.Lock()

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:  # noqa: N802
                server._handle(self)

            def log_message(self, *args: Any) -> None:
                return

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}/api/"

    def start(self) -> SlackAPIServer:
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def fail_next(self, method: str, status: int, headers: dict[str, str] | None = None, delay: float = 0) -> None:
        self.faults.append((method, status, headers or {}, delay))

    def posts(self, top_level_only: bool = False) -> list[Call]:
        out = [c for c in self.calls if c.method == "chat.postMessage"]
        return [c for c in out if not c.params.get("thread_ts")] if top_level_only else out

    def _reply(self, handler: BaseHTTPRequestHandler, status: int, payload: dict, headers: dict[str, str]) -> None:
        body = json.dumps(payload).encode()
        handler.send_response(status)
        handler.send_header("Content-Type", "application/json; charset=utf-8")
        handler.send_header("Content-Length", str(len(body)))
        for k, v in headers.items():
            handler.send_header(k, v)
        handler.end_headers()
        handler.wfile.write(body)

    def _handle(self, handler: BaseHTTPRequestHandler) -> None:
        method = handler.path.rsplit("/", 1)[-1].split("?")[0]
        length = int(handler.headers.get("Content-Length") or 0)
        raw = handler.rfile.read(length) if length else b""
        ctype = handler.headers.get("Content-Type", "")
        if "json" in ctype:
            params = json.loads(raw or b"{}")
        else:
            params = {k: v[-1] for k, v in parse_qs(raw.decode()).items()}
        with self._lock:
            fault = next((f for f in self.faults if f[0] == method), None)
            if fault:
                self.faults.remove(fault)
        if fault:
            _, status, headers, delay = fault
            if delay:
                time.sleep(delay)
            if status:
                self._reply(handler, status, {"ok": False, "error": "ratelimited" if status == 429 else "fatal_error"},
                            headers)
                return
        if handler.headers.get("Authorization") != f"Bearer {self.token}":
            self._reply(handler, 200, {"ok": False, "error": "invalid_auth"}, {})
            return
        with self._lock:
            self.calls.append(Call(method, params, dict(handler.headers)))
            self._ts += 1
            ts = f"{1_700_000_000 + self._ts}.{self._ts:06d}"
        if method == "chat.postMessage":
            if not params.get("channel"):
                self._reply(handler, 200, {"ok": False, "error": "channel_not_found"}, {})
                return
            self._reply(handler, 200, {"ok": True, "channel": "C0CRISIS", "ts": ts,
                                       "message": {"text": params.get("text"), "ts": ts}}, {})
        elif method == "chat.update":
            self._reply(handler, 200, {"ok": True, "channel": "C0CRISIS", "ts": params.get("ts")}, {})
        elif method == "auth.test":
            self._reply(handler, 200, {"ok": True, "user_id": "U0BOT", "team_id": "T0TEAM"}, {})
        else:
            self._reply(handler, 200, {"ok": False, "error": "unknown_method"}, {})
