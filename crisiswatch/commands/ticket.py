"""`crisiswatch ticket ...`: complaint tickets for support staff, from the command line.

Every change is made at the version just read, so a ticket changed meanwhile by someone else
is refused with a conflict instead of being overwritten. Reading tickets checks the SLA first, so
a breach is counted (and its alert queued) whoever looks, not only the run loop. Times are shown in
the team's time zone; the customer's contact only in full where the agent needs it (`show`).
"""

from __future__ import annotations

import argparse
import getpass
import json
import sys
from datetime import datetime
from pathlib import Path
from typing import Any

from crisiswatch.config import INTAKE_CHANNELS, REPLY_CHANNELS
from crisiswatch.errors import CrisiswatchError
from crisiswatch.indexurl import redact_url
from crisiswatch.mention import CATEGORIES, CATEGORY_LABELS, SEVERITIES

# The services are imported inside the functions: the CLI imports every command module at start-up, and
# the ticket stack (jieba, the classifier, holidays) would slow down every other command.
ACTIONS = ("accept", "start", "resolve", "followup", "close", "reopen")


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("ticket", help="take, list, show, convert and work complaint tickets")
    p.add_argument("--as", dest="actor", help="who is acting (default: your login name)")
    p.add_argument("--json", action="store_true", help="machine-readable output for list and show")
    ts = p.add_subparsers(dest="ticket_command", metavar="ACTION", required=True)
    lst = ts.add_parser("list", help="tickets, newest first")
    lst.add_argument("--status")
    lst.add_argument("--severity", choices=SEVERITIES)
    lst.add_argument("--category", choices=CATEGORIES)
    lst.add_argument("--brand")
    lst.add_argument("--breached", action="store_true",
                     help="only tickets past an SLA deadline now (the dashboard's 超时工单; 超时N次 counts past ones)")
    lst.add_argument("--mine", action="store_true", help="my queue: open tickets I own (see --as)")
    lst.add_argument("--owner", help="open tickets this person owns")
    lst.add_argument("--archived", action="store_true", help="archived (已归档) tickets too (or --status 已归档)")
    lst.add_argument("--limit", type=int, default=50)
    show = ts.add_parser("show", help="one ticket with its timeline")
    show.add_argument("number")
    for action in (lst, show):  # after the action too (`ticket list --json`); SUPPRESS keeps `ticket --json list`
        action.add_argument("--json", action="store_true", default=argparse.SUPPRESS, help="machine-readable output")
    new = ts.add_parser("new", help="take a complaint by phone, e-mail, chat, app, social media or a third party")
    new.add_argument("--channel", required=True, choices=INTAKE_CHANNELS)
    new.add_argument("--customer", required=True, help="the customer's name")
    new.add_argument("--contact", required=True, help="phone number or e-mail address")
    new.add_argument("--summary", required=True, help="what happened, in the customer's words")
    new.add_argument("--expectation", default="", help="what the customer asks for (诉求)")
    new.add_argument("--category", choices=CATEGORIES, help="default: the classifier's suggestion")
    new.add_argument("--severity", choices=SEVERITIES, help="default: the classifier's suggestion")
    new.add_argument("--order", default="", help="order number")
    new.add_argument("--brand", default="", help="brand key (default: the only configured brand)")
    new.add_argument("--owner", default="", help="a person from tickets.staff")
    imp = ts.add_parser("import", help="complaints from a call-centre CSV export (bad rows reported by line)")
    imp.add_argument("file")
    imp.add_argument("--brand", default="")
    cls = ts.add_parser("classify", help="confirm or correct the category and grade")
    cls.add_argument("number")
    cls.add_argument("--category", choices=CATEGORIES)
    cls.add_argument("--severity", choices=SEVERITIES)
    conv = ts.add_parser("convert", help="turn a post (or its near-duplicate cluster) into a complaint")
    conv.add_argument("mention_id")
    conv.add_argument("--cluster", action="store_true", help="take every copy of the post")
    conv.add_argument("--category", choices=CATEGORIES)
    conv.add_argument("--severity", choices=SEVERITIES)
    conv.add_argument("--department")
    asg = ts.add_parser("assign", help="to a department (客服 调查 技术 法律 管理层) or a person from tickets.staff")
    asg.add_argument("number")
    asg.add_argument("to", metavar="DEPARTMENT_OR_PERSON")
    note = ts.add_parser("note", help="add an internal note")
    note.add_argument("number")
    note.add_argument("text")
    task = ts.add_parser("done", help="tick off checklist item N (1-based)")
    task.add_argument("number")
    task.add_argument("item", type=int)
    draft = ts.add_parser("draft", help="the reply template for this ticket, filled in, to edit and send")
    draft.add_argument("number")
    reply = ts.add_parser("reply", help="what was said to the customer (the seven parts for 书面)")
    reply.add_argument("number")
    reply.add_argument("text", nargs="?", help="the reply (or --file)")
    reply.add_argument("--file", help="read the reply from this file (e.g. an edited `ticket draft`)")
    reply.add_argument("--via", choices=REPLY_CHANNELS, help="书面, 电话 or 在线客服 (default: by intake channel)")
    ext = ts.add_parser("extend", help="move the 办结 deadline, with approval, up to the cap")
    ext.add_argument("number")
    ext.add_argument("--until", required=True, help="new deadline, ISO 8601 (team time zone if none given)")
    ext.add_argument("--approved-by", required=True, help="a member of 管理层 in tickets.staff, not you")
    arc = ts.add_parser("archive", help="freeze a closed ticket after its reopen window (归档), or all closed before a date")
    arc.add_argument("number", nargs="?")
    arc.add_argument("--closed-before", metavar="DATE", help="every ticket closed before DATE (team time zone) "
                     "whose reopen window has passed: the periodic archive")
    arc.add_argument("--note")
    mrg = ts.add_parser("merge", help="a duplicate of another open ticket: its posts move over and it closes")
    mrg.add_argument("number", help="the duplicate")
    mrg.add_argument("--into", required=True, help="the ticket kept")
    rec = ts.add_parser("recompute-deadlines", help="recount open tickets' deadlines on the work calendar as it is "
                        "now (a year's holidays and 调休 published since they were counted); the run loop does it at "
                        "start")
    rec.add_argument("--dry-run", action="store_true", help="say what would move, change nothing")
    rec.add_argument("--year", type=int, action="append", default=[], metavar="YEAR",
                     help="recount the tickets running through YEAR even if its calendar looks unchanged (repeatable)")
    wait = ts.add_parser("pause", help="waiting for the customer: the SLA clocks stop until `resume`")
    wait.add_argument("number")
    wait.add_argument("--note", required=True, help="what the customer is asked for, e.g. 等待客户补充照片")
    back = ts.add_parser("resume", help="the customer answered: the clocks run again, deadlines moved by the wait")
    back.add_argument("number")
    back.add_argument("--note")
    for action in ACTIONS:
        a = ts.add_parser(action, help=f"{action} the ticket")
        a.add_argument("number")
        a.add_argument("--note")
        if action == "followup":
            said = a.add_mutually_exclusive_group(required=True)
            said.add_argument("--score", type=int, help="satisfaction 1-5")
            said.add_argument("--unreachable", action="store_true",
                              help="a 回访 call that did not reach the customer (after three, the ticket may be closed)")
            a.add_argument("--comment", default="")
            a.add_argument("--close-reason", metavar="WHY",
                           help="a score of 1-2 sends the case back to handling (处理中); with this it is closed "
                                "instead, saying why not")
    p.set_defaults(func=run)


