"""The dead-letter table: items that failed a stage are kept with the reason, never dropped silently.

Payloads are PII-masked before they are written: an item that failed validation never reached the
enrichment step that masks stored text, and a dead letter is for finding out what went wrong.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from crisiswatch.db import StateConnection
from crisiswatch.pii import mask, mask_values


def _storable(text: str) -> str:
    """A lone surrogate (broken emoji in a reply) cannot be encoded; the letter is written anyway."""
    return text.encode("utf-8", "replace").decode("utf-8")


@dataclass(frozen=True)
class DeadLetter:
    id: int
    at: str
    stage: str
    source: str
    reason: str
    payload: dict[str, Any]


class DeadLetters:
    def __init__(self, conn: StateConnection) -> None:
        self.conn = conn

    def add(self, stage: str, reason: str, payload: Any, source: str = "") -> None:
        # default=str first, so values such as datetimes are strings by the time they are masked
        plain = json.loads(json.dumps(payload, ensure_ascii=False, default=str))
        body = _storable(json.dumps(mask_values(plain), ensure_ascii=False))
        self.conn.execute(
            "INSERT INTO dead_letters(at, stage, source, reason, payload) VALUES (?,?,?,?,?)",
            (datetime.now(UTC).isoformat(), stage, source, _storable(mask(reason).text), body),
        )

    def count(self, stage: str | None = None) -> int:
        if stage:
            return self.conn.execute("SELECT COUNT(*) FROM dead_letters WHERE stage=?", (stage,)).fetchone()[0]
        return self.conn.execute("SELECT COUNT(*) FROM dead_letters").fetchone()[0]

    def recent(self, limit: int = 20) -> list[DeadLetter]:
        rows = self.conn.execute("SELECT * FROM dead_letters ORDER BY id DESC LIMIT ?", (limit,)).fetchall()
        return [DeadLetter(r["id"], r["at"], r["stage"], r["source"], r["reason"], json.loads(r["payload"]))
                for r in rows]
