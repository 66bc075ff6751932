"""`crisiswatch statement list|show|approve|reject|publish|revise|resubmit`: holding statements outside Slack.

Approvals are the same as the Slack buttons' (only a named approver decides); `publish` records the
moment the statement went out, which is what the golden window is judged by, and only an approver
publishes. A rejected or expired statement is revised (`revise ID --text-file F`) or put to its
approvers again as it is (`resubmit ID`): a new request to the same approvers; `show` keeps the
earlier rounds and their decisions.
"""

from __future__ import annotations

import argparse
import getpass
import sys
from pathlib import Path

from crisiswatch.errors import CrisiswatchError
from crisiswatch.localtime import local_time


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("statement", help="list, approve, reject, publish and revise holding statements")
    p.add_argument("--as", dest="actor", help="who is acting (default: your login name)")
    ss = p.add_subparsers(dest="statement_command", metavar="ACTION", required=True)
    ss.add_parser("list", help="statements, newest first")
    for action in ("show", "approve", "reject", "publish"):
        ss.add_parser(action, help=f"{action} a statement").add_argument("id", type=int)
    revise = ss.add_parser("revise", help="a new text for a rejected or expired statement, sent to its approvers "
                                          "again")
    revise.add_argument("id", type=int)
    revise.add_argument("--text-file", required=True, metavar="FILE",
                        help="the new text, UTF-8 ('-': standard input); taken as written, never as a template")
    ss.add_parser("resubmit", help="send a rejected or expired statement to its approvers again, unchanged"
                  ).add_argument("id", type=int)
    p.set_defaults(func=run)


def _line(s, tz) -> str:  # noqa: ANN001 - a Statement
    deadline = local_time(s.window_ends, tz, "%m-%d %H:%M")
    version = f" v{s.version}" if s.version > 1 else ""
    out = f"#{s.id}{version}  {s.status:<9} INC-{s.incident_id} · {s.playbook} · golden window to {deadline}"
    if s.published_at:
        out += f" · published {local_time(s.published_at, tz, '%m-%d %H:%M')} by {s.published_by}"
    elif s.status in ("rejected", "expired"):
        out += f" · revise or resubmit {s.id}"
    return out + (" · MISSED the window" if s.missed_window else "")


def _read_text(name: str) -> str:
    try:
        data = sys.stdin.buffer.read() if name == "-" else Path(name).read_bytes()
    except OSError as exc:
        raise CrisiswatchError(f"cannot read {name}: {exc.strerror}") from None
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise CrisiswatchError(f"{name}: not UTF-8 text (byte 0x{data[exc.start]:02x} at {exc.start}); "
                               "save the file as UTF-8") from None


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
        s = desk.current(args.id)
        print(_line(s, tz))
        print(f"  approvers: {s.approvers}\n\n{s.text}")
        for old in reversed(desk.history(s.id)):
            by = f" by {old.decided_by}" if old.decided_by else ""
            print(f"\n-- version {old.version}: {old.status}{by} {local_time(old.decided_at, tz, '%m-%d %H:%M')}"
                  f" · {old.change} by {old.replaced_by} {local_time(old.replaced_at, tz, '%m-%d %H:%M')}\n"
                  f"{old.text}")
        return 0
    if command == "publish":
        s = desk.publish(args.id, who)
    elif command == "revise":
        s = desk.revise(args.id, who, _read_text(args.text_file))
    elif command == "resubmit":
        s = desk.resubmit(args.id, who)
    else:
        s = desk.decide(args.id, who, command == "approve")
    print(_line(s, tz))
    if command in ("revise", "resubmit"):
        print(f"  version {s.version} sent to {s.approvers} for approval")
    return 0