def _open(args: argparse.Namespace) -> tuple[Any, Any]:
    from crisiswatch.config import load_config
    from crisiswatch.db import connect
    from playbooks.tickets.mirror import mirror_for
    from playbooks.tickets.service import TicketService

    config = load_config(args.config)
    conn = connect(config.state_store)
    return TicketService.from_config(config, conn, mirror=mirror_for(config.index.url, conn)), config


def _line(tickets, t) -> str:  # noqa: ANN001 - a Ticket
    flags = f" · 超时{t.breaches}次" if t.breaches else ""
    if t.paused_at:
        flags += f" · 等待客户 since {tickets.local(t.paused_at)}"
    owner = f"{t.department}/{t.owner}" if t.owner else t.department
    return (f"{t.number}  {t.status:<4} {t.severity} {CATEGORY_LABELS.get(t.category, t.category)} · {owner}"
            f" · {t.intake} · {t.brand or '-'} · 办结 {tickets.local(t.resolve_due)} · {t.title[:40]}{flags}")


def _show(tickets, t) -> None:  # noqa: ANN001
    from monitor.dashboard.i18n_events import REPEAT_REASONS, ticket_timeline

    local = tickets.local
    print(_line(tickets, t))
    if t.customer or t.contact:
        print(f"  customer: {t.customer} · {t.contact} · via {t.intake}" + (f" · order {t.order_no}" if t.order_no
                                                                            else ""))
    if t.summary:
        print(f"  summary: {t.summary}")
    if t.expectation:
        print(f"  expectation (诉求): {t.expectation}")
    if t.source_url:
        print(f"  source: {t.channel} {t.source_url} · author: {t.author_handle or '-'}")
    print(f"  owner: {t.owner or '-'} · departments: {'、'.join(t.departments)} · version {t.version}")
    followup = f" · 回访 {local(t.followup_due)}" if t.followup_due else ""
    extended = f" (extended, approved by {t.extension_approved_by})" if t.extension_approved_by else ""
    print(f"  due ({tickets.tz.key}): 受理 {local(t.ack_due)} · 响应 {local(t.response_due)} · 反馈 "
          f"{local(t.feedback_due)} · 办结 {local(t.resolve_due)}{extended}{followup}")
    calendar = tickets.clock.calendar
    guessed = sorted({d.year for d in (t.due(timer) for timer in t.pending())
                      if calendar.estimated(d.astimezone(tickets.tz).date())})
    if guessed:  # deadlines in a year whose holidays and 调休 days are not published yet
        print(f"  estimated: the {'/'.join(map(str, guessed))} holiday calendar is not published yet; deadlines there "
              f"may move by its make-up working days (add them to tickets.calendar once announced)")
    if t.reply_channel:
        print(f"  replied via {t.reply_channel} ({t.replies}×)")
    for past in t.satisfaction_history:
        print(f"  回访: {past['score']}/5 {past.get('comment', '')} ({local(past['at'])})")
    for rel in t.related:
        reason = REPEAT_REASONS.get(rel["reason"], (rel["reason"],))[0]
        print(f"  related: {rel['number']} ({reason}, {rel['direction']})")
    for i, task in enumerate(t.tasks, 1):
        print(f"  [{'x' if task['done'] else ' '}] {i}. {task['text']}")
    for e in t.evidence[:5]:
        print(f"  evidence: {e.get('author', '')}: {str(e.get('text', ''))[:80]} {e.get('url', '')}")
    # the record as the ticket page words it (`--json show` keeps the stored fields for scripts)
    tasks = [task.get("text", "") for task in t.tasks]
    for line in ticket_timeline(tickets.timeline(t.id), t.number, "zh", local, tasks):
        print(f"  {local(line['at'])}  {line['actor']:<20} {line['text']}")
        for label, said in line["said"]:
            print(f"      {label}：{said}")


