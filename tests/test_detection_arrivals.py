"""Detection counts the posts a crawl brings: a minute is decided once every source has been crawled past it,
and a post that arrives after its minute was decided is said, not lost without a word."""

from __future__ import annotations

import io
import logging
from datetime import UTC, datetime, timedelta

import yaml

from alerts.channels.console import ConsoleChannel
from alerts.dispatch import AlertDispatcher
from crisiswatch.cli import main
from crisiswatch.config import parse_config
from crisiswatch.db import connect
from crisiswatch.mention import Mention
from index import open_backend
from monitor.detection import DetectionService, detector_state
from monitor.incidents.service import IncidentService
from monitor.loop import RunLoop, Scheduler
from tests.conftest import config_dict
from tests.fake_crawls import crawls
from tests.test_alert_helpers import Clock

T = datetime(2025, 6, 14, 6, 0, tzinfo=UTC)  # 14:00 in Asia/Shanghai


def posts(first: int, count: int, at: datetime, sentiment: float, source: str = "weibo") -> list[Mention]:
    return [Mention(source=source, native_id=str(n), text=f"极光优选 第{n}条", created_at=at + timedelta(seconds=n % 50),
                    brands=["aurora"], sentiment=sentiment, author={"id": f"u{n}", "followers": 10})
            for n in range(first, first + count)]


def quiet_day(backend, until: datetime) -> int:
    """Two neutral posts every quarter hour for a day before `until`; returns the next post number."""
    n = 0
    for quarter in range(96):
        backend.upsert(posts(n, 2, until - timedelta(days=1) + timedelta(minutes=15 * quarter), 0.6))
        n += 2
    return n


def crawl_run(conn, spider: str, started: datetime, reason: str = "finished") -> None:
    conn.execute("INSERT INTO crawl_runs(source, started_at, finished_at, reason) VALUES (?,?,?,?)",
                 (spider, started.isoformat(), started.isoformat(), reason))


def test_a_surge_a_crawl_brings_is_detected_though_its_minutes_had_passed(tmp_path, monkeypatch):
    data = config_dict(tmp_path)  # weibo_search has a target, crawled every 15 minutes
    config = parse_config(data, str(tmp_path / "crisiswatch.yaml"))
    conn = connect(config.state_store)
    backend = open_backend(config.index.url)
    n = quiet_day(backend, T)
    clock = Clock(T)
    published: list[Mention] = []  # on the site, waiting for the next crawl

    def crawl(cmd, env):  # the crawl process: brings what the site published before it began
        brought = [m for m in published if m.created_at < clock()]
        backend.upsert(brought)
        published[:] = [m for m in published if m not in brought]
        crawl_run(conn, "weibo_search", clock())
        return 0

    monkeypatch.setattr("monitor.loop.subprocess.Popen", crawls(crawl))
    dispatcher = AlertDispatcher(config, conn, {"slack": ConsoleChannel(io.StringIO())}, clock=clock)
    loop = RunLoop(config, None, conn, dispatcher, clock=clock)
    loop.pass_once()  # 14:00: the first crawl, then the quiet day decided
    assert DetectionService(config, backend, conn).checkpoint == T

    for minute in range(1, 15):  # a pile-on on the site between two crawls, 40 angry posts a minute
        published += posts(n, 40, T + timedelta(minutes=minute), 0.03)
        n += 40
    while clock() < T + timedelta(minutes=14, seconds=30):  # passes every 30 s: no crawl is due
        clock.advance(seconds=30)
        loop.pass_once()
    # nothing since 14:00 is in the index yet, so nothing since 14:00 is decided
    assert DetectionService(config, backend, conn).checkpoint == T
    assert IncidentService(conn).list(status="open") == []

    clock.advance(seconds=30)  # 14:15: the next crawl brings the pile-on
    loop.pass_once()
    opened = IncidentService(conn).list(status="open")
    assert [i.brand for i in opened] == ["aurora"], "the pile-on the crawl brought was never counted"
    assert opened[0].opened_at == T + timedelta(minutes=1)  # from the pile-on's first minute, not its last
    assert detector_state(conn, "late").get("total", 0) == 0


def test_a_blocked_source_holds_detection_back_no_longer_than_max_wait(tmp_path):
    config = parse_config(config_dict(tmp_path, brands=[
        {"key": "aurora", "names": ["极光优选"], "sources": {"weibo_search": ["极光优选"], "jutousu": ["极光优选"]}}],
        detection={"max_wait_minutes": 20}), str(tmp_path / "crisiswatch.yaml"))
    conn = connect(config.state_store)
    scheduler = Scheduler(config, None, conn, now=lambda: T)
    assert scheduler.collected_until() == T - timedelta(minutes=20)  # nothing crawled yet
    crawl_run(conn, "weibo_search", T - timedelta(minutes=3))
    crawl_run(conn, "jutousu", T - timedelta(minutes=12))
    crawl_run(conn, "jutousu", T - timedelta(minutes=1), reason="blocked")  # brought nothing for sure
    assert scheduler.collected_until() == T - timedelta(minutes=12)
    crawl_run(conn, "jutousu", T - timedelta(minutes=50))  # an older clean crawl changes nothing
    assert scheduler.collected_until() == T - timedelta(minutes=12)
    conn.execute("DELETE FROM crawl_runs WHERE source='jutousu' AND reason='finished'")
    crawl_run(conn, "jutousu", T - timedelta(minutes=45))  # blocked for three quarters of an hour
    assert scheduler.collected_until() == T - timedelta(minutes=20)


