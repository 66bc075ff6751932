"""Writes batches to a backend: rejected documents go to the dead-letter table with the reason.

The Elasticsearch backends add a durable spool behind the same `write` call.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Sequence

from crisiswatch.deadletter import DeadLetters
from crisiswatch.mention import Mention
from index import open_backend
from index.base import Backend

logger = logging.getLogger(__name__)


class IndexWriter:
    def __init__(self, backend: Backend, state: sqlite3.Connection) -> None:
        self.backend = backend
        self.dead_letters = DeadLetters(state)
        for warning in backend.ensure_ready():
            logger.warning("%s", warning)

    @classmethod
    def from_url(cls, url: str, state: sqlite3.Connection) -> IndexWriter:
        return cls(open_backend(url), state)

    def write(self, mentions: Sequence[Mention]) -> int:
        if not mentions:
            return 0
        result = self.backend.upsert(mentions)
        if result.rejected:
            by_id = {m.id: m for m in mentions}
            for mention_id, reason in result.rejected:
                payload = by_id[mention_id].to_record() if mention_id in by_id else {"id": mention_id}
                self.dead_letters.add("index", reason, payload, source=payload.get("source", ""))
            logger.warning("index rejected %d of %d mentions (kept in dead_letters)",
                           len(result.rejected), len(mentions))
        return result.written

    def close(self) -> None:
        self.backend.close()
