"""The Starlette application: routes, security headers, cookie sessions, the Slack endpoints."""

from __future__ import annotations

import logging
import threading

import jieba
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.sessions import SessionMiddleware
from starlette.routing import Mount
from starlette.staticfiles import StaticFiles

from crisiswatch.config import Config
from crisiswatch.db import connect
from index.base import BackendUnavailable
from monitor import slack_app
from monitor.dashboard.auth import UserStore
from monitor.dashboard.routes import console, dashboard, incidents, session
from monitor.dashboard.web import HERE, Resources, index_unavailable

logger = logging.getLogger(__name__)
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


SESSION_COOKIE = "crisiswatch_session"


def _secure_cookie(header: tuple[bytes, bytes]) -> tuple[bytes, bytes]:
    name, value = header
    if name.lower() == b"set-cookie" and value.startswith(SESSION_COOKIE.encode() + b"=") and (
            b"; secure" not in value.lower()):
        return name, value + b"; secure"
    return header


class SecurityHeaders:
    """Adds the CSP and friends to every response, streaming ones included (pure ASGI, no buffering), and marks
    the session cookie Secure on a request that came over TLS (directly, or through a proxy uvicorn trusts)."""

    def __init__(self, app) -> None:
        self.app = app

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        tls = scope.get("scheme") == "https"

        async def with_headers(message):
            if message["type"] == "http.response.start":
                headers = message.get("headers", [])
                if tls:
                    headers = [_secure_cookie(h) for h in headers]
                message["headers"] = [*headers, *SECURITY_HEADERS]
            await send(message)

        await self.app(scope, receive, with_headers)


def slack_mount(config: Config, resources: Resources) -> list[Mount]:
    """The Slack interactivity endpoints under /slack."""
    # its own connection: the Slack handlers serialise use of it with their own lock
    return [Mount("/slack", routes=slack_app.slack_routes(config, connect(resources.state_db)))]


def create_app(config: Config, users: UserStore, secret: str, *, index_url: str | None = None,
               state_db: str | None = None, poll_seconds: float = 2.0, https_only: bool = False) -> Starlette:
    if not VENDOR_JS.exists():
        logger.warning("%s is missing: run `make demo` or `npm ci && npm run build` in %s",
                       VENDOR_JS, HERE / "frontend")
    resources = Resources(config, users, index_url or config.index.url,
                          state_db or str(config.state_store), poll_seconds)
    routes = [*session.routes, *dashboard.routes, *incidents.routes, *console.routes,
              *slack_mount(config, resources),
              Mount("/static", app=StaticFiles(directory=STATIC), name="static")]
    app = Starlette(routes=routes, exception_handlers={BackendUnavailable: index_unavailable}, middleware=[
        Middleware(SecurityHeaders),
        Middleware(SessionMiddleware, secret_key=secret, session_cookie=SESSION_COOKIE,
                   same_site="strict", https_only=https_only, max_age=12 * 3600),
    ])
    app.state.resources = resources
    # jieba loads its dictionary on first use (a second or two): do it now, not in the first page view
    threading.Thread(target=_warm_up, daemon=True).start()
    return app


def _warm_up() -> None:
    jieba.initialize()
