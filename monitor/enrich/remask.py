"""Today's masking applied again to mentions already stored (`crisiswatch mentions remask`).

A post is masked once, when it is enriched. When the masking learns a way of writing a number (full-width
digits, a spaced phone, an extra field it did not read), posts stored before keep what it missed until they
are crawled again, which for an old post is never. This pass reads every stored copy of a post's text and
writes back the ones the masking changes:

* the index (SQLite, OpenSearch or Elasticsearch, whichever `index.url` names), in (created_at, id) order
  and in batches, through the backend's own `scan` and `upsert` (so the SQLite full-text rows and the
  search tokens are rebuilt from the masked text too);
* the spool of batches waiting for an index (`index_spool`), each batch rewritten in place;
* the dead letters, whose payloads and reasons are masked as a new letter is;
* the incidents' top posts (their facts, and the facts of the signals they absorbed), each incident written
  back with a compare-and-set on its facts as read (`crisiswatch.remask`).

Tickets' evidence and the alerts in the outbox are copies too; their own domains say how they are rewritten
(`playbooks.tickets.remask`, `alerts.outbox.remask_outbox`).

Masking masked text changes nothing, so the pass is idempotent: run again, it reads everything and changes
nothing; stopped half-way, it can start over, or from the last time its progress printed (`--since`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

from crisiswatch.db import StateConnection, transaction
from crisiswatch.deadletter import DeadLetters
from crisiswatch.mention import Mention
from crisiswatch.remask import Copies, Tally, mask_post_copies, remask_copies, rewrite_json
from index.base import ANY, Backend, MentionFilter
from index.spool import Spool, backlog
from monitor.enrich.steps import mask_mention

__all__ = ["Tally", "remask_dead_letters", "remask_incidents", "remask_index", "remask_spool", "remasked"]


def remasked(mention: Mention, keep_raw: bool) -> Mention | None:
    """The mention as today's masking stores it, or None when that changes nothing."""
    copy = mention.model_copy(deep=True)
    mask_mention(copy, keep_raw)
    return copy if copy.to_record() != mention.to_record() else None


def _batches(mentions: Iterator[Mention], size: int) -> Iterator[list[Mention]]:
    batch: list[Mention] = []
    for m in mentions:
        batch.append(m)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


def remask_index(backend: Backend, *, keep_raw: bool, dry_run: bool = False, batch_size: int = 500,
                 flt: MentionFilter = ANY, progress: Callable[[Tally], None] | None = None,
                 tally: Tally | None = None) -> Tally:
    """Every stored mention in `flt`, masked again; changed ones written back batch by batch (not with
    `dry_run`). A document the backend refuses is a failure; an unreachable backend raises, after the
    batches before it were written (the `tally` passed in says how far: `through`)."""
    tally = tally if tally is not None else Tally(backend.name)
    for batch in _batches(backend.scan(flt, batch_size), batch_size):
        tally.read += len(batch)
        changed = []
        for m in batch:
            try:
                new = remasked(m, keep_raw)
            except Exception as exc:  # one post the masking cannot read must not stop the rest
                tally.failures.append((m.id, f"masking failed: {type(exc).__name__}: {exc}"))
                continue
            if new is not None:
                changed.append(new)
        if changed and not dry_run:
            result = backend.upsert(changed)
            tally.failures += result.rejected
            tally.changed += result.written
        else:
            tally.changed += len(changed)
        tally.through = batch[-1].created_at.isoformat()
        if progress is not None:
            progress(tally)
    return tally


def remask_spool(conn: StateConnection, *, keep_raw: bool, dry_run: bool = False) -> Tally:
    """The batches waiting in the spool, for whichever index, masked again in place (one batch at a time,
    each in its own transaction, keeping its place in the queue)."""
    tally = Tally("spool")
    for target, *_ in backlog(conn):
        spool = Spool(conn, target)
        for seq, batch in spool.batches():
            tally.read += len(batch)
            masked = [remasked(m, keep_raw) for m in batch]
            changed = sum(m is not None for m in masked)
            if changed and not dry_run:
                with transaction(conn):
                    spool.rewrite(seq, [new or old for new, old in zip(masked, batch, strict=True)])
            tally.changed += changed
    return tally


def remask_dead_letters(conn: StateConnection, *, dry_run: bool = False, batch_size: int = 500) -> Tally:
    tally = Tally("dead letters")
    letters = DeadLetters(conn)
    last = 0
    while True:
        with transaction(conn):
            read, changed, last = letters.remask(last, batch_size, dry_run=dry_run)
        tally.read += read
        tally.changed += changed
        if read < batch_size:
            return tally


# The incident service's writers read and write facts under the default lock, bumping the version (which
# the dashboard's incident page watches to refresh).
INCIDENT_TOP_POSTS = Copies(
    store="incidents", table="incidents", column="facts", rewrite=rewrite_json(mask_post_copies, default=str),
    also_set="version=version+1", label=lambda row: f"INC-{row['id']}",
)


def remask_incidents(conn: StateConnection, *, dry_run: bool = False, batch_size: int = 500,
                     progress: Callable[[Tally], None] | None = None) -> Tally:
    """The top posts every incident keeps in its facts, masked again (an incident changed meanwhile is skipped)."""
    return remask_copies(conn, INCIDENT_TOP_POSTS, dry_run=dry_run, batch_size=batch_size, progress=progress)
