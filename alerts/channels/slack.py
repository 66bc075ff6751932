"""Slack through slack-sdk: Block Kit messages, incident threads, retries that never double-post.

Every post carries the outbox key in its message metadata, so after a crash or a timeout the
next attempt finds what already landed (conversations.history / replies) instead of posting again.
"""

from __future__ import annotations

import logging
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_handlers import (
    ConnectionErrorRetryHandler,
    RateLimitErrorRetryHandler,
    ServerErrorRetryHandler,
)

from alerts.channels.base import Channel, Delivery, DeliveryError
from alerts.chart import png_bars
from alerts.message import AlertMessage
from alerts.render import slack_blocks, slack_fallback_text

logger = logging.getLogger(__name__)
PERMANENT_ERRORS = {"channel_not_found", "not_in_channel", "invalid_auth", "account_inactive",
                    "token_revoked", "is_archived", "msg_too_long", "invalid_blocks", "no_permission"}
METADATA_EVENT = "crisiswatch_alert"
# a second "opened" note in a thread (another playbook's notify) is news, not a change of state
STATE_KINDS = {"incident_updated", "incident_escalated", "incident_resolved", "approval"}


def _delivery_error(exc: SlackApiError) -> DeliveryError:
    error = str(exc.response.get("error", "")) if exc.response is not None else str(exc)
    status = exc.response.status_code if exc.response is not None else 0
    retry_after = exc.response.headers.get("Retry-After") if exc.response is not None else None
    return DeliveryError(f"Slack refused the message: {error or status}", retryable=error not in PERMANENT_ERRORS,
                         retry_after=float(retry_after) if retry_after else None)


class SlackChannel(Channel):
    name = "slack"

    def __init__(self, token: str, base_url: str | None = None, default_target: str = "#crisis-response",
                 timeout: int = 10, max_retries: int = 2, upload_charts: bool = False) -> None:
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
        self.upload_charts = upload_charts
        self.channel_ids: dict[str, str] = {}  # "#crisis" -> "C0123": files and updates want the id

    def _channel(self, target: str) -> str:
        name = target or self.default_target
        return self.channel_ids.get(name, name)

    def send(self, message: AlertMessage, target: str, *, thread_id: str | None = None,
             existing_id: str | None = None, key: str | None = None) -> Delivery:
        channel = self._channel(target)
        text, blocks = slack_fallback_text(message), slack_blocks(message)
        try:
            if existing_id:  # an earlier attempt posted but crashed before recording success
                self.client.chat_update(channel=channel, ts=existing_id, text=text, blocks=blocks)
                return Delivery(external_id=existing_id, thread_id=thread_id or existing_id, posted=False)
            kwargs: dict[str, Any] = {"channel": channel, "text": text, "blocks": blocks,
                                      "unfurl_links": False, "unfurl_media": False}
            if thread_id:
                kwargs["thread_ts"] = thread_id
            if key:
                kwargs["metadata"] = {"event_type": METADATA_EVENT, "event_payload": {"key": key}}
            resp = self.client.chat_postMessage(**kwargs)
        except SlackApiError as exc:
            raise _delivery_error(exc) from None
        except OSError as exc:  # connection refused, timeouts: Slack (or the network) is down
            raise DeliveryError(f"Slack unreachable: {exc.__class__.__name__}: {exc}") from None
        if resp.get("channel"):
            self.channel_ids[target or self.default_target] = resp["channel"]
        ts = resp.get("ts")
        return Delivery(external_id=ts, thread_id=thread_id or ts)

    def find_existing(self, message: AlertMessage, target: str, key: str, thread_id: str | None) -> str | None:
        channel = self._channel(target)
        try:
            if thread_id:
                resp = self.client.conversations_replies(channel=channel, ts=thread_id, limit=200,
                                                         include_all_metadata=True)
            else:
                resp = self.client.conversations_history(channel=channel, limit=200, include_all_metadata=True)
        except SlackApiError as exc:
            status = exc.response.status_code if exc.response is not None else 0
            if status == 429 or status >= 500:  # Slack is struggling: try the whole send later
                raise _delivery_error(exc) from None
            # e.g. a #name where Slack wants an id, or no history scope: posting again risks a
            # duplicate, giving up would lose the alert; a duplicate is the lesser harm
            logger.warning("cannot look for an earlier post (%s); posting: use channel ids (C…) as targets",
                           exc.response.get("error") if exc.response is not None else exc)
            return None
        except OSError as exc:
            raise DeliveryError(f"Slack unreachable: {exc.__class__.__name__}: {exc}") from None
        for msg in resp.get("messages", []):
            meta = msg.get("metadata") or {}
            if meta.get("event_type") == METADATA_EVENT and (meta.get("event_payload") or {}).get("key") == key:
                return msg.get("ts")
        return None

    def after_delivery(self, message: AlertMessage, target: str, delivery: Delivery) -> None:
        """A thread reply refreshes the top message to the incident's current state; a new incident
        gets its chart uploaded into its thread. Failures here are logged, never re-send the alert."""
        channel = self._channel(target)
        is_reply = delivery.thread_id and delivery.thread_id != delivery.external_id
        try:
            if is_reply and message.kind in STATE_KINDS:
                self.client.chat_update(channel=channel, ts=delivery.thread_id, text=slack_fallback_text(message),
                                        blocks=slack_blocks(message))
            elif (not is_reply and delivery.posted and self.upload_charts and message.kind == "incident_opened"
                  and message.facts.get("series")):
                data = message.facts["series"]
                self.client.files_upload_v2(
                    channel=channel, thread_ts=delivery.external_id, filename=f"{message.brand}-trend.png",
                    title=f"{message.brand} 近 {len(data['counts']) * data['interval_seconds'] / 3600:g} 小时提及量",
                    content=png_bars(data["counts"], data.get("negative"), data.get("baseline")),
                    initial_comment="提及量（红色为负面，虚线为负面基线）")
        except (SlackApiError, OSError) as exc:
            logger.warning("Slack follow-up for %s failed: %s", message.title, exc)

    def post_ephemeral(self, channel: str, user: str, text: str) -> None:
        self.client.chat_postEphemeral(channel=channel, user=user, text=text)
