"""Each non-Slack channel against a loopback receiver: Slack webhook, 企业微信, 钉钉 (signature checked
on the receiving side), 飞书 (signed), and e-mail through a real SMTP server (aiosmtpd)."""

from __future__ import annotations

import base64
import email
import email.policy
import hashlib
import hmac
import json
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import pytest

from alerts.channels.base import NEEDS_FIX, DeliveryError
from alerts.channels.dingtalk import DingTalkChannel
from alerts.channels.email import EmailChannel
from alerts.channels.feishu import FeishuChannel
from alerts.channels.slack_webhook import SlackWebhookChannel
from alerts.channels.wecom import WeComChannel
from alerts.dispatch import AlertDispatcher, build_channels
from alerts.message import AlertMessage
from crisiswatch.config import EmailSettings
from crisiswatch.db import connect
from tests.test_alert_helpers import make_config

HOSTILE = "<!channel> @all <at user_id=\"all\">所有人</at> [点我](http://evil.example) **粗** <font color=red>x</font>"
DING_SECRET = "SEC0123456789abcdef"
# the receivers below are a "self-hosted relay" on this machine: the opt-in any deployment uses for one
LOOPBACK = ["127.0.0.1"]


def message() -> AlertMessage:
    return AlertMessage(kind="incident_opened", title="极光优选 负面声量异常 (INC-7)", severity="紧急", brand="aurora",
                        summary="9 negative vs 0.3", incident_id=7, thread_key="incident:7",
                        facts={"peak": 9, "baseline": 0.3, "top_posts": [{"author": "小鹿", "text": HOSTILE}]},
                        links={"事件 Incident": "http://127.0.0.1:8470/incidents/7"})


class Receiver:
    """A webhook endpoint that records requests and answers like the platform does."""

    def __init__(self, answer=lambda path, body: (200, {"errcode": 0, "errmsg": "ok"})) -> None:
        self.requests: list[tuple[str, dict]] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                outer.requests.append((self.path, body))
                status, payload = answer(self.path, body)
                raw = payload.encode() if isinstance(payload, str) else json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)

            def log_message(self, *args) -> None:
                return

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}{path}"

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def receiver():
    servers = []

    def make(answer=None):
        server = Receiver(answer) if answer else Receiver()
        servers.append(server)
        return server

    yield make
    for s in servers:
        s.close()


def dingtalk_verify(path: str) -> bool:
    """What DingTalk does with a signed request: recompute the sign, refuse stale timestamps."""
    query = parse_qs(urlsplit(path).query)
    ts, sign = query["timestamp"][0], query["sign"][0]  # parse_qs undoes the urlencoding
    expected = base64.b64encode(hmac.new(DING_SECRET.encode(), f"{ts}\n{DING_SECRET}".encode(),
                                         hashlib.sha256).digest()).decode()
    return hmac.compare_digest(sign, expected) and abs(time.time() * 1000 - int(ts)) < 3600_000


def test_dingtalk_signed_markdown_is_verified_by_the_receiver(receiver, monkeypatch):
    server = receiver(lambda path, body: (200, {"errcode": 0 if dingtalk_verify(path) else 310000,
                                                "errmsg": "ok" if dingtalk_verify(path) else "sign not match"}))
    monkeypatch.setenv("DING_URL", server.url("/robot/send?access_token=tok"))
    monkeypatch.setenv("DING_SECRET", DING_SECRET)
    DingTalkChannel({"DING_URL": "DING_SECRET"}, relay_hosts=LOOPBACK).send(message(), "DING_URL")
    path, body = server.requests[0]
    assert "access_token=tok" in path and body["msgtype"] == "markdown"
    text = body["markdown"]["text"]
    assert "<font" not in text and "[点我](" not in text and "@all" not in text and "**粗**" not in text
    assert body["at"]["isAtAll"] is False
    monkeypatch.setenv("DING_SECRET", "wrong")
    with pytest.raises(DeliveryError, match="310000") as err:
        DingTalkChannel({"DING_URL": "DING_SECRET"}, relay_hosts=LOOPBACK).send(message(), "DING_URL")
    assert not err.value.retryable


