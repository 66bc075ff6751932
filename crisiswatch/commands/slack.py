"""`crisiswatch slack serve`: the Slack buttons and slash command endpoint, standalone.

The dashboard (`crisiswatch serve`) mounts the same endpoints under /slack; use this when the
dashboard does not run or must not be reachable from Slack.
"""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("slack", help="Slack interactivity endpoint (buttons, /crisiswatch command)")
    actions = p.add_subparsers(dest="slack_command", metavar="ACTION")
    serve = actions.add_parser("serve", help="serve POST /slack/actions and /slack/commands")
    serve.add_argument("--host", default="127.0.0.1", help="default 127.0.0.1")
    serve.add_argument("--port", type=int, default=8471, help="default 8471")
    serve.set_defaults(func=run)
    p.set_defaults(func=lambda args: (p.print_help(), 2)[1])


def run(args: argparse.Namespace) -> int:
    import os

    import uvicorn

    from crisiswatch.config import load_config
    from crisiswatch.errors import CrisiswatchError
    from monitor.slack_app import create_app

    config = load_config(args.config)
    if not os.environ.get(config.alerts.slack.signing_secret_env):
        raise CrisiswatchError(f"set {config.alerts.slack.signing_secret_env} to the Slack app's signing secret")
    print(f"Slack endpoints on http://{args.host}:{args.port}/slack/actions and /slack/commands")
    uvicorn.run(create_app(config), host=args.host, port=args.port, log_level="warning")
    return 0
