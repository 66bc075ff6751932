"""Writes batches to a backend: rejected documents go to the dead-letter table with the reason.

When the backend is unreachable (`BackendUnavailable`) batches wait in a durable spool in the
state database and drain in order once it answers; new batches queue behind the backlog.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Sequence

from crisiswatch.db import StateConnection, transaction
from crisiswatch.deadletter import DeadLetters
from crisiswatch.mention import Mention
from index import open_backend
from index.base import Backend, BackendUnavailable, IndexResult
from index.spool import Spool

logger = logging.getLogger(__name__)


def spool_target(url: str) -> str:
    return re.sub(r"//[^@/]*@", "//", url)  # never keep credentials someone put in a URL


class IndexWriter:
    def __init__(self, backend: Backend, state: StateConnection, target: str | None = None,
                 retry_after: float = 15.0) -> None:
        self.backend = backend
        self.state = state
        self.dead_letters = DeadLetters(state)
        self.spool = Spool(state, target or backend.name)
        self.retry_after = retry_after
        self._ready = False
        self._retry_at = 0.0
        self._ensure_ready()

    @classmethod
    def from_url(cls, url: str, state: StateConnection, **kwargs: float) -> IndexWriter:
        return cls(open_backend(url), state, spool_target(url), **kwargs)

    def _ensure_ready(self) -> bool:
        if not self._ready:
            try:
                warnings = self.backend.ensure_ready()
            except BackendUnavailable as exc:
                self._down(exc)
                return False
            for warning in warnings:
                logger.warning("%s", warning)
            self._ready = True
        return True

    def _down(self, exc: BackendUnavailable) -> None:
        self._retry_at = time.monotonic() + self.retry_after
        logger.warning("index unavailable, spooling (%d mentions waiting): %s", self.spool.pending(), exc)

    def write(self, mentions: Sequence[Mention]) -> int:
        """Mentions written now; spooled ones are counted when the spool drains."""
        if not mentions:
            return 0
        if self._ready and not self.spool.pending():
            try:
                return self._record(mentions, self.backend.upsert(mentions))
            except BackendUnavailable as exc:
                self.spool.append(mentions)
                self._down(exc)
                return 0
        self.spool.append(mentions)  # behind the backlog, so the index sees batches in order
        return self.drain()

    def drain(self, force: bool = False) -> int:
        """Send spooled batches oldest first; stops at the first failure and keeps the rest."""
        if not force and time.monotonic() < self._retry_at:
            return 0
        if not self._ensure_ready():
            return 0
        written = 0
        for seq, batch in self.spool.batches():
            try:
                result = self.backend.upsert(batch)
            except BackendUnavailable as exc:
                self._down(exc)
                break
            with transaction(self.state):
                written += self._record(batch, result)
                self.spool.remove(seq)
        return written

    def _record(self, mentions: Sequence[Mention], result: IndexResult) -> int:
        if result.rejected:
            by_id = {m.id: m for m in mentions}
            for mention_id, reason in result.rejected:
                payload = by_id[mention_id].to_record() if mention_id in by_id else {"id": mention_id}
                self.dead_letters.add("index", reason, payload, source=payload.get("source", ""))
            logger.warning("index rejected %d of %d mentions (kept in dead_letters)",
                           len(result.rejected), len(mentions))
        return result.written

    def close(self) -> None:
        if self.spool.pending():
            self.drain(force=True)
        if self.spool.pending():
            logger.warning("%d mentions stay spooled until the index is reachable", self.spool.pending())
        self.backend.close()
