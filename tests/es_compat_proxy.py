"""A loopback proxy in front of osmem-server for the official Elasticsearch client, with fault injection.

The `elasticsearch` client sends `application/vnd.elasticsearch+json; compatible-with=N`, which
OpenSearch-compatible servers refuse; the proxy rewrites those media types to plain JSON/NDJSON.
osmem-server already answers with `X-Elastic-Product: Elasticsearch`, so replies pass unchanged.

Faults for tests: `reply_next(status, times, path_part)` answers with an error instead of forwarding,
`refuse_items_next(count)` marks the first items of the next bulk reply as refused (429),
`drop_after_forward(path_part)` forwards one request and then hangs up without a reply (a node
dying mid-bulk), and `stop()`/`start()` take the port down and up again (connection refused).
"""

from __future__ import annotations

import http.client
import json
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

from tests.ism_emulation import IsmPolicies

_VND = re.compile(r"application/vnd\.elasticsearch\+(json|x-ndjson)(\s*;\s*compatible-with=\d+)?")
_HOP = {"connection", "keep-alive", "transfer-encoding", "content-length", "host"}


def plain_media_type(value: str) -> str:
    return _VND.sub(lambda m: f"application/{m.group(1)}", value)


class EsCompatProxy:
    def __init__(self, upstream: str, port: int = 0) -> None:
        parts = urlsplit(upstream)
        self.upstream = (parts.hostname or "127.0.0.1", parts.port or 9200)
        self.port = port
        self.requests: list[tuple[str, str]] = []
        self.bodies: list[tuple[str, str, bytes]] = []
        self._faults: list[dict] = []
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self.ism: IsmPolicies | None = None  # set to answer OpenSearch's ISM API, which osmem-server lacks

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    # -- faults ----------------------------------------------------------------------------------
    def reply_next(self, status: int, times: int = 1, path_part: str = "") -> None:
        with self._lock:
            self._faults.append({"kind": "reply", "status": status, "left": times, "path": path_part})

    def drop_after_forward(self, path_part: str = "/_bulk", then_stop: bool = True) -> None:
        with self._lock:
            self._faults.append({"kind": "drop", "left": 1, "path": path_part, "stop": then_stop})

    def refuse_items_next(self, count: int, status: int = 429, path_part: str = "/_bulk") -> None:
        """Forward the next bulk, then report its first `count` items as refused (429: queue full)."""
        with self._lock:
            self._faults.append({"kind": "items", "left": 1, "path": path_part, "count": count, "status": status})

    def _take_fault(self, path: str) -> dict | None:
        with self._lock:
            for fault in self._faults:
                if fault["path"] in path and fault["left"] > 0:
                    fault["left"] -= 1
                    return dict(fault)
        return None

    # -- lifecycle -------------------------------------------------------------------------------
    def start(self) -> EsCompatProxy:
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True  # headers and body go out as separate writes

            def log_message(self, *args: object) -> None:
                return None

            def _forward(self) -> None:
                if proxy._server is None:  # stopped: connections kept alive from before go dead too
                    self.close_connection = True
                    return
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else None
                proxy.requests.append((self.command, self.path))
                proxy.bodies.append((self.command, self.path, body or b""))
                emulated = proxy.ism.handle(self.command, self.path, body) if proxy.ism else None
                if emulated is not None:
                    status, answer = emulated
                    payload = json.dumps(answer).encode()
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload)
                    return
                fault = proxy._take_fault(self.path)
                if fault and fault["kind"] == "reply":
                    payload = json.dumps({"error": {"type": "es_rejected_execution_exception",
                                                    "reason": "injected by the test proxy"},
                                          "status": fault["status"]}).encode()
                    self.send_response(fault["status"])
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(payload)))
                    self.send_header("X-Elastic-Product", "Elasticsearch")
                    self.end_headers()
                    self.wfile.write(payload)
                    return
                headers = {k: plain_media_type(v) for k, v in self.headers.items() if k.lower() not in _HOP}
                conn = http.client.HTTPConnection(*proxy.upstream, timeout=30)
                try:
                    conn.request(self.command, self.path, body=body, headers=headers)
                    reply = conn.getresponse()
                    data = reply.read()
                finally:
                    conn.close()
                if fault and fault["kind"] == "items":
                    reply_json = json.loads(data)
                    for item in reply_json["items"][: fault["count"]]:
                        outcome = next(iter(item.values()))
                        outcome.update(status=fault["status"], error={
                            "type": "es_rejected_execution_exception", "reason": "injected: queue full"})
                    reply_json["errors"] = True
                    data = json.dumps(reply_json).encode()
                if fault and fault["kind"] == "drop":  # the write happened; the client never hears back
                    self.close_connection = True
                    if fault["stop"]:
                        threading.Thread(target=proxy.stop, daemon=True).start()
                    return
                self.send_response(reply.status)
                for key, value in reply.getheaders():
                    if key.lower() not in _HOP:
                        self.send_header(key, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = _forward

        class Server(ThreadingHTTPServer):
            allow_reuse_address = True
            daemon_threads = True

        self._server = Server(("127.0.0.1", self.port), Handler)
        self.port = self._server.server_address[1]
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        server, self._server = self._server, None
        if server is not None:
            server.shutdown()
            server.server_close()

    def __enter__(self) -> EsCompatProxy:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
