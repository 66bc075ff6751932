"""Prints alerts to the terminal: the channel when no Slack token is configured."""

from __future__ import annotations

import sys
from typing import TextIO

from alerts.channels.base import Channel, Delivery
from alerts.message import AlertMessage


class ConsoleChannel(Channel):
    name = "console"

    def __init__(self, stream: TextIO | None = None) -> None:
        self.stream = stream or sys.stdout

    def send(self, message: AlertMessage, target: str, *, thread_id: str | None = None,
             existing_id: str | None = None, key: str | None = None) -> Delivery:
        indent = "    ↳ " if thread_id else ""
        pings = "".join(f"{m} " for m in message.mentions)
        self.stream.write(f"{indent}{pings}[ALERT {message.severity}] {message.title}\n")
        self.stream.write(f"{indent}  {message.summary}\n")
        if message.facts.get("sparkline"):
            self.stream.write(f"{indent}  负面趋势 {message.facts['sparkline']}\n")
        for post in message.facts.get("top_posts", [])[:3]:
            self.stream.write(f"{indent}  · @{post.get('author', '')}: {post.get('text', '')[:80]}\n")
        self.stream.flush()
        return Delivery(external_id=None, thread_id=thread_id or message.thread_key)
