"""`crisiswatch demo`: the whole loop on a replayed scenario, on embedded defaults."""

from __future__ import annotations

import argparse

from crisiswatch.config import load_config


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("demo", help="replay a crisis scenario through crawl, enrich, index, detect and respond")
    p.add_argument("--scenario", default="all_sources", help="shipped scenario name or a YAML file")
    p.add_argument("--db", help="SQLite file to leave behind, recreated (default: crisiswatch --db FILE, "
                                "else crisiswatch-demo.db)")
    p.add_argument("--index-url", help="index backend URL (default: the SQLite file)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from monitor.demo import DEMO_DB, run_demo

    # only a --db named on this command line: a $CRISISWATCH_DB left in the shell is never wiped
    db = args.db or getattr(args, "state_db", None) or DEMO_DB
    config = load_config(args.config)
    if args.index_url:  # checked like the file's, in one line, before the demo recreates its database
        config.with_overrides(index__url=args.index_url)
    result = run_demo(config, args.scenario, db, args.index_url)
    return 0 if result.mentions else 1
