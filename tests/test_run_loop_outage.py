"""The run loop through ten minutes of index outage, on simulated time against a real cluster
(osmem-server behind a proxy whose port goes down): it keeps running, keeps escalating the crisis it
already knows, pages the operator once, and after recovery drains the spool, detects and delivers."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta

from alerts.channels.console import ConsoleChannel
from alerts.channels.slack import SlackChannel
from alerts.channels.slack_ids import SlackChannelIds
from alerts.dispatch import AlertDispatcher
from crisiswatch.config import parse_config
from crisiswatch.db import connect
from crisiswatch.mention import Mention
from index import open_backend
from index.base import MentionFilter
from index.writer import IndexWriter
from monitor.loop import RunLoop
from playbooks.paging import escalation_service
from tests.conftest import config_dict
from tests.es_compat_proxy import EsCompatProxy
from tests.test_alert_helpers import Clock, open_incident

T = datetime(2025, 6, 14, 6, 0, tzinfo=UTC)  # 14:00 in Asia/Shanghai, the team's zone


def mentions(start: int, count: int, at: datetime, sentiment: float) -> list[Mention]:
    return [Mention(source="weibo", native_id=str(n), text=f"极光优选 第{n}条", created_at=at + timedelta(seconds=n % 60),
                    brands=["aurora"], sentiment=sentiment, author={"id": f"u{n}", "followers": 10})
            for n in range(start, start + count)]


def test_ten_minutes_of_index_outage(tmp_path, osmem_clone, slack):
    proxy = EsCompatProxy(osmem_clone.url).start()
    url = f"elasticsearch://127.0.0.1:{proxy.port}?retries=1&backoff=0.01"
    data = config_dict(tmp_path, index={"url": url})
    data["brands"][0]["sources"] = {}  # no crawls: mentions arrive through the writer below
    data["alerts"] = {"slack": {"base_url": slack.base_url, "channel": "#crisis"}, "dependency_grace_minutes": 3,
                      "routes": [{"name": "response", "channel": "slack", "target": "#crisis"}],
                      "escalation_policies": {"default": [{"after_minutes": 0, "notify": "<!subteam^S0ONCALL>"},
                                                          {"after_minutes": 6, "notify": "#mgmt", "label": "管理层"}]}}
    config = parse_config(data, str(tmp_path / "crisiswatch.yaml"))
    clock = Clock(T - timedelta(minutes=1))
    conn = connect(config.state_store)
    dispatcher = AlertDispatcher(config, conn, {"slack": SlackChannel(slack.token, base_url=slack.base_url,
                                                                      ids=SlackChannelIds(conn)),
                                                "console": ConsoleChannel(io.StringIO())}, clock=clock)
    writer = IndexWriter.from_url(url, conn, retry_after=0)
    n = 0
    for bucket in range(12):  # three quiet hours: two neutral mentions per quarter hour
        writer.write(mentions(n, 2, T - timedelta(hours=3) + timedelta(minutes=15 * bucket), 0.6))
        n += 2
    loop = RunLoop(config, None, conn, dispatcher, clock=clock)
    assert loop.pass_once().detected

    # a crisis already under way: its escalation must go on through the outage
    incident = open_incident(conn, brand="beacon", at=clock())  # another brand
    escalation_service(config, conn, dispatcher, clock=clock).start(incident.id, "default")
    clock.advance(minutes=1)
    loop.pass_once()
    clock.advance(minutes=2)  # 14:02: the cluster goes away, while a crawl brings 206 mentions
    proxy.stop()
    writer.write(mentions(n, 150, T + timedelta(minutes=3), 0.05) + mentions(n + 150, 56, T + timedelta(minutes=4), 0.6))
    n += 206
    failures = []
    for _ in range(20):  # ten minutes of passes every 30 s; none may raise
        failures.append(loop.pass_once().failed_stages)
        clock.advance(seconds=30)
    assert any("index" in f for f in failures) and all(set(f) <= {"index"} for f in failures)

    operator = [m for m in slack.messages if "index" in (m["text"] or "")]
    assert len(operator) == 1, [m["text"] for m in slack.messages]
    assert "index unreachable since 14:02, 206 mentions spooled" in str(operator[0]["blocks"])
    mgmt = [c for c in slack.posts() if c.params["channel"] == "CMGMT"]
    assert len(mgmt) == 1, "the known crisis stopped escalating during the outage"

    proxy.start()  # 14:12: back; passes go on until the 14:15 bucket is complete and decided
    recovered_at = len(slack.messages)
    while clock() < T + timedelta(minutes=21):
        assert loop.pass_once().failed_stages == []
        clock.advance(seconds=30)
    reader = open_backend(f"opensearch://{osmem_clone.url.split('://', 1)[1]}")
    assert sum(1 for _ in reader.scan(MentionFilter())) == n and loop.index.spool.pending() == 0
    reader.close()
    after = slack.messages[recovered_at:]
    assert [m["text"] for m in after if "index" in (m["text"] or "")] and \
        any("answers again" in str(m["blocks"]) for m in after)
    opened = [m for m in after if not m["thread_ts"] and "负面声量异常" in (m["text"] or "")]
    assert opened, "the surge spooled during the outage was never detected and delivered"
    assert dispatcher.outbox.counts().get("pending", 0) == 0
    proxy.stop()
