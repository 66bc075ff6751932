"""A loopback server that speaks the Slack Web API methods crisiswatch uses.

slack-sdk's WebClient is pointed at it with `base_url`, so tests exercise the real client:
its JSON encoding, retry handlers (429 + Retry-After, 5xx, connection errors) and parsing.
Methods: chat.postMessage (with metadata), chat.update, chat.delete, chat.postEphemeral, conversations.list,
conversations.history and .replies (with metadata), auth.test, and the v2 file upload:
files.getUploadURLExternal, a POST of the bytes to the returned upload URL, files.completeUploadExternal.

Like Slack: chat.postMessage takes a channel name or id and answers with the id; conversations.history,
.replies and chat.update take ids only and answer `channel_not_found` to a name; metadata is returned
only with `include_all_metadata`; lists are paged (`limit`, `cursor`, `response_metadata.next_cursor`);
each method wants its bot scope (`scopes`: the token's) and answers `missing_scope` with `needed` and
`provided` otherwise; chat.delete removes a message the bot posted (`message_not_found` for one it cannot find).
Faults: `fail_next(method, status, delay=…)` answers an error (or answers late) before doing anything;
with `after_store=True` the message is stored first, as when a proxy or Slack fails after the write.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs

# the bot scope each method wants (Slack's method pages; history: channels:history for public channels)
SCOPES = {"chat.postMessage": "chat:write", "chat.update": "chat:write", "chat.delete": "chat:write",
          "chat.postEphemeral": "chat:write", "conversations.list": "channels:read",
          "conversations.history": "channels:history", "conversations.replies": "channels:history",
          "files.getUploadURLExternal": "files:write", "files.completeUploadExternal": "files:write"}


@dataclass
class Call:
    method: str
    params: dict[str, Any]
    headers: dict[str, str]


@dataclass
class SlackAPIServer:
    token: str = "xoxb-test-token"
    calls: list[Call] = field(default_factory=list)
    faults: list[tuple[str, int, dict[str, str], float, bool]] = field(default_factory=list)
    _ts: int = 0
    channels: dict[str, str] = field(default_factory=dict)  # name -> id, as conversations.list shows them
    page_size: int = 100  # Slack returns fewer than `limit` when it likes; paging must follow the cursor
    messages: list[dict[str, Any]] = field(default_factory=list)  # what a channel would show, in order
    uploads: dict[str, dict[str, Any]] = field(default_factory=dict)  # file id -> name, bytes, shares
    scopes: set[str] = field(default_factory=lambda: set(SCOPES.values()))  # what the installed app was granted
    deleted: list[dict[str, Any]] = field(default_factory=list)  # messages chat.delete removed, in order

    def __post_init__(self) -> None:
        server = self
        self._lock = threading.RLock()
        self.add_channels("general", "crisis", "crisis-response", "mgmt", "ops")  # the workspace as it is

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:  # noqa: N802
                server._handle(self)

            def do_GET(self) -> None:  # noqa: N802
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

    def fail_next(self, method: str, status: int, headers: dict[str, str] | None = None, delay: float = 0,
                  after_store: bool = False) -> None:
        self.faults.append((method, status, headers or {}, delay, after_store))

    def add_channels(self, *names: str) -> None:
        for name in names:
            self.channel_id(name)

    def files(self) -> list[dict[str, Any]]:
        """Uploads that were completed (shared), in order."""
        return [f for f in self.uploads.values() if f.get("completed")]

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
        path, _, query = handler.path.partition("?")
        method = path.rsplit("/", 1)[-1]
        length = int(handler.headers.get("Content-Length") or 0)
        raw = handler.rfile.read(length) if length else b""
        if path.startswith("/upload/"):
            self._receive_upload(handler, path.rsplit("/", 1)[-1], raw)
            return
        ctype = handler.headers.get("Content-Type", "")
        if "json" in ctype:
            params = json.loads(raw or b"{}")
        else:
            params = {k: v[-1] for k, v in parse_qs(raw.decode() or query).items()}
        with self._lock:
            fault = next((f for f in self.faults if f[0] == method), None)
            if fault:
                self.faults.remove(fault)
        if fault and fault[4]:  # do the work, then fail (or answer too late)
            _, status, headers, delay, _ = fault
            done = _Capture()
            self._serve(handler, method, params, done)
            time.sleep(delay)
            if status:
                self._reply(handler, status, {"ok": False, "error": "fatal_error"}, headers)
            else:
                done.replay(handler)
            return
        if fault:
            _, status, headers, delay, _ = fault
            if delay:
                time.sleep(delay)
            if status:
                self._reply(handler, status, {"ok": False, "error": "ratelimited" if status == 429 else "fatal_error"},
                            headers)
                return
        self._serve(handler, method, params, handler)

    def _serve(self, request: BaseHTTPRequestHandler, method: str, params: dict[str, Any], handler: Any) -> None:
        if request.headers.get("Authorization") != f"Bearer {self.token}":
            self._reply(handler, 200, {"ok": False, "error": "invalid_auth"}, {})
            return
        needed = SCOPES.get(method)
        if needed and needed not in self.scopes:
            with self._lock:
                self.calls.append(Call(method, params, dict(request.headers)))
            self._reply(handler, 200, {"ok": False, "error": "missing_scope", "needed": needed,
                                       "provided": ",".join(sorted(self.scopes))}, {})
            return
        with self._lock:
            self.calls.append(Call(method, params, dict(request.headers)))
            self._ts += 1  # ts: the wall clock, strictly increasing, as Slack's are
            self._last = max(getattr(self, "_last", 0.0) + 0.000001, time.time())
            ts = f"{self._last:.6f}"
        if method == "chat.postMessage":
            if not params.get("channel"):
                self._reply(handler, 200, {"ok": False, "error": "channel_not_found"}, {})
                return
            metadata = params.get("metadata")
            if isinstance(metadata, str):
                metadata = json.loads(metadata)
            with self._lock:
                self.messages.append({"channel": self.channel_id(params["channel"]), "ts": ts,
                                      "thread_ts": params.get("thread_ts"), "text": params.get("text"),
                                      "blocks": params.get("blocks"), "metadata": metadata})
            self._reply(handler, 200, {"ok": True, "channel": self.channel_id(params["channel"]), "ts": ts,
                                       "message": {"text": params.get("text"), "ts": ts}}, {})
        elif method in ("chat.update", "chat.delete", "conversations.history", "conversations.replies") and \
                not self.is_id(params.get("channel", "")):
            self._reply(handler, 200, {"ok": False, "error": "channel_not_found"}, {})
        elif method == "chat.update":
            with self._lock:
                found = next((m for m in self.messages if m["ts"] == params.get("ts")), None)
                if found:
                    found.update(text=params.get("text"), blocks=params.get("blocks"))
            self._reply(handler, 200, {"ok": True, "channel": self.channel_id(params.get("channel", "")),
                                       "ts": params.get("ts")}, {})
        elif method == "chat.delete":
            with self._lock:
                found = next((m for m in self.messages if m["ts"] == params.get("ts")
                              and m["channel"] == params["channel"]), None)
                if found:
                    self.messages.remove(found)
                    self.deleted.append(found)
            self._reply(handler, 200, {"ok": True, "channel": params["channel"], "ts": params.get("ts")} if found
                        else {"ok": False, "error": "message_not_found"}, {})
        elif method == "chat.postEphemeral":
            self._reply(handler, 200, {"ok": True, "message_ts": ts}, {})
        elif method in ("conversations.history", "conversations.replies"):
            channel = params["channel"]
            oldest = float(params.get("oldest") or 0)
            with self._lock:
                found = [m for m in self.messages if m["channel"] == channel and float(m["ts"]) > oldest and (
                    not m["thread_ts"] if method == "conversations.history"
                    else m["ts"] == params.get("ts") or m["thread_ts"] == params.get("ts"))]
            if method == "conversations.history":
                found.reverse()  # newest first; replies come oldest first
            keep = str(params.get("include_all_metadata", "")).lower() in ("1", "true")
            page, cursor = self._page(found, params)
            self._reply(handler, 200, {"ok": True, "has_more": bool(cursor), "response_metadata": {"next_cursor": cursor},
                                       "messages": [{"ts": m["ts"], "text": m["text"], **(
                                           {"metadata": m["metadata"]} if keep and m["metadata"] else {})}
                                           for m in page]}, {})
        elif method == "conversations.list":
            with self._lock:
                listed = [{"id": i, "name": n, "is_channel": True} for n, i in sorted(self.channels.items())]
            page, cursor = self._page(listed, params)
            self._reply(handler, 200, {"ok": True, "channels": page, "response_metadata": {"next_cursor": cursor}}, {})
        elif method == "files.getUploadURLExternal":
            file_id = f"F{self._ts:06d}"
            with self._lock:
                self.uploads[file_id] = {"filename": params.get("filename"), "length": int(params.get("length", 0))}
            host, port = self.httpd.server_address
            self._reply(handler, 200, {"ok": True, "file_id": file_id,
                                       "upload_url": f"http://{host}:{port}/upload/{file_id}"}, {})
        elif method == "files.completeUploadExternal":
            files = params.get("files")
            files = json.loads(files) if isinstance(files, str) else files or []
            for f in files:
                upload = self.uploads.get(f.get("id"))
                if upload is None or "content" not in upload:
                    self._reply(handler, 200, {"ok": False, "error": "file_not_found"}, {})
                    return
                upload.update(completed=True, title=f.get("title"), channel=params.get("channel_id"),
                              thread_ts=params.get("thread_ts"), initial_comment=params.get("initial_comment"))
            self._reply(handler, 200, {"ok": True, "files": [{"id": f["id"]} for f in files]}, {})
        elif method == "auth.test":
            self._reply(handler, 200, {"ok": True, "user_id": "U0BOT", "team_id": "T0TEAM"}, {})
        else:
            self._reply(handler, 200, {"ok": False, "error": "unknown_method"}, {})

    def _page(self, items: list, params: dict[str, Any]) -> tuple[list, str]:
        """One page from the cursor on: at most `limit`, and at most `page_size` whatever was asked."""
        start = int(params.get("cursor") or 0)
        size = min(int(params.get("limit") or 100), self.page_size)
        end = start + size
        return items[start:end], (str(end) if end < len(items) else "")

    @staticmethod
    def is_id(channel: str) -> bool:
        return bool(channel) and channel[0] in "CGD" and channel[1:].isalnum() and channel.isupper()

    def channel_id(self, channel: str) -> str:
        """The id of a channel given by id or name (a name seen first creates the channel)."""
        if self.is_id(channel):
            return channel
        name = channel.removeprefix("#")
        with self._lock:
            return self.channels.setdefault(name, "C" + "".join(ch for ch in name.upper() if ch.isalnum()))

    def _receive_upload(self, handler: BaseHTTPRequestHandler, file_id: str, raw: bytes) -> None:
        upload = self.uploads.get(file_id)
        if upload is None:
            handler.send_response(404)
            handler.send_header("Content-Length", "0")
            handler.end_headers()
            return
        upload["content"] = raw
        body = b"OK - " + str(len(raw)).encode()
        handler.send_response(200)
        handler.send_header("Content-Type", "text/plain")
        handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        handler.wfile.write(body)



class _Capture:
    """Records a reply instead of sending it, to send it late (or never, when a fault replaces it)."""

    def __init__(self) -> None:
        self.steps: list[tuple[str, tuple]] = []
        self.wfile = self

    def send_response(self, *args: Any) -> None:
        self.steps.append(("send_response", args))

    def send_header(self, *args: Any) -> None:
        self.steps.append(("send_header", args))

    def end_headers(self) -> None:
        self.steps.append(("end_headers", ()))

    def write(self, data: bytes) -> None:
        self.steps.append(("write", (data,)))

    def replay(self, handler: BaseHTTPRequestHandler) -> None:
        for name, args in self.steps:
            (handler.wfile.write if name == "write" else getattr(handler, name))(*args)
