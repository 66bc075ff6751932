"""飞书 custom bot webhook: an interactive card of lark_md, optionally signed.

Signing: sign = base64(HMAC-SHA256(key=f"{timestamp}\\n{secret}", msg=b"")), timestamp in seconds,
both sent in the JSON body.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import time

from alerts.channels.base import Channel, Delivery, DeliveryError, env_value, post_json, robot_url
from alerts.message import AlertMessage, neutral_markdown
from alerts.render import fit_lines, plain_lines

TEMPLATE = {"一般": "blue", "重要": "yellow", "紧急": "orange", "重大": "red"}


def feishu_sign(secret: str, timestamp: int) -> str:
    key = f"{timestamp}\n{secret}".encode()
    return base64.b64encode(hmac.new(key, b"", hashlib.sha256).digest()).decode()


class FeishuChannel(Channel):
    name = "feishu"
    keeps_claim = True

    def __init__(self, secret_envs: dict[str, str] | None = None, timeout: float = 10,
                 relay_hosts: list[str] | tuple[str, ...] = ()) -> None:
        self.relay_hosts = relay_hosts  # alerts.webhook_relay_hosts: a self-hosted relay
        self.secret_envs = secret_envs or {}
        self.timeout = timeout

    def send(self, message: AlertMessage, target: str, *, thread_id: str | None = None,
             existing_id: str | None = None, key: str | None = None) -> Delivery:
        url = robot_url(self.name, target, self.relay_hosts)
        _, *rest = plain_lines(message)
        body = fit_lines([neutral_markdown(line) for line in rest], 4000)
        links = [f"[{neutral_markdown(n)}]({u})" for n, u in message.links.items()
                 if u.startswith("http") and ")" not in u]
        card = {"header": {"title": {"tag": "plain_text", "content": f"[{message.severity}] {message.title}"[:100]},
                           "template": TEMPLATE.get(message.severity, "blue")},
                "elements": [{"tag": "div", "text": {"tag": "lark_md", "content": body}}]
                + ([{"tag": "div", "text": {"tag": "lark_md", "content": " · ".join(links)}}] if links else [])}
        payload: dict = {"msg_type": "interactive", "card": card}
        secret_env = self.secret_envs.get(target)
        if secret_env:
            ts = int(time.time())
            payload.update(timestamp=str(ts), sign=feishu_sign(os.environ.get(secret_env) or
                                                               env_value(secret_env, "Feishu secret"), ts))
        reply = post_json(url, payload, self.timeout, "Feishu bot")
        code = int(reply.get("code", reply.get("StatusCode", 0)) or 0)
        if code:
            # 11232: rate limited; 19021: bad signature; 19024: keyword check failed
            raise DeliveryError(f"Feishu bot code {code}: {reply.get('msg', '')}", retryable=code in (11232, 9499))
        return Delivery()
