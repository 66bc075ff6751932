"""A robot webhook or SMTP server that answers slowly never gets an alert twice from two deliverers.

These channels return nothing to look an alert up by (Slack's way out, tests/test_alert_leases.py), so the
deliverer keeps its claim on the row while the send is in flight. The servers are real: a loopback HTTP
server that trickles its answer, and aiosmtpd answering each recipient slowly; every wait stays under the
request timeout, the whole send lasts longer than the outbox lease.
"""

from __future__ import annotations

import asyncio
import json
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from alerts.dispatch import AlertDispatcher, build_channels
from alerts.outbox import SENT
from crisiswatch.db import connect
from tests.test_alert_channels import message
from tests.test_alert_helpers import make_config
from tests.test_alert_leases import race

LEASE = 1.5  # seconds; the robots' timeout is then 0.5 s, each trickled piece of an answer comes within 0.1 s
ANSWERS = {
    "wecom": {"errcode": 0, "errmsg": "ok"},
    "dingtalk": {"errcode": 0, "errmsg": "ok"},
    "feishu": {"code": 0, "msg": "success"},
}


class TricklingRobot:
    """A robot webhook that takes each request at once and sends its answer a piece every 0.1 s, 2.6 s in all."""

    def __init__(self, answer: dict) -> None:
        self.requests: list[str] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                self.rfile.read(int(self.headers["Content-Length"]))
                outer.requests.append(self.path)
                raw = json.dumps(answer).encode().ljust(52)  # JSON allows the trailing spaces
                self.send_response(200)
                self.send_header("Content-Length", str(len(raw)))
                self.end_headers()
                for i in range(0, len(raw), 2):
                    self.wfile.write(raw[i : i + 2])
                    time.sleep(0.1)

            def log_message(self, *args) -> None:
                return

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}{path}"

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def two_deliverers(config) -> tuple[AlertDispatcher, AlertDispatcher]:
    """Two deliverers on one outbox, each with its own connection and channels, as two processes have."""
    return tuple(
        AlertDispatcher(config, connect(config.state_store), build_channels(config)) for _ in range(2)
    )


def deliver_through_a_trickling_robot(tmp_path, monkeypatch, kind: str, state_url: str = ""):
    robot = TricklingRobot(ANSWERS[kind])
    try:
        monkeypatch.setenv("ROBOT_URL", robot.url("/send?key=k"))
        config = make_config(
            tmp_path,
            state_url=state_url,
            outbox_lease_seconds=LEASE,
            webhook_relay_hosts=["127.0.0.1"],
            routes=[{"name": "mgmt", "channel": kind, "url_env": "ROBOT_URL"}],
        )
        a, b = two_deliverers(config)
        a.enqueue("inc-7", message())
        race(a, b, LEASE + 0.5)  # B looks once A's send has outlasted the lease A took the row with
        [row] = a.outbox.all()
        return robot.requests, row
    finally:
        robot.close()


def test_a_wecom_robot_answering_slower_than_the_lease_gets_the_alert_once(tmp_path, monkeypatch, state_url):
    requests, row = deliver_through_a_trickling_robot(tmp_path, monkeypatch, "wecom", state_url)
    assert len(requests) == 1, requests
    assert row.status == SENT and row.attempts == 1


@pytest.mark.parametrize("kind", ["dingtalk", "feishu"])
def test_dingtalk_and_feishu_robots_answering_slowly_get_the_alert_once(tmp_path, monkeypatch, kind):
    requests, row = deliver_through_a_trickling_robot(tmp_path, monkeypatch, kind)
    assert len(requests) == 1, requests
    assert row.status == SENT and row.attempts == 1


@pytest.fixture
def slow_smtp():
    """aiosmtpd taking 0.3 s over each recipient (under the 0.5 s SMTP timeout a 1.5 s lease allows)."""
    from aiosmtpd.controller import Controller

    class Handler:
        def __init__(self) -> None:
            self.messages: list[list[str]] = []

        async def handle_RCPT(self, server, session, envelope, address, rcpt_options):  # noqa: N802
            await asyncio.sleep(0.3)
            envelope.rcpt_tos.append(address)
            return "250 OK"

        async def handle_DATA(self, server, session, envelope):  # noqa: N802
            self.messages.append(list(envelope.rcpt_tos))
            return "250 OK"

    handler = Handler()
    with socket.socket() as probe:  # aiosmtpd checks its own port after starting, so it can't be 0
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    yield port, handler
    controller.stop()


def test_an_e_mail_to_many_recipients_on_a_slow_smtp_server_goes_out_once(tmp_path, slow_smtp):
    port, handler = slow_smtp
    recipients = ", ".join(f"pr{i}@example.cn" for i in range(8))  # 8 x 0.3 s: longer than the lease
    config = make_config(
        tmp_path,
        outbox_lease_seconds=LEASE,
        email={"host": "127.0.0.1", "port": port},
        routes=[{"name": "pr", "channel": "email", "target": recipients}],
    )
    a, b = two_deliverers(config)
    a.enqueue("inc-7", message())
    race(a, b, LEASE + 0.5)
    assert len(handler.messages) == 1, handler.messages
    [row] = a.outbox.all()
    assert row.status == SENT and row.attempts == 1
