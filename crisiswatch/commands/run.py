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
    from crisiswatch.errors import CrisiswatchError
    from monitor.loop import configured_spiders, run_forever

    path = find_config(args.config)
    if path is None:  # the built-in defaults watch no brand: a loop on them would look healthy and see nothing
        raise CrisiswatchError("no config file (./crisiswatch.yaml, or --config FILE, or $CRISISWATCH_CONFIG): "
                               "the loop does not run on the built-in defaults, which watch no brand")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    config = load_config(args.config)
    if args.role in ("all", "crawl") and not configured_spiders(config):
        logging.getLogger("monitor.loop").warning(
            "%s names no source to crawl (brands[].sources): this loop detects and responds on what others index",
            path)
    report = run_forever(config, str(path), tick_seconds=args.tick, once=args.once, role=args.role)
    # cron reads the exit status: a pass with a failed crawl or stage is not a success
    return 1 if args.once and report is not None and report.failed_stages else 0
