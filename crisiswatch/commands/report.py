"""`crisiswatch report --period week|month|7d|30d [--format md|html|csv|summary-csv] [--orders N] [--out FILE]`."""

from __future__ import annotations

import argparse
import sys
from datetime import datetime

from crisiswatch.errors import CrisiswatchError


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("report", help="complaint analysis of a week or a month (md, html or csv)")
    p.add_argument("--period", choices=("week", "month", "7d", "30d"), default="week",
                   help="week, month: the last complete calendar one (Monday to Sunday, 1st to last day) in the "
                        "team's zone by --until; 7d, 30d: the days up to --until, today included")
    p.add_argument("--format", choices=("md", "html", "csv", "summary-csv"), default="md",
                   help="csv: one row per ticket; summary-csv: the metrics, trend, hours, backlog and agents")
    p.add_argument("--orders", type=int, help="orders in the period, for 投诉率 (complaints per order)")
    p.add_argument("--out", help="write to this file (default: stdout)")
    p.add_argument("--until", help="ISO 8601 (default: now): 7d and 30d end here, week and month by here")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from crisiswatch.config import load_config
    from crisiswatch.db import connect
    from playbooks.tickets.flows import sweep_on_read
    from playbooks.tickets.report import build_report, render
    from playbooks.tickets.service import TicketService

    config = load_config(args.config)
    conn = connect(config.state_store)
    tickets = TicketService.from_config(config, conn)
    until = None
    if args.until:
        try:
            until = datetime.fromisoformat(args.until)
        except ValueError:
            raise CrisiswatchError(f"--until: bad time {args.until!r} (use ISO 8601)") from None
        until = until if until.tzinfo else until.replace(tzinfo=tickets.tz)  # the team's zone, as shown
    sweep_on_read(config, tickets, conn)  # breaches up to now are counted before they are reported
    text = render(build_report(tickets, args.period, until, orders=args.orders), args.format)
    if not args.out:
        sys.stdout.write(text)
        return 0
    try:
        with open(args.out, "w", encoding="utf-8", newline="") as f:
            f.write(text)
    except OSError as exc:
        raise CrisiswatchError(f"cannot write {args.out}: {exc}") from None
    print(f"report written to {args.out}")
    return 0
