"""`crisiswatch backtest --since T --until T [--playbook P]`: which incidents stored history would have raised.

Replays the index through the configured detectors and playbooks (dry run) on a throw-away copy of
the state: the real incidents, tickets and outbox are never written, and nothing is sent. A line on
stderr after each month replayed says how far it has come (`--quiet`: none).
"""

from __future__ import annotations

import argparse
from datetime import UTC, datetime, timedelta

from crisiswatch.errors import CrisiswatchError
from crisiswatch.progress import ProgressLines


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "backtest", help="replay stored mentions through the detectors without side effects"
    )
    p.add_argument("--since", required=True, help="start, ISO time (UTC unless it has an offset)")
    p.add_argument("--until", required=True, help="end (exclusive), ISO time")
    p.add_argument("--playbook", help="dry-run only this playbook (default: all)")
    p.add_argument(
        "--warmup-hours", type=float, default=24.0, help="baseline learning before --since (default 24)"
    )
    p.add_argument(
        "--quiet", action="store_true", help="no progress lines (one a month replayed), only the result"
    )
    p.set_defaults(func=run)


def parse_time(text: str, flag: str) -> datetime:
    try:
        value = datetime.fromisoformat(text.strip())
    except ValueError:
        raise CrisiswatchError(
            f"backtest: {flag} {text!r} is not an ISO time such as 2025-06-14T08:00"
        ) from None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def run(args: argparse.Namespace) -> int:
    from crisiswatch.config import load_config
    from index import open_backend
    from monitor.backtest import BacktestProgress, backtest

    since, until = parse_time(args.since, "--since"), parse_time(args.until, "--until")
    if args.warmup_hours < 0:
        raise CrisiswatchError("backtest: --warmup-hours must be >= 0")
    config = load_config(args.config)
    say = ProgressLines(quiet=args.quiet, every=0)  # a line a month: few even for years

    def progress(p: BacktestProgress) -> None:
        what = "warm-up" if p.warmup else f"{p.opened} incident(s) so far"
        say(f"backtest: through {p.through:%Y-%m-%d %H:%M} UTC · {p.done:.0%} · {what}")

    backend = open_backend(config.index.url)
    try:
        found = backtest(
            config,
            backend,
            since,
            until,
            timedelta(hours=args.warmup_hours),
            args.playbook,
            progress=progress,
        )
    finally:
        backend.close()
    print(
        f"backtest {since:%Y-%m-%d %H:%M} .. {until:%Y-%m-%d %H:%M} UTC: {len(found)} incident(s) would have"
        " opened (dry run: nothing written, nothing sent)"
    )
    for item in found:
        inc = item.incident
        print(f"{inc.opened_at:%Y-%m-%d %H:%M} {inc.label} [{inc.level}] {inc.key} · {inc.summary}")
        if len(item.rules) > 1:
            print(f"    joined by: {', '.join(item.rules[1:])}")
        terms = inc.facts.get("top_terms")
        if terms:
            print(f"    top terms: {' '.join(terms[:6])}")
        for name, outcomes in item.playbooks:
            print(f"    playbook {name}: {'; '.join(outcomes)}")
    return 0
