"""`crisiswatch state`: the state store's schema version, and copying it to another store.

    crisiswatch state version
    crisiswatch state migrate --to postgresql://crisiswatch@db.internal/crisiswatch

`migrate` copies the configured store (or --from) into an empty one, table by table, then reads
both back and prints the row count and checksum of each: it exits 1 unless every table agrees.
Stop the crawlers and run loops first; the copy reads one snapshot and misses later writes.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from crisiswatch.errors import CrisiswatchError
from crisiswatch.store.url import sqlite_path


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("state", help="the state store: schema version, copy to another store (SQLite -> PostgreSQL)")
    verbs = p.add_subparsers(dest="verb", metavar="VERB", required=True)
    v = verbs.add_parser("version", help="the schema version of the state store (applying what is missing)")
    v.set_defaults(func=version)
    m = verbs.add_parser("migrate", help="copy the state store into an empty one, verified table by table")
    m.add_argument("--to", required=True, metavar="URL", help="the target: postgresql://USER@HOST/DB or sqlite:///FILE")
    m.add_argument("--from", dest="source", metavar="URL",
                   help="the source (default: the configured store, --db or --state-url)")
    m.set_defaults(func=migrate)


def version(args: argparse.Namespace) -> int:
    from crisiswatch.config import load_config
    from crisiswatch.db import connect
    from crisiswatch.indexurl import redact_url
    from crisiswatch.store.migrate import latest

    config = load_config(args.config)
    conn = connect(config.state_store)
    rows = conn.execute("SELECT version, name, applied_at FROM schema_version ORDER BY version").fetchall()
    print(f"{redact_url(config.state_store)} ({conn.dialect}): schema version {rows[-1][0]} of {latest()}")
    for number, name, at in rows:
        print(f"  {number:04d}_{name}  applied {at[:19]}")
    return 0


def migrate(args: argparse.Namespace) -> int:
    from crisiswatch.config import load_config
    from crisiswatch.db import connect
    from crisiswatch.indexurl import redact_url
    from crisiswatch.store.copy import copy_store, not_state

    config = load_config(args.config)
    source_url = args.source or config.state_store
    path = sqlite_path(source_url)
    if path is not None and not Path(path).exists():  # connecting would make an empty one, "copied" as 0 rows
        raise CrisiswatchError(f"no state database at {path} to copy (check --db, --from or state_db)")
    source, target = connect(source_url), connect(args.to)
    print(f"copying {redact_url(source_url)} ({source.dialect}) -> {redact_url(args.to)} ({target.dialect})")

    def progress(table: str, rows: int) -> None:
        if sys.stdout.isatty():
            print(f"\r  {table}: {rows} rows", end="", flush=True)

    if left := not_state(source, target):
        print(f"  not copied (not state: the SQLite mention index stays where index.url names it): "
              f"{', '.join(left[:6])}{f' and {len(left) - 6} more' if len(left) > 6 else ''}")
    results = copy_store(source, target, progress)
    if sys.stdout.isatty():
        print("\r" + " " * 60 + "\r", end="")
    width = max(len(r.table) for r in results)
    print(f"  {'table':<{width}}  {'rows':>8} {'copied':>8}  checksum")
    for r in results:
        mark = "ok" if r.ok else "MISMATCH"
        print(f"  {r.table:<{width}}  {r.source_rows:>8} {r.target_rows:>8}  {r.source_sum} {r.target_sum}  {mark}")
    bad = [r.table for r in results if not r.ok]
    total = sum(r.source_rows for r in results)
    if bad:
        print(f"copy FAILED: {len(bad)} table(s) differ ({', '.join(bad)}); the target is incomplete", file=sys.stderr)
        return 1
    print(f"copied {total} rows in {len(results)} tables; every count and checksum matches")
    return 0
