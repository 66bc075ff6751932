"""Low-severity alerts wait for the digest or the end of quiet hours (team time zone); operator
alerts for blocked sources and flatlines go once to their own route; the dead-man check."""

from __future__ import annotations

import io
import subprocess
import sys
from datetime import UTC, datetime, timedelta

import yaml

from alerts.channels.console import ConsoleChannel
from alerts.dispatch import AlertDispatcher, quiet_until
from alerts.message import AlertMessage
from alerts.operator import OperatorAlerts
from crawlers.health import SPIDERS_OF_SOURCE
from crawlers.spiders import (
    jd_reviews,
    jutousu,
    tmall_reviews,
    tousu_sina,
    weibo_comments,
    weibo_search,
    weibo_timeline,
)
from crawlers.state import CrawlState
from crisiswatch.db import connect
from crisiswatch.localtime import local_time
from monitor.detectors.base import Signal
from monitor.incidents.service import IncidentService
from tests.conftest import REPO, config_dict
from tests.test_alert_helpers import Clock, make_config, open_incident

# 2025-06-14 23:30 in Shanghai
NIGHT = datetime(2025, 6, 14, 15, 30, tzinfo=UTC)


def low(n: int, severity: str = "一般") -> AlertMessage:
    return AlertMessage(kind="incident_opened", title=f"极光优选 小波动 (INC-{n})", severity=severity, brand="aurora",
                        summary=f"<!here> 4 vs 1.2 #{n}", incident_id=n, thread_key=f"incident:{n}")


def console_dispatcher(config, clock) -> tuple[AlertDispatcher, io.StringIO]:
    out = io.StringIO()
    return AlertDispatcher(config, connect(config.state_store), {"console": ConsoleChannel(out)}, clock=clock), out


def test_quiet_hours_hold_low_severity_until_morning_in_the_team_zone(tmp_path):
    config = make_config(tmp_path, routes=[{"name": "r", "channel": "console", "target": "#c"}],
                         quiet_hours={"start": "22:00", "end": "08:00", "max_severity": "一般"})
    assert quiet_until(config, NIGHT) == datetime(2025, 6, 15, 0, 0, tzinfo=UTC)  # 08:00 Shanghai
    assert quiet_until(config, datetime(2025, 6, 14, 3, 0, tzinfo=UTC)) is None   # 11:00 Shanghai
    clock = Clock(NIGHT)
    d, out = console_dispatcher(config, clock)
    d.enqueue("low", low(1))
    d.enqueue("grave", low(2, "紧急"))
    assert d.deliver_due() == (1, 0) and "INC-2" in out.getvalue() and "INC-1" not in out.getvalue()
    clock.advance(hours=8, minutes=29)
    assert d.deliver_due() == (0, 0)
    clock.advance(minutes=1)
    assert d.deliver_due() == (1, 0) and "INC-1" in out.getvalue()


def test_digest_gathers_low_alerts_into_one_message_on_schedule(tmp_path):
    config = make_config(tmp_path, routes=[{"name": "r", "channel": "console", "target": "#c"}],
                         digest={"enabled": True, "max_severity": "重要", "every_minutes": 60})
    clock = Clock(datetime(2025, 6, 14, 2, 0, tzinfo=UTC))
    d, out = console_dispatcher(config, clock)
    for n in range(1, 4):
        d.enqueue(f"a{n}", low(n, "重要" if n == 3 else "一般"))
        clock.advance(minutes=10)
    d.enqueue("grave", low(9, "重大"))
    assert d.deliver_due() == (1, 0)
    assert d.flush_digest() == 0            # the oldest has waited 30 minutes, not 60
    clock.advance(minutes=30)
    assert d.flush_digest() == 1 and d.flush_digest() == 0
    assert d.deliver_due() == (1, 0)
    digest = [r for r in d.outbox.all() if r.message.kind == "digest"][0]
    assert len(digest.message.facts["items"]) == 3 and digest.message.severity == "重要"
    assert d.outbox.counts() == {"digested": 3, "sent": 2}


