"""`crisiswatch incident list`, `crisiswatch incident report INC-N [--format md|html] [--out FILE]`,
`crisiswatch incident dismiss INC-N --reason TEXT` (a false alarm, 误报: see playbooks.dismiss).

The report is the post-incident review (复盘) a PR lead presents: key moments, the golden window, the numbers
the incident page shows, the timeline and the curve (a chart in the html format)."""

from __future__ import annotations

import argparse
import getpass
import sys
from datetime import UTC, datetime

from crisiswatch.errors import CrisiswatchError
from crisiswatch.localtime import local_time


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("incident", help="incidents and their post-incident report (复盘)")
    ss = p.add_subparsers(dest="incident_command", metavar="ACTION", required=True)
    ss.add_parser("list", help="incidents, newest first")
    report = ss.add_parser("report", help="the post-incident report: key moments, golden window, numbers, "
                                          "timeline, curve")
    report.add_argument("incident", help="INC-N or N")
    report.add_argument("--format", choices=("md", "html"), default="md", help="html: one page with the curve drawn")
    report.add_argument("--out", help="write to this file (default: stdout)")
    dismiss = ss.add_parser("dismiss", help="dismiss as a false alarm (误报): resolve it, stop its escalation, "
                                            "withdraw its statement approvals, close its ticket as 误报")
    dismiss.add_argument("incident", help="INC-N or N")
    dismiss.add_argument("--reason", required=True, help="what made it a false alarm (kept in the audit trail)")
    dismiss.add_argument("--as", dest="actor", help="who is dismissing it (default: your login name)")
    p.set_defaults(func=run)


def parse_incident_id(text: str) -> int:
    value = text.strip().upper().removeprefix("INC-")
    if not value.isdigit():
        raise CrisiswatchError(f"no such incident {text!r} (use INC-N or N, as `crisiswatch incident list` shows)")
    return int(value)


def run(args: argparse.Namespace) -> int:
    from zoneinfo import ZoneInfo

    from crisiswatch.audit import AuditLog
    from crisiswatch.config import load_config
    from crisiswatch.db import connect
    from index import open_backend
    from monitor.dashboard.incident_page import IncidentPageService
    from monitor.dashboard.postmortem import build_postmortem, render_html, render_markdown
    from monitor.incidents.service import IncidentService
    from playbooks.statements import StatementStore
    from playbooks.tickets.service import TicketService

    config = load_config(args.config)
    conn = connect(config.state_store)
    zone = ZoneInfo(config.alerts.timezone)
    incidents = IncidentService(conn)
    if args.incident_command == "list":
        found = incidents.list(limit=50)
        for i in found:
            state = f"resolved {local_time(i.resolved_at, zone)}" if i.resolved_at else "open"
            if i.dismissed:
                state = f"误报 dismissed by {i.dismissed['by']}: {i.dismissed['reason']}"
            print(f"{i.label}  {config.brand_name(i.brand)}  {i.severity}  opened {local_time(i.opened_at, zone)}  "
                  f"{state}  {i.summary}")
        if not found:
            print("no incidents")
        return 0
    incident_id = parse_incident_id(args.incident)
    if args.incident_command == "dismiss":
        return _dismiss(config, conn, incident_id, args.reason, args.actor or f"cli:{getpass.getuser()}")
    backend = open_backend(config.index.url)
    try:
        service = IncidentPageService(backend, incidents, TicketService.from_config(config, conn), StatementStore(conn),
                                      AuditLog(conn), config.brand_name, people=config.alerts.slack.users)
        report = build_postmortem(service, incident_id, datetime.now(UTC), zone)
    finally:
        backend.close()
    if report is None:
        raise CrisiswatchError(f"no incident INC-{incident_id} (see `crisiswatch incident list`)")
    text = render_html(report) if args.format == "html" else render_markdown(report)
    if not args.out:
        sys.stdout.write(text)
        return 0
    try:
        with open(args.out, "w", encoding="utf-8") as f:
            f.write(text)
    except OSError as exc:
        raise CrisiswatchError(f"cannot write {args.out}: {exc}") from None
    print(f"report written to {args.out}")
    return 0


def _dismiss(config, conn, incident_id: int, reason: str, by: str) -> int:  # noqa: ANN001
    from alerts.dispatch import AlertDispatcher, build_channels
    from playbooks.dismiss import dismiss_incident

    dispatcher = AlertDispatcher(config, conn, build_channels(config, conn))
    done = dismiss_incident(config, conn, dispatcher, incident_id, reason=reason, by=by)
    print(done.summary())
    print("the line in its Slack thread goes out with the run loop's next delivery")
    return 0
