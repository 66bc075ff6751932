"""A loopback stand-in for the few Kibana HTTP APIs crisiswatch calls (saved-object import, cases).

It checks what a real Kibana checks first (kbn-xsrf on writes, the multipart NDJSON upload) and keeps
every request for assertions. It is not Kibana: it cannot tell whether a dashboard renders.
"""

from __future__ import annotations

import json
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class FakeKibana:
    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self.cases: dict[str, dict[str, Any]] = {}
        self._server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def handle(self, method: str, path: str, headers: dict[str, str], body: bytes) -> tuple[int, Any]:
        self.requests.append({"method": method, "path": path, "headers": headers, "body": body})
        if method != "GET" and headers.get("kbn-xsrf") is None:
            return 400, {"statusCode": 400, "error": "Bad Request", "message": "Request must contain a kbn-xsrf header."}
        path = re.sub(r"^/s/[a-z0-9_-]+", "", path.split("?", 1)[0])
        if method == "POST" and path == "/api/saved_objects/_import":
            match = re.search(rb"\r\n\r\n(.*)\r\n--", body, re.S)
            lines = [json.loads(line) for line in (match.group(1) if match else b"").splitlines() if line.strip()]
            return 200, {"success": bool(lines), "successCount": len(lines),
                         "successResults": [{"type": o["type"], "id": o["id"]} for o in lines]}
        if method == "POST" and path == "/api/cases":
            case = json.loads(body)
            case.update(id=f"case-{len(self.cases) + 1}", version="WzEsMV0=", status="open")
            self.cases[case["id"]] = case
            return 200, case
        if method == "PATCH" and path == "/api/cases":
            out = []
            for update in json.loads(body)["cases"]:
                case = self.cases.get(update["id"])
                if case is None or case["version"] != update["version"]:
                    return 409, {"statusCode": 409, "error": "Conflict", "message": "version conflict"}
                case.update({k: v for k, v in update.items() if k != "version"}, version=case["version"] + "x")
                out.append(case)
            return 200, out
        return 404, {"statusCode": 404, "error": "Not Found", "message": f"no route {method} {path}"}

    def start(self) -> FakeKibana:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                return None

            def _any(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                status, payload = fake.handle(self.command, self.path, {k.lower(): v for k, v in
                                                                        self.headers.items()}, body)
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_PATCH = do_PUT = do_DELETE = _any

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    def __enter__(self) -> FakeKibana:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
