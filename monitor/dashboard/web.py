"""What every dashboard route shares: the per-thread resources, templates, the session and the login guard.

The routes import these from here and the application (app.py) imports the routes, so neither waits
on the other to be loaded.
"""

from __future__ import annotations

import functools
import logging
import threading
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, quote
from zoneinfo import ZoneInfo

from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response

from crawlers.health import SourceHealth, source_health
from crisiswatch.audit import AuditLog
from crisiswatch.brand_names import BrandNames
from crisiswatch.config import Config
from crisiswatch.db import connect
from crisiswatch.indexurl import redact_url
from crisiswatch.localtime import local_time
from index import open_backend
from index.base import Backend, BackendUnavailable
from monitor.dashboard.auth import UserStore, csrf_ok, csrf_token
from monitor.dashboard.console import ConsoleService
from monitor.dashboard.i18n import Translator, pick_lang
from monitor.dashboard.incident_page import IncidentPageService
from monitor.dashboard.service import DashboardService
from monitor.dashboard.sessions import LoginThrottle, Session, SessionStore
from monitor.incidents.service import IncidentService
from playbooks.statements import StatementStore
from playbooks.tickets.service import TicketService

HERE = Path(__file__).parent
logger = logging.getLogger(__name__)


@dataclass
class Resources:
    """What requests need, opened once per worker thread (SQLite connections stay on their thread)."""

    config: Config
    users: UserStore
    index_url: str
    state_db: str
    poll_seconds: float = 2.0
    _local: threading.local = field(default_factory=threading.local)
    _overviews: dict = field(default_factory=dict)  # view -> (fingerprint, overview), shared by all streams
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def overview(self, view: Any, mark: tuple) -> dict[str, Any]:
        """The overview for a view, computed once per change however many browsers watch it."""
        with self._lock:
            cached = self._overviews.get(view)
        if cached and cached[0] == mark:
            return cached[1]
        data = self.dashboard().overview(view)
        with self._lock:
            if len(self._overviews) >= 64:
                self._overviews.pop(next(iter(self._overviews)))
            self._overviews[view] = (mark, data)
        return data

    def backend(self) -> Backend:
        if getattr(self._local, "backend", None) is None:
            self._local.backend = open_backend(self.index_url)
        return self._local.backend

    def conn(self):
        if getattr(self._local, "conn", None) is None:
            self._local.conn = connect(self.state_db)
        return self._local.conn

    def source_health(self) -> list[SourceHealth]:
        """Each crawled or checked source's health, the same lines `crisiswatch status` prints."""
        return source_health(self.conn(), sorted(self.config.sources))

    def sessions(self) -> SessionStore:
        return SessionStore(self.conn())

    def throttle(self) -> LoginThrottle:
        return LoginThrottle(self.conn())

    def audit(self) -> AuditLog:
        return AuditLog(self.conn())

    def dashboard(self) -> DashboardService:
        names = {b.key: list(b.names) for b in self.config.brands}
        return DashboardService(self.backend(), self.incidents(), self.tickets(), names,
                                BrandNames(self.conn()).all())

    def incident_page(self) -> IncidentPageService:
        dashboard = self.dashboard()
        return IncidentPageService(self.backend(), self.incidents(), self.tickets(), StatementStore(self.conn()),
                                   self.audit(), dashboard.display_name, dashboard.stop,
                                   people=self.config.alerts.slack.users)

    def console(self) -> ConsoleService:
        return ConsoleService(self.backend(), self.tickets(), self.config)

    def incidents(self) -> IncidentService:
        return IncidentService(self.conn())

    def tickets(self) -> TicketService:
        return TicketService.from_config(self.config, self.conn())


_env = Environment(loader=FileSystemLoader(HERE / "templates"), autoescape=select_autoescape(["html"]))


def lang_of(request: Request) -> str:
    asked = request.query_params.get("lang")
    if asked:
        request.session["lang"] = pick_lang(asked)
    return pick_lang(request.session.get("lang"))


def team_zone(request: Request) -> ZoneInfo:
    return ZoneInfo(request.app.state.resources.config.alerts.timezone)


def render(request: Request, template: str, status_code: int = 200, **context: Any) -> HTMLResponse:
    t = Translator(lang_of(request))
    res: Resources = request.app.state.resources
    zone = team_zone(request)

    def local(value: datetime | str | None) -> str:
        return local_time(value, zone)

    def lang_url(lang: str) -> str:
        return str(request.url.include_query_params(lang=lang))

    page = _env.get_template(template).render(
        request=request, t=t, lang=t.lang, user=request.state.user, csrf=csrf_token(request.session),
        timezone=res.config.alerts.timezone, path=request.url.path, local=local, lang_url=lang_url, **context)
    return HTMLResponse(page, status_code=status_code)


def index_down_text(request: Request, exc: BackendUnavailable) -> str:
    """One line for an unreachable index, in the reader's language; the client's own words go to the log."""
    logger.warning("index unavailable for %s: %s", request.url.path, exc)
    return Translator(lang_of(request))("index_down", where=redact_url(request.app.state.resources.index_url))


async def index_unavailable(request: Request, exc: Exception) -> Response:
    """An index that cannot be read gives a 503 with one line (JSON for the APIs), not a traceback."""
    assert isinstance(exc, BackendUnavailable)
    if request.url.path.startswith("/api/"):
        return JSONResponse({"error": index_down_text(request, exc)}, status_code=503)
    if not hasattr(request.state, "user"):
        request.state.user = None
    return render(request, "error.html", 503, message=index_down_text(request, exc))


async def form_data(request: Request) -> dict[str, str]:
    """URL-encoded form fields (the only kind our forms post); the last value of a repeated name wins."""
    body = (await request.body()).decode("utf-8", errors="replace")
    return dict(parse_qsl(body, keep_blank_values=True))


def live_session(request: Request, activity: bool = True) -> Session | None:
    """The server-side session behind the cookie, if it is still live (see `SessionStore.check`);
    `activity=False` for requests the page makes on its own, which do not keep it alive."""
    res: Resources = request.app.state.resources

    def password_hash_of(name: str) -> str | None:
        user = res.users.get(name)
        return user.password_hash if user else None

    return res.sessions().check(request.session.get("sid"), password_hash_of, activity=activity)


def current_user(request: Request, activity: bool = True):
    session = live_session(request, activity)
    return request.app.state.resources.users.get(session.username) if session else None


Handler = Callable[..., Awaitable[Response]]


def guard(role: str = "viewer", *, api: bool = False, activity: bool = True) -> Callable[[Handler], Handler]:
    """Login required (anonymous: redirect to /login, or 401 for APIs), the role checked, CSRF on POST;
    `activity=False` for what a page asks on its own (it does not keep the session alive)."""

    def wrap(handler: Handler) -> Handler:
        @functools.wraps(handler)
        async def endpoint(request: Request) -> Response:
            user = current_user(request, activity)
            request.state.user = user
            t = Translator(lang_of(request))
            if user is None:
                if api:
                    return JSONResponse({"error": "login required"}, status_code=401)
                target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
                return RedirectResponse(f"/login?next={quote(target)}", status_code=303)
            if request.method == "POST":
                form = await form_data(request)
                request.state.form = form
                token = request.headers.get("x-csrf-token") or form.get("csrf")
                if not csrf_ok(request.session, token):
                    return render(request, "error.html", 403, message=t("csrf"))
            if not user.can(role):
                if api:
                    return JSONResponse({"error": "forbidden"}, status_code=403)
                return render(request, "error.html", 403, message=t("forbidden"))
            return await handler(request)

        return endpoint

    return wrap
