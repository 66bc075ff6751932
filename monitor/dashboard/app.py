"""The Starlette application: resources per thread, sessions, security headers, login guard, templates."""

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
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.sessions import SessionMiddleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Mount
from starlette.staticfiles import StaticFiles

from crisiswatch.audit import AuditLog
from crisiswatch.brand_names import BrandNames
from crisiswatch.config import Config
from crisiswatch.db import connect
from index import open_backend
from index.base import Backend
from monitor.dashboard.auth import UserStore, csrf_ok, csrf_token
from monitor.dashboard.i18n import Translator, pick_lang
from monitor.dashboard.incident_page import IncidentPageService
from monitor.dashboard.sessions import LoginThrottle, Session, SessionStore
from playbooks.statements import StatementStore

logger = logging.getLogger(__name__)
HERE = Path(__file__).parent
STATIC = HERE / "static"
VENDOR_JS = STATIC / "vendor" / "echarts.min.js"

# Scripts only from our own static files; ECharts sets element styles from script (CSSOM), which
# style-src does not govern, so no 'unsafe-inline' is needed anywhere.
CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; font-src 'self';"
       " connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'")
SECURITY_HEADERS = [
    (b"content-security-policy", CSP.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"same-origin"),
]


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

    def sessions(self) -> SessionStore:
        return SessionStore(self.conn())

    def throttle(self) -> LoginThrottle:
        return LoginThrottle(self.conn())

    def audit(self) -> AuditLog:
        return AuditLog(self.conn())

    def dashboard(self):
        from monitor.dashboard.service import DashboardService

        names = {b.key: list(b.names) for b in self.config.brands}
        return DashboardService(self.backend(), self.incidents(), self.tickets(), names,
                                BrandNames(self.conn()).all())

    def incident_page(self) -> IncidentPageService:
        dashboard = self.dashboard()
        return IncidentPageService(self.backend(), self.incidents(), self.tickets(), StatementStore(self.conn()),
                                   self.audit(), dashboard.display_name, dashboard.stop)

    def console(self):
        from monitor.dashboard.console import ConsoleService

        return ConsoleService(self.backend(), self.tickets(), self.config)

    def incidents(self):
        from monitor.incidents.service import IncidentService

        return IncidentService(self.conn())

    def tickets(self):
        from playbooks.tickets.service import TicketService

        return TicketService.from_config(self.config, self.conn())


class SecurityHeaders:
    """Adds the CSP and friends to every response, streaming ones included (pure ASGI, no buffering)."""

    def __init__(self, app) -> None:
        self.app = app

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)

        async def with_headers(message):
            if message["type"] == "http.response.start":
                message.setdefault("headers", [])
                message["headers"] = [*message["headers"], *SECURITY_HEADERS]
            await send(message)

        await self.app(scope, receive, with_headers)


_env = Environment(loader=FileSystemLoader(HERE / "templates"), autoescape=select_autoescape(["html"]))


def lang_of(request: Request) -> str:
    asked = request.query_params.get("lang")
    if asked:
        request.session["lang"] = pick_lang(asked)
    return pick_lang(request.session.get("lang"))


def render(request: Request, template: str, status_code: int = 200, **context: Any) -> HTMLResponse:
    t = Translator(lang_of(request))
    res: Resources = request.app.state.resources
    zone = ZoneInfo(res.config.alerts.timezone)

    def local(value: datetime | str | None) -> str:
        if isinstance(value, str):
            value = datetime.fromisoformat(value)
        return value.astimezone(zone).strftime("%Y-%m-%d %H:%M") if value else ""

    def lang_url(lang: str) -> str:
        return str(request.url.include_query_params(lang=lang))

    page = _env.get_template(template).render(
        request=request, t=t, lang=t.lang, user=request.state.user, csrf=csrf_token(request.session),
        timezone=res.config.alerts.timezone, path=request.url.path, local=local, lang_url=lang_url, **context)
    return HTMLResponse(page, status_code=status_code)


async def form_data(request: Request) -> dict[str, str]:
    """URL-encoded form fields (the only kind our forms post); the last value of a repeated name wins."""
    body = (await request.body()).decode("utf-8", errors="replace")
    return dict(parse_qsl(body, keep_blank_values=True))


def live_session(request: Request) -> Session | None:
    """The server-side session behind the cookie, if it is still live (see `SessionStore.check`)."""
    res: Resources = request.app.state.resources

    def password_hash_of(name: str) -> str | None:
        user = res.users.get(name)
        return user.password_hash if user else None

    return res.sessions().check(request.session.get("sid"), password_hash_of)


def current_user(request: Request):
    session = live_session(request)
    return request.app.state.resources.users.get(session.username) if session else None


Handler = Callable[..., Awaitable[Response]]


def guard(role: str = "viewer", *, api: bool = False) -> Callable[[Handler], Handler]:
    """Login required (anonymous: redirect to /login, or 401 for APIs), the role checked, CSRF on POST."""

    def wrap(handler: Handler) -> Handler:
        @functools.wraps(handler)
        async def endpoint(request: Request) -> Response:
            user = current_user(request)
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


def slack_mount(config: Config, resources: Resources) -> list[Mount]:
    """The Slack interactivity endpoints under /slack, when the Slack app module is present."""
    try:
        from monitor import slack_app  # type: ignore[attr-defined]
    except ImportError:
        return []
    if hasattr(slack_app, "slack_routes"):
        # its own connection: the Slack handlers serialise use of it with their own lock
        return [Mount("/slack", routes=slack_app.slack_routes(config, connect(resources.state_db)))]
    if hasattr(slack_app, "app"):
        return [Mount("/slack", app=slack_app.app)]
    logger.warning("monitor.slack_app has neither slack_routes() nor app; /slack is not mounted")
    return []


def create_app(config: Config, users: UserStore, secret: str, *, index_url: str | None = None,
               state_db: str | None = None, poll_seconds: float = 2.0, https_only: bool = False) -> Starlette:
    from monitor.dashboard.routes import console, dashboard, incidents, session

    if not VENDOR_JS.exists():
        logger.warning("%s is missing: run `make demo` or `npm ci && npm run build` in %s",
                       VENDOR_JS, HERE / "frontend")
    resources = Resources(config, users, index_url or config.index.url,
                          state_db or str(config.resolve(config.state_db)), poll_seconds)
    routes = [*session.routes, *dashboard.routes, *incidents.routes, *console.routes,
              *slack_mount(config, resources),
              Mount("/static", app=StaticFiles(directory=STATIC), name="static")]
    app = Starlette(routes=routes, middleware=[
        Middleware(SecurityHeaders),
        Middleware(SessionMiddleware, secret_key=secret, session_cookie="crisiswatch_session",
                   same_site="strict", https_only=https_only, max_age=12 * 3600),
    ])
    app.state.resources = resources
    # jieba loads its dictionary on first use (a second or two): do it now, not in the first page view
    threading.Thread(target=_warm_up, daemon=True).start()
    return app


def _warm_up() -> None:
    import jieba

    jieba.initialize()
