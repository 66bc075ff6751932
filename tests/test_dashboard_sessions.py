"""Sessions a security review accepts: server-side, ended at once by logout, a new password or an admin,
idle and absolute timeouts, throttled logins, and an audit trail of all of it (real HTTP, real uvicorn)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import requests

from crisiswatch.audit import AuditLog
from crisiswatch.db import connect
from monitor.dashboard.sessions import LoginThrottle, SessionStore
from tests.browser.dashboard_site import PASSWORDS, build_site, csrf_of, demo_mentions, login, serve

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    return build_site(tmp_path_factory.mktemp("sessions"), users_file=True)


@pytest.fixture(scope="module")
def base(site):
    with serve(site) as url:
        yield url


def _audit(site, action: str) -> list[dict]:
    conn = connect(site.db)
    try:
        return [e for e in AuditLog(conn).entries(limit=1000) if e["action"] == action]
    finally:
        conn.close()


def test_a_cookie_replayed_after_logout_is_refused(site, base):
    agent = login(base, "ada")
    stolen = dict(agent.cookies)
    page = agent.get(f"{base}/mentions/{demo_mentions(site.now)[-1].id}", timeout=10)
    assert page.status_code == 200
    token = csrf_of(page.text)
    assert agent.post(f"{base}/logout", data={"csrf": token}, allow_redirects=False, timeout=10).status_code == 303
    replay = requests.Session()
    replay.cookies.update(stolen)
    assert replay.get(f"{base}/api/overview", timeout=10).status_code == 401
    converted = replay.post(f"{base}/mentions/{demo_mentions(site.now)[-1].id}/convert",
                            data={"csrf": token, "severity": "重要"}, allow_redirects=False, timeout=10)
    assert converted.status_code == 303 and converted.headers["location"].startswith("/login")
    assert [e["actor"] for e in _audit(site, "logout")][-1] == "ada"


def test_the_live_stream_ends_with_its_session(base):
    viewer = login(base, "viv")
    token = csrf_of(viewer.get(f"{base}/account", timeout=10).text)
    # a read timeout below the heartbeat: a stream that goes on after logout fails the test, not hangs it
    with viewer.get(f"{base}/api/stream", stream=True, timeout=(5, 5)) as reply:
        lines = reply.iter_lines(decode_unicode=True)
        assert any(line.startswith("data: ") for line, _ in zip(lines, range(50), strict=False))
        other = requests.Session()
        other.cookies.update(dict(viewer.cookies))
        other.post(f"{base}/logout", data={"csrf": token}, allow_redirects=False, timeout=10)
        rest = list(lines)  # the server closes the stream instead of sending on
    assert all(not line.startswith("data: ") for line in rest[-3:])


def test_a_new_password_ends_every_other_session_at_once(site, base):
    laptop, phone = login(base, "ada"), login(base, "ada")
    page = laptop.get(f"{base}/account", timeout=10)
    reply = laptop.post(f"{base}/account/password", data={
        "csrf": csrf_of(page.text), "current": PASSWORDS["ada"], "new": "agent-pass-2", "confirm": "agent-pass-2"},
        timeout=10)
    try:
        assert reply.status_code == 200 and "密码已修改" in reply.text
        assert phone.get(f"{base}/api/overview", timeout=10).status_code == 401
        assert laptop.get(f"{base}/api/overview", timeout=10).status_code == 200  # this browser got a new one
        assert _audit(site, "password_changed")[-1]["detail"]["sessions_ended"] >= 2
    finally:
        page = laptop.get(f"{base}/account", timeout=10)
        laptop.post(f"{base}/account/password", data={"csrf": csrf_of(page.text), "current": "agent-pass-2",
                                                      "new": PASSWORDS["ada"], "confirm": PASSWORDS["ada"]},
                    timeout=10)
    wrong = laptop.post(f"{base}/account/password", data={
        "csrf": csrf_of(laptop.get(f"{base}/account", timeout=10).text), "current": "nope", "new": "x" * 9,
        "confirm": "x" * 9}, timeout=10)
    assert wrong.status_code == 400 and "当前密码不正确" in wrong.text


def test_an_admin_revokes_a_session_and_only_admins_may(site, base):
    victim = login(base, "viv")
    viewer_page = victim.get(f"{base}/account", timeout=10).text
    assert 'id="sessions"' not in viewer_page  # only admins see everyone's sessions
    refused = victim.post(f"{base}/account/revoke", data={"csrf": csrf_of(viewer_page), "user": "root"},
                          allow_redirects=False, timeout=10)
    assert refused.status_code == 403
    admin = login(base, "root")
    page = admin.get(f"{base}/account", timeout=10).text
    assert "viv" in page
    admin.post(f"{base}/account/revoke", data={"csrf": csrf_of(page), "user": "viv"}, timeout=10)
    assert victim.get(f"{base}/api/overview", timeout=10).status_code == 401
    assert admin.get(f"{base}/api/overview", timeout=10).status_code == 200
    entry = _audit(site, "session_revoked")[-1]
    assert entry["actor"] == "root" and entry["subject"] == "user:viv" and entry["detail"]["sessions"] >= 1


def test_the_tenth_wrong_password_in_a_minute_is_throttled(tmp_path):
    site = build_site(tmp_path)
    with serve(site) as base:
        s = requests.Session()
        codes = []
        for _ in range(10):
            token = csrf_of(s.get(f"{base}/login", timeout=10).text)
            reply = s.post(f"{base}/login", data={"username": "ada", "password": "guess", "csrf": token}, timeout=10)
            codes.append(reply.status_code)
        assert codes[-1] == 429 and "登录失败次数过多" in reply.text and int(reply.headers["retry-after"]) > 0
        assert codes.count(401) == 5
        token = csrf_of(s.get(f"{base}/login", timeout=10).text)
        right = s.post(f"{base}/login", data={"username": "ada", "password": PASSWORDS["ada"], "csrf": token},
                       allow_redirects=False, timeout=10)
        assert right.status_code == 429  # the right password waits too: guessing gains nothing
        other = login(base, "viv")  # another account from the same address is not locked out
        assert other.get(f"{base}/api/overview", timeout=10).status_code == 200
    outcomes = [e["outcome"] for e in _audit(site, "login") if e["actor"] == "ada"]
    assert outcomes.count("failed") == 5 and outcomes.count("throttled") == 6
    assert [e["outcome"] for e in _audit(site, "login") if e["actor"] == "viv"] == ["ok"]


def test_idle_and_absolute_timeouts(state_url):
    conn = connect(state_url)
    store = SessionStore(conn, idle=timedelta(minutes=30), absolute=timedelta(hours=12))
    known = {"ada": "hash-1"}.get
    token = store.open("ada", "hash-1", now=T0)
    assert store.check(token, known, now=T0 + timedelta(minutes=29)) is not None
    assert store.check(token, known, now=T0 + timedelta(minutes=58)) is not None  # the last request counts
    assert store.check(token, known, now=T0 + timedelta(minutes=89)) is None
    assert store.check(token, known, now=T0 + timedelta(minutes=90)) is None  # ended stays ended
    busy = store.open("ada", "hash-1", now=T0)
    for minutes in range(20, 12 * 60, 20):
        assert store.check(busy, known, now=T0 + timedelta(minutes=minutes)) is not None
    assert store.check(busy, known, now=T0 + timedelta(hours=12)) is None
    changed = store.open("ada", "hash-1", now=T0)
    assert store.check(changed, {"ada": "hash-2"}.get, now=T0) is None
    why = conn.execute("SELECT ended_why, COUNT(*) FROM dashboard_sessions GROUP BY ended_why").fetchall()
    assert {r[0]: r[1] for r in why} == {"idle timeout": 1, "absolute timeout": 1, "password changed": 1}


def test_an_open_live_stream_does_not_keep_a_forgotten_tab_logged_in(state_url):
    store = SessionStore(connect(state_url), idle=timedelta(minutes=30), absolute=timedelta(hours=12))
    known = {"ada": "hash-1"}.get
    token = store.open("ada", "hash-1", now=T0)
    for seconds in range(15, 29 * 60, 15):  # the stream checks the session every few seconds on its own
        assert store.check(token, known, now=T0 + timedelta(seconds=seconds), activity=False) is not None
    # those checks kept the session alive for the absolute 12 hours; nobody has touched it for 30 minutes
    assert store.check(token, known, now=T0 + timedelta(minutes=30), activity=False) is None


def test_throttle_forgets_failures_outside_its_window(state_url):
    throttle = LoginThrottle(connect(state_url), per_account=3, per_address=5,
                             window=timedelta(minutes=15))
    for minute in range(3):
        throttle.failed("ada", "10.0.0.1", now=T0 + timedelta(minutes=minute))
    blocked = throttle.blocked("ada", "10.0.0.9", now=T0 + timedelta(minutes=3))
    assert blocked.scope == "account" and blocked.retry_after == 12 * 60 + 1
    assert throttle.blocked("ada", "10.0.0.9", now=T0 + timedelta(minutes=15, seconds=1)) is None
    for n in range(5):
        throttle.failed(f"user{n}", "10.0.0.2", now=T0)
    assert throttle.blocked("someone", "10.0.0.2", now=T0).scope == "address"


def test_the_session_cookie_is_secure_when_the_dashboard_is_reached_over_tls(base):
    """Behind a TLS proxy (X-Forwarded-Proto from an address uvicorn trusts, loopback by default) the cookie
    is Secure, so a browser never sends it over plain HTTP; plain HTTP locally still works. Always HttpOnly,
    SameSite=Strict."""
    over_tls = requests.get(f"{base}/login", headers={"X-Forwarded-Proto": "https"}, timeout=10)
    cookie = over_tls.headers["set-cookie"].lower()
    assert cookie.startswith("crisiswatch_session=")
    assert "; secure" in cookie and "httponly" in cookie and "samesite=strict" in cookie
    # the browser keeps it to https: this client, on plain http, does not send it back and the login is refused
    session = requests.Session()
    page = session.get(f"{base}/login", headers={"X-Forwarded-Proto": "https"}, timeout=10)
    reply = session.post(f"{base}/login", allow_redirects=False, timeout=10,
                         data={"username": "viv", "password": PASSWORDS["viv"], "csrf": csrf_of(page.text)})
    assert reply.status_code == 403
    plain = login(base, "viv")
    cookie = plain.get(f"{base}/account", timeout=10).request.headers["cookie"]
    assert cookie.startswith("crisiswatch_session=")
    assert "secure" not in requests.get(f"{base}/login", timeout=10).headers["set-cookie"].lower()


def test_an_open_incident_page_asking_for_changes_does_not_keep_a_forgotten_tab_logged_in(site, base):
    viewer = login(base, "viv")
    conn = connect(site.db)
    earlier = (datetime.now(UTC) - timedelta(minutes=5)).isoformat()
    with conn:
        conn.execute("UPDATE dashboard_sessions SET last_seen_at=? WHERE username='viv' AND ended_at IS NULL",
                     (earlier,))

    def last_seen() -> set[str]:
        rows = conn.execute("SELECT last_seen_at FROM dashboard_sessions WHERE username='viv' AND ended_at IS NULL")
        return {str(r[0]) for r in rows.fetchall()}

    before = last_seen()
    for _ in range(3):  # what incident.js asks every few seconds
        assert viewer.get(f"{base}/api/incidents/{site.incident_id}/mark", timeout=10).json()["mark"]
    assert last_seen() == before
    viewer.get(f"{base}/account", timeout=10)  # a person's request does
    assert last_seen() != before
    conn.close()