def _sweep(tickets, config) -> None:  # noqa: ANN001
    """Whoever reads tickets checks the SLA first; each new breach is counted, queued as an alert and said."""
    from crisiswatch.db import connect
    from playbooks.tickets.flows import sweep_on_read

    found = sweep_on_read(config, tickets, connect(config.state_store))
    for item in found["breaches"]:
        print(f"crisiswatch: SLA breached: {item['ticket']} {item['label']} was due {item['due_local']}",
              file=sys.stderr)
    for item in found.get("still_late", []):
        print(f"crisiswatch: SLA still late: {item['ticket']} {item['label']} was due {item['due_local']} "
              f"({item['days_late']} days)", file=sys.stderr)


def _until(text: str, tz, option: str = "--until") -> datetime:  # noqa: ANN001
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise CrisiswatchError(f"{option}: bad time {text!r} (use ISO 8601, e.g. 2026-07-10T18:00)") from None
    return value if value.tzinfo else value.replace(tzinfo=tz)


def _archive(args: argparse.Namespace, tickets, actor: str) -> int:  # noqa: ANN001
    """One closed ticket, or the periodic archive of every ticket closed before a date."""
    from playbooks.tickets.models import TicketError

    if bool(args.number) == bool(args.closed_before):
        raise CrisiswatchError("say what to archive: ticket archive N, or ticket archive --closed-before DATE")
    if args.number:
        t = tickets.by_number(args.number)
        if t is None:
            raise TicketError(f"no ticket {args.number}")
        print(_line(tickets, tickets.archive(t.id, actor=actor, expected_version=t.version, note=args.note)))
        return 0
    before = _until(args.closed_before, tickets.tz, "--closed-before")
    done, left = tickets.archive_closed(before, actor=actor)
    for t in done:
        print(_line(tickets, t))
    for t, why in left:
        print(f"crisiswatch: {t.number} not archived: {why}", file=sys.stderr)
    print(f"{len(done)} archived, {len(left)} left (closed before {tickets.local(before)})", file=sys.stderr)
    return 0


