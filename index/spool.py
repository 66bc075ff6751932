"""A durable spool in the state database for batches the index could not take.

When the cluster is unreachable the `IndexWriter` appends each batch here and drains the spool,
oldest batch first, once the cluster answers again. A batch leaves the spool in the same
transaction that records its rejected documents, after the backend accepted it; a crash in
between re-sends the batch, which the upsert by stable id makes harmless.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime

from crisiswatch.db import StateConnection
from crisiswatch.mention import Mention


class Spool:
    def __init__(self, conn: StateConnection, target: str) -> None:
        self.conn = conn
        self.target = target

    def append(self, mentions: Sequence[Mention]) -> None:
        payload = json.dumps([m.to_record() for m in mentions], ensure_ascii=False)
        self.conn.execute("INSERT INTO index_spool(target, at, size, payload) VALUES (?,?,?,?)",
                          (self.target, datetime.now(UTC).isoformat(), len(mentions), payload))

    def batches(self) -> Iterator[tuple[int, list[Mention]]]:
        """Oldest first; read one at a time so a long backlog never sits in memory at once."""
        last = 0
        while True:
            row = self.conn.execute("SELECT seq, payload FROM index_spool WHERE target=? AND seq>? ORDER BY seq"
                                    " LIMIT 1", (self.target, last)).fetchone()
            if row is None:
                return
            last = row["seq"]
            yield last, [Mention.from_stored(r) for r in json.loads(row["payload"])]

    def rewrite(self, seq: int, mentions: Sequence[Mention]) -> None:
        """Replace a waiting batch's mentions in place (same seq, so it keeps its turn): `mentions remask`."""
        self.conn.execute("UPDATE index_spool SET payload=? WHERE seq=?",
                          (json.dumps([m.to_record() for m in mentions], ensure_ascii=False), seq))

    def remove(self, seq: int) -> None:
        self.conn.execute("DELETE FROM index_spool WHERE seq=?", (seq,))

    def pending(self) -> int:
        """Mentions waiting for this target."""
        row = self.conn.execute("SELECT COALESCE(SUM(size), 0) FROM index_spool WHERE target=?",
                                (self.target,)).fetchone()
        return int(row[0])


def backlog(conn: StateConnection) -> list[tuple[str, int, int, str]]:
    """(target, batches, mentions, oldest) per index target, for `crisiswatch status`."""
    rows = conn.execute("SELECT target, COUNT(*) AS batches, SUM(size) AS n, MIN(at) AS oldest FROM index_spool"
                        " GROUP BY target ORDER BY target").fetchall()
    return [(r["target"], r["batches"], r["n"], r["oldest"]) for r in rows]
