"""`crisiswatch playbook validate [FILE|DIR]`, `crisiswatch playbook dry-run P --since T` and
`crisiswatch playbook retry INC-N [STEP]` (a failed or given-up step put back once its cause is fixed).

The dry run replays stored mentions through detection on an in-memory state database, so
nothing real changes: no incident, ticket, alert or checkpoint is written.
"""

from __future__ import annotations

import argparse
import getpass
import io
import json
import re
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

from crisiswatch.commands.incident import parse_incident_id
from crisiswatch.errors import CrisiswatchError

_RELATIVE = re.compile(r"^(\d+)([mhd])$")


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("playbook", help="validate playbooks, or dry-run one against stored history")
    ps = p.add_subparsers(dest="playbook_command", metavar="ACTION", required=True)
    v = ps.add_parser("validate", help="check playbook files (default: the configured folder)")
    v.add_argument("path", nargs="?", help="a playbook file or folder")
    d = ps.add_parser("dry-run", help="which stored incidents would trigger a playbook, and what each step would do")
    d.add_argument("playbook", help="a playbook name from the configured folder, or a file")
    d.add_argument("--since", required=True, help="ISO time or a span back from now (24h, 7d)")
    d.add_argument("--until", help="ISO time or a span back from now (default: now)")
    d.add_argument("--warmup", default="6h", help="history before --since that sets the baselines (default 6h)")
    r = ps.add_parser("retry", help="put back a step given up after failing (or resting before its next try)")
    r.add_argument("incident", help="INC-N, as `crisiswatch status` lists the step")
    r.add_argument("step", nargs="?", type=int, help="the step's number (default: every failed step of the incident)")
    r.add_argument("--as", dest="actor", help="who puts it back, for the audit trail (default: your login name)")
    p.set_defaults(func=run)


def parse_when(text: str, now: datetime) -> datetime:
    match = _RELATIVE.match(text.strip())
    if match:
        unit = {"m": "minutes", "h": "hours", "d": "days"}[match.group(2)]
        return now - timedelta(**{unit: int(match.group(1))})
    try:
        value = datetime.fromisoformat(text.strip())
    except ValueError:
        raise CrisiswatchError(f"bad time {text!r}: use ISO 8601 (2025-06-14T08:00+08:00) or a span (24h, 7d)") \
            from None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def run(args: argparse.Namespace) -> int:
    from crisiswatch.config import load_config
    from playbooks.checks import check_playbook, synthetic_reply_facts
    from playbooks.engine import playbook_dir
    from playbooks.schema import load_path, load_usable
    from playbooks.tickets.replies import ReplyTemplates

    config = load_config(args.config)
    if args.playbook_command == "retry":
        return retry(config, args)
    if args.playbook_command == "validate":
        path = Path(args.path) if args.path else playbook_dir(config)
        # a folder: every file that would not run is named (as the run loop names it), not only the first
        books, problems = load_usable(path) if path.is_dir() else (load_path(path), [])
        for book in books:
            found = check_playbook(book, config)
            problems += found
            print(f"{'BAD' if found else 'ok '} {book.name:<24} {len(book.steps)} steps · {book.path}")
        folder = config.tickets.reply_templates
        replies = ReplyTemplates(config.resolve(folder) if folder else None)
        problems += replies.check_all(synthetic_reply_facts(config))
        for line in problems:
            print(f"crisiswatch: {line}", file=sys.stderr)
        if problems:
            return 1
        print(f"{len(books)} playbook(s) valid; reply templates in {replies.folder} render")
        return 0
    return dry_run(config, args)


def retry(config, args: argparse.Namespace) -> int:  # noqa: ANN001
    from crisiswatch.db import connect
    from playbooks.engine import retry_steps

    incident_id = parse_incident_id(args.incident)
    back = retry_steps(connect(config.state_store), incident_id, args.step,
                       by=args.actor or f"cli:{getpass.getuser()}", now=datetime.now(UTC))
    if not back:
        what = f"step {args.step} has not" if args.step else "no step has"
        raise CrisiswatchError(f"INC-{incident_id}: {what} failed or been given up (`crisiswatch status` lists"
                               " the steps that have)")
    for line in back:
        print(f"INC-{incident_id} {line}: put back")
    print("the run loop runs it again on its next pass (or `crisiswatch run --once`)")
    return 0


def _find(config, name: str):  # noqa: ANN001, ANN202
    from playbooks.engine import playbook_dir
    from playbooks.schema import load_playbook, load_playbooks

    path = Path(name)
    if path.suffix in (".yaml", ".yml"):
        return load_playbook(path)
    books = {b.name: b for b in load_playbooks(playbook_dir(config))}
    if name not in books:
        raise CrisiswatchError(f"no playbook {name!r} (known: {', '.join(sorted(books))})")
    return books[name]


def dry_run(config, args: argparse.Namespace) -> int:  # noqa: ANN001
    from alerts.channels.console import ConsoleChannel
    from alerts.dispatch import AlertDispatcher
    from crisiswatch.config import parse_duration
    from crisiswatch.db import connect
    from index import open_backend
    from monitor.detection import DetectionService
    from playbooks.checks import check_playbook
    from playbooks.engine import PlaybookEngine, incident_severity, matches

    playbook = _find(config, args.playbook)
    problems = check_playbook(playbook, config)
    if problems:  # a dry run that would hide a broken template is no rehearsal
        raise CrisiswatchError("; ".join(problems))
    now = datetime.now(UTC)
    since = parse_when(args.since, now)
    until = parse_when(args.until, now) if args.until else now
    if since >= until:
        raise CrisiswatchError("--since must be before --until")
    try:
        warmup = parse_duration(args.warmup)
    except ValueError as exc:
        raise CrisiswatchError(f"--warmup: {exc}") from None
    conn = connect(":memory:")  # a scratch state DB: the real incidents, tickets and outbox stay untouched
    backend = open_backend(config.index.url)
    try:
        detection = DetectionService(config, backend, conn)
        detection.start_at(since - warmup)  # a fresh state: baselines warm up before --since
        changes = detection.advance(until)
    finally:
        backend.close()
    dispatcher = AlertDispatcher(config, conn, {"console": ConsoleChannel(io.StringIO())})
    print(f"dry run of {playbook.name} on stored mentions {since:%Y-%m-%d %H:%M} → {until:%Y-%m-%d %H:%M} UTC")
    triggered = 0
    for change in changes:
        incident = change.incident
        if change.kind not in ("opened", "escalated") or incident.opened_at < since:
            continue
        engine = PlaybookEngine(config, conn, dispatcher, playbooks=[playbook], clock=lambda i=incident: i.opened_at)
        severity = incident_severity(incident)
        head = (f"{incident.label} {incident.brand} {change.kind} {incident.opened_at:%m-%d %H:%M} UTC · {severity}"
                f" · {incident.summary}")
        if not matches(playbook, change, severity):
            print(f"- {head}: does not trigger {playbook.name}")
            continue
        triggered += 1
        print(f"+ {head}: triggers {playbook.name}")
        engine.handle(change, dry_run=True)
        for item in engine.trace:
            detail = json.dumps(item["detail"], ensure_ascii=False, default=str)
            print(f"    {item['step'] + 1}. {item['type']}: {item['outcome']} {detail}")
    print(f"{triggered} incident(s) would trigger {playbook.name}; nothing was changed")
    return 0