def test_wecom_markdown_neutralises_user_text_and_retries_rate_limits(receiver, monkeypatch):
    answers = iter([(200, {"errcode": 0, "errmsg": "ok"}), (200, {"errcode": 45009, "errmsg": "freq"})])
    server = receiver(lambda path, body: next(answers))
    monkeypatch.setenv("WECOM_URL", server.url("/cgi-bin/webhook/send?key=k"))
    WeComChannel(relay_hosts=LOOPBACK).send(message(), "WECOM_URL")
    body = server.requests[0][1]
    content = body["markdown"]["content"]
    assert body["msgtype"] == "markdown" and content.startswith('<font color="warning">**')
    assert "<at" not in content and "<font color=red>" not in content and "[点我](http" not in content
    assert "[事件 Incident](http://127.0.0.1:8470/incidents/7)" in content
    with pytest.raises(DeliveryError) as err:
        WeComChannel(relay_hosts=LOOPBACK).send(message(), "WECOM_URL")
    assert err.value.retryable and err.value.retry_after == 60


def test_feishu_card_is_signed_when_a_secret_is_set(receiver, monkeypatch):
    server = receiver(lambda path, body: (200, {"code": 0, "msg": "success"}))
    monkeypatch.setenv("FEISHU_URL", server.url("/open-apis/bot/v2/hook/x"))
    monkeypatch.setenv("FEISHU_SECRET", "fs-secret")
    FeishuChannel({"FEISHU_URL": "FEISHU_SECRET"}, relay_hosts=LOOPBACK).send(message(), "FEISHU_URL")
    body = server.requests[0][1]
    key = f"{body['timestamp']}\nfs-secret".encode()
    assert body["sign"] == base64.b64encode(hmac.new(key, b"", hashlib.sha256).digest()).decode()
    content = body["card"]["elements"][0]["text"]["content"]
    assert body["card"]["header"]["template"] == "orange" and "<at" not in content


def test_slack_webhook_posts_blocks_without_buttons_and_escaped(receiver, monkeypatch):
    server = receiver(lambda path, body: (200, "ok"))
    monkeypatch.setenv("SLACK_HOOK", server.url("/services/T/B/X"))
    SlackWebhookChannel(relay_hosts=LOOPBACK).send(message(), "SLACK_HOOK")
    blob = json.dumps(server.requests[0][1], ensure_ascii=False)
    assert "&lt;!channel&gt;" in blob and "<!channel>" not in blob and '"actions"' not in blob


def test_webhook_errors_are_clear_and_never_show_the_url(receiver, monkeypatch):
    server = receiver(lambda path, body: (503, {"errcode": -1}))
    monkeypatch.setenv("WECOM_URL", server.url("/cgi-bin/webhook/send?key=SECRETKEY"))
    with pytest.raises(DeliveryError) as err:
        WeComChannel(relay_hosts=LOOPBACK).send(message(), "WECOM_URL")
    assert err.value.retryable and "SECRETKEY" not in str(err.value) and "503" in str(err.value)
    monkeypatch.delenv("WECOM_URL")
    with pytest.raises(DeliveryError, match="WECOM_URL") as err:
        WeComChannel(relay_hosts=LOOPBACK).send(message(), "WECOM_URL")
    assert err.value.kind == NEEDS_FIX  # held until someone sets it, never failed for good


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.mark.parametrize(("channel", "path"), [
    (WeComChannel, "/cgi-bin/webhook/send?key=WECOMSECRETKEY"),
    (DingTalkChannel, "/robot/send?access_token=DINGSECRETTOKEN"),
    (FeishuChannel, "/open-apis/bot/v2/hook/FEISHUSECRETHOOK"),
    (SlackWebhookChannel, "/services/T0/B0/SLACKSECRETHOOK"),
])
def test_a_robot_host_down_leaves_its_token_out_of_the_log(monkeypatch, caplog, channel, path):
    # urllib3 said "Retrying (...) after connection broken by ...: /cgi-bin/webhook/send?key=…" at WARNING,
    # which the run loop's log keeps; its DEBUG lines carry the target too
    monkeypatch.setenv("ROBOT_URL", f"http://127.0.0.1:{closed_port()}{path}")
    caplog.set_level("DEBUG")
    with pytest.raises(DeliveryError) as err:
        channel(relay_hosts=LOOPBACK).send(message(), "ROBOT_URL")
    assert err.value.kind == "transient"
    retried = [r for r in caplog.records if r.name.startswith("urllib3") and r.levelname == "WARNING"]
    assert retried, "no retry was logged"  # still said, without the token
    assert "SECRET" not in caplog.text and "/*** (a webhook's token)" in caplog.text


