"""The support console: browse and search mentions, convert one to a complaint, work the tickets."""

from __future__ import annotations

from datetime import UTC, datetime

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from crisiswatch.mention import CATEGORIES, SEVERITIES, SOURCES
from monitor.dashboard.app import guard, lang_of, render
from monitor.dashboard.filters import RANGES, parse_view
from monitor.dashboard.i18n import Translator
from monitor.dashboard.service import ticket_breached
from playbooks.tickets.models import ACTIONS, DEPARTMENTS, STATUSES, TRANSITIONS, TicketConflict, TicketError


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
    try:
        found = await run_in_threadpool(lambda: _console(request).find(query, flt))
    except ValueError as exc:
        found, errors = [], [*errors, str(exc)]
    return render(request, "mentions.html", view=view, errors=errors, query=query, band=band, found=found,
                  brands=brands, ranges=list(RANGES), sources=SOURCES, categories=CATEGORIES)


@guard("viewer")
async def mention(request: Request) -> Response:
    console = _console(request)
    found = await run_in_threadpool(console.mention, request.path_params["mention_id"])
    if found is None:
        return render(request, "error.html", 404, message=Translator(lang_of(request))("not_found"))
    defaults = console.convert_defaults(found)
    linked = await run_in_threadpool(console.tickets_for_mention, found.id)
    return render(request, "mention.html", m=found, defaults=defaults, linked=linked, categories=CATEGORIES,
                  severities=SEVERITIES, departments=DEPARTMENTS, error=None)


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
    filters = {"status": pick("status", STATUSES), "severity": pick("severity", SEVERITIES),
               "category": pick("category", CATEGORIES), "brand": (q.get("brand") or None),
               "breached": breached}
    found = await run_in_threadpool(lambda: _console(request).list_tickets(**filters))
    now = datetime.now(UTC)
    return render(request, "tickets.html", tickets=found, filters=filters, now=now,
                  breached={t.id: t.breaches > 0 or ticket_breached(t, now) for t in found}, statuses=STATUSES,
                  severities=SEVERITIES, categories=CATEGORIES)


async def _ticket_page(request: Request, status_code: int = 200, error: str | None = None) -> Response:
    console = _console(request)
    ticket = await run_in_threadpool(console.ticket, request.path_params["number"])
    if ticket is None:
        return render(request, "error.html", 404, message=Translator(lang_of(request))("not_found"))
    events = await run_in_threadpool(console.timeline, ticket)
    linked = [m for m in (await run_in_threadpool(lambda: [console.mention(i) for i in ticket.mention_ids])) if m]
    allowed = [a for a in ACTIONS if ticket.status in TRANSITIONS[a][0]]
    now = datetime.now(UTC)
    return render(request, "ticket.html", status_code, ticket=ticket, events=events, linked=linked,
                  actions=allowed, error=error, now=now, departments=DEPARTMENTS,
                  breached=ticket.breaches > 0 or ticket_breached(ticket, now))


@guard("viewer")
async def ticket(request: Request) -> Response:
    return await _ticket_page(request)


def _version(form: dict[str, str]) -> int:
    try:
        return int(form.get("version", ""))
    except ValueError:
        raise TicketError("missing ticket version") from None


async def _ticket_change(request: Request, change) -> Response:
    """Run one ticket change; a conflict or a refused change shows the page again with the reason."""
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
        await run_in_threadpool(lambda: change(console, ticket, form, seen))
    except TicketConflict:
        current = await run_in_threadpool(console.ticket, number)
        return await _ticket_page(request, 409, t("version_conflict", seen=form.get("version", "?"),
                                                  now=current.version))
    except (TicketError, ValueError) as exc:
        return await _ticket_page(request, 400, t("action_failed", reason=str(exc)))
    return RedirectResponse(f"/tickets/{number}", status_code=303)


@guard("agent")
async def act(request: Request) -> Response:
    def change(console, ticket, form, version):
        action = form.get("action", "")
        if action not in ACTIONS:
            raise TicketError(f"unknown action {action!r}")
        score = form.get("satisfaction") or None
        return console.act(ticket, action, actor=_actor(request), expected_version=version,
                           note=form.get("note") or None, satisfaction=int(score) if score else None)

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
        department = form.get("department", "")
        if department not in DEPARTMENTS:
            raise TicketError(f"unknown department {department!r}")
        return console.assign(ticket, department, actor=_actor(request), expected_version=version)

    return await _ticket_change(request, change)


routes = [
    Route("/mentions", mentions),
    Route("/mentions/{mention_id}", mention),
    Route("/mentions/{mention_id}/convert", convert, methods=["POST"]),
    Route("/tickets", tickets),
    Route("/tickets/{number}", ticket),
    Route("/tickets/{number}/action", act, methods=["POST"]),
    Route("/tickets/{number}/note", note, methods=["POST"]),
    Route("/tickets/{number}/assign", assign, methods=["POST"]),
]
