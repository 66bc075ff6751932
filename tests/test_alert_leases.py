"""Two deliverers on one outbox never both post an alert: a lease that runs out mid-send, clocks that disagree.

The loopback Slack Web API (tests/slack_api.py) behind slack-sdk; the state store is SQLite and a
real PostgreSQL (tests/stores.py). Each deliverer has its own connection, as separate processes do.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter
from datetime import UTC, datetime, timedelta

from alerts.outbox import SENT
from playbooks.compose import incident_message
from tests.test_alert_helpers import T0, Clock, make_config, open_incident, slack_dispatcher

KEY = "inc-opened|slack|#crisis"


def keys_posted(slack) -> Counter:
    return Counter((m["metadata"] or {}).get("event_payload", {}).get("key") for m in slack.messages)


def race(a, b, head_start: float) -> None:
    """A delivers in a thread; B runs once A has held the row `head_start` seconds (its 1 s lease ran out)."""
    t = threading.Thread(target=a.deliver_due)
    t.start()
    time.sleep(head_start)
    b.deliver_due()
    t.join(30)
    assert not t.is_alive()


def test_a_lease_that_runs_out_in_a_slow_lookup_is_renewed_before_the_post_or_the_send_is_skipped(
        tmp_path, slack, state_url, caplog):
    config = make_config(tmp_path, state_url=state_url, outbox_lease_seconds=1)
    a, b = slack_dispatcher(config, slack), slack_dispatcher(config, slack)
    a.enqueue("inc-opened", incident_message(config, open_incident(a.conn), "紧急", chart=False))
    # A's channel lookup (conversations.list) meets a 429: slack-sdk sleeps 2-3 s there, holding the row
    slack.fail_next("conversations.list", 429, {"Retry-After": "2"})
    with caplog.at_level(logging.WARNING):
        race(a, b, 1.3)
    assert keys_posted(slack)[KEY] == 1, keys_posted(slack)
    assert a.outbox.by_key(KEY).status == SENT
    assert "the lease ran out before the send" in caplog.text


def test_a_send_answered_after_the_lease_ran_out_does_not_settle_the_row_another_deliverer_holds(
        tmp_path, slack, state_url, caplog):
    config = make_config(tmp_path, state_url=state_url, outbox_lease_seconds=1)
    a, b = slack_dispatcher(config, slack), slack_dispatcher(config, slack)
    a.enqueue("inc-opened", incident_message(config, open_incident(a.conn), "紧急", chart=False))
    a.channels["slack"].resolve("#crisis")   # the channel id is known (as after a first alert)
    # A's post lands at once but its answer comes 1.5 s later; B takes the row meanwhile, finds the post
    slack.fail_next("chat.postMessage", 0, delay=1.5, after_store=True)
    with caplog.at_level(logging.WARNING):
        race(a, b, 1.2)
    assert keys_posted(slack)[KEY] == 1
    row = a.outbox.by_key(KEY)
    assert row.status == SENT and row.attempts == 1 and row.external_id == slack.messages[0]["ts"]
    said = [r.getMessage() for r in caplog.records if "did not record it as sent" in r.getMessage()]
    assert len(said) == 1 and a.holder in said[0]


def test_a_failure_answered_after_the_lease_ran_out_leaves_the_new_holders_row_alone(tmp_path, slack, state_url,
                                                                                     caplog):
    config = make_config(tmp_path, state_url=state_url, outbox_lease_seconds=1)
    a, b = slack_dispatcher(config, slack), slack_dispatcher(config, slack)
    a.enqueue("inc-opened", incident_message(config, open_incident(a.conn), "紧急", chart=False))
    a.channels["slack"].resolve("#crisis")
    slack.fail_next("chat.postMessage", 500, delay=1.5)   # A's post: nothing stored, a 500 after 1.5 s
    with caplog.at_level(logging.WARNING):
        race(a, b, 1.2)
    assert keys_posted(slack)[KEY] == 1
    row = a.outbox.by_key(KEY)
    assert row.status == SENT and row.last_error is None and row.attempts == 1   # A's 500 did not touch it
    assert "did not record it as to be retried" in caplog.text


def test_a_host_clock_ahead_cannot_take_a_row_another_deliverer_holds(tmp_path, slack, state_url):
    config = make_config(tmp_path, state_url=state_url)
    a = slack_dispatcher(config, slack, clock=Clock(T0))
    b = slack_dispatcher(config, slack, clock=Clock(T0 + timedelta(minutes=3)))   # B's host clock: 3 min ahead
    a.enqueue("inc-opened", incident_message(config, open_incident(a.conn), "紧急", chart=False))
    ttl = timedelta(seconds=config.alerts.outbox_lease_seconds)
    row = a.outbox.claim(a.holder, ttl)          # A holds it for 120 s and is about to send
    assert b.deliver_due() == (0, 0)              # B's clock says A's lease ran out a minute ago: not B's to judge
    assert a._deliver(row, ttl) == "sent"
    assert keys_posted(slack)[KEY] == 1


def test_a_host_clock_behind_cannot_write_a_lease_that_has_already_run_out(tmp_path, slack, state_url):
    config = make_config(tmp_path, state_url=state_url)
    now = datetime.now(UTC)
    a = slack_dispatcher(config, slack, clock=Clock(now - timedelta(minutes=3)))  # A's host clock: 3 min behind
    b = slack_dispatcher(config, slack, clock=Clock(now))
    a.enqueue("inc-opened", incident_message(config, open_incident(a.conn), "紧急", chart=False))
    ttl = timedelta(seconds=config.alerts.outbox_lease_seconds)
    row = a.outbox.claim(a.holder, ttl)
    assert a.outbox.renew(row.id, a.holder, ttl)
    held_until = datetime.fromisoformat(a.conn.execute("SELECT lease_until FROM outbox").fetchone()[0])
    assert held_until > datetime.now(UTC) + ttl / 2   # by the database's clock, not A's
    assert b.deliver_due() == (0, 0)
    assert a._deliver(row, ttl) == "sent"
    assert keys_posted(slack)[KEY] == 1


def test_a_post_that_lands_after_the_lease_ran_out_and_another_deliverer_posted_is_deleted(
        tmp_path, slack, state_url, caplog):
    config = make_config(tmp_path, state_url=state_url, outbox_lease_seconds=1)
    a, b = slack_dispatcher(config, slack), slack_dispatcher(config, slack)
    a.enqueue("inc-opened", incident_message(config, open_incident(a.conn), "紧急", chart=False))
    a.channels["slack"].resolve("#crisis")
    # A stalls mid-send (a GC pause, a suspended VM, a slow network): its post reaches Slack only after 3 s.
    # B takes the row at 1.2 s, finds nothing in the channel yet and posts; A's copy lands after B's.
    slack.fail_next("chat.postMessage", 0, delay=3)
    with caplog.at_level(logging.WARNING):
        race(a, b, 1.2)
    assert keys_posted(slack)[KEY] == 1, keys_posted(slack)
    [kept], [gone] = slack.messages, slack.deleted
    assert float(gone["ts"]) > float(kept["ts"])          # the later copy went, the first one stands
    row = a.outbox.by_key(KEY)
    assert row.status == SENT and row.attempts == 1 and row.external_id == kept["ts"]
    assert a.outbox.thread_for(row.message.thread_key, "slack", "#crisis") == kept["ts"]
    said = [r.getMessage() for r in caplog.records if "second copy" in r.getMessage()]
    assert len(said) == 1 and a.holder in said[0] and gone["ts"] in said[0]


def test_a_post_that_lands_between_the_new_holders_lookup_and_its_post_stands_and_the_later_one_goes(
        tmp_path, slack, state_url, caplog):
    config = make_config(tmp_path, state_url=state_url, outbox_lease_seconds=1)
    a, b = slack_dispatcher(config, slack), slack_dispatcher(config, slack)
    a.enqueue("inc-opened", incident_message(config, open_incident(a.conn), "紧急", chart=False))
    a.channels["slack"].resolve("#crisis")
    slack.fail_next("chat.postMessage", 0, delay=2.5)   # A's post lands at 2.5 s
    slack.fail_next("chat.postMessage", 0, delay=2)     # B looks at 1.2 s (nothing yet), its post lands at ~3.2 s
    with caplog.at_level(logging.WARNING):
        race(a, b, 1.2)
    assert keys_posted(slack)[KEY] == 1, keys_posted(slack)
    [kept], [gone] = slack.messages, slack.deleted
    assert float(gone["ts"]) > float(kept["ts"])
    row = a.outbox.by_key(KEY)
    assert row.status == SENT and row.external_id == kept["ts"]   # settled by B, as A's post: threads follow it
    assert a.outbox.thread_for(row.message.thread_key, "slack", "#crisis") == kept["ts"]
    said = [r.getMessage() for r in caplog.records if "second copy" in r.getMessage()]
    assert len(said) == 1 and b.holder in said[0]
