"""`crisiswatch alerts ...`: deliver the outbox, run escalations and digests, check the dead-man."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from crisiswatch.config import Config


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("alerts", help="alert delivery, escalation ticks, digest, dead-man check")
    actions = p.add_subparsers(dest="alerts_command", metavar="ACTION")
    for name, helptext in (("deliver", "send every due alert in the outbox (resumes after a crash)"),
                           ("tick", "escalation steps, expiries, digest, operator health alerts, then deliver"),
                           ("deadman-check", "alert the operator route when the run loop has been silent too long"),
                           ("outbox", "outbox rows by status")):
        action = actions.add_parser(name, help=helptext)
        action.set_defaults(func=run, action=name)
    p.set_defaults(func=lambda args: (p.print_help(), 2)[1])


def run(args: argparse.Namespace) -> int:
    from alerts.approvals import ApprovalService
    from alerts.dispatch import AlertDispatcher, build_channels
    from alerts.operator import OperatorAlerts
    from crisiswatch.config import load_config
    from crisiswatch.db import connect
    from playbooks.paging import escalation_service

    config = load_config(args.config)
    if args.action == "deadman-check":
        return deadman_check(config)
    conn = connect(config.state_store)
    dispatcher = AlertDispatcher(config, conn, build_channels(config, conn))
    operator = OperatorAlerts(config, conn, dispatcher)
    code = 0
    if args.action == "outbox":
        for status, count in sorted(dispatcher.outbox.counts().items()):
            print(f"{status}: {count}")
        for row in dispatcher.outbox.troubled():  # what is stuck, and why
            print(f"  {row.status} · {row.channel} {row.target} · {row.message.title[:60]} · {row.attempts} attempts"
                  f" · {row.last_error}")
        return 0
    if args.action == "tick":
        for line in escalation_service(config, conn, dispatcher).tick():
            print(line)
        ApprovalService(config, conn, dispatcher).expire_due()
        dispatcher.flush_digest()
        operator.check_health()
        operator.check_flatlines()
    sent, failed = dispatcher.deliver_due()
    print(f"alerts: {sent} sent, {failed} failed" + (" (`crisiswatch alerts outbox` says why)" if failed else ""))
    return code or (1 if failed else 0)


def deadman_check(config: Config) -> int:
    """The dead-man through the outbox; when the state store cannot be reached, straight through the
    channels (rate-limited by a local file), since neither the loop nor the outbox can work then."""
    from alerts.dispatch import AlertDispatcher, build_channels
    from alerts.operator import OperatorAlerts, StoreUnreachable
    from crisiswatch.db import OperationalError, connect

    fallback = StoreUnreachable(config)
    try:
        conn = connect(config.state_store)
        dispatcher = AlertDispatcher(config, conn, build_channels(config, conn))
        operator = OperatorAlerts(config, conn, dispatcher)
        for line in fallback.recovered(operator):
            print(f"dead-man: {line}")
        problem = operator.deadman_check()
        print(f"dead-man: {problem}" if problem else "dead-man: loop is alive")
        sent, failed = dispatcher.deliver_due()
    except OperationalError as exc:
        line, code = fallback.page(exc)
        print(line)
        return code
    print(f"alerts: {sent} sent, {failed} failed" + (" (`crisiswatch alerts outbox` says why)" if failed else ""))
    return 1 if problem or failed else 0
