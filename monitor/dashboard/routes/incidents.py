"""The incident page: what is happening and what is being done, for the PR lead."""

from __future__ import annotations

from datetime import UTC, datetime

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from crisiswatch.localtime import local_time
from monitor.dashboard.i18n import Translator
from monitor.dashboard.i18n_events import collapse_repeats, event_text, level_text, statement_status
from monitor.dashboard.narrative import describe, duration
from monitor.dashboard.routes.dashboard import script_json
from monitor.dashboard.web import guard, lang_of, render, team_zone


@guard("viewer")
async def incident(request: Request) -> Response:
    t = Translator(lang_of(request))
    try:
        incident_id = int(request.path_params["incident_id"])
    except ValueError:
        return render(request, "error.html", 404, message=t("not_found"))
    service = request.app.state.resources.incident_page()
    now = datetime.now(UTC)
    data = await run_in_threadpool(service.page, incident_id, now)
    if data is None:
        return render(request, "error.html", 404, message=t("not_found"))
    inc = data["incident"]
    task_names = [task["text"] for task in data["tasks"]]
    zone = team_zone(request)
    data["timeline"] = collapse_repeats([{**e, "text": event_text(e["kind"], e["actor"], e["detail"], t.lang, task_names,
                                                                  lambda at: local_time(at, zone))}
                                         for e in data["timeline"]], t.lang)
    chart = {**data["curve"], "brand_name": data["brand_name"], "label": inc.label}
    mark = await run_in_threadpool(service.mark, incident_id)
    poll_ms = int(request.app.state.resources.poll_seconds * 2500)  # 5 s at the stream's usual 2 s
    return render(request, "incident.html", **data, now=now, why=describe(inc, t), mark=mark, poll_ms=poll_ms,
                  level=level_text(inc.level, t.lang), statement_state=statement_status(data["golden"].status, t.lang),
                  lasted=duration((inc.resolved_at or now) - inc.opened_at, t.lang),
                  chart=script_json(chart), labels=script_json(t.labels()))


@guard("viewer", api=True, activity=False)
async def incident_mark(request: Request) -> Response:
    """What the open incident page polls: it reloads itself when the mark moves (an acknowledgement, an
    escalation, a ticket or statement step), so nobody has to."""
    mark = await run_in_threadpool(request.app.state.resources.incident_page().mark,
                                   request.path_params["incident_id"])
    if mark is None:
        return JSONResponse({"error": "not found"}, status_code=404)
    return JSONResponse({"mark": mark}, headers={"Cache-Control": "no-store"})


routes = [Route("/incidents/{incident_id}", incident),
          Route("/api/incidents/{incident_id:int}/mark", incident_mark)]
