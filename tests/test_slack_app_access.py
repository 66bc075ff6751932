"""Who may act through the Slack app: people known by their Slack user id (alerts.slack.users), never by
the names a click carries, nor from another workspace the app is in (alerts.slack.team_id); and post text
quoted back by /crisiswatch stays inert."""

from __future__ import annotations

import json
from urllib.parse import urlencode

import pytest

from alerts.approvals import ApprovalService
from crisiswatch.audit import AuditLog
from monitor.incidents.service import IncidentService
from tests.test_alert_helpers import open_incident, slack_dispatcher
from tests.test_alert_slack_app import TEAM, button, ephemerals, post, serving, signed, wait_for


def slash(text: str, user: str, team: str = TEAM) -> bytes:
    """A slash command's form as Slack sends it (team_id: the workspace it was typed in)."""
    return urlencode({"command": "/crisiswatch", "text": text, "user_id": user, "channel_id": "C0CRISIS",
                      "team_id": team, "team_domain": "example"}).encode()


def test_an_approver_named_in_a_playbook_is_known_by_slack_user_id_not_by_the_name_a_click_carries(
        tmp_path, slack, monkeypatch):
    # the shipped playbooks name approvers (pr-lead); a click's username is whatever the clicker's
    # account is called, a guest's or a shared channel's outsider's too
    with serving(tmp_path, slack, monkeypatch, users={"U0PRLEAD": "pr-lead"}) as (config, conn, base):
        d = slack_dispatcher(config, slack)
        approval = ApprovalService(config, conn, d).request("statement:INC-1:price_dispute", ["pr-lead"], "草稿", 30)
        body = button("approve", str(approval), user="U0MALLORY", username="pr-lead")
        assert post(f"{base}/actions", body, signed(body))[0] == 200
        assert wait_for(lambda: any("U0MALLORY is not an approver" in t for t in ephemerals(slack)))
        assert any("an approver by name? add U0MALLORY to alerts.slack.users" in t for t in ephemerals(slack))
        assert ApprovalService(config, conn, d).get(approval).status == "pending"
        body = button("approve", str(approval), user="U0PRLEAD", username="someone-else")
        assert post(f"{base}/actions", body, signed(body))[0] == 200
        assert wait_for(lambda: ApprovalService(config, conn, d).get(approval).status == "approved")
        assert ApprovalService(config, conn, d).get(approval).decided_by == "U0PRLEAD"


def test_with_a_staff_list_someone_not_on_it_cannot_ack_or_read_status(tmp_path, slack, monkeypatch):
    with serving(tmp_path, slack, monkeypatch, users={"U0ALICE": "林晓"}) as (config, conn, base):
        incident = open_incident(conn)
        body = button("ack", str(incident.id), user="U0GUEST", username="alice")
        assert post(f"{base}/actions", body, signed(body))[0] == 200
        assert wait_for(lambda: any("U0GUEST is not in crisiswatch's Slack staff list" in t
                                    for t in ephemerals(slack)))
        assert IncidentService(conn).get(incident.id).acked_by is None
        refused = [e for e in AuditLog(conn).entries(incident.label) if e["outcome"] == "refused"]
        assert [(e["actor"], e["action"]) for e in refused] == [("slack:U0GUEST", "slack.ack")]
        form = slash("status", "U0GUEST")
        status, text, _ = post(f"{base}/commands", form, signed(form))
        assert status == 200 and "not in crisiswatch's Slack staff list" in text and incident.label not in text
        form = slash(f"ack {incident.label}", "U0GUEST")
        assert post(f"{base}/commands", form, signed(form))[0] == 200
        assert wait_for(lambda: sum("staff list" in t for t in ephemerals(slack)) == 2)
        assert IncidentService(conn).get(incident.id).acked_by is None
        body = button("ack", str(incident.id), user="U0ALICE")
        assert post(f"{base}/actions", body, signed(body))[0] == 200
        assert wait_for(lambda: IncidentService(conn).get(incident.id).acked_by == "U0ALICE")


def test_slash_status_quotes_an_incident_summary_inert(tmp_path, slack, monkeypatch):
    with serving(tmp_path, slack, monkeypatch) as (config, conn, base):
        incident = open_incident(conn)
        conn.execute("UPDATE incidents SET summary=? WHERE id=?",
                     ("热词 <!channel> <@U0CEO> <https://evil.example/x|点这里> *退款*", incident.id))
        form = slash("status", "U0ALICE")
        status, text, _ = post(f"{base}/commands", form, signed(form))
        said = json.loads(text)["text"]
        assert status == 200 and incident.label in said and "点这里" in said
        for live in ("<!channel>", "<@U0CEO>", "<https://", "*退款*"):
            assert live not in said


def test_escalate_or_mute_after_the_incident_resolved_is_refused_and_pages_nobody(tmp_path, slack, monkeypatch):
    from datetime import timedelta

    from tests.test_alert_helpers import T0

    with serving(tmp_path, slack, monkeypatch) as (config, conn, base):
        incident = open_incident(conn)
        IncidentService(conn).resolve(incident.id, T0 + timedelta(minutes=30), "quiet")
        posted = len(slack.messages)
        for action in ("escalate", "mute_1h"):
            body = button(action, str(incident.id), user="U0LATE")
            assert post(f"{base}/actions", body, signed(body))[0] == 200
        assert wait_for(lambda: sum("already resolved" in t for t in ephemerals(slack)) == 2), ephemerals(slack)
        assert len(slack.messages) == posted
        assert conn.execute("SELECT COUNT(*) FROM escalation_chains").fetchone()[0] == 0
        assert IncidentService(conn).get(incident.id).muted_until is None


