"""The support console: search mentions, take and convert complaints, work the tickets, publish statements."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from crisiswatch.config import INTAKE_CHANNELS, REPLY_CHANNELS
from crisiswatch.errors import CrisiswatchError
from crisiswatch.localtime import local_time
from crisiswatch.mention import CATEGORIES, SEVERITIES, SOURCES
from crisiswatch.pii import mask as mask_pii
from monitor.dashboard.filters import RANGES, parse_view
from monitor.dashboard.i18n import Translator
from monitor.dashboard.i18n_events import ticket_timeline
from monitor.dashboard.web import guard, lang_of, render, team_zone
from playbooks.publishing import PublishRefused
from playbooks.tickets.models import (
    ACTIONS,
    DEFAULT_REPLY_VIA,
    DEPARTMENTS,
    RESOLVED,
    STATUSES,
    TRANSITIONS,
    TicketConflict,
    TicketError,
)

# the lifecycle buttons; a reply has its own form (its text and channel)
BUTTONS = tuple(a for a in ACTIONS if a != "reply")
UNREACHED = "followup_unreached"  # a 回访 call that did not reach the customer: a resolved case's button


LIST_PAGE, MAX_LIST = 50, 800  # posts the mentions list shows at first, and at most


def _console(request: Request):
    return request.app.state.resources.console()


def _actor(request: Request) -> str:
    return request.state.user.name


@guard("viewer")
async def mentions(request: Request) -> Response:
    res = request.app.state.resources
    brands = sorted(b.key for b in res.config.brands)
    view, errors = parse_view(dict(request.query_params), brands)
    query = request.query_params.get("q", "")
    band = request.query_params.get("band") or None
    band = band if band in ("negative", "neutral", "positive") else None
    flt = view.mention_filter(sentiment_band=band)
    # a page of the newest matches, and a link to twice as many while there may be more (up to MAX_LIST)
    limit = request.query_params.get("limit", "")
    limit = min(max(int(limit), LIST_PAGE), MAX_LIST) if limit.isdigit() else LIST_PAGE
    try:
        found = await run_in_threadpool(lambda: _console(request).find(query, flt, limit))
    except ValueError as exc:
        found, errors = [], [*errors, str(exc)]
    more = str(request.url.include_query_params(limit=min(2 * limit, MAX_LIST))) if (
        len(found) == limit < MAX_LIST) else ""
    return render(request, "mentions.html", view=view, errors=errors, query=query, band=band, found=found,
                  brands=brands, ranges=list(RANGES), sources=SOURCES, categories=CATEGORIES, limit=limit,
                  more=more, capped=len(found) == MAX_LIST)


@guard("viewer")
async def mention(request: Request) -> Response:
    console = _console(request)
    found = await run_in_threadpool(console.mention, request.path_params["mention_id"])
    if found is None:
        return render(request, "error.html", 404, message=Translator(lang_of(request))("not_found"))
    defaults = console.convert_defaults(found)
    linked = await run_in_threadpool(console.tickets_for_mention, found.id)
    dashboard = await run_in_threadpool(request.app.state.resources.dashboard)
    return render(request, "mention.html", m=found, defaults=defaults, linked=linked, categories=CATEGORIES,
                  severities=SEVERITIES, departments=DEPARTMENTS, error=None,
                  brand_names=[dashboard.display_name(b) for b in found.brands])


@guard("agent")
async def convert(request: Request) -> Response:
    console = _console(request)
    form = request.state.form
    mention_id = request.path_params["mention_id"]
    try:
        ticket = await run_in_threadpool(lambda: console.convert(
            [mention_id], actor=_actor(request), category=form.get("category") or None,
            severity=form.get("severity") or None, department=form.get("department") or None))
    except TicketError as exc:
        t = Translator(lang_of(request))
        return render(request, "error.html", 400, message=t("action_failed", reason=str(exc)))
    return RedirectResponse(f"/tickets/{ticket.number}", status_code=303)


@guard("viewer")
async def tickets(request: Request) -> Response:
    q = request.query_params
    pick = lambda name, allowed: q.get(name) if q.get(name) in allowed else None  # noqa: E731
    breached = {"1": True, "0": False}.get(q.get("breached", ""))
    mine = q.get("mine") == "1"
    filters = {"status": pick("status", STATUSES), "severity": pick("severity", SEVERITIES),
               "category": pick("category", CATEGORIES), "brand": (q.get("brand") or None),
               "breached": breached, "owner": _actor(request) if mine else (q.get("owner") or None)}
    console = _console(request)
    found, total = await run_in_threadpool(lambda: (console.list_tickets(**filters), console.count_tickets(**filters)))
    return render(request, "tickets.html", tickets=found, total=total, filters=filters, mine=mine,
                  now=datetime.now(UTC), statuses=STATUSES, severities=SEVERITIES, categories=CATEGORIES)


def _intake_page(request: Request, form: dict[str, str], status_code: int = 200, suggestion=None,
                 error: str | None = None) -> Response:
    console = _console(request)
    return render(request, "ticket_new.html", status_code, form=form, suggestion=suggestion, error=error,
                  channels=INTAKE_CHANNELS, categories=CATEGORIES, severities=SEVERITIES, staff=console.staff)


@guard("agent")
async def new_ticket(request: Request) -> Response:
    return _intake_page(request, {"channel": request.query_params.get("channel", "email")})


@guard("agent")
async def take_ticket(request: Request) -> Response:
    """First post: the classifier suggests category and grade; the agent confirms (or changes) them."""
    console = _console(request)
    form = dict(request.state.form)
    if form.get("confirm") != "1":
        suggestion = await run_in_threadpool(console.suggest, form.get("summary", ""), form.get("expectation", ""))
        form["category"] = form.get("category") or suggestion.category
        form["severity"] = form.get("severity") or suggestion.severity
        return _intake_page(request, form, suggestion=suggestion)
    try:
        ticket = await run_in_threadpool(lambda: console.intake(form, actor=_actor(request)))
    except TicketError as exc:
        t = Translator(lang_of(request))
        return _intake_page(request, form, 400, error=t("action_failed", reason=str(exc)))
    return RedirectResponse(f"/tickets/{ticket.number}", status_code=303)


async def _ticket_page(request: Request, status_code: int = 200, error: str | None = None,
                       reply_text: str | None = None) -> Response:
    console = _console(request)
    await run_in_threadpool(console.sweep)
    ticket = await run_in_threadpool(console.ticket, request.path_params["number"])
    if ticket is None:
        return render(request, "error.html", 404, message=Translator(lang_of(request))("not_found"))
    zone, lang = team_zone(request), lang_of(request)
    dashboard = await run_in_threadpool(request.app.state.resources.dashboard)
    events = ticket_timeline(await run_in_threadpool(console.timeline, ticket), ticket.number, lang,
                             lambda at: local_time(at, zone), [task.get("text", "") for task in ticket.tasks])
    agent = request.state.user.can("agent")
    if not agent:  # a reply or note may repeat the phone number or e-mail the customer gave
        events = [{**e, "text": mask_pii(e["text"]).text, "said": [(k, mask_pii(v).text) for k, v in e["said"]]}
                  for e in events]
    linked = [m for m in (await run_in_threadpool(lambda: [console.mention(i) for i in ticket.mention_ids])) if m]
    allowed: list[str] = [a for a in BUTTONS if ticket.status in TRANSITIONS[a][0]]
    if ticket.status == RESOLVED:
        allowed.insert(allowed.index("followup") + 1, UNREACHED)
    if ticket.paused_at is not None:  # waiting for the customer: the steps wait for the answer
        allowed = ["resume"]
    elif ticket.is_open:
        allowed.append("pause")
    can_reply = ticket.status in ("新建", "已受理", *TRANSITIONS["reply"][0])
    draft = reply_text if reply_text is not None else (
        await run_in_threadpool(console.draft_reply, ticket) if can_reply else "")
    return render(request, "ticket.html", status_code, ticket=ticket, events=events, linked=linked,
                  actions=allowed, error=error, now=datetime.now(UTC), departments=DEPARTMENTS, staff=console.staff,
                  categories=CATEGORIES, severities=SEVERITIES,
                  breached=ticket.overdue(datetime.now(UTC)), can_reply=can_reply, draft=draft, reply_channels=REPLY_CHANNELS,
                  default_via=DEFAULT_REPLY_VIA[ticket.intake],
                  brand_name=dashboard.display_name(ticket.brand),
                  # the customer's contact, and their words that may repeat it, in full only for those who work
                  # the ticket
                  contact=ticket.contact if agent else ticket.contact_masked,
                  summary=ticket.summary if agent else ticket.summary_masked,
                  expectation=ticket.expectation if agent else ticket.expectation_masked)


@guard("viewer")
async def ticket(request: Request) -> Response:
    return await _ticket_page(request)


def _version(form: dict[str, str]) -> int:
    try:
        return int(form.get("version", ""))
    except ValueError:
        raise TicketError("missing ticket version") from None


async def _ticket_change(request: Request, change, goto=None) -> Response:
    """Run one ticket change; a conflict or a refused change shows the page again with the reason. `goto` names
    the page shown after it, from the ticket the change returned (default: this ticket's)."""
    console = _console(request)
    t = Translator(lang_of(request))
    number = request.path_params["number"]
    ticket = await run_in_threadpool(console.ticket, number)
    if ticket is None:
        return render(request, "error.html", 404, message=t("not_found"))
    form = request.state.form
    try:
        seen = _version(form)
        if seen != ticket.version:  # checked here too so the message can name both versions
            raise TicketConflict(f"version {seen} is stale")
        changed = await run_in_threadpool(lambda: change(console, ticket, form, seen))
    except TicketConflict:
        current = await run_in_threadpool(console.ticket, number)
        return await _ticket_page(request, 409, t("version_conflict", seen=form.get("version", "?"),
                                                  now=current.version))
    except (TicketError, ValueError) as exc:
        # a refused reply comes back as written, so nothing the agent typed is lost
        return await _ticket_page(request, 400, t("action_failed", reason=str(exc)), reply_text=form.get("text"))
    return RedirectResponse(goto(changed) if goto else f"/tickets/{number}", status_code=303)


@guard("agent")
async def act(request: Request) -> Response:
    def change(console, ticket, form, version):
        action = form.get("action", "")
        if action == UNREACHED:
            return console.followup_unreached(ticket, actor=_actor(request), expected_version=version,
                                              note=form.get("note") or None)
        if action in ("pause", "resume"):  # the note says what the customer is asked for, or what they sent
            return console.wait(ticket, action, actor=_actor(request), expected_version=version,
                                note=form.get("note") or "")
        if action not in ACTIONS:
            raise TicketError(f"unknown action {action!r}")
        score = form.get("satisfaction") or None
        return console.act(ticket, action, actor=_actor(request), expected_version=version,
                           note=form.get("note") or None, satisfaction=int(score) if score else None,
                           close_reason=(form.get("close_reason") or None) if action == "followup" else None)

    return await _ticket_change(request, change)


@guard("agent")
async def note(request: Request) -> Response:
    def change(console, ticket, form, version):
        text = form.get("note", "").strip()
        if not text:
            raise TicketError("empty note")
        return console.note(ticket, text, actor=_actor(request), expected_version=version)

    return await _ticket_change(request, change)


@guard("agent")
async def assign(request: Request) -> Response:
    def change(console, ticket, form, version):
        return console.assign(ticket, department=form.get("department", ""), owner=form.get("owner", ""),
                              actor=_actor(request), expected_version=version)

    return await _ticket_change(request, change)


@guard("agent")
async def classify(request: Request) -> Response:
    def change(console, ticket, form, version):
        return console.classify(ticket, category=form.get("category", ""), severity=form.get("severity", ""),
                                actor=_actor(request), expected_version=version)

    return await _ticket_change(request, change)


@guard("agent")
async def complete_task(request: Request) -> Response:
    def change(console, ticket, form, version):
        item = form.get("item", "")
        if not item.isdigit():
            raise TicketError(f"no checklist item {item!r}")
        return console.complete_task(ticket, int(item), actor=_actor(request), expected_version=version)

    return await _ticket_change(request, change)


@guard("agent")
async def reply(request: Request) -> Response:
    def change(console, ticket, form, version):
        via = form.get("via") or None
        if via is not None and via not in REPLY_CHANNELS:
            raise TicketError(f"unknown reply channel {via!r}")
        return console.reply(ticket, form.get("text", ""), via, actor=_actor(request), expected_version=version)

    return await _ticket_change(request, change)


@guard("agent")
async def merge(request: Request) -> Response:
    """A duplicate joins the ticket kept (`ticket merge DUP --into KEEP`); the kept ticket's page follows."""
    def change(console, ticket, form, version):
        return console.merge(ticket, form.get("into", ""), actor=_actor(request), expected_version=version)

    return await _ticket_change(request, change, goto=lambda kept: f"/tickets/{kept.number}")


@guard("agent")
async def extend(request: Request) -> Response:
    def change(console, ticket, form, version):
        zone = ZoneInfo(console.tickets.tz.key)
        try:
            until = datetime.fromisoformat(form.get("until", "")).replace(tzinfo=zone)  # datetime-local: team zone
        except ValueError:
            raise TicketError("the new deadline is not a date and time") from None
        return console.extend(ticket, until, form.get("approved_by", ""), actor=_actor(request),
                              expected_version=version)

    return await _ticket_change(request, change)


async def _statements_page(request: Request, status_code: int = 200, error: str | None = None,
                           typed: dict[int, str] | None = None) -> Response:
    found, history = await run_in_threadpool(lambda: _console(request).statement_page())
    return render(request, "statements.html", status_code, statements=found, history=history, now=datetime.now(UTC),
                  error=error if error is not None else request.query_params.get("error"), typed=typed or {})


@guard("viewer")
async def statements(request: Request) -> Response:
    return await _statements_page(request)


@guard("agent")
async def statement_action(request: Request) -> Response:
    """Approve or reject (named approvers only, as in Slack), publish an approved statement (its approvers, or an
    admin), or give a rejected or expired statement a new round: revised (a new text) or resubmitted (the same)."""
    desk = _console(request).statements()
    form = request.state.form
    action, statement_id = form.get("action", ""), int(request.path_params["statement_id"])
    admin = request.state.user.can("admin")
    try:
        if action == "publish":
            await run_in_threadpool(lambda: desk.publish(statement_id, _actor(request), admin=admin))
        elif action in ("approve", "reject"):
            await run_in_threadpool(desk.decide, statement_id, _actor(request), action == "approve")
        elif action == "revise":
            await run_in_threadpool(desk.revise, statement_id, _actor(request), form.get("text", ""))
        elif action == "resubmit":
            await run_in_threadpool(desk.resubmit, statement_id, _actor(request))
        else:
            raise CrisiswatchError(f"unknown action {action!r}")
    except PublishRefused as exc:
        t = Translator(lang_of(request))
        return await _statements_page(request, 403, t("publish_refused", user=exc.user,
                                                      approvers="、".join(exc.approvers)))
    except CrisiswatchError as exc:
        t = Translator(lang_of(request))
        # a refused revision comes back as written, so nothing typed is lost
        typed = {statement_id: form["text"]} if action == "revise" and "text" in form else None
        return await _statements_page(request, 400, t("action_failed", reason=str(exc)), typed)
    return RedirectResponse(f"/statements#statement-{statement_id}", status_code=303)


routes = [
    Route("/mentions", mentions),
    Route("/mentions/{mention_id}", mention),
    Route("/mentions/{mention_id}/convert", convert, methods=["POST"]),
    Route("/tickets", tickets),
    Route("/tickets/new", new_ticket),
    Route("/tickets/new", take_ticket, methods=["POST"]),
    Route("/tickets/{number}", ticket),
    Route("/tickets/{number}/reply", reply, methods=["POST"]),
    Route("/tickets/{number}/extend", extend, methods=["POST"]),
    Route("/tickets/{number}/merge", merge, methods=["POST"]),
    Route("/statements", statements),
    Route("/statements/{statement_id:int}", statement_action, methods=["POST"]),
    Route("/tickets/{number}/action", act, methods=["POST"]),
    Route("/tickets/{number}/note", note, methods=["POST"]),
    Route("/tickets/{number}/assign", assign, methods=["POST"]),
    Route("/tickets/{number}/classify", classify, methods=["POST"]),
    Route("/tickets/{number}/tasks", complete_task, methods=["POST"]),
]
