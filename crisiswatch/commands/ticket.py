"""`crisiswatch ticket ...`: complaint tickets for support staff, from the command line.

Every change is made at the version just read, so a ticket changed meanwhile by someone else
is refused with a conflict instead of being overwritten.
"""

from __future__ import annotations

import argparse
import getpass
import json
from typing import Any

from crisiswatch.mention import CATEGORIES, CATEGORY_LABELS, SEVERITIES

ACTIONS = ("accept", "start", "reply", "resolve", "followup", "close", "reopen")


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("ticket", help="list, show, convert and work complaint tickets")
    p.add_argument("--as", dest="actor", help="who is acting (default: your login name)")
    p.add_argument("--json", action="store_true", help="machine-readable output for list and show")
    ts = p.add_subparsers(dest="ticket_command", metavar="ACTION", required=True)
    lst = ts.add_parser("list", help="tickets, newest first")
    lst.add_argument("--status")
    lst.add_argument("--severity", choices=SEVERITIES)
    lst.add_argument("--category", choices=CATEGORIES)
    lst.add_argument("--brand")
    lst.add_argument("--breached", action="store_true", help="only tickets that breached an SLA limit")
    lst.add_argument("--limit", type=int, default=50)
    ts.add_parser("show", help="one ticket with its timeline").add_argument("number")
    conv = ts.add_parser("convert", help="turn a post (or its near-duplicate cluster) into a complaint")
    conv.add_argument("mention_id")
    conv.add_argument("--cluster", action="store_true", help="take every copy of the post")
    conv.add_argument("--category", choices=CATEGORIES)
    conv.add_argument("--severity", choices=SEVERITIES)
    conv.add_argument("--department")
    asg = ts.add_parser("assign", help="route to a department (客服 调查 技术 法律 管理层)")
    asg.add_argument("number")
    asg.add_argument("department")
    note = ts.add_parser("note", help="add an internal note")
    note.add_argument("number")
    note.add_argument("text")
    task = ts.add_parser("done", help="tick off checklist item N (1-based)")
    task.add_argument("number")
    task.add_argument("item", type=int)
    for action in ACTIONS:
        a = ts.add_parser(action, help=f"{action} the ticket")
        a.add_argument("number")
        if action == "reply":
            a.add_argument("text", help="what was said to the customer")
        else:
            a.add_argument("--note")
        if action == "followup":
            a.add_argument("--score", type=int, required=True, help="satisfaction 1-5")
            a.add_argument("--comment", default="")
    p.set_defaults(func=run)


def _open(args: argparse.Namespace) -> tuple[Any, Any]:
    from crisiswatch.config import load_config
    from crisiswatch.db import connect
    from playbooks.tickets.mirror import mirror_for
    from playbooks.tickets.service import TicketService

    config = load_config(args.config)
    conn = connect(config.resolve(config.state_db))
    return TicketService.from_config(config, conn, mirror=mirror_for(config.index.url, conn)), config


def _line(t) -> str:  # noqa: ANN001 - a Ticket
    flags = f" · 超时{t.breaches}次" if t.breaches else ""
    return (f"{t.number}  {t.status:<4} {t.severity} {CATEGORY_LABELS.get(t.category, t.category)} · {t.department}"
            f" · {t.brand or '-'} · {t.title[:40]}{flags}")


def _show(tickets, t) -> None:  # noqa: ANN001
    print(_line(t))
    print(f"  source: {t.channel} {t.source_url} · author: {t.author_handle or '-'} · departments: "
          f"{'、'.join(t.departments)} · version {t.version}")
    print(f"  due: 受理 {t.ack_due:%m-%d %H:%M} · 响应 {t.response_due:%m-%d %H:%M} · 反馈 {t.feedback_due:%m-%d %H:%M}"
          f" · 办结 {t.resolve_due:%m-%d %H:%M} (UTC)")
    if t.satisfaction:
        print(f"  satisfaction: {t.satisfaction}/5 {t.satisfaction_comment}")
    for rel in t.related:
        print(f"  related: {rel['number']} ({rel['reason']}, {rel['direction']})")
    for i, task in enumerate(t.tasks, 1):
        print(f"  [{'x' if task['done'] else ' '}] {i}. {task['text']}")
    for e in t.evidence[:5]:
        print(f"  evidence: {e.get('author', '')}: {str(e.get('text', ''))[:80]} {e.get('url', '')}")
    for event in tickets.timeline(t.id):
        detail = json.dumps(event["detail"], ensure_ascii=False)
        print(f"  {event['at'][:19]}  {event['actor']:<20} {event['kind']:<14} {detail}")


def run(args: argparse.Namespace) -> int:
    from playbooks.tickets.models import TicketError

    tickets, config = _open(args)
    actor = args.actor or f"cli:{getpass.getuser()}"
    command = args.ticket_command
    if command == "list":
        found = tickets.list(status=args.status, severity=args.severity, category=args.category, brand=args.brand,
                             breached=True if args.breached else None, limit=args.limit)
        if args.json:
            print(json.dumps([t.to_dict() for t in found], ensure_ascii=False, default=str))
        for t in [] if args.json else found:
            print(_line(t))
        if not found and not args.json:
            print("no tickets")
        return 0
    if command == "convert":
        from index import open_backend
        from playbooks.tickets.flows import convert_from_index

        backend = open_backend(config.index.url)
        try:
            newest = max((x.id for x in tickets.list(limit=1)), default=0)
            t = convert_from_index(tickets, backend, args.mention_id, actor=actor, cluster=args.cluster,
                                   category=args.category, severity=args.severity, department=args.department)
        finally:
            backend.close()
        verb = "opened" if t.id > newest else "joined"
        print(f"ticket {t.number} {verb} · {t.severity} · {t.category} · {t.department} · "
              f"{len(t.mention_ids)} posts")
        return 0
    t = tickets.by_number(args.number)
    if t is None:
        raise TicketError(f"no ticket {args.number}")
    if command == "show":
        if args.json:
            print(json.dumps({**t.to_dict(), "timeline": tickets.timeline(t.id)}, ensure_ascii=False, default=str))
        else:
            _show(tickets, t)
        return 0
    if command == "assign":
        t = tickets.assign(t.id, args.department, actor=actor, expected_version=t.version)
    elif command == "note":
        t = tickets.add_note(t.id, args.text, actor=actor, expected_version=t.version)
    elif command == "done":
        t = tickets.complete_task(t.id, args.item - 1, actor=actor, expected_version=t.version)
    else:
        if command == "reply":  # replying to a new case means it was accepted and taken up
            for step, status in (("accept", "新建"), ("start", "已受理")):
                if t.status == status:
                    t = tickets.transition(t.id, step, actor=actor, expected_version=t.version)
        t = tickets.transition(t.id, command, actor=actor, expected_version=t.version,
                               note=args.text if command == "reply" else args.note,
                               satisfaction=getattr(args, "score", None), comment=getattr(args, "comment", None))
    print(_line(t))
    return 0
