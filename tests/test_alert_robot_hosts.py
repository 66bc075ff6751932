"""Robot webhook URLs go only to their platform's hosts, or to a relay named in alerts.webhook_relay_hosts.

The URL carries the robot's key: one pointing at an internal address or a look-alike host would hand the key
(and the alert) to whoever answers there. Refused at start, in one line naming the setting, never the URL.
"""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest
import yaml

from alerts.dispatch import AlertDispatcher, build_channels
from alerts.outbox import PENDING
from crisiswatch.cli import main
from crisiswatch.db import connect
from crisiswatch.errors import ConfigError
from tests.conftest import config_dict
from tests.test_alert_channels import Receiver, message
from tests.test_alert_helpers import make_config

KEY = "SECRETKEY0123"


def route(kind: str) -> list[dict]:
    return [{"name": "mgmt", "channel": kind, "url_env": "ROBOT_URL"}]


@pytest.mark.parametrize(
    ("kind", "url"),
    [
        ("wecom", f"http://10.1.2.3/cgi-bin/webhook/send?key={KEY}"),  # an internal address
        (
            "wecom",
            f"https://qyapi.weixin.qq.com.evil.example/cgi-bin/webhook/send?key={KEY}",
        ),  # a look-alike host
        ("wecom", f"https://oapi.dingtalk.com/robot/send?access_token={KEY}"),  # another platform's
        ("dingtalk", f"https://oapi.dingtalk.co/robot/send?access_token={KEY}"),  # a typo
        ("feishu", f"https://open.feishu.cn.example.org/open-apis/bot/v2/hook/{KEY}"),
        ("slack_webhook", f"https://hooks.slack.example/services/T0/B0/{KEY}"),
        ("wecom", f"http://qyapi.weixin.qq.com/cgi-bin/webhook/send?key={KEY}"),  # the key in clear
    ],
)
def test_a_robot_url_off_its_platform_stops_the_start_naming_the_setting_never_the_key(
    tmp_path, monkeypatch, kind, url
):
    monkeypatch.setenv("ROBOT_URL", url)
    with pytest.raises(ConfigError) as err:
        make_config(tmp_path, routes=route(kind))
    said = str(err.value)
    assert "alerts.routes.0.url_env" in said and "$ROBOT_URL" in said
    assert "add its host to alerts.webhook_relay_hosts" in said or "use https://" in said
    assert KEY not in said and "\n" not in said


def test_the_operator_route_is_checked_too_and_the_cli_says_it_in_one_line(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("OPS_URL", f"http://192.168.0.9/robot/send?access_token={KEY}")
    data = config_dict(tmp_path)
    data["alerts"] = {
        **data["alerts"],
        "operator_route": {"name": "ops", "channel": "dingtalk", "url_env": "OPS_URL"},
    }
    cfg = tmp_path / "crisiswatch.yaml"
    cfg.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    assert main(["--config", str(cfg), "alerts", "outbox"]) != 0
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "alerts.operator_route.url_env" in err and "'192.168.0.9'" in err
    assert KEY not in err


@pytest.mark.parametrize(
    ("kind", "url"),
    [
        ("wecom", f"https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key={KEY}"),
        ("dingtalk", f"https://oapi.dingtalk.com/robot/send?access_token={KEY}"),
        ("feishu", f"https://open.feishu.cn/open-apis/bot/v2/hook/{KEY}"),
        ("feishu", f"https://open.larksuite.com/open-apis/bot/v2/hook/{KEY}"),
        ("slack_webhook", f"https://hooks.slack.com/services/T0/B0/{KEY}"),
    ],
)
def test_each_platforms_own_robot_host_is_taken_and_a_look_alike_of_it_is_not(
    tmp_path, monkeypatch, kind, url
):
    monkeypatch.setenv("ROBOT_URL", url)
    assert make_config(tmp_path, routes=route(kind)).alerts.routes[0].url_env == "ROBOT_URL"
    host = urlsplit(url).hostname
    monkeypatch.setenv("ROBOT_URL", url.replace(host, f"{host}.example.net"))
    with pytest.raises(ConfigError, match=f"'{host}.example.net' is not a"):
        make_config(tmp_path, routes=route(kind))


def test_a_self_hosted_relay_is_taken_once_named_and_a_malformed_name_is_refused(tmp_path, monkeypatch):
    monkeypatch.setenv("ROBOT_URL", f"http://relay.ops.internal:8080/wecom/send?key={KEY}")
    config = make_config(tmp_path, routes=route("wecom"), webhook_relay_hosts=["relay.ops.internal"])
    assert config.alerts.webhook_relay_hosts == ["relay.ops.internal"]
    with pytest.raises(ConfigError, match="alerts.webhook_relay_hosts.*not a host name"):
        make_config(tmp_path, routes=route("wecom"), webhook_relay_hosts=["http://relay.ops.internal/"])


def test_a_deliverer_sends_nothing_to_a_host_it_was_not_given_and_the_alert_waits_for_a_fix(
    tmp_path, monkeypatch
):
    receiver = Receiver()
    try:
        config = make_config(tmp_path, routes=route("wecom"))  # read while the variable was unset
        monkeypatch.setenv("ROBOT_URL", receiver.url(f"/cgi-bin/webhook/send?key={KEY}"))
        d = AlertDispatcher(config, connect(config.state_store), build_channels(config))
        d.enqueue("a", message())
        d.deliver_due()
        [row] = d.outbox.all()
        assert receiver.requests == []
        assert (
            row.status == PENDING
            and row.needs_fix
            and "$ROBOT_URL" in row.last_error
            and KEY not in row.last_error
        )
        relayed = make_config(tmp_path, routes=route("wecom"), webhook_relay_hosts=["127.0.0.1"])
        d = AlertDispatcher(relayed, d.conn, build_channels(relayed))
        d.outbox.retry([row.id])
        assert d.deliver_due() == (1, 0) and len(receiver.requests) == 1
    finally:
        receiver.close()
