"""Today's masking applied again to the copies of post text the state store keeps (`crisiswatch mentions remask`).

A post's text is copied when it is used: a ticket keeps its posts as evidence, an incident its top posts, an
alert the incident's top posts as they were when it was written. Each domain names its copies; this module
rewrites them the same way for all of them, one row at a time and never over someone else's change:

* rows are read in id order, in batches, outside any transaction (the rest of the system keeps working);
* a row the masking changes is written back with a compare-and-set on the text as it was read, in its own
  short transaction under the lock the domain's own writers take: a row changed meanwhile (an agent added
  evidence, a signal refreshed the top posts) is left as it is and counted as skipped, for the next run.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from crisiswatch.db import Row, StateConnection, transaction
from crisiswatch.pii import mask

__all__ = ["Copies", "Tally", "mask_post_copies", "mask_posts", "remask_copies", "rewrite_json"]

# the keys under which incident facts and alert messages keep a list of post copies (a ticket's evidence is
# such a list itself: `mask_posts`)
POST_LISTS = frozenset({"top_posts"})


@dataclass
class Tally:
    """What one store's pass did; `failures` name each post, batch or row that could not be written, and why."""

    store: str
    read: int = 0
    changed: int = 0
    failures: list[tuple[str, str]] = field(default_factory=list)
    # where a pass got to: the created_at of the last index mention written back (where `--since` resumes),
    # or the table and id of the last row read
    through: str = ""
    # rows changed by someone else between the read and the write: left as they are, for a next run
    skipped: list[str] = field(default_factory=list)
    # changed rows whose text had already left the store (an alert sent): rewritten here, still out there
    delivered: list[str] = field(default_factory=list)

    @property
    def failed(self) -> int:
        return len(self.failures)


def mask_posts(posts: list[Any]) -> list[Any]:
    """A list of post copies (dicts with a `text`, as incidents, alerts and tickets keep them), each text masked."""
    return [
        {**p, "text": mask(p["text"]).text} if isinstance(p, dict) and isinstance(p.get("text"), str) else p
        for p in posts
    ]


def mask_post_copies(value: Any) -> Any:
    """A copy of a JSON-like value with the text of every post copy in it masked: the items of each list kept
    under a key of `POST_LISTS`, however deep (an incident's facts hold the top posts of the signals it
    absorbed too). Only post text is masked: the numbers, names and ids around it are not post text."""
    if isinstance(value, dict):
        return {
            k: mask_posts(v) if k in POST_LISTS and isinstance(v, list) else mask_post_copies(v)
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [mask_post_copies(v) for v in value]
    return value


@dataclass(frozen=True)
class Copies:
    """Where one domain keeps post copies: a table, its integer key, the JSON column holding them, and how a
    compare-and-set write of that column looks in that domain.

    `rewrite` returns the column's new value, or None when today's masking changes nothing. `lock` names the
    lock the domain's own read-then-write code takes for the row (`crisiswatch.db.transaction`). `also_set`
    is added to the UPDATE's SET (a version bump, so an agent's optimistic lock sees the change), `guard` to
    its WHERE with `guard_args(conn)` (an alert being sent right now is not touched). `label` names a row
    for the lines a person reads; `delivered` says whether a row's text had already left the store."""

    store: str
    table: str
    column: str
    rewrite: Callable[[str], str | None]
    lock: Callable[[Row], str] = lambda row: "state"
    also_set: str = ""
    guard: str = ""
    guard_args: Callable[[StateConnection], tuple[Any, ...]] = lambda conn: ()
    label: Callable[[Row], str] = lambda row: str(row["id"])
    delivered: Callable[[Row], bool] = lambda row: False
    extra_columns: tuple[str, ...] = ()


def rewrite_json(
    value: Callable[[Any], Any], *, default: Callable[[Any], Any] | None = None
) -> Callable[[str], str | None]:
    """A `Copies.rewrite` for a JSON column: `value` applied to the parsed column, written back as the domain
    writes it (ensure_ascii off), or None when that changes nothing."""

    def rewrite(text: str) -> str | None:
        before = json.loads(text)
        after = value(before)
        return None if after == before else json.dumps(after, ensure_ascii=False, default=default)

    return rewrite


def remask_copies(
    conn: StateConnection,
    copies: Copies,
    *,
    dry_run: bool = False,
    batch_size: int = 500,
    progress: Callable[[Tally], None] | None = None,
) -> Tally:
    """Every row of `copies.table` read in id order and, when today's masking changes its post copies, written
    back with a compare-and-set on the column as read (not with `dry_run`). A row changed meanwhile is skipped
    (its label in `skipped`); a row the masking cannot read is a failure; the rest are still done."""
    tally = Tally(copies.store)
    columns = ", ".join(("id", copies.column, *copies.extra_columns))
    last = 0
    while True:
        rows = conn.execute(
            f"SELECT {columns} FROM {copies.table} WHERE id > ? ORDER BY id LIMIT ?", (last, batch_size)
        ).fetchall()
        for row in rows:
            tally.read += 1
            old = row[copies.column]
            try:
                new = copies.rewrite(old)
            except Exception as exc:  # one row the masking cannot read must not stop the rest
                tally.failures.append((copies.label(row), f"masking failed: {type(exc).__name__}: {exc}"))
                continue
            if new is None:
                continue
            if not dry_run and not _compare_and_set(conn, copies, row, old, new):
                tally.skipped.append(copies.label(row))
                continue
            tally.changed += 1
            if copies.delivered(row):
                tally.delivered.append(copies.label(row))
        if rows:
            last = rows[-1]["id"]
            tally.through = f"{copies.table} {last}"
            if progress is not None:
                progress(tally)
        if len(rows) < batch_size:
            return tally


def _compare_and_set(conn: StateConnection, copies: Copies, row: Row, old: str, new: str) -> bool:
    also = f", {copies.also_set}" if copies.also_set else ""
    guard = f" AND {copies.guard}" if copies.guard else ""
    with transaction(conn, lock=copies.lock(row)):
        cur = conn.execute(
            f"UPDATE {copies.table} SET {copies.column}=?{also} WHERE id=? AND {copies.column}=?{guard}",
            (new, row["id"], old, *copies.guard_args(conn)),
        )
    return cur.rowcount == 1