def test_digest_renders_times_in_the_team_zone_and_escapes():
    from alerts.render import slack_blocks

    message = AlertMessage(kind="digest", title="舆情摘要", severity="一般", brand="aurora", summary="",
                           facts={"items": [{"at": "2025-06-14T02:05:00+00:00", "severity": "一般",
                                             "title": "<!channel> x", "summary": "s"}]})
    blob = str(slack_blocks(message))
    assert "06-14 10:05" in blob and "<!channel>" not in blob


def digest_of(count: int) -> AlertMessage:
    items = [{"at": "2025-06-14T02:05:00+00:00", "severity": "一般", "title": f"第{n}条 极光优选物流投诉集中出现",
              "summary": "负面声量高于基线 " + "快递延迟、客服不回复、" * 6} for n in range(count)]
    return AlertMessage(kind="digest", title="舆情摘要", severity="一般", brand="aurora", summary="",
                        facts={"items": items}, links={"仪表盘 Dashboard": "https://cw.example/?brand=aurora"})


def test_a_long_digest_shows_every_item_whole_or_says_how_many_it_leaves_out():
    from alerts.render import slack_blocks

    # the digest is its items' only delivery (they are marked digested): before, its one section was cut at
    # 2,900 characters, mid-line, and 22 of 40 items never reached Slack, without a word
    blocks = slack_blocks(digest_of(40))
    texts = [b["text"]["text"] for b in blocks if b["type"] == "section"]
    assert len(texts) > 1 and all(len(t) <= 3000 for t in texts)
    assert sum(f"第{n}条 " in "\n".join(texts) for n in range(40)) == 40
    assert not any("more lines not shown" in t for t in texts)
    huge = [b["text"]["text"] for b in slack_blocks(digest_of(2000)) if b["type"] == "section"]
    assert len(huge) <= 49 and all(len(t) <= 3000 for t in huge)
    shown = sum(t.count("第") for t in huge)
    assert huge[-1] == f"…另有 {2000 - shown} 行未显示 ({2000 - shown} more lines not shown)"


def test_a_wecom_digest_fits_the_robots_4096_bytes_with_its_link_and_the_count_left():
    from alerts.channels.wecom import markdown_body

    content = markdown_body(digest_of(200))  # Chinese: 3 bytes a character; 4,000 characters were 12,000 bytes
    assert len(content.encode("utf-8")) <= 4096
    lines = content.split("\n")
    assert lines[-1] == "[仪表盘 Dashboard](https://cw.example/?brand=aurora)"
    shown = sum(line.startswith("· \\[一般\\] 第") for line in lines)
    assert 0 < shown < 200 and lines[-2] == f"…另有 {200 - shown} 行未显示 ({200 - shown} more lines not shown)"


def test_blocked_sources_and_flatlines_alert_the_operator_once(tmp_path):
    config = make_config(tmp_path, operator_route={"name": "ops", "channel": "console", "target": "#ops"})
    d, out = console_dispatcher(config, Clock(datetime.now(UTC)))
    state = CrawlState(d.conn)
    state.record("weibo_search", "source_blocked", reason="captcha 432")
    state.record("weibo_search", "crawl_failed", error="x")
    ops = OperatorAlerts(config, d.conn, d)
    assert ops.check_health() == 1 and ops.check_health() == 0
    [event] = [e for e in state.events() if e.event == "source_blocked"]
    [alert] = d.outbox.all()  # when, in the team's zone as every line people read (it said UTC)
    assert alert.message.summary.endswith(f"at {local_time(event.at, config.alerts.timezone, '%Y-%m-%d %H:%M %Z')}")
    state.record("jd_reviews", "source_blocked", reason="login")
    assert OperatorAlerts(config, d.conn, d).check_health() == 1   # a restart resumes at the cursor
    state.record("weibo_timeline", "cookie_expired", reason="weibo_timeline cookie 2 expired at 14:02 UTC")
    assert ops.check_health() == 1
    open_incident(d.conn, rule="flatline")
    open_incident(d.conn, brand="aurora", rule="negative_spike")
    assert ops.check_flatlines() == 1 and ops.check_flatlines() == 0
    assert {r.target for r in d.outbox.all()} == {"#ops"}
    d.deliver_due()
    assert "captcha 432" in out.getvalue() and "flatline" in out.getvalue()
    assert "cookie 2 expired at 14:02" in out.getvalue()