def test_posts_that_arrive_after_their_minutes_were_decided_are_said_once(tmp_path, caplog, capsys):
    data = config_dict(tmp_path)
    cfg = tmp_path / "crisiswatch.yaml"
    cfg.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    config = parse_config(data, str(cfg))
    conn = connect(config.state_store)
    backend = open_backend(config.index.url)
    n = quiet_day(backend, T)
    detection = DetectionService(config, backend, conn)
    detection.advance(T + timedelta(minutes=10))
    backend.upsert(posts(n, 5, T + timedelta(minutes=2), 0.2, source="jutousu")
                   + posts(n + 5, 3, T - timedelta(hours=2), 0.5))  # complaints published after review; a slow page
    backend.upsert(posts(n + 8, 4, T + timedelta(minutes=10), 0.5))  # on time: its minute is not decided yet
    with caplog.at_level(logging.WARNING, logger="monitor.late_arrivals"):
        DetectionService(config, backend, conn).advance(T + timedelta(minutes=11))
    said = [r.getMessage() for r in caplog.records if r.name == "monitor.late_arrivals"]
    assert len(said) == 1 and said[0].startswith("8 post(s) reached the index after detection had decided"), said
    assert "jutousu 5, weibo 3" in said[0] and "created from 06-14 04:00 UTC" in said[0]
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="monitor.late_arrivals"):
        DetectionService(config, backend, conn).advance(T + timedelta(minutes=12))
    assert not [r for r in caplog.records if r.name == "monitor.late_arrivals"]  # said once, not every pass

    assert main(["--config", str(cfg), "status"]) == 0
    out = capsys.readouterr().out
    assert "detection: decided up to 06-14 14:12 · 8 post(s) arrived after their minutes were decided" \
           " (jutousu 5, weibo 3), not counted by the detectors" in out, out



def test_a_crawlers_backlog_is_no_volume_spike_but_the_anger_it_holds_is_found(tmp_path):
    """Weibo's crawler is down three hours while complaints pile up; its backlog arrives at once. The
    detectors had decided those minutes without it: no false spike from the backlog, and the turn in tone
    it holds becomes a negative_share incident saying the posts came late, from when."""
    config = parse_config(config_dict(tmp_path), str(tmp_path / "crisiswatch.yaml"))
    conn = connect(config.state_store)
    backend = open_backend(config.index.url)
    n = quiet_day(backend, T)
    DetectionService(config, backend, conn).advance(T)
    for minutes in range(5, 185, 5):  # the crawler is down: detection moves on max_wait_minutes behind
        DetectionService(config, backend, conn).advance(T + timedelta(minutes=minutes))
    backlog = []
    for quarter in range(12):  # 14:00-17:00 CST: six posts a quarter hour, four of them angry
        at = T + timedelta(minutes=15 * quarter)
        backlog += posts(n, 4, at, 0.03) + posts(n + 4, 2, at, 0.6)
        n += 6
    backend.upsert(backlog)
    changes = DetectionService(config, backend, conn).advance(T + timedelta(minutes=190))
    opened = [c.incident for c in changes if c.kind == "opened"]
    assert [i.rule for i in opened] == ["negative_share"], [(i.rule, i.summary) for i in opened]
    facts = opened[0].facts
    assert facts["late"] is True and (facts["negative"], facts["total"]) == (48, 72)
    assert "arrived late" in opened[0].summary and "06-14 14:00-17:00 CST" in opened[0].summary
    # explained by the backlog's three hours (its posts, terms, sources), not by the half hour before detection
    assert facts["window"] == {"since": T.isoformat(), "until": (T + timedelta(hours=3)).isoformat()}
    assert facts["mentions"] == 72 and facts["top_posts"]
    again = DetectionService(config, backend, conn).advance(T + timedelta(minutes=195))
    assert not [c for c in again if c.kind == "opened"], "the backlog was judged twice"


def test_a_complaint_site_that_always_publishes_late_and_negative_is_no_news(tmp_path):
    """jutousu's complaints are all negative, on time or after review: a late batch of them is judged against
    jutousu's own share, not against a brand mostly neutral on Weibo."""
    config = parse_config(config_dict(tmp_path), str(tmp_path / "crisiswatch.yaml"))
    conn = connect(config.state_store)
    backend = open_backend(config.index.url)
    n = quiet_day(backend, T)
    for quarter in range(96):  # a complaint every quarter hour all day, on time
        backend.upsert(posts(n, 1, T - timedelta(days=1) + timedelta(minutes=15 * quarter), 0.03, source="jutousu"))
        n += 1
    DetectionService(config, backend, conn).advance(T)
    DetectionService(config, backend, conn).advance(T + timedelta(minutes=10))
    backend.upsert(posts(n, 30, T - timedelta(hours=3), 0.03, source="jutousu"))  # published after review
    changes = DetectionService(config, backend, conn).advance(T + timedelta(minutes=20))
    assert not [c for c in changes if c.kind == "opened"], [c.incident.summary for c in changes]
