"""`crisiswatch mentions search QUERY [--since T]`: find posts in the index (their ids for `ticket convert`).

`crisiswatch mentions remask [--dry-run]`: today's masking applied again to every stored post (index, spool,
dead letters) and to the copies of post text in the state store (tickets' evidence, incidents' top posts,
alerts in the outbox), for posts stored before the masking learned what they hold."""

from __future__ import annotations

import argparse
import json
import sys
from datetime import UTC, datetime

from crisiswatch.errors import CrisiswatchError
from crisiswatch.localtime import local_time
from crisiswatch.mention import CATEGORIES, SOURCES
from crisiswatch.progress import ProgressLines

MAX_LIMIT = 500  # one page of search results; past it, a narrower query is the better tool


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("mentions", help="search indexed posts (ids for `ticket convert`)")
    ms = p.add_subparsers(dest="mentions_command", metavar="ACTION", required=True)
    s = ms.add_parser("search", help="full-text search, newest first within the best matches")
    s.add_argument("query")
    s.add_argument("--since", help="ISO time or a span back from now (24h, 7d)")
    s.add_argument("--until", help="ISO time or a span back from now")
    s.add_argument("--brand")
    s.add_argument("--source", choices=SOURCES)
    s.add_argument("--category", choices=CATEGORIES)
    s.add_argument("--limit", type=int, default=20)
    s.add_argument("--json", action="store_true", help="one JSON object per line")
    p.set_defaults(func=run)
    r = ms.add_parser("remask", help="mask stored posts again with today's masking (index, spool, dead letters,"
                       " tickets' evidence, incidents' top posts, alerts)")
    r.add_argument("--dry-run", action="store_true", help="count what would change; write nothing")
    r.add_argument("--batch-size", type=int, default=500, help="mentions read and written at a time")
    r.add_argument("--since", help="only index mentions from this ISO time on (resume where progress stopped)")
    r.add_argument("--quiet", action="store_true", help="no progress lines, only the summary")
    r.set_defaults(func=run_remask)


def run_remask(args: argparse.Namespace) -> int:
    from alerts.outbox import remask_outbox
    from crisiswatch.config import load_config
    from crisiswatch.db import connect
    from crisiswatch.indexurl import redact_url
    from index import BackendUnavailable, open_backend
    from index.base import MentionFilter
    from monitor.enrich.remask import Tally, remask_dead_letters, remask_incidents, remask_index, remask_spool
    from playbooks.tickets.remask import remask_evidence

    config = load_config(args.config)
    keep_raw = config.enrichment.keep_raw_text
    since = datetime.fromisoformat(args.since) if args.since else None
    if since is not None and since.tzinfo is None:
        raise CrisiswatchError(f"--since {args.since}: give a time zone (as the progress lines print it)")
    verb = "would change" if args.dry_run else "changed"
    batch_size = max(1, args.batch_size)
    lines: dict[str, ProgressLines] = {}  # per store: each store's first batch is said, then one line per 2 s

    def progress(t: Tally) -> None:
        say = lines.setdefault(t.store, ProgressLines(quiet=args.quiet))
        say(f"remask {t.store}: {t.read:,} read · {t.changed:,} {verb} · {t.failed:,} failed · through {t.through}")

    conn = connect(config.state_store)
    tallies: list[Tally] = []
    stopped = ""
    try:
        # the spool first: a batch drained while the index is being read reaches it already masked
        tallies.append(remask_spool(conn, keep_raw=keep_raw, dry_run=args.dry_run))
        tallies.append(remask_dead_letters(conn, dry_run=args.dry_run, batch_size=batch_size))
        # incidents before the outbox: an alert written meanwhile copies top posts already masked
        for remask_copies in (remask_incidents, remask_evidence, remask_outbox):
            tallies.append(remask_copies(conn, dry_run=args.dry_run, batch_size=batch_size, progress=progress))
        backend = open_backend(config.index.url)
        index = Tally(f"index ({backend.name})")
        tallies.append(index)
        try:
            remask_index(backend, keep_raw=keep_raw, dry_run=args.dry_run, batch_size=batch_size,
                         flt=MentionFilter(since=since), progress=progress, tally=index)
        except BackendUnavailable as exc:
            stopped = f"{redact_url(config.index.url)} unreachable ({exc})"
        finally:
            backend.close()
    finally:
        conn.close()
    for t in tallies:
        for what, reason in t.failures:
            print(f"remask {t.store}: {what} not written: {reason}", file=sys.stderr)
        for what in t.skipped:
            print(f"remask {t.store}: {what} skipped: changed meanwhile, left as it is for the next run",
                  file=sys.stderr)
        for what in t.delivered:
            print(f"remask {t.store}: {what} was sent before: {'would be ' if args.dry_run else ''}masked here,"
                  f" its channel still shows what it was sent", file=sys.stderr)
    print(_summary(tallies, dry_run=args.dry_run))
    if stopped:
        resume = f"; run again with --since {index.through}" if index.through else "; run it again"
        print(f"crisiswatch: stopped: {stopped}{resume}", file=sys.stderr)
    skipped = sum(len(t.skipped) for t in tallies)
    return 1 if skipped or stopped or any(t.failed for t in tallies) else 0


