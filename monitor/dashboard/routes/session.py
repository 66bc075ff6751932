"""Login (throttled), logout, one's own password, and an admin's view of live sessions with revoke."""

from __future__ import annotations

import math

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from crisiswatch.errors import CrisiswatchError
from monitor.dashboard.auth import csrf_ok
from monitor.dashboard.i18n import Translator
from monitor.dashboard.web import current_user, form_data, guard, lang_of, render

MIN_PASSWORD = 8  # as `serve --add-user`


def _safe_next(value: str | None) -> str:
    # only paths on this site: no scheme, no //host, no backslash tricks
    if value and value.startswith("/") and not value.startswith("//") and "\\" not in value:
        return value
    return "/"


def _address(request: Request) -> str:
    return request.client.host if request.client else ""


def _start_session(request: Request, user) -> None:
    """A fresh cookie session (and CSRF token) around a new server-side session: no fixation."""
    res = request.app.state.resources
    token = res.sessions().open(user.name, user.password_hash, address=_address(request),
                                agent=request.headers.get("user-agent", ""))
    lang = request.session.get("lang")
    request.session.clear()
    request.session.update({"sid": token, **({"lang": lang} if lang else {})})


async def login(request: Request) -> Response:
    request.state.user = current_user(request)
    next_url = _safe_next(request.query_params.get("next"))
    if request.method == "GET":
        return render(request, "login.html", next_url=next_url, error=None)
    form = await form_data(request)
    t = Translator(lang_of(request))
    if not csrf_ok(request.session, form.get("csrf")):
        return render(request, "login.html", 403, next_url=next_url, error=t("csrf"))
    res = request.app.state.resources
    name, address = form.get("username", "")[:64], _address(request)
    audit = res.audit()
    throttled = res.throttle().blocked(name, address)
    if throttled is not None:
        # not even the right password gets in until the window has passed; the hash is not computed
        audit.record(name or "-", "login", f"user:{name}", "throttled", address=address, scope=throttled.scope)
        page = render(request, "login.html", 429, next_url=next_url,
                      error=t("login_throttled", minutes=math.ceil(throttled.retry_after / 60)))
        page.headers["Retry-After"] = str(throttled.retry_after)
        return page
    user = res.users.authenticate(name, form.get("password", ""))
    if user is None:
        res.throttle().failed(name, address)
        audit.record(name or "-", "login", f"user:{name}", "failed", address=address)
        return render(request, "login.html", 401, next_url=next_url, error=t("login_failed"))
    res.throttle().succeeded(user.name)
    _start_session(request, user)
    audit.record(user.name, "login", f"user:{user.name}", "ok", address=address)
    return RedirectResponse(_safe_next(form.get("next")), status_code=303)


@guard("viewer")
async def logout(request: Request) -> Response:
    res = request.app.state.resources
    res.sessions().end(request.session.get("sid", ""), "logout")
    res.audit().record(request.state.user.name, "logout", f"user:{request.state.user.name}", "ok",
                       address=_address(request))
    request.session.clear()
    return RedirectResponse("/login", status_code=303)


async def _account_page(request: Request, status_code: int = 200, error: str | None = None,
                        done: str | None = None) -> Response:
    res = request.app.state.resources
    live = res.sessions().live() if request.state.user.can("admin") else []
    return render(request, "account.html", status_code, error=error, done=done, sessions=live)


@guard("viewer")
async def account(request: Request) -> Response:
    return await _account_page(request)


@guard("viewer")
async def change_password(request: Request) -> Response:
    """A new password ends every session of the user (copied cookies too); this browser gets a new one."""
    res = request.app.state.resources
    t = Translator(lang_of(request))
    form, user = request.state.form, request.state.user
    new = form.get("new", "")
    if res.users.authenticate(user.name, form.get("current", "")) is None:
        return await _account_page(request, 400, t("wrong_current_password"))
    if len(new) < MIN_PASSWORD or new != form.get("confirm"):
        return await _account_page(request, 400, t("bad_new_password", n=MIN_PASSWORD))
    try:
        changed = res.users.add(user.name, user.role, new)
    except CrisiswatchError as exc:
        return await _account_page(request, 400, t("action_failed", reason=str(exc)))
    ended = res.sessions().revoke_user(user.name, "password changed")
    res.audit().record(user.name, "password_changed", f"user:{user.name}", "ok", address=_address(request),
                       sessions_ended=ended)
    _start_session(request, changed)
    request.state.user = changed
    return await _account_page(request, done=t("password_changed", n=ended))


@guard("admin")
async def revoke(request: Request) -> Response:
    res = request.app.state.resources
    form, admin = request.state.form, request.state.user.name
    sessions = res.sessions()
    if form.get("user"):
        ended = sessions.revoke_user(form["user"], f"revoked by {admin}")
        subject = f"user:{form['user']}"
    else:
        target = sessions.get(form.get("session", ""))
        ended = sessions.revoke(target.id, f"revoked by {admin}") if target else 0
        subject = f"user:{target.username}" if target else "session:?"
    res.audit().record(admin, "session_revoked", subject, "ok" if ended else "nothing",
                       sessions=ended, session=form.get("session", "")[:12])
    return RedirectResponse("/account", status_code=303)


routes = [
    Route("/login", login, methods=["GET", "POST"]),
    Route("/logout", logout, methods=["POST"]),
    Route("/account", account),
    Route("/account/password", change_password, methods=["POST"]),
    Route("/account/revoke", revoke, methods=["POST"]),
]
