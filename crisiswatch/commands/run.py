"""`crisiswatch run`: crawl the configured sources on their schedules, detect, respond, alert.

One full loop per state database: a second `run` says so in one line and stands by (docs/operations.md);
`--role crawl|detect|deliver` processes share the work in any number (docs/scaling.md).
"""

from __future__ import annotations

import argparse
import logging


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("run", help="the long-running monitoring loop over the configured sources")
    p.add_argument("--tick", type=float, default=30, help="seconds between detection passes")
    p.add_argument("--role", choices=("all", "crawl", "detect", "deliver"), default="all",
                   help="the stages this process runs: all (one loop per database), or one of them, in any "
                        "number of processes (docs/scaling.md)")
    p.add_argument("--once", action="store_true",
                   help="one pass, then exit (for cron); refuses while another loop holds the state database")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from crisiswatch.config import find_config, load_config
    from monitor.loop import run_forever

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    path = find_config(args.config)
    run_forever(load_config(args.config), str(path) if path else None, tick_seconds=args.tick, once=args.once,
                role=args.role)
    return 0
