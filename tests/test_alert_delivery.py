"""Outbox-first delivery through slack-sdk against a loopback Slack Web API server."""

from __future__ import annotations

import io
import time

import pytest

from alerts.channels.console import ConsoleChannel
from alerts.channels.slack import SlackChannel
from alerts.dispatch import AlertDispatcher
from alerts.message import AlertMessage, escape_mrkdwn
from crisiswatch.db import connect


@pytest.fixture
def config(store_config):
    """This module's tests run on each state store (SQLite, PostgreSQL)."""
    return store_config


def message(n: int = 1, kind: str = "incident_opened", text: str = "极光优选快递五天没到") -> AlertMessage:
    return AlertMessage(kind=kind, title=f"极光优选 负面声量异常 (INC-{n})", severity="重要", brand="aurora",
                        summary="9 negative mentions in 1 min vs 0.3 expected", incident_id=n,
                        facts={"top_posts": [{"author": "小鹿", "text": text, "followers": 10}]},
                        thread_key=f"incident:{n}")


def dispatcher(config, slack, **channel_kwargs):
    conn = connect(config.state_store)
    channels = {"slack": SlackChannel(slack.token, base_url=slack.base_url, **channel_kwargs),
                "console": ConsoleChannel(io.StringIO())}
    return AlertDispatcher(config, conn, channels)


def test_enqueue_is_idempotent_and_delivers_once(config, slack):
    d = dispatcher(config, slack)
    assert d.enqueue("incident:1:opened", message()) == 1
    assert d.enqueue("incident:1:opened", message()) == 0
    assert d.deliver_due() == (1, 0)
    assert d.deliver_due() == (0, 0)
    # the configured #crisis was resolved to its id (conversations.list), as Slack wants for lookups
    assert len(slack.posts()) == 1 and slack.posts()[0].params["channel"] == "CCRISIS"


def test_updates_go_into_the_incident_thread(config, slack):
    d = dispatcher(config, slack)
    d.enqueue("a", message())
    d.enqueue("b", message(kind="incident_resolved"))
    assert d.deliver_due() == (2, 0)
    first, second = slack.posts()
    assert "thread_ts" not in first.params
    assert second.params["thread_ts"]


def test_a_429_waits_out_retry_after_in_the_outbox_and_is_not_an_attempt(config, slack):
    from datetime import datetime, timedelta

    from tests.test_alert_helpers import T0, Clock

    slack.fail_next("chat.postMessage", 429, {"Retry-After": "7"})
    clock = Clock(T0)
    d = AlertDispatcher(config, connect(config.state_store), {"slack": SlackChannel(slack.token, base_url=slack.base_url),
                                                              "console": ConsoleChannel(io.StringIO())}, clock=clock)
    d.enqueue("a", message())
    started = time.monotonic()
    assert d.deliver_due() == (0, 1)
    assert time.monotonic() - started < 5          # slack-sdk did not sleep holding the row
    row = d.outbox.all()[0]
    assert row.status == "pending" and row.attempts == 0 and not row.in_flight and "429" in row.last_error
    due = d.conn.execute("SELECT next_attempt_at FROM outbox").fetchone()[0]
    assert datetime.fromisoformat(due) == T0 + timedelta(seconds=7)
    assert slack.posts() == [] and d.deliver_due() == (0, 0)   # not before Retry-After
    clock.advance(seconds=7)
    assert d.deliver_due() == (1, 0)
    assert len(slack.posts()) == 1 and d.outbox.all()[0].attempts == 1


def test_server_down_keeps_the_alert_pending_then_delivers(config, slack):
    for _ in range(3):  # the client never retries a post itself: each 500 costs one outbox attempt
        slack.fail_next("chat.postMessage", 500)
    d = dispatcher(config, slack, max_retries=1)
    d.enqueue("a", message())
    for attempt in range(1, 4):
        assert d.deliver_due()[1] == 1  # (the third failure also tells the operator, on the console)
        row = d.outbox.all()[0]
        assert row.status == "pending" and row.attempts == attempt and "Slack" in row.last_error
        d.outbox.conn.execute("UPDATE outbox SET next_attempt_at = '2000-01-01'")  # time passes
    assert d.deliver_due() == (1, 0)
    assert len(slack.posts()) == 1 and len(slack.messages) == 1


def test_a_crash_after_posting_updates_instead_of_posting_twice(config, slack):
    d = dispatcher(config, slack)
    d.enqueue("a", message())
    row = d.outbox.due()[0]
    delivery = d.channels["slack"].send(row.message, row.target)
    d.outbox.record_external_id(row.id, delivery.external_id)  # ... and the process dies here
    assert d.deliver_due() == (1, 0)
    assert len(slack.posts()) == 1
    assert [c.method for c in slack.calls if c.method.startswith("chat.")] == ["chat.postMessage", "chat.update"]


def test_hostile_post_text_arrives_inert(config, slack):
    d = dispatcher(config, slack)
    d.enqueue("a", message(text="<!channel> 快来 <@U123ABC> <#C999|general> <https://evil.example|点我> @here & more"))
    d.deliver_due()
    blob = str(slack.posts()[0].params["blocks"])
    for live in ("<!channel>", "<@U123ABC>", "<#C999", "<https://evil.example"):
        assert live not in blob
    assert "&lt;!channel&gt;" in blob and "&amp; more" in blob
    assert "@here" not in escape_mrkdwn("@here")


def test_a_channel_slack_cannot_find_holds_its_alerts_until_fixed(config, slack):
    d = dispatcher(config, slack)
    d.enqueue("a", message())
    d.outbox.conn.execute("UPDATE outbox SET target=''")
    d.channels["slack"].default_target = ""
    assert d.deliver_due()[1] == 1
    slack_row, operator_row = d.outbox.all()
    assert slack_row.status == "pending" and slack_row.needs_fix
    assert slack_row.last_error.startswith("channel_not_found")
    # no operator route: the notice goes to the crisis route (#crisis), not to the failing target
    assert (operator_row.channel, operator_row.target) == ("slack", "#crisis")
    assert "channel_not_found" in operator_row.message.summary and operator_row.status == "sent"


def test_without_a_slack_token_alerts_go_to_the_console(config):
    from alerts.dispatch import build_channels

    channels = build_channels(config)
    assert "slack" not in channels
    d = AlertDispatcher(config, connect(config.state_store), channels)
    assert [channel for channel, _ in d.routes_for(message())] == ["console"]
