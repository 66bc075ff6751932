"""Incident messages in Slack: Block Kit content, chart, threads with the top message kept current,
timeouts that never double-post, mutes, and the operator told when Slack keeps failing."""

from __future__ import annotations

import json
import struct
import time
import zlib
from datetime import timedelta

from crisiswatch.mention import Mention
from index.sqlite import SQLiteBackend
from monitor.incidents.service import IncidentService
from playbooks.compose import incident_message
from tests.test_alert_helpers import T0, Clock, make_config, open_incident, slack_dispatcher


def blocks_of(call) -> list[dict]:
    blocks = call.params["blocks"]
    return json.loads(blocks) if isinstance(blocks, str) else blocks


def index_mentions(config, brand_counts: list[tuple[int, int]]) -> None:
    """Per 15-min bucket ending at T0: (all, negative) mentions of aurora."""
    backend = SQLiteBackend.from_url(config.index.url)
    mentions, n = [], 0
    for i, (total, negative) in enumerate(reversed(brand_counts)):
        at = T0 - timedelta(minutes=15 * i) + timedelta(seconds=30)  # the last bucket holds T0's minute
        for j in range(total):
            n += 1
            mentions.append(Mention(source="weibo", native_id=f"n{n}", text=f"极光优选 帖子 {n}", created_at=at,
                                    url="https://weibo.com/1/x", brands=["aurora"],
                                    sentiment=0.1 if j < negative else 0.5,
                                    author={"id": f"u{n}", "name": f"用户{n}"}))
    backend.upsert(mentions)
    backend.close()


def test_incident_message_has_numbers_chart_posts_links_and_buttons(tmp_path, slack):
    config = make_config(tmp_path, slack={"upload_charts": True, "channel": "#crisis"}, chart_hours=6)
    index_mentions(config, [(2, 0)] * 20 + [(3, 1), (4, 1), (9, 8)])
    d = slack_dispatcher(config, slack, upload_charts=True)
    incident = open_incident(d.conn, at=T0, posts=[
        {"text": "<!channel> 快递没到 电话13812345678", "author": "<@U999>", "followers": 5,
         "created_at": T0.isoformat(), "url": "https://weibo.com/1/A"}])
    incidents = IncidentService(d.conn)
    incidents.attach_facts(incident.id, sources={"weibo": 7, "tousu_sina": 2}, sentiment_mix={"negative": 8, "neutral": 1})
    message = incident_message(config, incidents.get(incident.id), "重要")
    series = message.facts["series"]
    assert series["negative"][-1] == 8 and sum(series["counts"]) == 2 * 20 + 3 + 4 + 9
    d.enqueue("a", message)
    assert d.deliver_due() == (1, 0)
    [post] = slack.posts()
    blob = json.dumps(blocks_of(post), ensure_ascii=False)
    assert "9 vs 0.3" in blob                     # numbers against the baseline
    # the brand, its sources and the tone as people say them, not the keys the system stores
    assert "*极光优选*" in blob and "微博 7、黑猫投诉 2" in blob and "负面 8、中性 1" in blob
    assert "tousu_sina" not in blob and "*aurora*" not in blob
    assert message.facts["sparkline"][-1] == "█" and message.facts["sparkline"] in blob
    assert "12:00" in blob                        # 04:00 UTC shown in Asia/Shanghai
    assert "<!channel>" not in blob and "<@U999>" not in blob and "13812345678" not in blob
    assert "138\uff0a\uff0a\uff0a\uff0a5678" in blob  # masked; the mask's stars can't start bold text
    actions = [b for b in blocks_of(post) if b["type"] == "actions"][0]
    assert [e["action_id"] for e in actions["elements"]] == ["ack", "convert", "escalate", "mute_1h", "dismiss"]
    assert "http://127.0.0.1:8470/incidents/" in blob
    # the chart went into the incident's thread as a real PNG, via the v2 upload
    [chart] = slack.files()
    assert chart["thread_ts"] == post_ts(slack) and chart["channel"] == "CCRISIS"
    png = chart["content"]
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    width, height = struct.unpack(">II", png[16:24])
    assert (width, height) == (480, 120)
    raw = zlib.decompress(png[png.index(b"IDAT") + 4:-16])
    assert len(raw) == height * (1 + width * 3)


def post_ts(slack) -> str:
    return slack.messages[0]["ts"]


def test_without_uploads_the_sparkline_carries_the_trend(tmp_path, slack):
    config = make_config(tmp_path)
    index_mentions(config, [(1, 0), (5, 5)])
    d = slack_dispatcher(config, slack)
    d.enqueue("a", incident_message(config, open_incident(d.conn), "重要"))
    d.deliver_due()
    assert slack.files() == [] and "▁█" in json.dumps(blocks_of(slack.posts()[0]), ensure_ascii=False)


