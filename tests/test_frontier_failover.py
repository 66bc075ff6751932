"""A crawler host killed mid-crawl neither stalls its source's shared crawl nor loses the page it had taken:
its heartbeat runs out, it is dropped from the crawl, and what it had taken goes back into the queue."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta

import pytest
import yaml
from scrapy import Request
from scrapy.spiders import Spider
from scrapy_redis.dupefilter import RFPDupeFilter
from scrapy_redis.queue import PriorityQueue

from crawlers.frontier import SharedCrawl
from crawlers.replay import ReplayServer
from crawlers.state import CrawlState
from crisiswatch.db import connect
from crisiswatch.lease import HOLDER_ENV
from crisiswatch.store.throwaway import ThrowawayRedis
from tests.conftest import REPO
from tests.replay_crawl import TOPICS, four_topics, rows
from tests.test_frontier import write_config

BEAT = 0.6


@pytest.fixture(scope="module")
def redis_server():
    server = ThrowawayRedis().start()
    yield server
    server.stop()


def crawl(url: str, member: str, join: bool) -> SharedCrawl:
    shared = SharedCrawl.from_url(url, "weibo_search", member, heartbeat=BEAT)
    shared.begin(join=join)
    return shared


def test_a_killed_member_is_dropped_and_the_page_it_had_taken_is_read_by_another(redis_server, caplog):
    url = redis_server.url(3)
    a, b = crawl(url, "host-a", join=False), crawl(url, "host-b", join=True)
    queue = PriorityQueue(a.r, Spider("weibo_search"), a.key("requests"))
    page = Request("https://m.weibo.cn/api/container/getIndex?page=2")
    seen = RFPDupeFilter(a.r, key=a.key("dupefilter"))
    assert not seen.request_seen(page)  # queued once, as the scheduler does
    queue.push(page)
    raw, _ = b.take()  # host b takes the page ...
    assert queue._decode_request(raw).url == page.url and b.in_flight() == 1 and a.pending() == 0
    b.stop_beating()  # ... and is killed (kill -9: no idle, no leave)
    assert not a.idle()  # b may still add pages: a waits
    time.sleep(BEAT + 0.3)
    assert not a.idle()  # b is dropped: its page is queued again, past the duplicate filter
    assert a.pending() == 1 and b.in_flight() == 0
    taken, token = a.take()
    assert queue._decode_request(taken).url == page.url
    a.done(token)
    assert a.idle()  # every live member idle, the queue empty: the crawl is done
    assert a.leave()  # the last host, though b never left
    _, _, unclean = a.outcome()
    assert unclean == ["host-b: stopped beating without leaving (killed or cut off)"]  # marks stay
    a.close()
    said = [r.getMessage() for r in caplog.records if "stopped beating" in r.getMessage()]
    assert len(said) == 1 and "member host-b stopped beating" in said[0] and "1 request(s)" in said[0]
    assert not a.r.keys("crisiswatch:frontier:weibo_search:*")


def test_the_next_crawl_does_not_join_one_whose_members_are_all_gone(redis_server, caplog):
    url = redis_server.url(4)
    old = [crawl(url, "host-a", join=False), crawl(url, "host-b", join=True)]
    for member in old:
        member.stop_beating()
    time.sleep(BEAT + 0.3)
    joiner = crawl(url, "host-c", join=True)  # nothing alive to join: an empty crawl of its own
    assert joiner.crawl_id != old[0].crawl_id and joiner.idle() and joiner.leave()
    seeder = crawl(url, "host-d", join=False)
    assert seeder.seeder and seeder.crawl_id != old[0].crawl_id and seeder.idle()
    assert "every member is gone" in caplog.text
    assert not seeder.r.keys(f"crisiswatch:frontier:weibo_search:{old[0].crawl_id}:*")  # the stale crawl's keys
    seeder.close()


def test_a_host_that_leaves_puts_back_what_it_had_not_finished(redis_server):
    url = redis_server.url(5)
    a, b = crawl(url, "host-a", join=False), crawl(url, "host-b", join=True)
    PriorityQueue(a.r, Spider("weibo_search"), a.key("requests")).push(Request("https://m.weibo.cn/x"))
    assert b.take() is not None
    assert not b.leave()  # b is blocked and closes: host a reads its page
    assert a.pending() == 1
    a.close()


@pytest.mark.timeout(240)
def test_a_crawl_host_killed_mid_crawl_stalls_nothing_and_loses_nothing(tmp_path, redis_server):
    scenario = four_topics(datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(minutes=5), rate=3)
    expected = {p.id for p in scenario.posts}
    frontier = redis_server.url(6)
    state_url = f"sqlite:///{tmp_path / 'cw.db'}"
    with ReplayServer(scenario) as server:
        cfg = write_config(tmp_path, server.base_url, frontier, state_url, delay=0.3)
        data = yaml.safe_load(cfg.read_text(encoding="utf-8"))
        data["crawl"]["frontier_heartbeat_seconds"] = 1.5
        cfg.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
        command = [sys.executable, "-m", "crisiswatch.cli", "--config", str(cfg), "crawl", "weibo_search"]

        def start(member: str, *extra: str) -> subprocess.Popen:
            return subprocess.Popen([*command, *extra], cwd=REPO, env={**os.environ, HOLDER_ENV: member},
                                    stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

        seeder = start("host-a")
        joiner = None
        try:
            shared = SharedCrawl.from_url(frontier, "weibo_search")
            deadline = time.monotonic() + 60
            while shared.current() is None and time.monotonic() < deadline and seeder.poll() is None:
                time.sleep(0.05)
            shared.crawl_id = shared.current()
            joiner = start("host-b", "--join")
            while not shared.in_flight("host-b") and time.monotonic() < deadline and joiner.poll() is None:
                time.sleep(0.02)
            assert shared.in_flight("host-b"), "the joining host never took a page"
            joiner.send_signal(signal.SIGKILL)  # mid-page: no idle, no contribution, no leave
            joiner.wait(10)
            out, err = seeder.communicate(timeout=120)  # before: the seeder waited for host b forever
        finally:
            for p in (seeder, joiner):
                if p is not None and p.poll() is None:
                    p.kill()
        assert seeder.returncode == 0, err[-1500:]
        assert "member host-b stopped beating" in err and "request(s) it had taken put back into the queue" in err
        assert "ended unclean on host-b: stopped beating" in err  # what b had read but not written is lost: marks stay
        assert not shared.r.keys("crisiswatch:frontier:weibo_search:*")  # closed by the seeder
        assert all(CrawlState(connect(state_url)).mark("weibo", t) is None for t in TOPICS)
        # the next crawl (from the marks, which stayed) reads what b had read and not yet written
        out, err = start("host-c").communicate(timeout=120)
    stored = [r[0] for r in rows(tmp_path / "cw.db", "SELECT native_id FROM mentions")]
    assert sorted(stored) == sorted(expected)  # every post, none twice
    assert all(CrawlState(connect(state_url)).mark("weibo", t) is not None for t in TOPICS)