def test_missing_or_garbled_signature_headers_are_refused_not_crashed(tmp_path, slack, monkeypatch):
    with serving(tmp_path, slack, monkeypatch) as (config, conn, base):
        body = slash("status", "U0ALICE")
        good = signed(body)
        cases = [
            {k: v for k, v in good.items() if k != "X-Slack-Signature"},
            {k: v for k, v in good.items() if k != "X-Slack-Request-Timestamp"},
            {**good, "X-Slack-Request-Timestamp": "12abc"},
            {**good, "X-Slack-Request-Timestamp": good["X-Slack-Request-Timestamp"] + "\u00b2"},  # a digit to isdigit()
            {**good, "X-Slack-Request-Timestamp": str(int(good["X-Slack-Request-Timestamp"]) + 400)},  # from the future
            {**good, "X-Slack-Signature": "v0=" + "\u00ff" * 64},  # not ASCII: hmac.compare_digest raised TypeError
            {**good, "X-Slack-Signature": "v1=" + good["X-Slack-Signature"][3:]},
        ]
        for headers in cases:
            status, text, _ = post(f"{base}/commands", body, headers)
            assert status == 401, (headers, status, text)
        assert post(f"{base}/commands", body, good)[0] == 200  # none of them used the request up


def test_an_oversized_body_is_refused_before_it_is_read_whole(tmp_path, slack, monkeypatch):
    import http.client
    from urllib.parse import urlsplit

    with serving(tmp_path, slack, monkeypatch) as (config, conn, base):
        body = slash("status", "U0ALICE") + b"&pad=" + b"x" * (64 * 1024 * 1024)
        where = urlsplit(base)
        client = http.client.HTTPConnection(where.hostname, where.port, timeout=5)
        client.putrequest("POST", f"{where.path}/commands")
        for name, value in {**signed(body), "Content-Length": str(len(body))}.items():
            client.putheader(name, value)
        client.endheaders()
        client.send(body[:4096])  # the answer comes without the other 64 MB
        answer = client.getresponse()
        assert answer.status == 413 and "too large" in answer.read().decode()
        client.close()
        body = button("ack", "1") + b"&pad=" + b"x" * (200 * 1024)  # a big message's payload still goes
        assert post(f"{base}/actions", body, signed(body))[0] == 200


def test_a_click_and_a_slash_command_from_another_workspace_are_refused_without_a_staff_list(
        tmp_path, slack, monkeypatch, caplog):
    # no alerts.slack.users: anyone in the workspace may act, and so, before, anyone in another workspace the app
    # is installed in (Slack signs their requests with the same secret)
    with serving(tmp_path, slack, monkeypatch) as (config, conn, base):
        incident = open_incident(conn)
        body = button("ack", str(incident.id), user="U0OUTSIDER", team="T0OTHER")
        with caplog.at_level("WARNING", logger="monitor.slack_app"):
            status, text, _ = post(f"{base}/actions", body, signed(body))
            form = slash("status", "U0OUTSIDER", team="T0OTHER")
            slash_status, slash_text, _ = post(f"{base}/commands", form, signed(form))
        assert status == 403 and slash_status == 403 and incident.label not in slash_text
        said = [r.getMessage() for r in caplog.records if r.name == "monitor.slack_app"]
        assert len(said) == 2 and all("workspace T0OTHER, not this app's T0TEAM" in line for line in said)
        body = button("ack", str(incident.id))   # this workspace's click, after the refusals
        assert post(f"{base}/actions", body, signed(body))[0] == 200
        assert wait_for(lambda: IncidentService(conn).get(incident.id).acked_by == "U0ALICE")
        assert [c.method for c in slack.calls].count("auth.test") == 1   # asked once, kept


def test_alerts_slack_team_id_names_the_workspace_without_asking_slack(tmp_path, slack, monkeypatch):
    from crisiswatch.errors import ConfigError
    from tests.test_alert_helpers import make_config

    with pytest.raises(ConfigError, match="alerts.slack.team_id.*not a Slack workspace id"):
        make_config(tmp_path, slack={"team_id": "acme"})
    with serving(tmp_path, slack, monkeypatch, team_id="T0MINE") as (config, conn, base):
        form = slash("status", "U0ALICE")   # from T0TEAM, the bot token's workspace: not the one configured
        assert post(f"{base}/commands", form, signed(form))[0] == 403
        form = slash("status", "U0ALICE", team="T0MINE")
        assert post(f"{base}/commands", form, signed(form))[0] == 200
        assert "auth.test" not in [c.method for c in slack.calls]


def test_a_workspace_nobody_can_name_refuses_every_request_until_it_is_set(tmp_path, slack, monkeypatch):
    with serving(tmp_path, slack, monkeypatch) as (config, conn, base):
        monkeypatch.delenv("SLACK_BOT_TOKEN")   # no token to ask auth.test with, no team_id set
        form = slash("status", "U0ALICE")
        status, text, _ = post(f"{base}/commands", form, signed(form))
        assert status == 503 and "set alerts.slack.team_id" in text
