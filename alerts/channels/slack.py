"""Slack through slack-sdk: Block Kit messages, incident threads, retries that never double-post."""

from __future__ import annotations

from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_handlers import (
    ConnectionErrorRetryHandler,
    RateLimitErrorRetryHandler,
    ServerErrorRetryHandler,
)

from alerts.channels.base import Channel, Delivery, DeliveryError
from alerts.message import AlertMessage
from alerts.render import slack_blocks, slack_fallback_text

PERMANENT_ERRORS = {"channel_not_found", "not_in_channel", "invalid_auth", "account_inactive",
                    "token_revoked", "is_archived", "msg_too_long", "invalid_blocks", "no_permission"}


class SlackChannel(Channel):
    name = "slack"

    def __init__(self, token: str, base_url: str | None = None, default_target: str = "#crisis-response",
                 timeout: int = 10, max_retries: int = 2) -> None:
        kwargs: dict[str, Any] = {"token": token, "timeout": timeout}
        if base_url:
            kwargs["base_url"] = base_url.rstrip("/") + "/"
        self.client = WebClient(**kwargs)
        # RateLimitErrorRetryHandler is not on by default; it honours Retry-After
        self.client.retry_handlers.extend([
            RateLimitErrorRetryHandler(max_retry_count=max_retries),
            ServerErrorRetryHandler(max_retry_count=max_retries),
        ])
        if not any(isinstance(h, ConnectionErrorRetryHandler) for h in self.client.retry_handlers):
            self.client.retry_handlers.append(ConnectionErrorRetryHandler(max_retry_count=max_retries))
        self.default_target = default_target

    def send(self, message: AlertMessage, target: str, *, thread_id: str | None = None,
             existing_id: str | None = None) -> Delivery:
        channel = target or self.default_target
        text, blocks = slack_fallback_text(message), slack_blocks(message)
        try:
            if existing_id:  # an earlier attempt posted but crashed before recording success
                self.client.chat_update(channel=channel, ts=existing_id, text=text, blocks=blocks)
                return Delivery(external_id=existing_id, thread_id=thread_id or existing_id)
            kwargs: dict[str, Any] = {"channel": channel, "text": text, "blocks": blocks,
                                      "unfurl_links": False, "unfurl_media": False}
            if thread_id:
                kwargs["thread_ts"] = thread_id
            resp = self.client.chat_postMessage(**kwargs)
        except SlackApiError as exc:
            error = str(exc.response.get("error", "")) if exc.response is not None else str(exc)
            status = exc.response.status_code if exc.response is not None else 0
            retry_after = exc.response.headers.get("Retry-After") if exc.response is not None else None
            raise DeliveryError(
                f"Slack refused the message: {error or status}",
                retryable=error not in PERMANENT_ERRORS,
                retry_after=float(retry_after) if retry_after else None,
            ) from None
        except OSError as exc:  # connection refused, timeouts: Slack (or the network) is down
            raise DeliveryError(f"Slack unreachable: {exc.__class__.__name__}: {exc}") from None
        ts = resp.get("ts")
        return Delivery(external_id=ts, thread_id=thread_id or ts)
