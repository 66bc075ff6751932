"""企业微信 group robot webhook, msgtype markdown; user text neutralised for its markdown."""

from __future__ import annotations

from collections.abc import Callable

from alerts.channels.base import RATE_LIMITED, Channel, Delivery, DeliveryError, post_json, robot_url
from alerts.message import AlertMessage, neutral_markdown
from alerts.render import fit_lines, plain_lines, utf8_size

SEVERITY_COLOR = {"一般": "comment", "重要": "info", "紧急": "warning", "重大": "warning"}
# errcodes that will not go away by retrying: bad key, bad payload, robot removed
PERMANENT = {93000, 40008, 40058, 300003, 93004}


CONTENT_BYTES = 4096  # the robot's limit on markdown.content, in UTF-8 bytes (a Chinese character is 3)


def markdown_body(message: AlertMessage, bold_title: str = "**{}**", limit: int = CONTENT_BYTES,
                  size: Callable[[str], int] = utf8_size) -> str:
    """Title, lines and links within the robot's `limit`: whole lines, the links kept, what is left said."""
    first, *rest = plain_lines(message)
    lines = [bold_title.format(neutral_markdown(first))] + [neutral_markdown(line) for line in rest]
    links = [f"[{neutral_markdown(name)}]({url})" for name, url in message.links.items()
             if url.startswith("http") and ")" not in url]
    return fit_lines(lines, limit, size, tail=links)


class WeComChannel(Channel):
    name = "wecom"
    keeps_claim = True

    def __init__(self, timeout: float = 10, relay_hosts: list[str] | tuple[str, ...] = ()) -> None:
        self.relay_hosts = relay_hosts  # alerts.webhook_relay_hosts: a self-hosted relay
        self.timeout = timeout

    def send(self, message: AlertMessage, target: str, *, thread_id: str | None = None,
             existing_id: str | None = None, key: str | None = None) -> Delivery:
        url = robot_url(self.name, target, self.relay_hosts)
        color = SEVERITY_COLOR.get(message.severity, "comment")
        content = markdown_body(message, f'<font color="{color}">**{{}}**</font>')
        reply = post_json(url, {"msgtype": "markdown", "markdown": {"content": content}},
                          self.timeout, "WeCom robot")
        code = int(reply.get("errcode", 0) or 0)
        if code:
            # 45009: the robot's 20-messages-a-minute limit
            raise DeliveryError(f"WeCom robot errcode {code}: {reply.get('errmsg', '')}",
                                retryable=code not in PERMANENT, retry_after=60 if code == 45009 else None,
                                kind=RATE_LIMITED if code == 45009 else None)
        return Delivery()
