"""The Slack interactivity app on a real socket (uvicorn in a thread): signatures, stale and
replayed requests refused, buttons acting through the services, the slash command, approvals."""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import socket
import threading
import time
import urllib.error
import urllib.request
from urllib.parse import urlencode

import pytest
import uvicorn

from alerts.approvals import ApprovalService
from crisiswatch.db import connect
from crisiswatch.localtime import local_time
from monitor.incidents.service import IncidentService
from monitor.slack_app import create_app
from playbooks.tickets.service import TicketService
from tests.test_alert_helpers import make_config, open_incident, slack_dispatcher

SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
POLICY = {"default": [{"after_minutes": 0, "notify": "#crisis"},
                      {"after_minutes": 10, "notify": "<!subteam^S0ONCALL>"}]}


@contextlib.contextmanager
def serving(tmp_path, slack, monkeypatch, **slack_settings):
    """The app on a real socket: (config, conn, base URL of /slack)."""
    monkeypatch.setenv("SLACK_SIGNING_SECRET", SECRET)
    monkeypatch.setenv("SLACK_BOT_TOKEN", slack.token)
    config = make_config(tmp_path, slack={"base_url": slack.base_url, "channel": "#crisis", **slack_settings},
                         escalation_policies=POLICY)
    conn = connect(config.state_store)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(create_app(config, conn), host="127.0.0.1", port=port, log_level="error"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.02)
    try:
        yield config, conn, f"http://127.0.0.1:{port}/slack"
    finally:
        server.should_exit = True
        thread.join(5)


@pytest.fixture
def app(tmp_path, slack, monkeypatch):
    with serving(tmp_path, slack, monkeypatch) as served:
        yield served


def signed(body: bytes, secret: str = SECRET, ts: int | None = None) -> dict[str, str]:
    ts = int(time.time()) if ts is None else ts
    base = f"v0:{ts}:".encode() + body
    sig = "v0=" + hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()
    return {"X-Slack-Request-Timestamp": str(ts), "X-Slack-Signature": sig,
            "Content-Type": "application/x-www-form-urlencoded"}


def post(url: str, body: bytes, headers: dict[str, str]) -> tuple[int, str, float]:
    started = time.monotonic()
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, response.read().decode(), time.monotonic() - started
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode(), time.monotonic() - started


TEAM = "T0TEAM"  # the workspace the loopback Slack API's auth.test names (tests/slack_api.py)


def button(action_id: str, value: str, user: str = "U0ALICE", username: str = "", team: str = TEAM) -> bytes:
    """A block_actions payload as Slack sends it (team.id: the workspace the click came from)."""
    payload = {"type": "block_actions", "team": {"id": team, "domain": "example"},
               "user": {"id": user, "username": username or user.lower(), "team_id": team},
               "channel": {"id": "C0CRISIS"}, "actions": [{"action_id": action_id, "value": value}]}
    return urlencode({"payload": json.dumps(payload)}).encode()


def wait_for(predicate, seconds: float = 5) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return False


def ephemerals(slack) -> list[str]:
    return [c.params["text"] for c in slack.calls if c.method == "chat.postEphemeral"]


def test_signature_checks(app):
    config, conn, base = app
    body = urlencode({"command": "/crisiswatch", "text": "status", "user_id": "U1", "channel_id": "C1",
                      "team_id": TEAM}).encode()
    assert post(f"{base}/commands", body, signed(body, secret="not-the-secret"))[0] == 401
    assert post(f"{base}/commands", body, signed(body, ts=int(time.time()) - 301))[0] == 401
    headers = signed(body)
    status, text, seconds = post(f"{base}/commands", body, headers)
    assert status == 200 and "no open incidents" in text and seconds < 3
    status, text, _ = post(f"{base}/commands", body, headers)     # the same request again
    assert status == 401 and "replayed" in text
    tampered = body.replace(b"status", b"ack+1")
    assert post(f"{base}/commands", tampered, headers)[0] == 401


def test_ack_button_stops_escalation_and_answers_fast(app, slack):
    config, conn, base = app
    incident = open_incident(conn)
    from playbooks.paging import escalation_service

    d = slack_dispatcher(config, slack)
    escalation_service(config, conn, d).start(incident.id, "default")
    status, _, seconds = post(f"{base}/actions", button("ack", str(incident.id)), signed(button("ack", str(incident.id))))
    assert status == 200 and seconds < 3
    assert wait_for(lambda: any("acknowledged" in t for t in ephemerals(slack)))
    assert IncidentService(conn).get(incident.id).acked_by == "U0ALICE"
    assert escalation_service(config, conn, d).status(incident.id)["chains"][0]["status"] == "acknowledged"