def test_an_alert_whose_robot_url_is_unset_waits_for_it_and_then_goes(tmp_path, monkeypatch, receiver):
    server = receiver()
    monkeypatch.delenv("WECOM_URL", raising=False)
    config = make_config(tmp_path, webhook_relay_hosts=LOOPBACK,
                         routes=[{"name": "mgmt", "channel": "wecom", "url_env": "WECOM_URL"}])
    d = AlertDispatcher(config, connect(config.state_store), build_channels(config))
    d.enqueue("a", message())
    d.deliver_due()  # a deliverer started without the variable: the alert was failed for good
    [row] = d.outbox.all()
    assert row.status == "pending" and row.needs_fix and "WECOM_URL" in row.last_error
    monkeypatch.setenv("WECOM_URL", server.url("/cgi-bin/webhook/send?key=k"))
    d.conn.execute("UPDATE outbox SET next_attempt_at=?", ("2000-01-01T00:00:00+00:00",))  # its retry is due
    assert d.deliver_due() == (1, 0) and len(server.requests) == 1


@pytest.fixture
def smtp():
    from aiosmtpd.controller import Controller

    class Handler:
        def __init__(self) -> None:
            self.messages: list[tuple[list[str], bytes]] = []

        async def handle_DATA(self, server, session, envelope):  # noqa: N802 (aiosmtpd's hook name)
            self.messages.append((list(envelope.rcpt_tos), envelope.content))
            return "250 OK"

    handler = Handler()
    with socket.socket() as probe:  # aiosmtpd checks its own port after starting, so it can't be 0
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    yield controller, handler
    controller.stop()


def test_email_through_a_real_smtp_server(smtp):
    controller, handler = smtp
    settings = EmailSettings(host="127.0.0.1", port=controller.port,
                             sender="crisiswatch@example.cn")
    delivery = EmailChannel(settings).send(message(), "pr@example.cn, legal@example.cn", key="incident:7|email|x")
    [(rcpt, raw)] = handler.messages
    assert rcpt == ["pr@example.cn", "legal@example.cn"]
    mail = email.message_from_bytes(raw, policy=email.policy.default)
    assert "INC-7" in mail["Subject"] and mail["Message-ID"] == delivery.external_id
    html = mail.get_body(("html",)).get_content()
    assert "&lt;font color=red&gt;" in html and "<font color=red>" not in html
    assert "<!channel>" in mail.get_body(("plain",)).get_content()  # plain text shows it as written


def test_routes_pick_channels_by_brand_and_severity(tmp_path, monkeypatch, receiver):
    server = receiver()
    monkeypatch.setenv("DING_URL", server.url("/robot/send?access_token=t"))
    config = make_config(tmp_path, webhook_relay_hosts=LOOPBACK, routes=[
        {"name": "response", "channel": "console", "target": "#crisis"},
        {"name": "mgmt", "channel": "dingtalk", "url_env": "DING_URL", "min_severity": "紧急"},
        {"name": "other-brand", "channel": "wecom", "url_env": "W", "brands": ["aurora"], "min_severity": "重大"}])
    d = AlertDispatcher(config, connect(config.state_store), build_channels(config))
    assert d.routes_for(message()) == [("console", "#crisis"), ("dingtalk", "DING_URL")]
    assert d.enqueue("a", message()) == 2
    assert d.deliver_due() == (2, 0) and len(server.requests) == 1


