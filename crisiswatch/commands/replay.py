"""`crisiswatch replay SCENARIO`: serve a scenario on loopback in the real sites' shapes."""

from __future__ import annotations

import argparse
import time


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("replay", help="serve a scenario's posts on loopback, shaped like the real sites")
    p.add_argument("scenario", help="shipped scenario name (logistics_crisis, quiet, ...) or a YAML file")
    p.add_argument("--port", type=int, default=8472, help="default 8472 (slack serve has 8471)")
    p.add_argument("--host", default="127.0.0.1", help="default 127.0.0.1")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from crawlers.replay import ReplayServer, load_scenario

    scenario = load_scenario(args.scenario)
    with ReplayServer(scenario, host=args.host, port=args.port) as server:
        print(f"replaying {scenario.name} ({len(scenario.posts)} posts) at {server.base_url}")
        print("point a source's base_url at it in the config; Ctrl-C stops")
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            return 0