def opened_then_resolved(tmp_path, slack):
    """An incident's thread in Slack: opened, then resolved an hour later. (config, dispatcher, the resolved
    incident, what the resolution's delivery returned)"""
    config = make_config(tmp_path)
    d = slack_dispatcher(config, slack)
    incident = open_incident(d.conn)
    d.enqueue("open", incident_message(config, incident, "重要", chart=False))
    d.deliver_due()
    resolved = IncidentService(d.conn).resolve(incident.id, at=T0 + timedelta(hours=1), reason="quiet").incident
    d.enqueue("resolved", incident_message(config, resolved, "重要", kind="incident_resolved", chart=False))
    return config, d, resolved, d.deliver_due()


def test_updates_thread_and_edit_the_top_message_to_the_current_state(tmp_path, slack):
    *_, delivered = opened_then_resolved(tmp_path, slack)
    assert delivered == (1, 0)
    top, reply = slack.posts()
    assert reply.params["thread_ts"] == slack.messages[0]["ts"]
    updates = [c for c in slack.calls if c.method == "chat.update"]
    assert [u.params["ts"] for u in updates] == [slack.messages[0]["ts"]]
    root = json.dumps(slack.messages[0]["blocks"], ensure_ascii=False)
    assert "已恢复" in root and '"actions"' not in root   # no buttons on a resolved incident


def test_a_note_after_the_resolution_never_turns_the_top_message_back_into_an_update(tmp_path, slack):
    config, d, resolved, _ = opened_then_resolved(tmp_path, slack)
    root = json.dumps(slack.messages[0]["blocks"], ensure_ascii=False)
    note = incident_message(config, resolved, "重要", kind="incident_updated", chart=False)  # a late playbook note
    note.summary = "已确认 acknowledged by U0LATE"
    d.enqueue("late", note)
    assert d.deliver_due() == (1, 0)
    assert slack.posts()[-1].params["thread_ts"] == slack.messages[0]["ts"]   # said in the thread
    assert json.dumps(slack.messages[0]["blocks"], ensure_ascii=False) == root   # the top still says resolved


def test_a_timeout_that_landed_is_found_not_posted_again(tmp_path, slack):
    config = make_config(tmp_path)
    d = slack_dispatcher(config, slack, timeout=1, max_retries=0)
    slack.fail_next("chat.postMessage", 0, delay=1.5)   # the post lands, the answer comes too late
    d.enqueue("a", incident_message(config, open_incident(d.conn), "重要", chart=False))
    assert d.deliver_due() == (0, 1)
    row = d.outbox.all()[0]
    assert row.status == "pending" and row.in_flight and "timeout" in row.last_error.lower()
    deadline = time.monotonic() + 5
    while not slack.messages and time.monotonic() < deadline:  # the slow post lands on the server
        time.sleep(0.05)
    d.outbox.conn.execute("UPDATE outbox SET next_attempt_at='2000-01-01'")
    assert d.deliver_due() == (1, 0)
    assert len(slack.posts()) == 1
    assert d.outbox.all()[0].external_id == slack.messages[0]["ts"]
    assert [c.method for c in slack.calls][-2:] == ["conversations.history", "chat.update"]


def test_mute_suppresses_thread_updates_but_not_the_resolution(tmp_path, slack):
    config = make_config(tmp_path)
    clock = Clock(T0)
    d = slack_dispatcher(config, slack, clock=clock)
    incident = open_incident(d.conn)
    d.conn.execute("UPDATE incidents SET muted_until=? WHERE id=?", ((T0 + timedelta(hours=1)).isoformat(),
                                                                      incident.id))
    assert d.enqueue("upd", incident_message(config, incident, "重要", kind="incident_updated", chart=False)) == 0
    assert d.enqueue("res", incident_message(config, incident, "重要", kind="incident_resolved", chart=False)) == 1
    clock.advance(hours=2)
    assert d.enqueue("upd2", incident_message(config, incident, "重要", kind="incident_updated", chart=False)) == 1


def test_slack_failing_n_times_alerts_the_operator_on_another_channel(tmp_path, slack):
    config = make_config(tmp_path, operator_after_failures=2,
                         operator_route={"name": "ops", "channel": "console", "target": "ops"})
    d = slack_dispatcher(config, slack, max_retries=0)
    for _ in range(4):
        slack.fail_next("chat.postMessage", 500)
    d.enqueue("a", incident_message(config, open_incident(d.conn), "重要", chart=False))
    assert d.deliver_due() == (0, 1)
    assert [r.channel for r in d.outbox.all()] == ["slack"]
    d.outbox.conn.execute("UPDATE outbox SET next_attempt_at='2000-01-01' WHERE channel='slack'")
    d.deliver_due()
    d.deliver_due()  # the operator alert was written during the previous pass
    ops = [r for r in d.outbox.all() if r.channel == "console"]
    assert len(ops) == 1 and ops[0].target == "ops" and ops[0].status == "sent"
    assert "2 failed attempts" in ops[0].message.summary