def _recompute(args: argparse.Namespace, tickets, actor: str) -> int:  # noqa: ANN001
    """One line per ticket whose deadlines move, the summary, and exit 1 when a ticket was left."""
    from playbooks.tickets.flows import describe_moves
    from playbooks.tickets.recompute import recompute_deadlines

    result = recompute_deadlines(tickets, actor=actor, dry_run=args.dry_run, years=args.year)
    for t, moves in result.moved:
        print(f"{t.number}  {describe_moves(tickets, moves)}")
    for t, why in result.left:
        print(f"crisiswatch: {t.number} not recomputed: {why}", file=sys.stderr)
    years = "/".join(map(str, result.changed_years))
    if not result.changed_years:
        said = ("the work calendar is recorded as it is now (nothing stored before to compare)" if result.first
                else "the work calendar has not changed since the deadlines were counted: nothing to recompute")
        print(f"crisiswatch: {said}", file=sys.stderr)
    else:
        verb = "would move" if args.dry_run else "recomputed"
        print(f"{len(result.moved)} tickets {verb} on the {years} calendar, {len(result.left)} left", file=sys.stderr)
    return 1 if result.left else 0


def _me(args: argparse.Namespace) -> str:
    return args.actor or getpass.getuser()


def run(args: argparse.Namespace) -> int:
    from playbooks.tickets.models import TicketError
    from playbooks.tickets.service import UNREACHABLE_TRIES

    tickets, config = _open(args)
    actor = args.actor or f"cli:{getpass.getuser()}"
    command = args.ticket_command
    if command == "list":
        _sweep(tickets, config)
        owner = _me(args) if args.mine else args.owner
        query = {"status": args.status, "severity": args.severity, "category": args.category, "brand": args.brand,
                 "breached": True if args.breached else None, "owner": owner, "open_only": bool(owner) and not args.status,
                 "archived": args.archived}
        found = tickets.list(limit=args.limit, **query)
        if len(found) == args.limit and (total := tickets.count(**query)) > len(found):
            print(f"crisiswatch: the newest {len(found)} of {total} tickets; --limit N shows more", file=sys.stderr)
        if args.json:
            print(json.dumps([t.to_dict(contact=False) for t in found], ensure_ascii=False, default=str))
        for t in [] if args.json else found:
            print(_line(tickets, t))
        if not found and not args.json:
            print(f"no tickets{' owned by ' + owner if owner else ''} in {redact_url(config.state_store)}")
        return 0
    if command == "new":
        return _new(args, tickets, config, actor)
    if command == "import":
        return _import(args, tickets, config, actor)
    if command == "archive":
        return _archive(args, tickets, actor)
    if command == "recompute-deadlines":
        return _recompute(args, tickets, actor)
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
        asked = [f"--{name} {value}" for name, value in (("category", args.category), ("severity", args.severity),
                                                          ("department", args.department)) if value]
        if verb == "joined" and asked:  # the open ticket keeps what its owner set
            print(f"crisiswatch: {' '.join(asked)} not applied: {t.number} was already open for this complaint;"
                  f" use `ticket classify` or `ticket assign` on it", file=sys.stderr)
        return 0
    t = tickets.by_number(args.number)
    if t is None:
        raise TicketError(f"no ticket {args.number}")
    if command == "show":
        _sweep(tickets, config)
        t = tickets.require(t.id)
        if args.json:
            print(json.dumps({**t.to_dict(), "timeline": tickets.timeline(t.id)}, ensure_ascii=False, default=str))
        else:
            _show(tickets, t)
        return 0
    if command == "draft":
        sys.stdout.write(tickets.draft_reply(t))
        return 0
    if command == "assign":
        t = tickets.assign(t.id, args.to, actor=actor, expected_version=t.version)
    elif command == "classify":
        if not (args.category or args.severity):
            raise TicketError("say what to set: --category and/or --severity")
        t = tickets.classify(t.id, actor=actor, expected_version=t.version, category=args.category,
                             severity=args.severity)
    elif command == "note":
        t = tickets.add_note(t.id, args.text, actor=actor, expected_version=t.version)
    elif command == "done":
        t = tickets.complete_task(t.id, args.item - 1, actor=actor, expected_version=t.version)
    elif command == "extend":
        t = tickets.extend(t.id, _until(args.until, tickets.tz), approved_by=args.approved_by, actor=actor,
                           expected_version=t.version)
    elif command == "reply":
        t = _reply(args, tickets, t, actor)
    elif command == "merge":
        keep = tickets.by_number(args.into)
        if keep is None:
            raise TicketError(f"no ticket {args.into}")
        t = tickets.merge(t.id, keep.id, actor=actor, expected_version=t.version)
        print(f"{args.number} merged into {t.number}", file=sys.stderr)
    elif command == "pause":
        t = tickets.pause(t.id, actor=actor, expected_version=t.version, note=args.note)
    elif command == "resume":
        t = tickets.resume(t.id, actor=actor, expected_version=t.version, note=args.note)
    elif command == "followup" and args.unreachable and args.close_reason:
        raise CrisiswatchError("--close-reason goes with a dissatisfied --score, not with --unreachable: after three "
                               "calls that did not reach the customer, `ticket close` closes it")
    elif command == "followup" and args.unreachable:
        t = tickets.followup_unreached(t.id, actor=actor, expected_version=t.version, note=args.note)
        print(f"{t.number}: 回访 not reached, try {tickets.unreached_tries(t)} of {UNREACHABLE_TRIES}", file=sys.stderr)
    else:
        t = tickets.transition(t.id, command, actor=actor, expected_version=t.version, note=args.note,
                               satisfaction=getattr(args, "score", None), comment=getattr(args, "comment", None),
                               close_reason=getattr(args, "close_reason", None))
        if command == "followup" and t.status == "处理中":
            print(f"{t.number}: the customer was dissatisfied at the 回访 ({args.score}/5): back to handling (处理中); "
                  f"to close it instead, say why with --close-reason", file=sys.stderr)
    print(_line(tickets, t))
    return 0


