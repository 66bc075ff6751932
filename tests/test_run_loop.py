"""The run loop's scheduling: which sources run, and backing off a blocked source."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from crisiswatch.config import parse_config
from crisiswatch.db import connect
from crisiswatch.lease import HOLDER_ENV
from monitor.loop import Scheduler, blocked_backoff, collect_command, configured_spiders
from tests.fake_crawls import crawls


def test_only_sources_with_targets_run_and_x_needs_its_token(tmp_path, monkeypatch):
    config = parse_config({"brands": [{"key": "a", "names": ["极光"], "sources": {
        "weibo_search": ["极光"], "jd_reviews": ["100012"], "x": ["极光 -is:retweet"]}}],
        "sources": {"jd_reviews": {"enabled": False}}})
    monkeypatch.delenv("X_BEARER_TOKEN", raising=False)
    assert configured_spiders(config) == ["weibo_search"]
    monkeypatch.setenv("X_BEARER_TOKEN", "t")
    assert configured_spiders(config) == ["weibo_search", "x"]
    assert collect_command("x") == ["collect", "x"] and collect_command("jutousu") == ["crawl", "jutousu"]


def test_x_queries_without_the_token_are_said_at_start_not_skipped_in_silence(tmp_path, monkeypatch, caplog):
    import io
    import logging

    from alerts.channels.console import ConsoleChannel
    from alerts.dispatch import AlertDispatcher
    from monitor.loop import RunLoop

    config = parse_config({"state_db": str(tmp_path / "s.db"), "index": {"url": f"sqlite:///{tmp_path / 's.db'}"},
                           "brands": [{"key": "a", "names": ["极光"], "sources": {"x": ["极光 -is:retweet"]}}]})
    monkeypatch.delenv("X_BEARER_TOKEN", raising=False)
    conn = connect(config.state_store)
    with caplog.at_level(logging.WARNING, logger="monitor.loop"):
        RunLoop(config, None, conn, AlertDispatcher(config, conn, {"console": ConsoleChannel(io.StringIO())}))
    assert "X queries are configured (brands[].sources.x) but $X_BEARER_TOKEN is not set: X is not collected" in [
        r.getMessage() for r in caplog.records]
    slack_routed = parse_config({**config.model_dump(), "alerts": {"routes": [
        {"name": "response", "channel": "slack", "target": "#crisis"}]}})
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="monitor.loop"):  # an on-call team reads Slack, not this log
        RunLoop(slack_routed, None, conn, AlertDispatcher(slack_routed, conn, {"console": ConsoleChannel(io.StringIO())}))
    assert "route 'response' is slack but $SLACK_BOT_TOKEN is not set: its new alerts print to this process's " \
           "console" in [r.getMessage() for r in caplog.records]


def test_a_failing_source_backs_off_exponentially(monkeypatch, tmp_path):
    now = [datetime(2025, 6, 14, tzinfo=UTC)]
    config = parse_config({"brands": [{"key": "a", "names": ["极光"], "sources": {"weibo_search": ["极光"]}}],
                           "sources": {"weibo_search": {"schedule_minutes": 10}}})
    scheduler = Scheduler(config, None, connect(tmp_path / "s.db"), now=lambda: now[0])
    codes = iter([1, 1, 0])
    workers = []  # whose name each crawl's leases carry
    monkeypatch.setattr("monitor.loop.subprocess.Popen",
                        crawls(lambda cmd, env: workers.append(env[HOLDER_ENV]) or next(codes)))
    assert scheduler.due() == ["weibo_search"]
    scheduler.crawl("weibo_search")
    assert scheduler.next_at("weibo_search") - now[0] == timedelta(minutes=15)
    assert scheduler.due() == [] and scheduler.crawl("weibo_search") is None  # not due: nobody crawls it
    now[0] = scheduler.next_at("weibo_search")
    scheduler.crawl("weibo_search")
    assert scheduler.next_at("weibo_search") - now[0] == timedelta(minutes=30)
    now[0] = scheduler.next_at("weibo_search")
    scheduler.crawl("weibo_search")  # recovered: back to its schedule
    assert scheduler.next_at("weibo_search") - now[0] == timedelta(minutes=10)
    assert workers == [scheduler.holder] * 3
    assert blocked_backoff(20) == timedelta(hours=6)


def test_run_needs_a_config_file_and_once_says_a_failed_crawl_by_its_exit(tmp_path, monkeypatch, caplog):
    import logging

    import yaml

    from crisiswatch.cli import main
    from tests.conftest import config_dict

    monkeypatch.chdir(tmp_path)  # an empty directory: the built-in defaults watch no brand
    assert main(["run", "--once"]) == 1
    cfg = tmp_path / "crisiswatch.yaml"
    cfg.write_text(yaml.safe_dump(config_dict(tmp_path), allow_unicode=True), encoding="utf-8")
    monkeypatch.setattr("monitor.loop.subprocess.Popen", crawls(lambda cmd, env: 1))  # weibo_search's crawl fails
    with caplog.at_level(logging.WARNING, logger="monitor.loop"):
        assert main(["--config", str(cfg), "run", "--once"]) == 1  # cron saw 0 after a failed crawl
    assert any(r.getMessage().startswith("weibo_search is backing off after 1 failed crawl(s): next try at")
               for r in caplog.records)
    monkeypatch.setattr("monitor.loop.subprocess.Popen", crawls(lambda cmd, env: 0))
    conn = connect(tmp_path / "cw.db")
    conn.execute("UPDATE crawl_schedule SET next_at=?", (datetime.now(UTC).isoformat(),))
    assert main(["--config", str(cfg), "run", "--once"]) == 0


def test_a_stop_asked_for_starts_no_crawl_and_blames_no_source(tmp_path, monkeypatch):
    config = parse_config({"brands": [{"key": "a", "names": ["极光"], "sources": {"weibo_search": ["极光"],
                                                                                "jd_reviews": ["100012"]}}]})
    asked = [False]
    crawled = []

    def crawl(cmd, env):  # Ctrl-C reaches the crawl's process group too: it ends non-zero
        crawled.append(cmd[-1])
        asked[0] = True
        return 2

    monkeypatch.setattr("monitor.loop.subprocess.Popen", crawls(crawl))
    now = datetime(2025, 6, 14, tzinfo=UTC)
    scheduler = Scheduler(config, None, connect(tmp_path / "s.db"), now=lambda: now, stopping=lambda: asked[0])
    assert scheduler.crawl("weibo_search") == 2
    # it was counted as the source's failure and backed off 15 minutes
    assert scheduler.state.next_crawl("weibo_search") == (now, 0)
    assert scheduler.backing_off() == []
    scheduler.stopping = lambda: False
    assert scheduler.crawl("jd_reviews") == 2  # a failure of the source's own: it backs off, said in the team's zone
    assert scheduler.backing_off() == ["jd_reviews is backing off after 1 failed crawl(s): next try at 08:15 CST"]
    import io

    from alerts.channels.console import ConsoleChannel
    from alerts.dispatch import AlertDispatcher
    from monitor.loop import RunLoop

    crawled.clear()
    conn = connect(tmp_path / "s.db")
    loop = RunLoop(config, None, conn, AlertDispatcher(config, conn, {"console": ConsoleChannel(io.StringIO())}),
                   role="crawl", clock=lambda: now, stopping=lambda: True)
    assert loop.pass_once().failed_stages == [] and crawled == []  # jd_reviews was begun after the Ctrl-C


def test_a_hung_crawl_is_stopped_after_its_timeout_and_counts_as_failed(tmp_path, monkeypatch, caplog):
    import logging

    config = parse_config({"brands": [{"key": "a", "names": ["极光"], "sources": {"weibo_search": ["极光"]}}],
                           "crawl": {"timeout_minutes": 0.01}})
    now = datetime(2025, 6, 14, tzinfo=UTC)
    scheduler = Scheduler(config, None, connect(tmp_path / "s.db"), now=lambda: now)
    monkeypatch.setattr("monitor.loop.subprocess.Popen", crawls(lambda cmd, env: 0, seconds=3600))  # never ends
    with caplog.at_level(logging.ERROR, logger="monitor.loop"):
        # it waited for ever, holding its lease and the loop's other stages
        assert scheduler.crawl("weibo_search") == 124
    assert "weibo_search crawl still running after 0.01 minutes (crawl.timeout_minutes): stopped" in caplog.text
    assert scheduler.state.next_crawl("weibo_search") == (now + timedelta(minutes=15), 1)  # backed off


def test_alerts_go_out_while_a_long_crawl_runs(tmp_path, monkeypatch):
    import io

    from alerts.channels.console import ConsoleChannel
    from alerts.dispatch import AlertDispatcher
    from alerts.message import AlertMessage
    from monitor.loop import RunLoop

    config = parse_config({"brands": [{"key": "a", "names": ["极光"], "sources": {"weibo_search": ["极光"]}}],
                           "alerts": {"routes": [{"name": "crisis", "channel": "console", "target": "#crisis"}]}},
                          str(tmp_path / "crisiswatch.yaml"))
    conn = connect(tmp_path / "s.db")
    out = io.StringIO()
    dispatcher = AlertDispatcher(config, conn, {"console": ConsoleChannel(out)})
    dispatcher.enqueue("inc-1", AlertMessage(kind="incident_opened", title="负面激增 极光", severity="紧急", brand="a",
                                             summary="十分钟内 400 条负面"))
    seen_while_crawling = []
    monkeypatch.setattr("monitor.loop.subprocess.Popen", crawls(
        lambda cmd, env: 0, seconds=1.5, at_end=lambda: seen_while_crawling.append("负面激增" in out.getvalue())))
    loop = RunLoop(config, None, conn, dispatcher)
    loop.scheduler.meanwhile_seconds = 0.2
    loop.pass_once()
    # the alert waited for the crawl to end (an hour, for a hung one)
    assert seen_while_crawling == [True]


def test_joining_a_shared_crawl_is_bounded_like_a_crawl(tmp_path, monkeypatch):
    config = parse_config({"brands": [{"key": "a", "names": ["极光"], "sources": {"weibo_search": ["极光"]}}],
                           "crawl": {"timeout_minutes": 0.01}})
    scheduler = Scheduler(config, None, connect(tmp_path / "s.db"))
    commands = []
    monkeypatch.setattr("monitor.loop.subprocess.Popen", crawls(lambda cmd, env: commands.append(cmd) or 0))
    assert scheduler.join("weibo_search") == 0 and commands[-1][-2:] == ["weibo_search", "--join"]
    monkeypatch.setattr("monitor.loop.subprocess.Popen", crawls(lambda cmd, env: 0, seconds=3600))
    assert scheduler.join("weibo_search") == 124  # it waited as long as the shared crawl hung
