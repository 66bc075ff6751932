"""钉钉 custom robot webhook, markdown, with the signed-secret mode.

Signing: sign = urlencode(base64(HMAC-SHA256(key=secret, msg=f"{timestamp}\\n{secret}"))), with
timestamp in milliseconds, both added to the webhook URL's query string.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import time
import urllib.parse

from alerts.channels.base import (
    RATE_LIMITED,
    Channel,
    Delivery,
    DeliveryError,
    env_value,
    post_json,
    robot_url,
)
from alerts.channels.wecom import markdown_body
from alerts.message import AlertMessage

PERMANENT = {300001, 310000, 400013, 400101, 410100}  # bad token / signature / keyword / robot off


def dingtalk_sign(secret: str, timestamp_ms: int) -> str:
    digest = hmac.new(secret.encode(), f"{timestamp_ms}\n{secret}".encode(), hashlib.sha256).digest()
    return urllib.parse.quote_plus(base64.b64encode(digest))


def signed_url(url: str, secret: str, timestamp_ms: int | None = None) -> str:
    ts = timestamp_ms if timestamp_ms is not None else int(time.time() * 1000)
    return f"{url}{'&' if '?' in url else '?'}timestamp={ts}&sign={dingtalk_sign(secret, ts)}"


class DingTalkChannel(Channel):
    name = "dingtalk"
    keeps_claim = True

    def __init__(self, secret_envs: dict[str, str] | None = None, timeout: float = 10,
                 relay_hosts: list[str] | tuple[str, ...] = ()) -> None:
        self.relay_hosts = relay_hosts  # alerts.webhook_relay_hosts: a self-hosted relay
        self.secret_envs = secret_envs or {}  # url env var -> secret env var
        self.timeout = timeout

    def send(self, message: AlertMessage, target: str, *, thread_id: str | None = None,
             existing_id: str | None = None, key: str | None = None) -> Delivery:
        url = robot_url(self.name, target, self.relay_hosts)
        secret_env = self.secret_envs.get(target)
        if secret_env:
            secret = os.environ.get(secret_env) or env_value(secret_env, "DingTalk signing secret")
            url = signed_url(url, secret)
        payload = {"msgtype": "markdown", "at": {"isAtAll": False, "atMobiles": [], "atUserIds": []},
                   "markdown": {"title": message.title[:60], "text": markdown_body(message, "### {}", 5000, len)}}
        reply = post_json(url, payload, self.timeout, "DingTalk robot")
        code = int(reply.get("errcode", 0) or 0)
        if code:
            # 130101: more than 20 messages a minute
            raise DeliveryError(f"DingTalk robot errcode {code}: {reply.get('errmsg', '')}",
                                retryable=code not in PERMANENT, retry_after=60 if code == 130101 else None,
                                kind=RATE_LIMITED if code == 130101 else None)
        return Delivery()