def _summary(tallies: list, *, dry_run: bool) -> str:
    """The one line `mentions remask` ends with: totals, what was skipped, what had already been sent, and
    each store's read/changed/failed."""
    verb = "would change" if dry_run else "changed"
    read, changed, failed = (sum(getattr(t, k) for t in tallies) for k in ("read", "changed", "failed"))
    skipped, sent = (sum(len(getattr(t, k)) for t in tallies) for k in ("skipped", "delivered"))
    line = f"remask{' (dry run)' if dry_run else ''}: {read:,} read, {changed:,} {verb}, {failed:,} failed"
    if skipped:
        line += f", {skipped:,} skipped (changed meanwhile: run again)"
    if sent:
        # the stored copy is masked; what Slack, a robot or a mailbox got is not ours to take back
        line += (f"; {sent:,} alert{'s' if sent != 1 else ''} already sent held what is now masked:"
                 f" {'would be ' if dry_run else ''}masked in the outbox, not unsent")
    parts = "; ".join(f"{t.store} {t.read:,}/{t.changed:,}/{t.failed:,}" for t in tallies)
    return f"{line} (read/{verb}/failed: {parts})"


def run(args: argparse.Namespace) -> int:
    # imported here: the CLI imports every command module at start-up
    from zoneinfo import ZoneInfo

    from crisiswatch.commands.playbook import parse_when
    from crisiswatch.config import load_config
    from index import open_backend
    from index.base import MentionFilter

    config = load_config(args.config)
    now = datetime.now(UTC)
    flt = MentionFilter(brand=args.brand, source=args.source, category=args.category,
                        since=parse_when(args.since, now) if args.since else None,
                        until=parse_when(args.until, now) if args.until else None)
    tz = ZoneInfo(config.tickets.timezone or config.alerts.timezone)
    backend = open_backend(config.index.url)
    try:
        if args.limit > MAX_LIMIT:
            print(f"crisiswatch: --limit {args.limit}: at most {MAX_LIMIT} are shown; narrow the range or the query",
                  file=sys.stderr)
        found = backend.search(args.query.strip()[:200], flt, max(1, min(args.limit, MAX_LIMIT)))
    except ValueError as exc:
        raise CrisiswatchError(f"bad query {args.query!r}: {exc}") from None
    finally:
        backend.close()
    for m in found:
        if args.json:
            print(json.dumps({"id": m.id, "created_at": m.created_at.isoformat(), "source": m.source,
                              "author": m.author.name, "category": m.category, "severity": m.severity,
                              "sentiment": m.sentiment, "url": m.url, "text": m.text}, ensure_ascii=False))
            continue
        text = m.text.replace("\n", " ")[:70]
        print(f"{m.id}  {local_time(m.created_at, tz, '%m-%d %H:%M')} {m.source:<10} {m.category or '-':<16} "
              f"{m.author.name[:12]}: {text}")
    if not found and not args.json:
        print(f"no mentions match {args.query!r} in {config.index.url}")
    return 0
