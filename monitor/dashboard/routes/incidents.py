"""The incident page: what is happening and what is being done, for the PR lead."""

from __future__ import annotations

from datetime import UTC, datetime

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
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
    return render(request, "incident.html", **data, now=now, why=describe(inc, t),
                  level=level_text(inc.level, t.lang), statement_state=statement_status(data["golden"].status, t.lang),
                  lasted=duration((inc.resolved_at or now) - inc.opened_at, t.lang),
                  chart=script_json(chart), labels=script_json(t.labels()))


routes = [Route("/incidents/{incident_id}", incident)]
