"""`crisiswatch mentions search QUERY [--since T]`: find posts in the index (their ids for `ticket convert`)."""

from __future__ import annotations

import argparse
import json
import sys
from datetime import UTC, datetime

from crisiswatch.errors import CrisiswatchError
from crisiswatch.localtime import local_time
from crisiswatch.mention import CATEGORIES, SOURCES

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
