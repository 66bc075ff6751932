"""Login and logout."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from monitor.dashboard.app import current_user, form_data, guard, lang_of, render
from monitor.dashboard.auth import csrf_ok
from monitor.dashboard.i18n import Translator


def _safe_next(value: str | None) -> str:
    # only paths on this site: no scheme, no //host, no backslash tricks
    if value and value.startswith("/") and not value.startswith("//") and "\\" not in value:
        return value
    return "/"


async def login(request: Request) -> Response:
    request.state.user = current_user(request)
    next_url = _safe_next(request.query_params.get("next"))
    if request.method == "GET":
        return render(request, "login.html", next_url=next_url, error=None)
    form = await form_data(request)
    t = Translator(lang_of(request))
    if not csrf_ok(request.session, form.get("csrf")):
        return render(request, "login.html", 403, next_url=next_url, error=t("csrf"))
    users = request.app.state.resources.users
    user = users.authenticate(form.get("username", ""), form.get("password", ""))
    if user is None:
        return render(request, "login.html", 401, next_url=next_url, error=t("login_failed"))
    lang = request.session.get("lang")
    request.session.clear()  # a fresh session (and CSRF token) on login: no fixation
    request.session.update({"user": user.name, **({"lang": lang} if lang else {})})
    return RedirectResponse(_safe_next(form.get("next")), status_code=303)


@guard("viewer")
async def logout(request: Request) -> Response:
    request.session.clear()
    return RedirectResponse("/login", status_code=303)


routes = [
    Route("/login", login, methods=["GET", "POST"]),
    Route("/logout", logout, methods=["POST"]),
]
