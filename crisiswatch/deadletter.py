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

    def remask(self, after_id: int = 0, limit: int = 500, *, dry_run: bool = False) -> tuple[int, int, int]:
        """Mask up to `limit` letters after `after_id` again with today's masking, as `add` masks a new one
        (a letter written before the masking learned a way of writing a number keeps it until then).
        Returns (letters read, letters changed or, with `dry_run`, that would change, the last id read: where
        the next call starts)."""
        rows = self.conn.execute("SELECT id, reason, payload FROM dead_letters WHERE id > ? ORDER BY id LIMIT ?",
                                 (after_id, limit)).fetchall()
        changed = 0
        for r in rows:
            reason = _storable(mask(r["reason"]).text)
            body = _storable(json.dumps(mask_values(json.loads(r["payload"])), ensure_ascii=False))
            if reason == r["reason"] and body == r["payload"]:
                continue
            changed += 1
            if not dry_run:
                self.conn.execute("UPDATE dead_letters SET reason=?, payload=? WHERE id=?", (reason, body, r["id"]))
        return len(rows), changed, rows[-1]["id"] if rows else after_id

    def count(self, stage: str | None = None) -> int:
        if stage:
            return self.conn.execute("SELECT COUNT(*) FROM dead_letters WHERE stage=?", (stage,)).fetchone()[0]
        return self.conn.execute("SELECT COUNT(*) FROM dead_letters").fetchone()[0]

    def recent(self, limit: int = 20) -> list[DeadLetter]:
        rows = self.conn.execute("SELECT * FROM dead_letters ORDER BY id DESC LIMIT ?", (limit,)).fetchall()
        return [DeadLetter(r["id"], r["at"], r["stage"], r["source"], r["reason"], json.loads(r["payload"]))
                for r in rows]
