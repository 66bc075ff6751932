"""Slack channel names -> ids, kept in the state database.

Slack wants ids (C0123…) for conversations.history/replies, chat.update and file shares, while
people configure `#crisis-response`. Names are resolved once with conversations.list (paged) or
learned from a post's reply, and stored, so a restarted process can still look up what an
earlier one posted before it died.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

from crisiswatch.db import StateConnection

CHANNEL_ID = re.compile(r"[CGD][A-Z0-9]{2,}")


def is_channel_id(value: str) -> bool:
    return bool(CHANNEL_ID.fullmatch(value))


def channel_name(target: str) -> str:
    """'#crisis-response' and 'crisis-response' are one channel."""
    return target.strip().removeprefix("#")


class SlackChannelIds:
    """Name -> id; in memory only when no state database is given (one-off tools)."""

    def __init__(self, conn: StateConnection | None = None) -> None:
        self.conn = conn
        self.memory: dict[str, str] = {}

    def get(self, name: str) -> str | None:
        name = channel_name(name)
        if name in self.memory:
            return self.memory[name]
        if self.conn is None:
            return None
        row = self.conn.execute("SELECT id FROM slack_channels WHERE name=?", (name,)).fetchone()
        if row:
            self.memory[name] = row[0]
        return row[0] if row else None

    def put(self, pairs: dict[str, str]) -> None:
        pairs = {channel_name(k): v for k, v in pairs.items() if k and is_channel_id(v)}
        self.memory.update(pairs)
        if self.conn is not None and pairs:
            now = datetime.now(UTC).isoformat()
            self.conn.executemany(
                "INSERT INTO slack_channels(name, id, seen_at) VALUES (?,?,?)"
                " ON CONFLICT(name) DO UPDATE SET id=excluded.id, seen_at=excluded.seen_at",
                [(k, v, now) for k, v in pairs.items()])
