"""Slack incoming webhook: Block Kit without a bot token; no threads, no updates."""

from __future__ import annotations

from alerts.channels.base import Channel, Delivery, DeliveryError, post_json, robot_url
from alerts.message import AlertMessage
from alerts.render import slack_blocks, slack_fallback_text


class SlackWebhookChannel(Channel):
    """The target is the name of the env var holding the webhook URL (the URL is the secret)."""

    name = "slack_webhook"
    keeps_claim = True

    def __init__(self, timeout: float = 10, relay_hosts: list[str] | tuple[str, ...] = ()) -> None:
        self.relay_hosts = relay_hosts  # alerts.webhook_relay_hosts: a self-hosted relay
        self.timeout = timeout

    def send(self, message: AlertMessage, target: str, *, thread_id: str | None = None,
             existing_id: str | None = None, key: str | None = None) -> Delivery:
        url = robot_url(self.name, target, self.relay_hosts)
        # buttons need an app to answer them; a webhook has none
        blocks = [b for b in slack_blocks(message) if b["type"] != "actions"]
        reply = post_json(url, {"text": slack_fallback_text(message), "blocks": blocks,
                                "unfurl_links": False}, self.timeout, "Slack webhook")
        if reply.get("raw", "ok") != "ok":
            raise DeliveryError(f"Slack webhook refused: {reply['raw'][:80]}", retryable=False)
        return Delivery()
