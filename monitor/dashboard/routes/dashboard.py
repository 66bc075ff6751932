"""The live dashboard: the page, its JSON and the server-sent event stream that keeps it current."""

from __future__ import annotations

import asyncio
import json
import time

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from crisiswatch.mention import CATEGORIES, SOURCES
from index.base import BackendUnavailable
from monitor.dashboard.filters import RANGES, parse_view
from monitor.dashboard.i18n import Translator
from monitor.dashboard.web import guard, index_down_text, lang_of, live_session, render

HEARTBEAT_SECONDS = 15.0
DOWN = ("index unavailable",)  # the stream's last mark while the index cannot be read


def script_json(value: object) -> str:
    """JSON safe inside a <script type="application/json"> element: no '<' can close it."""
    return json.dumps(value, ensure_ascii=False).replace("<", "\\u003c")


def _view(request: Request):
    """The view in the URL; brands are checked against the config's (any brand goes when it names none)."""
    res = request.app.state.resources
    configured = [b.key for b in res.config.brands]
    view, errors = parse_view(dict(request.query_params), configured)
    return view, errors, configured


@guard("viewer")
async def page(request: Request) -> Response:
    view, errors, brands = _view(request)
    if not brands:
        found = await run_in_threadpool(lambda: request.app.state.resources.dashboard().brands(view))
        brands = sorted({*found, *([view.brand] if view.brand else [])})
    t = Translator(lang_of(request))
    health = await run_in_threadpool(request.app.state.resources.source_health)
    return render(request, "dashboard.html", view=view, errors=errors, brands=brands, ranges=list(RANGES),
                  sources=SOURCES, categories=CATEGORIES, labels=script_json(t.labels()), health=health)


@guard("viewer", api=True)
async def overview(request: Request) -> Response:
    view, errors, _ = _view(request)
    if errors:
        return JSONResponse({"error": f"invalid filter: {', '.join(errors)}"}, status_code=400)
    data = await run_in_threadpool(lambda: request.app.state.resources.dashboard().overview(view))
    return JSONResponse(data)


@guard("viewer", api=True)
async def negatives(request: Request) -> Response:
    """The next page of the view's negative posts by reach (`offset` posts already shown)."""
    view, errors, _ = _view(request)
    try:
        offset = max(0, min(int(request.query_params.get("offset", "0")), 10_000))
    except ValueError:
        errors = [*errors, "offset"]
    if errors:
        return JSONResponse({"error": f"invalid filter: {', '.join(errors)}"}, status_code=400)
    service = request.app.state.resources.dashboard()
    posts = await run_in_threadpool(lambda: service.negative_posts(view, offset=offset))
    return JSONResponse({"offset": offset, "posts": posts})


@guard("viewer", api=True)
async def stream(request: Request) -> Response:
    """`overview` events: one at once, then one whenever the data behind the view changes."""
    res = request.app.state.resources
    view, errors, _ = _view(request)
    if errors:
        return JSONResponse({"error": f"invalid filter: {', '.join(errors)}"}, status_code=400)

    async def events():
        last, beat = None, time.monotonic()
        yield "retry: 3000\n\n"
        while True:
            if await request.is_disconnected():
                return
            if await run_in_threadpool(live_session, request, False) is None:
                return  # logged out, revoked or timed out: the open stream ends with the session
            try:
                service = await run_in_threadpool(res.dashboard)
                mark = await run_in_threadpool(service.fingerprint, view)
                data = await run_in_threadpool(res.overview, view, mark) if mark != last else None
            except BackendUnavailable as exc:
                # said once while it lasts; the stream stays open and sends the overview when the index is back
                if last != DOWN:
                    last, beat = DOWN, time.monotonic()
                    yield f"event: unavailable\ndata: {json.dumps({'error': index_down_text(request, exc)}, ensure_ascii=False)}\n\n"
                await asyncio.sleep(res.poll_seconds)
                continue
            if data is not None:
                last, beat = mark, time.monotonic()
                yield f"event: overview\ndata: {json.dumps(data, ensure_ascii=False)}\n\n"
            elif time.monotonic() - beat > HEARTBEAT_SECONDS:
                beat = time.monotonic()
                yield ": keep-alive\n\n"
            await asyncio.sleep(res.poll_seconds)

    headers = {"Cache-Control": "no-store", "X-Accel-Buffering": "no"}
    return StreamingResponse(events(), media_type="text/event-stream", headers=headers)


routes = [
    Route("/", page),
    Route("/api/overview", overview),
    Route("/api/stream", stream),
    Route("/api/negatives", negatives),
]
