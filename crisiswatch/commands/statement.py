"""`crisiswatch statement list|show|approve|reject|publish`: holding statements outside Slack.

Approvals are the same as the Slack buttons' (only a named approver decides); `publish` records the
moment the statement went out, which is what the golden window is judged by.
"""

from __future__ import annotations

import argparse
import getpass

from crisiswatch.localtime import local_time


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("statement", help="list, approve, reject and publish holding statements")
    p.add_argument("--as", dest="actor", help="who is acting (default: your login name)")
    ss = p.add_subparsers(dest="statement_command", metavar="ACTION", required=True)
    ss.add_parser("list", help="statements, newest first")
    for action in ("show", "approve", "reject", "publish"):
        ss.add_parser(action, help=f"{action} a statement").add_argument("id", type=int)
    p.set_defaults(func=run)


def _line(s, tz) -> str:  # noqa: ANN001 - a Statement
    deadline = local_time(s.window_ends, tz, "%m-%d %H:%M")
    out = f"#{s.id}  {s.status:<9} INC-{s.incident_id} · {s.playbook} · golden window to {deadline}"
    if s.published_at:
        out += f" · published {local_time(s.published_at, tz, '%m-%d %H:%M')} by {s.published_by}"
    return out + (" · MISSED the window" if s.missed_window else "")


def run(args: argparse.Namespace) -> int:
    # imported here: the CLI imports every command module at start-up
    from zoneinfo import ZoneInfo

    from crisiswatch.config import load_config
    from crisiswatch.db import connect
    from playbooks.publishing import StatementDesk

    config = load_config(args.config)
    desk = StatementDesk(config, connect(config.state_store))
    tz = ZoneInfo(config.tickets.timezone or config.alerts.timezone)
    who = args.actor or getpass.getuser()
    command = args.statement_command
    if command == "list":
        found = desk.list()
        for s in found:
            print(_line(s, tz))
        if not found:
            print("no statements")
        return 0
    if command == "show":
        s = desk.require(args.id)
        print(_line(s, tz))
        print(f"  approvers: {s.approvers}\n\n{s.text}")
        return 0
    if command == "publish":
        s = desk.publish(args.id, who)
    else:
        s = desk.decide(args.id, who, command == "approve")
    print(_line(s, tz))
    return 0
