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
    retry = actions.add_parser("retry", help="put failed alerts back in the outbox (and make waiting ones due now);"
                               " the next delivery pass sends them")
    retry.add_argument("ids", nargs="*", type=int, metavar="ID", help="outbox row ids (`crisiswatch alerts outbox`)")
    retry.add_argument("--all-failed", action="store_true", help="every alert that failed for good")
    retry.add_argument("--needs-fix", action="store_true",
                       help="every alert waiting for a fix (a token, a channel, a setting), once it is fixed")
    retry.add_argument("--as", dest="actor", help="who is acting, for the audit trail (default: your login name)")
    retry.set_defaults(func=run, action="retry")
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
            state = ("failed (`alerts retry` sends it again)" if row.status == "failed" else "pending, waits for a fix"
                     " (`alerts retry --needs-fix` once fixed)" if row.needs_fix else "pending, will retry")
            print(f"  #{row.id} {state} · {row.channel} {row.target} · {row.message.title[:60]} · queued"
                  f" {_local(config, row.created_at)} · {row.attempts} attempts · {row.last_error}")
        return 0
    if args.action == "retry":
        return _retry(args, dispatcher.outbox, conn)
    if args.action == "tick":
        for line in escalation_service(config, conn, dispatcher).tick():
            print(line)
        ApprovalService(config, conn, dispatcher).expire_due()
        dispatcher.flush_digest()
        operator.check_health()
        operator.check_flatlines()
    # exit 1 when an alert was not delivered and did not merely wait for a rate limit (cron and systemd
    # report the run as failed): a 429 is the channel pacing us, and its alert goes on its next try by itself
    done = dispatcher.deliver_pass()
    print(done.summary())
    return code or (1 if done.failed else 0)


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
        done = dispatcher.deliver_pass()
    except OperationalError as exc:
        line, code = fallback.page(exc)
        print(line)
        return code
    print(done.summary())
    return 1 if problem or done.failed else 0


def _local(config, at: str) -> str:
    from crisiswatch.localtime import local_time

    return local_time(at, config.alerts.timezone, "%m-%d %H:%M")


def _retry(args: argparse.Namespace, outbox, conn) -> int:
    """`alerts retry ID…|--all-failed`: rows back to pending, each recorded in the audit trail."""
    import getpass

    from crisiswatch.audit import AuditLog

    if sum((bool(args.ids), args.all_failed, args.needs_fix)) != 1:
        print("alerts retry: give outbox row ids, --all-failed or --needs-fix (one of them)")
        return 2
    rows = outbox.retry(args.ids or None, needs_fix=args.needs_fix)
    actor = args.actor or f"cli:{getpass.getuser()}"
    audit = AuditLog(conn)
    for row in rows:
        was = "waiting for a fix" if row.status == "pending" and row.needs_fix else row.status
        audit.record(actor, "alerts.retry", f"outbox:{row.id}", was=was, attempts=row.attempts,
                     last_error=row.last_error, channel=row.channel, target=row.target, key=row.key)
        print(f"#{row.id} {row.channel} {row.target} · {row.message.title[:60]} · was {was}"
              f" ({row.attempts} attempts: {row.last_error}) · pending, due now")
    missing = sorted(set(args.ids) - {r.id for r in rows})
    if missing:
        print(f"not in the outbox as failed or pending: {', '.join(f'#{i}' for i in missing)}")
    print(f"alerts retry: {len(rows)} alert(s) back in the outbox; the next delivery pass sends them"
          " (the run loop, or `crisiswatch alerts deliver`)")
    return 1 if missing else 0