def test_ack_after_the_incident_closed_is_refused_and_changes_nothing(app, slack):
    from datetime import timedelta

    from crisiswatch.audit import AuditLog
    from playbooks.compose import incident_message
    from playbooks.paging import escalation_service
    from tests.test_alert_helpers import T0

    config, conn, base = app
    d = slack_dispatcher(config, slack)
    incident = open_incident(conn)
    escalation_service(config, conn, d).start(incident.id, "default")
    d.enqueue(f"incident:{incident.id}:opened", incident_message(config, incident, "重要", chart=False))
    d.deliver_due()
    IncidentService(conn).resolve(incident.id, T0 + timedelta(minutes=30), "quiet")
    closed = IncidentService(conn).get(incident.id)
    d.enqueue(f"incident:{incident.id}:resolved", incident_message(config, closed, "重要", kind="incident_resolved",
                                                                   chart=False))
    d.deliver_due()
    top = slack.messages[0]
    resolved_top, rows = json.dumps(top["blocks"], ensure_ascii=False), len(d.outbox.all())
    body = button("ack", str(incident.id), user="U0LATE")
    assert post(f"{base}/actions", body, signed(body))[0] == 200
    assert wait_for(lambda: any("already resolved" in t for t in ephemerals(slack)))
    [said] = [t for t in ephemerals(slack) if "already resolved" in t]
    assert said.startswith(f"INC-{incident.id} already resolved at 06-14 12:30 CST")
    assert IncidentService(conn).get(incident.id).acked_by is None
    assert json.dumps(top["blocks"], ensure_ascii=False) == resolved_top and len(d.outbox.all()) == rows
    refused = [e for e in AuditLog(conn).entries(incident.label) if e["action"] == "escalation.acknowledge"]
    assert [(e["actor"], e["outcome"]) for e in refused] == [("U0LATE", "refused")]
    chains = escalation_service(config, conn, d).status(incident.id)["chains"]
    assert [c["status"] for c in chains] == ["active"] and chains[0]["acked_by"] is None   # the tick closes it


def test_convert_mute_and_slash_ticket(app, slack):
    config, conn, base = app
    incident = open_incident(conn)
    body = button("convert", str(incident.id))
    assert post(f"{base}/actions", body, signed(body))[0] == 200
    assert wait_for(lambda: any("ticket CW-" in t for t in ephemerals(slack)))
    number = TicketService(conn).for_incident(incident.id).number
    form = urlencode({"command": "/crisiswatch", "text": f"ticket INC-{incident.id}", "user_id": "U2",
                      "channel_id": "C1", "team_id": TEAM}).encode()
    assert post(f"{base}/commands", form, signed(form))[0] == 200
    assert wait_for(lambda: any(f"already has ticket {number}" in t for t in ephemerals(slack)))
    body = button("mute_1h", str(incident.id))
    post(f"{base}/actions", body, signed(body))
    assert wait_for(lambda: IncidentService(conn).get(incident.id).muted_until is not None)
    until = local_time(IncidentService(conn).get(incident.id).muted_until, config.alerts.timezone, "%H:%M %Z")
    assert wait_for(lambda: any(f"muted until {until}" in t for t in ephemerals(slack)))  # it said UTC


def test_approval_click_by_someone_else_is_refused_ephemerally(app, slack):
    config, conn, base = app
    d = slack_dispatcher(config, slack)
    approval = ApprovalService(config, conn, d).request("声明草稿", ["U0LEGAL"], "草稿正文", 30)
    body = button("approve", str(approval), user="U0INTERN")
    assert post(f"{base}/actions", body, signed(body))[0] == 200
    assert wait_for(lambda: any("not an approver" in t for t in ephemerals(slack)))
    assert ApprovalService(config, conn, d).get(approval).status == "pending"
    body = button("approve", str(approval), user="U0LEGAL")
    post(f"{base}/actions", body, signed(body))
    assert wait_for(lambda: ApprovalService(config, conn, d).get(approval).status == "approved")


def test_bad_payload_is_a_clear_400(app):
    config, conn, base = app
    body = b"payload=%7Bnot-json"
    status, text, _ = post(f"{base}/actions", body, signed(body))
    assert status == 400 and "bad payload" in text


def test_crisiswatch_slack_serve_runs_standalone(tmp_path):
    import os
    import subprocess
    import sys

    from tests.conftest import REPO

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {**os.environ, "SLACK_SIGNING_SECRET": SECRET, "CRISISWATCH_CONFIG": ""}
    proc = subprocess.Popen([sys.executable, "-m", "crisiswatch.cli", "slack", "serve", "--port", str(port)],
                            cwd=tmp_path, env={**env, "PYTHONPATH": str(REPO)}, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        def healthy() -> bool:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1) as r:
                    return r.read() == b"ok"
            except OSError:
                return False

        assert wait_for(healthy, 15), proc.stderr.read() if proc.poll() is not None else "not up"
        body = b"text=status"
        assert post(f"http://127.0.0.1:{port}/slack/commands", body, signed(body, secret="x"))[0] == 401
    finally:
        proc.terminate()
        proc.wait(10)
