"""Routes alerts to channels through the outbox and delivers what is due."""

from __future__ import annotations

import logging
import os
import sqlite3
from datetime import timedelta

from alerts.channels.base import Channel, DeliveryError
from alerts.message import AlertMessage
from alerts.outbox import Outbox
from crisiswatch.config import Config
from crisiswatch.mention import severity_rank

logger = logging.getLogger(__name__)


def build_channels(config: Config) -> dict[str, Channel]:
    """Slack when its token is in the environment, else the console; more channels plug in here."""
    from alerts.channels.console import ConsoleChannel

    channels: dict[str, Channel] = {"console": ConsoleChannel()}
    token = os.environ.get(config.alerts.slack.token_env)
    if token:
        from alerts.channels.slack import SlackChannel

        channels["slack"] = SlackChannel(token, base_url=config.alerts.slack.base_url,
                                         default_target=config.alerts.slack.channel)
    return channels


class AlertDispatcher:
    def __init__(self, config: Config, conn: sqlite3.Connection, channels: dict[str, Channel]) -> None:
        self.config = config
        self.outbox = Outbox(conn)
        self.channels = channels

    def routes_for(self, message: AlertMessage) -> list[tuple[str, str]]:
        """(channel, target) pairs for a message, by brand and minimum severity; Slack falls back to console."""
        out = []
        for route in self.config.alerts.routes:
            if route.brands and message.brand not in route.brands:
                continue
            if severity_rank(message.severity) < severity_rank(route.min_severity):
                continue
            channel = route.channel if route.channel in self.channels else "console"
            target = route.target or (self.config.alerts.slack.channel if channel == "slack" else "")
            if (channel, target) not in out:
                out.append((channel, target))
        return out

    def enqueue(self, key: str, message: AlertMessage) -> int:
        """Writes one outbox row per route; returns how many were new."""
        return sum(self.outbox.enqueue(f"{key}|{ch}|{target}", ch, target, message)
                   for ch, target in self.routes_for(message))

    def deliver_due(self) -> tuple[int, int]:
        """Sends every due row; returns (sent, failed). Never raises for a channel's failure."""
        sent = failed = 0
        for row in self.outbox.due():
            channel = self.channels.get(row.channel)
            if channel is None:
                self.outbox.mark_failed(row.id, f"channel {row.channel!r} is not configured", None)
                failed += 1
                continue
            if self.outbox.waits_for_thread(row):
                continue
            thread_key = row.message.thread_key
            thread_id = self.outbox.thread_for(thread_key, row.channel, row.target) if thread_key else None
            try:
                delivery = channel.send(row.message, row.target, thread_id=thread_id, existing_id=row.external_id)
            except DeliveryError as exc:
                attempts = row.attempts + 1
                retry = exc.retryable and attempts < self.config.alerts.max_attempts
                delay = timedelta(seconds=exc.retry_after or min(2 ** attempts, 300))
                self.outbox.mark_failed(row.id, str(exc), delay if retry else None)
                logger.warning("alert %s via %s not delivered (attempt %d): %s%s", row.id, row.channel, attempts,
                               exc, "; will retry" if retry else "; giving up")
                failed += 1
                continue
            if delivery.external_id:
                self.outbox.record_external_id(row.id, delivery.external_id)
            if thread_key and delivery.thread_id and thread_id is None:
                self.outbox.remember_thread(thread_key, row.channel, row.target, delivery.thread_id)
            self.outbox.mark_sent(row.id, delivery.external_id, delivery.thread_id)
            sent += 1
        return sent, failed