def _reply(args: argparse.Namespace, tickets, t, actor: str):  # noqa: ANN001, ANN202
    if args.file:
        try:
            text = Path(args.file).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise CrisiswatchError(f"cannot read {args.file}: {exc}") from None
    elif args.text is not None:
        text = args.text
    else:
        raise CrisiswatchError("say what was said: ticket reply N TEXT, or --file FILE (start from `ticket draft N`)")
    # replying to a new case means it was accepted and taken up; checked first so nothing moves on a bad reply
    from playbooks.tickets.models import DEFAULT_REPLY_VIA
    from playbooks.tickets.replies import check_reply

    check_reply(text, args.via or DEFAULT_REPLY_VIA[t.intake], tickets.draft_reply(t))
    for step, status in (("accept", "新建"), ("start", "已受理")):
        if t.status == status:
            t = tickets.transition(t.id, step, actor=actor, expected_version=t.version)
    return tickets.transition(t.id, "reply", actor=actor, expected_version=t.version, note=text, via=args.via)


def _brand(args: argparse.Namespace, config) -> str:  # noqa: ANN001
    """--brand, which must be a configured brand's key when the config names brands; else the only one."""
    if args.brand and config.brands and config.brand(args.brand) is None:
        raise CrisiswatchError(f"--brand: unknown brand {args.brand!r} (brands: "
                               f"{', '.join(b.key for b in config.brands)})")
    return args.brand or (config.brands[0].key if len(config.brands) == 1 else "")


def _new(args: argparse.Namespace, tickets, config, actor: str) -> int:  # noqa: ANN001
    from playbooks.tickets.intake import take

    brand = _brand(args, config)
    t, suggestion = take(tickets, channel=args.channel, customer=args.customer, contact=args.contact,
                         summary=args.summary, expectation=args.expectation, category=args.category,
                         severity=args.severity, order_no=args.order, brand=brand, owner=args.owner, actor=actor)
    print(t.number)
    if suggestion and not (args.category and args.severity):
        why = "；".join(suggestion.reasons[:3])
        alternative = f", else perhaps {suggestion.alternative}" if suggestion.alternative else ""
        print(f"  category {t.category}{alternative} · grade {t.severity}: suggested by the classifier ({why}); "
              f"confirm or correct with `crisiswatch ticket classify {t.number} --category C --severity S`",
              file=sys.stderr)
    return 0


def _import(args: argparse.Namespace, tickets, config, actor: str) -> int:  # noqa: ANN001
    from playbooks.tickets.intake import CSV_COLUMNS, import_csv

    brand = _brand(args, config)
    result = import_csv(tickets, Path(args.file), actor=actor, brand=brand, brands=[b.key for b in config.brands])
    for t in result.opened:
        print(f"{t.number}  {t.intake} · {t.category} · {t.severity} · {t.title[:40]}")
    for column, meant in result.unread:
        hint = f" (did you mean {meant!r}?)" if meant else ""
        print(f"crisiswatch: {args.file}: column {column!r} is not read{hint}; columns read: "
              f"{', '.join(CSV_COLUMNS)}", file=sys.stderr)
    for line, why in result.rejected:
        print(f"crisiswatch: {args.file}:{line}: {why}", file=sys.stderr)
    print(f"{len(result.opened)} imported, {len(result.rejected)} rejected", file=sys.stderr)
    return 1 if result.rejected or result.unread else 0

