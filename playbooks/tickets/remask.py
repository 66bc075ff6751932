"""Tickets' evidence masked again (`crisiswatch mentions remask`): the posts a ticket keeps are snapshots of
them as they were converted, so a post masked better later stays as it was in its tickets until this runs.

Only the evidence is post text. What an agent typed at the desk (the customer's name and contact, the
summary) is the complaint desk's own record of who to call back, kept as written.

Each ticket is written back under its own lock with a compare-and-set on the evidence as read, and its
version is bumped: an agent's change made from the copy read before (a merge, say) is refused as
"changed by someone else" instead of writing the unmasked evidence back.
"""

from __future__ import annotations

from collections.abc import Callable

from crisiswatch.db import StateConnection
from crisiswatch.remask import Copies, Tally, mask_posts, remask_copies, rewrite_json

EVIDENCE = Copies(
    store="tickets",
    table="tickets",
    column="evidence",
    rewrite=rewrite_json(mask_posts),
    lock=lambda row: f"ticket:{row['id']}",
    also_set="version=version+1",
    label=lambda row: row["number"],
    extra_columns=("number",),
)


def remask_evidence(
    conn: StateConnection,
    *,
    dry_run: bool = False,
    batch_size: int = 500,
    progress: Callable[[Tally], None] | None = None,
) -> Tally:
    """Every ticket's evidence, masked again (a ticket changed meanwhile is skipped, by its number)."""
    return remask_copies(conn, EVIDENCE, dry_run=dry_run, batch_size=batch_size, progress=progress)
