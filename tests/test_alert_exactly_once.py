"""Exactly once to Slack when the outcome of a post is unknown, and with many deliverers at once.

The loopback Slack API stores a post and then answers 500 (a proxy or Slack failing after the
write), or answers after the client gave up; slack-sdk's own retry handlers are in place with
their defaults. Nothing may be posted twice: the next attempt looks the alert up by its key.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from collections import Counter

import yaml

from alerts.dispatch import AlertDispatcher
from alerts.message import AlertMessage
from crisiswatch.config import load_config
from crisiswatch.db import connect
from playbooks.compose import incident_message
from tests.conftest import REPO, config_dict
from tests.test_alert_helpers import make_config, open_incident, slack_dispatcher


def keys_posted(slack) -> Counter:
    return Counter((m["metadata"] or {}).get("event_payload", {}).get("key") for m in slack.messages)


def retry_now(d: AlertDispatcher) -> None:
    d.outbox.conn.execute("UPDATE outbox SET next_attempt_at='2000-01-01' WHERE status='pending'")


def test_a_500_after_slack_stored_the_post_is_looked_up_not_reposted(tmp_path, slack):
    config = make_config(tmp_path)
    d = slack_dispatcher(config, slack)  # default retry handlers (2 retries of 5xx for reads)
    slack.fail_next("chat.postMessage", 500, after_store=True)
    d.enqueue("a", incident_message(config, open_incident(d.conn), "重要", chart=False))
    assert d.deliver_due() == (0, 1)
    assert len(slack.messages) == 1, "slack-sdk re-posted after a 500 whose post had landed"
    retry_now(d)
    assert d.deliver_due() == (1, 0)
    assert len(slack.messages) == 1 and keys_posted(slack) == {"a|slack|#crisis": 1}
    row = d.outbox.all()[0]
    assert row.status == "sent" and row.external_id == slack.messages[0]["ts"]
    lookup = [c for c in slack.calls if c.method == "conversations.history"]
    assert lookup and lookup[0].params["channel"] == "CCRISIS"  # an id: Slack refuses names there


def test_a_post_answered_after_the_timeout_is_found_across_history_pages(tmp_path, slack):
    config = make_config(tmp_path)
    d = slack_dispatcher(config, slack, timeout=1)
    (tmp_path / "other").mkdir()  # other traffic in the channel, from elsewhere: the alert is not on page one
    chatter = slack_dispatcher(make_config(tmp_path / "other"), slack)
    for n in range(250):
        chatter.outbox.enqueue(f"chatter:{n}", "slack", "#crisis", AlertMessage(
            kind="operator", title=f"note {n}", severity="一般", brand="", summary="-"))
    slack.fail_next("chat.postMessage", 0, delay=1.5, after_store=True)  # stored at once, answered too late
    d.enqueue("a", incident_message(config, open_incident(d.conn), "重要", chart=False))
    assert d.deliver_due() == (0, 1)
    assert "timed out" in d.outbox.by_key("a|slack|#crisis").last_error
    chatter.deliver_due()
    assert len(slack.messages) == 251
    retry_now(d)
    assert d.deliver_due() == (1, 0)
    assert keys_posted(slack)["a|slack|#crisis"] == 1 and len(slack.messages) == 251
    pages = [c for c in slack.calls if c.method == "conversations.history"]
    assert len(pages) == 3 and pages[1].params["cursor"]


def test_without_the_history_scope_an_alert_whose_post_may_have_landed_is_posted_not_held(tmp_path, slack, caplog):
    slack.scopes.discard("channels:history")   # the app was installed with chat:write and channels:read only
    config = make_config(tmp_path)
    d = slack_dispatcher(config, slack)
    slack.fail_next("chat.postMessage", 500)    # the first post did not land, but its outcome is unknown here
    d.enqueue("a", incident_message(config, open_incident(d.conn), "重要", chart=False))
    assert d.deliver_due() == (0, 1)
    retry_now(d)
    with caplog.at_level(logging.WARNING):
        assert d.deliver_due() == (1, 0)       # a possible duplicate rather than a crisis alert held for hours
    assert keys_posted(slack) == {"a|slack|#crisis": 1}
    row = d.outbox.by_key("a|slack|#crisis")
    assert row.status == "sent" and not row.needs_fix
    [said] = [r.getMessage() for r in caplog.records if "look" in r.getMessage() or "copy" in r.getMessage()]
    assert "channels:history" in said and "posting" in said and "duplicate" in said


def test_without_the_scope_to_list_channels_alerts_are_posted_by_name(tmp_path, slack, caplog):
    slack.scopes.discard("channels:read")
    config = make_config(tmp_path)
    d = slack_dispatcher(config, slack)
    d.enqueue("a", incident_message(config, open_incident(d.conn), "重要", chart=False))
    with caplog.at_level(logging.WARNING):
        assert d.deliver_due() == (1, 0)
    assert slack.posts()[0].params["channel"] == "#crisis" and keys_posted(slack) == {"a|slack|#crisis": 1}
    assert d.conn.execute("SELECT id FROM slack_channels WHERE name='crisis'").fetchone()[0] == "CCRISIS"
    assert "channels:read" in caplog.text


def test_channel_names_resolve_through_every_page_of_conversations_list(tmp_path, slack):
    slack.add_channels(*[f"a-{n:03d}" for n in range(450)], "war-room")
    config = make_config(tmp_path, routes=[{"name": "response", "channel": "slack", "target": "#war-room"}])
    d = slack_dispatcher(config, slack)
    d.enqueue("a", incident_message(config, open_incident(d.conn), "重要", chart=False))
    assert d.deliver_due() == (1, 0)
    assert slack.posts()[0].params["channel"] == "CWARROOM"
    assert len([c for c in slack.calls if c.method == "conversations.list"]) == 5
    stored = d.conn.execute("SELECT id FROM slack_channels WHERE name='war-room'").fetchone()
    assert stored[0] == "CWARROOM"


def test_three_deliverers_on_one_outbox_send_each_alert_once(tmp_path, slack):
    data = config_dict(tmp_path)
    data["alerts"] = {"slack": {"base_url": slack.base_url, "channel": "#crisis"},
                      "routes": [{"name": "response", "channel": "slack", "target": "#crisis"}]}
    cfg = tmp_path / "crisiswatch.yaml"
    cfg.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    config = load_config(str(cfg))
    d = AlertDispatcher(config, connect(config.state_store), {"slack": None})
    for n in range(1, 31):  # thirty incidents, each with its own thread
        d.enqueue(f"incident:{n}:opened", AlertMessage(
            kind="incident_opened", title=f"INC-{n}", severity="重要", brand="aurora", summary=f"alert {n}",
            incident_id=n, thread_key=f"incident:{n}"))
    for _ in range(40):  # slow posts, so the three overlap
        slack.fail_next("chat.postMessage", 0, delay=0.05)
    env = {**os.environ, "SLACK_BOT_TOKEN": slack.token, "PYTHONPATH": str(REPO)}
    procs = [subprocess.Popen([sys.executable, "-m", "crisiswatch.cli", "--config", str(cfg), "alerts", "deliver"],
                              cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for _ in range(3)]
    outputs = [p.communicate(timeout=120) for p in procs]
    assert [p.returncode for p in procs] == [0, 0, 0], [err[-1500:] for _, err in outputs]
    sent = [int(out.split("alerts: ")[1].split(" sent")[0]) for out, _ in outputs]
    assert sum(sent) == 30 and sum(1 for s in sent if s) >= 2, sent  # they shared the work
    assert keys_posted(slack) == {f"incident:{n}:opened|slack|#crisis": 1 for n in range(1, 31)}
    assert d.outbox.counts() == {"sent": 30}