def test_deadman_alerts_once_per_silence(tmp_path):
    config = make_config(tmp_path, deadman_minutes=10,
                         operator_route={"name": "ops", "channel": "console", "target": "#ops"})
    clock = Clock(datetime(2025, 6, 14, 2, 0, tzinfo=UTC))
    d, _ = console_dispatcher(config, clock)
    ops = OperatorAlerts(config, d.conn, d, clock=clock)
    ops.beat()
    clock.advance(minutes=9)
    assert ops.deadman_check() is None
    clock.advance(minutes=2)
    assert "11 min" in ops.deadman_check()
    ops.deadman_check()
    assert len(d.outbox.all()) == 1 and d.outbox.all()[0].message.severity == "紧急"


def test_deadman_check_command_exits_1_when_silent(tmp_path):
    data = config_dict(tmp_path)
    data["alerts"]["operator_route"] = {"name": "ops", "channel": "console", "target": "#ops"}
    cfg = tmp_path / "crisiswatch.yaml"
    cfg.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    conn = connect(data["state_db"])
    from crisiswatch.config import load_config

    config = load_config(str(cfg))
    OperatorAlerts(config, conn, AlertDispatcher(config, conn, {}),
                   clock=lambda: datetime.now(UTC) - timedelta(hours=1)).beat()
    proc = subprocess.run([sys.executable, "-m", "crisiswatch.cli", "--config", str(cfg), "alerts", "deadman-check"],
                          cwd=REPO, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 1 and "has not run for 60 min" in proc.stdout
    assert "监控循环停止" in proc.stdout   # the console operator route printed it


def test_alert_cycle_beats_escalates_and_reports_health(tmp_path):
    from alerts.cycle import alert_cycle
    from playbooks.paging import IncidentPaging

    config = make_config(tmp_path, routes=[{"name": "r", "channel": "console", "target": "#c"}],
                         operator_route={"name": "ops", "channel": "console", "target": "#ops"},
                         escalation_policies={"default": [{"after_minutes": 0, "notify": "<!subteam^S1>"}]})
    clock = Clock(datetime(2025, 6, 14, 2, 0, tzinfo=UTC))
    d, out = console_dispatcher(config, clock)
    from playbooks.paging import escalation_service

    escalation_service(config, d.conn, d, clock=clock).start(open_incident(d.conn).id, "default")
    CrawlState(d.conn).record("weibo_search", "source_blocked", reason="432")
    report = alert_cycle(config, d.conn, d, IncidentPaging(config, d.conn))
    # the page waits (up to 2 min) for the incident's own message, to thread under it
    assert len(report.escalations) == 1 and report.operator_alerts == 1 and report.sent == 1
    assert OperatorAlerts(config, d.conn, d).last_beat() == clock()
    clock.advance(minutes=2)
    assert alert_cycle(config, d.conn, d, IncidentPaging(config, d.conn)).sent == 1 and "<!subteam^S1>" in out.getvalue()


def _flatline(conn, source: str, at: datetime):
    signal = Signal(rule="flatline", key=f"source={source}", brand="", level="critical", at=at, value=0.0,
                    baseline=40.0, p_value=1e-15, summary=f"source {source}: 0 posts in the last 60 min vs 40 expected")
    return IncidentService(conn).apply(signal, cooldown=timedelta(minutes=60))


def test_a_flatline_names_its_source_says_what_its_crawls_say_and_clears_once(tmp_path):
    config = make_config(tmp_path, operator_route={"name": "ops", "channel": "console", "target": "#ops"})
    d, out = console_dispatcher(config, Clock(datetime.now(UTC)))
    state, incidents = CrawlState(d.conn), IncidentService(d.conn)
    run = state.start_run("weibo_search")
    state.record("weibo_search", "source_blocked", reason="weibo_search cookie 1 expired (ok:-100)",
                 status="cookie-expired")
    state.finish_run(run, "blocked", 0, 1)
    state.finish_run(state.start_run("tousu_sina"), "finished", 0, 3)  # crawled fine, found nothing
    ops = OperatorAlerts(config, d.conn, d)
    at = datetime(2025, 6, 14, 6, 0, tzinfo=UTC)
    weibo = _flatline(d.conn, "weibo", at).incident
    for minute in range(1, 30):  # the silence goes on: updates, not pages
        _flatline(d.conn, "weibo", at + timedelta(minutes=minute))
    _flatline(d.conn, "tousu_sina", at)
    assert ops.check_flatlines() == 2 and ops.check_flatlines() == 0
    paged = {r.message.title: r.message.summary for r in d.outbox.all()}
    assert set(paged) == {f"数据断流 flatline: weibo (INC-{weibo.id})", f"数据断流 flatline: tousu_sina (INC-{weibo.id + 1})"}
    assert "Its crawler is failing: weibo_search cookie-expired" in paged[f"数据断流 flatline: weibo (INC-{weibo.id})"]
    assert "finish cleanly" in paged[f"数据断流 flatline: tousu_sina (INC-{weibo.id + 1})"]

    incidents.resolve(weibo.id, at=at + timedelta(hours=3), reason="normal for 0:30:00")
    assert ops.check_flatlines() == 1 and ops.check_flatlines() == 0  # the all-clear, once
    [back] = [r.message for r in d.outbox.all() if "over" in r.message.title]
    assert back.title == f"数据恢复 flatline over: weibo (INC-{weibo.id})"
    assert "silent from 14:00 to 17:00" in back.summary and "3 h" in back.summary
    _flatline(d.conn, "weibo", at + timedelta(hours=3, minutes=20))  # silent again within the cooldown: reopened
    assert ops.check_flatlines() == 1 and "again" in d.outbox.all()[-1].message.title


def test_every_mention_source_is_read_against_the_spiders_that_bring_it():
    spiders = [weibo_search.WeiboSearchSpider, weibo_timeline.WeiboTimelineSpider, weibo_comments.WeiboCommentsSpider,
               jd_reviews.JdReviewsSpider, tmall_reviews.TmallReviewsSpider, tousu_sina.TousuSinaSpider,
               jutousu.JutousuSpider]
    brought: dict[str, set[str]] = {}
    for spider in spiders:
        brought.setdefault(spider.source, set()).add(spider.name)
    assert {k: set(v) for k, v in SPIDERS_OF_SOURCE.items() if k != "x"} == brought


def test_a_post_of_unknown_follower_count_says_so_in_the_alert():
    from alerts.render import slack_blocks

    # before: s.weibo.com's results give no count, and the alert said "0 粉丝" of a 2.3M-follower account
    posts = [{"author": "数码生活观察", "verified": True, "followers": None, "text": "极光优选快递多日未到",
              "created_at": "2025-06-14T02:05:00+00:00", "url": "https://weibo.com/1/A"},
             {"author": "小鹿", "followers": 12, "text": "快递五天没到", "created_at": "2025-06-14T02:06:00+00:00"}]
    message = AlertMessage(kind="incident", title="负面激增", severity="重要", brand="aurora", summary="s",
                           facts={"top_posts": posts})
    blob = str(slack_blocks(message))
    assert "*数码生活观察* ✔ (粉丝数未知)" in blob and "*小鹿* (12 粉丝)" in blob and "0 粉丝" not in blob
