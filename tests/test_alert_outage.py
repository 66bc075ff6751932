"""Alerts through a channel's real failures: an outage of any length, rate limits, refusals, retries by hand.

Slack is the loopback Web API (tests/slack_api.py) behind slack-sdk; "down" points the client at a
closed port (connection refused). The state store is SQLite and a real PostgreSQL (tests/stores.py).
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

import pytest
import yaml
from slack_sdk.errors import SlackApiError
from slack_sdk.web import SlackResponse

from alerts.outbox import FAILED, PENDING, SENT
from crisiswatch.audit import AuditLog
from playbooks.compose import incident_message
from tests.test_alert_helpers import T0, Clock, make_config, open_incident, slack_dispatcher

DOWN = "http://127.0.0.1:9/api/"  # nothing listens: connection refused


def point(d, url: str) -> None:
    for client in (d.channels["slack"].poster, d.channels["slack"].client):
        client.base_url = url


def next_try(d, row_id: int) -> datetime:
    return datetime.fromisoformat(d.conn.execute("SELECT next_attempt_at FROM outbox WHERE id=?",
                                                 (row_id,)).fetchone()[0])


def refuse_posts(d, error: str) -> None:
    """chat.postMessage answers HTTP 200 {"ok": false, "error": error}, as Slack does for its refusals."""
    def refuse(**_kwargs):
        raise SlackApiError(error, SlackResponse(client=None, http_verb="POST", api_url="chat.postMessage",
                                                 req_args={}, data={"ok": False, "error": error}, headers={},
                                                 status_code=200))
    d.channels["slack"].poster.chat_postMessage = refuse


def test_a_long_slack_outage_keeps_every_alert_and_delivers_it_when_slack_is_back(tmp_path, slack, state_url, caplog):
    config = make_config(tmp_path, state_url=state_url,
                         operator_route={"name": "ops", "channel": "console", "target": "ops"})
    clock = Clock(T0)
    d = slack_dispatcher(config, slack, clock=clock, max_retries=0)  # reads retry no connection errors: quick
    point(d, DOWN)
    d.enqueue("inc-opened", incident_message(config, open_incident(d.conn), "紧急", chart=False))
    row_id = d.outbox.by_key("inc-opened|slack|#crisis").id
    waits = []
    with caplog.at_level(logging.WARNING, logger="alerts.dispatch"):
        while clock.at < T0 + timedelta(minutes=45):       # 45 minutes of Slack down
            d.deliver_due()
            row = d.outbox.by_key("inc-opened|slack|#crisis")
            assert row.status == PENDING, f"failed after {row.attempts} attempts: {row.last_error}"
            waits.append(next_try(d, row_id) - clock.at)
            clock.at = next_try(d, row_id)
    assert row.attempts >= 12 and "Slack unreachable" in row.last_error
    assert max(waits) == timedelta(minutes=5) and waits[0] == timedelta(seconds=2)  # backs off, to at most 5 min
    # the operator heard once, on its own route, after alerts.operator_after_failures attempts
    notices = [r for r in d.outbox.all() if r.channel == "console"]
    assert len(notices) == 1 and notices[0].status == SENT and "3 failed attempts" in notices[0].message.summary
    assert "failed for good" not in caplog.text
    point(d, slack.base_url)                                 # Slack is back
    clock.at = next_try(d, row_id)
    assert d.deliver_due() == (1, 0)
    assert d.outbox.by_key("inc-opened|slack|#crisis").status == SENT and len(slack.posts()) == 1


def test_an_outage_with_no_other_route_is_said_in_the_log(tmp_path, slack, caplog):
    config = make_config(tmp_path)
    clock = Clock(T0)
    d = slack_dispatcher(config, slack, clock=clock, max_retries=0)  # reads retry no connection errors: quick
    point(d, DOWN)
    d.enqueue("a", incident_message(config, open_incident(d.conn), "紧急", chart=False))
    with caplog.at_level(logging.WARNING, logger="alerts.dispatch"):
        for _ in range(4):
            d.deliver_due()
            clock.advance(minutes=5)
    said = [r.getMessage() for r in caplog.records if "no other route to tell the operator" in r.getMessage()]
    assert len(said) == 1 and "slack #crisis" in said[0]
    assert [r.status for r in d.outbox.all()] == [PENDING]


def test_an_unknown_refusal_fails_after_max_attempts_and_a_permanent_one_at_once(tmp_path, slack):
    config = make_config(tmp_path, max_attempts=3,
                         operator_route={"name": "ops", "channel": "console", "target": "ops"})
    clock = Clock(T0)
    d = slack_dispatcher(config, slack, clock=clock)
    refuse_posts(d, "some_error_slack_added_later")
    d.enqueue("a", incident_message(config, open_incident(d.conn), "重要", chart=False))
    for attempt in (1, 2, 3):
        d.deliver_due()
        row = d.outbox.by_key("a|slack|#crisis")
        assert row.attempts == attempt and row.status == (FAILED if attempt == 3 else PENDING)
        clock.advance(minutes=10)
    assert "some_error_slack_added_later" in row.last_error
    refuse_posts(d, "msg_too_long")
    d.enqueue("b", incident_message(config, open_incident(d.conn, brand="beacon"), "重要", chart=False))
    d.deliver_due()
    row = d.outbox.by_key("b|slack|#crisis")
    assert row.status == FAILED and row.attempts == 1 and "msg_too_long" in row.last_error


def test_alerts_retry_puts_failed_rows_back_and_audits_it(tmp_path, slack, monkeypatch, capsys):
    from crisiswatch.cli import main
    from tests.conftest import config_dict

    data = config_dict(tmp_path)
    data["alerts"] = {**data["alerts"], "max_attempts": 1, "slack": {"base_url": slack.base_url}}
    cfg = tmp_path / "crisiswatch.yaml"
    cfg.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    config = make_config(tmp_path, max_attempts=1)
    d = slack_dispatcher(config, slack)
    refuse_posts(d, "some_error_slack_added_later")
    for n, brand in enumerate(("aurora", "beacon", "cedar")):
        d.enqueue(f"k{n}", incident_message(config, open_incident(d.conn, brand=brand), "重要", chart=False))
    d.deliver_due()
    failed = [r for r in d.outbox.all() if r.status == FAILED]
    assert len(failed) == 3
    monkeypatch.setenv("SLACK_BOT_TOKEN", slack.token)

    assert main(["--config", str(cfg), "alerts", "outbox"]) == 0
    assert f"#{failed[0].id} failed" in capsys.readouterr().out
    assert main(["--config", str(cfg), "alerts", "retry", str(failed[0].id), "--as", "oncall-li"]) == 0
    assert "1 alert(s) back in the outbox" in capsys.readouterr().out
    assert d.outbox.by_key(failed[0].key).status == PENDING and d.outbox.by_key(failed[0].key).attempts == 0
    assert main(["--config", str(cfg), "alerts", "retry", "--all-failed"]) == 0
    assert "2 alert(s) back in the outbox" in capsys.readouterr().out
    assert main(["--config", str(cfg), "alerts", "retry", "999"]) == 1
    assert main(["--config", str(cfg), "alerts", "retry"]) == 2
    capsys.readouterr()
    trail = AuditLog(d.conn).entries()
    assert sorted(e["subject"] for e in trail if e["action"] == "alerts.retry") == sorted(
        f"outbox:{r.id}" for r in failed)
    first = AuditLog(d.conn).entries(f"outbox:{failed[0].id}")[0]
    assert first["actor"] == "oncall-li" and first["detail"]["was"] == FAILED
    assert "some_error_slack_added_later" in first["detail"]["last_error"]
    assert main(["--config", str(cfg), "alerts", "deliver"]) == 0   # Slack takes them now
    assert {r.status for r in d.outbox.all() if r.channel == "slack"} == {SENT} and len(slack.posts()) == 3


@pytest.mark.parametrize("retry_after", ["3", None])
def test_a_429_is_not_an_attempt_and_its_retry_after_sets_the_next_try(tmp_path, slack, retry_after):
    config = make_config(tmp_path, max_attempts=1)
    clock = Clock(T0)
    d = slack_dispatcher(config, slack, clock=clock)
    for _ in range(5):
        slack.fail_next("chat.postMessage", 429, {"Retry-After": retry_after} if retry_after else {})
    d.enqueue("a", incident_message(config, open_incident(d.conn), "紧急", chart=False))
    row_id = d.outbox.all()[0].id
    for _ in range(5):   # five 429s in a row: with max_attempts 1 an attempt would have failed it
        assert d.deliver_due() == (0, 1)
        row = d.outbox.all()[0]
        assert row.status == PENDING and row.attempts == 0
        assert next_try(d, row_id) - clock.at == timedelta(seconds=float(retry_after or 30))
        clock.at = next_try(d, row_id)
    assert d.deliver_due() == (1, 0) and len(slack.posts()) == 1


def run_cli(tmp_path, slack, *argv: str) -> tuple[int, str]:
    import contextlib
    import io

    from crisiswatch.cli import main
    from tests.conftest import config_dict

    cfg = tmp_path / "crisiswatch.yaml"
    if not cfg.exists():
        data = config_dict(tmp_path)
        data["alerts"] = {**data["alerts"], "slack": {"base_url": slack.base_url}}
        cfg.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = main(["--config", str(cfg), *argv])
    return code, out.getvalue()


def test_a_revoked_token_holds_every_alert_says_what_to_fix_once_and_delivers_when_fixed(
        tmp_path, slack, state_url, caplog):
    config = make_config(tmp_path, state_url=state_url)       # one route: Slack #crisis, nowhere else to tell
    clock = Clock(T0)
    d = slack_dispatcher(config, slack, clock=clock)
    real, slack.token = slack.token, "xoxb-rotated"          # the bot's token was revoked: invalid_auth
    with caplog.at_level(logging.INFO, logger="alerts.dispatch"):
        d.enqueue("first", incident_message(config, open_incident(d.conn), "紧急", chart=False))
        assert d.deliver_due() == (0, 1)
        clock.advance(minutes=1)
        d.enqueue("second", incident_message(config, open_incident(d.conn, brand="beacon"), "重要", chart=False))
        d.deliver_due()
        clock.advance(minutes=10)
        d.deliver_due()                                        # the first, tried again: still refused
    rows = d.outbox.all()
    assert [r.status for r in rows] == [PENDING, PENDING]       # nothing failed for good, nothing lost
    assert rows[0].needs_fix and rows[0].last_error == ("invalid_auth: the Slack token was refused;"
                                                        " set a new one in SLACK_BOT_TOKEN")
    assert next_try(d, rows[0].id) - clock.at == timedelta(minutes=10)
    said = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(said) == 1 and "set a new one in SLACK_BOT_TOKEN" in said[0].getMessage()   # one line per outage
    assert "held until someone fixes this" in said[0].getMessage()

    slack.token = real                                          # ops set a new token
    clock.advance(minutes=10)
    assert d.deliver_due() == (2, 0)       # the first goes on its next try, and the second right after it
    assert {r.status for r in d.outbox.all()} == {SENT} and len(slack.posts()) == 2


def test_status_and_alerts_outbox_show_held_alerts_and_why(tmp_path, slack, monkeypatch):
    config = make_config(tmp_path)
    d = slack_dispatcher(config, slack)
    slack.token = "xoxb-rotated"
    d.enqueue("first", incident_message(config, open_incident(d.conn), "紧急", chart=False))
    d.deliver_due()
    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-rotated")
    code, out = run_cli(tmp_path, slack, "status")
    assert code == 0
    line = next(x for x in out.splitlines() if "waiting for a fix" in x)
    assert "1 alert(s) to slack #crisis" in line and "invalid_auth: the Slack token was refused" in line
    code, out = run_cli(tmp_path, slack, "alerts", "outbox")
    assert "pending: 1" in out and "pending, waits for a fix (`alerts retry --needs-fix` once fixed) ·" in out
    assert "invalid_auth: the Slack token was refused" in out


def test_a_bot_removed_from_its_channel_tells_the_operator_route_once(tmp_path, slack, caplog):
    config = make_config(tmp_path, routes=[{"name": "response", "channel": "slack", "target": "#crisis"}],
                         operator_route={"name": "ops", "channel": "console", "target": "ops"})
    clock = Clock(T0)
    d = slack_dispatcher(config, slack, clock=clock)
    refuse_posts(d, "not_in_channel")
    for n, brand in enumerate(("aurora", "beacon", "cedar")):
        d.enqueue(f"k{n}", incident_message(config, open_incident(d.conn, brand=brand), "重要", chart=False))
    for _ in range(4):
        d.deliver_due()
        clock.advance(minutes=10)
    held = [r for r in d.outbox.all() if r.channel == "slack"]
    assert [r.status for r in held] == [PENDING] * 3
    assert all(r.needs_fix for r in held)
    assert held[0].last_error == "not_in_channel: the bot is not a member of #crisis; invite it there (/invite @bot)"
    notices = [r for r in d.outbox.all() if r.channel == "console"]
    assert len(notices) == 1 and notices[0].status == SENT and "not_in_channel" in notices[0].message.summary


def test_alerts_deliver_exits_0_after_a_429_and_says_the_alert_waits(tmp_path, slack, monkeypatch):
    monkeypatch.setenv("SLACK_BOT_TOKEN", slack.token)
    config = make_config(tmp_path)
    d = slack_dispatcher(config, slack)
    d.enqueue("a", incident_message(config, open_incident(d.conn), "紧急", chart=False))
    slack.fail_next("chat.postMessage", 429, {"Retry-After": "30"})
    code, out = run_cli(tmp_path, slack, "alerts", "deliver")   # as a cron job or a systemd timer runs it
    assert code == 0, out            # Slack is pacing us: nothing for on-call to do, the unit did not fail
    assert "alerts: 0 sent, 0 failed; 1 rate limited, waiting (not failed)" in out
    assert "next try in 30 s" in out
    [row] = d.outbox.all()
    assert row.status == PENDING and row.attempts == 0 and not slack.messages
    d.conn.execute("UPDATE outbox SET next_attempt_at='2000-01-01'")
    slack.fail_next("chat.postMessage", 503)   # a real failure still fails the run
    code, out = run_cli(tmp_path, slack, "alerts", "deliver")
    assert code == 1 and "alerts: 0 sent, 1 failed (`crisiswatch alerts outbox` says why)" in out