def test_an_alert_for_a_brand_no_route_covers_is_said_not_dropped_in_silence(tmp_path, caplog):
    import logging
    from dataclasses import replace

    config = make_config(tmp_path, routes=[
        {"name": "aurora-pr", "channel": "console", "target": "#aurora", "brands": ["aurora"]},
        {"name": "aurora-mgmt", "channel": "console", "target": "#mgmt", "brands": ["aurora"], "min_severity": "重大"}])
    d = AlertDispatcher(config, connect(config.state_store), build_channels(config))
    with caplog.at_level(logging.INFO, logger="alerts.dispatch"):
        assert d.enqueue("b", replace(message(), brand="beacon", severity="重大")) == 0
        assert d.enqueue("a", replace(message(), severity="一般")) == 1  # below mgmt's bar: the routes' choice
    said = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(said) == 1 and "for brand 'beacon' is not sent: no route in alerts.routes covers the brand" in said[0]


def test_webhook_route_without_url_env_is_a_config_error(tmp_path):
    from crisiswatch.errors import ConfigError

    with pytest.raises(ConfigError, match="url_env"):
        make_config(tmp_path, routes=[{"name": "x", "channel": "wecom"}])


def test_a_webhook_that_drops_the_connection_after_reading_is_not_posted_twice(monkeypatch):
    """The request left: only the outbox may try again (with its backoff), never the HTTP client."""
    seen = []
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(4)

    def hang_up() -> None:
        while True:
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            seen.append(conn.recv(65536))
            conn.close()

    threading.Thread(target=hang_up, daemon=True).start()
    monkeypatch.setenv("WECOM_URL", f"http://127.0.0.1:{listener.getsockname()[1]}/send?key=SECRETKEY")
    try:
        with pytest.raises(DeliveryError, match="unreachable") as err:
            WeComChannel(timeout=5, relay_hosts=LOOPBACK).send(message(), "WECOM_URL")
    finally:
        listener.close()
    assert err.value.retryable and "SECRETKEY" not in str(err.value)
    assert len(seen) == 1


def test_an_alert_for_a_channel_this_process_lacks_waits_for_one_that_has_it(tmp_path, caplog):
    import io
    import logging
    from datetime import UTC, datetime

    from alerts.channels.console import ConsoleChannel
    from alerts.outbox import PENDING, SENT
    from tests.test_alert_helpers import Clock

    clock = Clock(datetime.now(UTC))
    config = make_config(tmp_path, routes=[{"name": "response", "channel": "slack", "target": "#crisis"}])
    conn = connect(config.state_store)
    slack_out = io.StringIO()
    with_token = AlertDispatcher(config, conn, {"slack": ConsoleChannel(slack_out), "console": ConsoleChannel(io.StringIO())},
                                 clock=clock)
    assert with_token.enqueue("k", message()) == 1  # the run loop, with SLACK_BOT_TOKEN
    without = AlertDispatcher(config, conn, {"console": ConsoleChannel(io.StringIO())}, clock=clock)  # cron, without
    with caplog.at_level(logging.WARNING, logger="alerts.dispatch"):
        assert without.deliver_due() == (0, 1)
    row = without.outbox.all()[0]
    # it was failed for good: the escalation it carried never reached Slack, and nothing said so
    assert row.status == PENDING and "'slack' is not configured in this process" in row.last_error
    assert without.outbox.troubled()[0].key == row.key and "waits" in caplog.text
    clock.advance(minutes=6)
    assert with_token.deliver_due() == (1, 0) and with_token.outbox.all()[0].status == SENT and slack_out.getvalue()


def test_alerts_deliver_exits_1_and_outbox_says_why(tmp_path, monkeypatch, capsys):
    import io

    import yaml

    from alerts.channels.console import ConsoleChannel
    from crisiswatch.cli import main
    from tests.conftest import config_dict

    data = config_dict(tmp_path)
    cfg = tmp_path / "crisiswatch.yaml"
    cfg.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    config = make_config(tmp_path)
    AlertDispatcher(config, connect(config.state_store), {"slack": ConsoleChannel(io.StringIO())}).enqueue("k", message())
    monkeypatch.delenv("SLACK_BOT_TOKEN", raising=False)
    assert main(["--config", str(cfg), "alerts", "deliver"]) == 1
    assert "alerts: 0 sent, 1 failed (`crisiswatch alerts outbox` says why)" in capsys.readouterr().out
    assert main(["--config", str(cfg), "alerts", "outbox"]) == 0
    out = capsys.readouterr().out
    assert "pending: 1" in out and "channel 'slack' is not configured in this process" in out
