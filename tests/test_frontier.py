"""Two crawler hosts on one Redis frontier split one crawl: every post once, none missed, marks moved
once, when the shared crawl is over; one account's cookie is never used by two hosts at once."""

from __future__ import annotations

import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import yaml

from crawlers.frontier import SharedCrawl
from crawlers.replay import ReplayServer
from crawlers.sessions import Session, SessionPool
from crawlers.state import CrawlState
from crisiswatch.db import connect
from crisiswatch.store.throwaway import ThrowawayRedis
from tests.conftest import REPO
from tests.replay_crawl import TOPICS, four_topics, rows


@pytest.fixture(scope="module")
def redis_server():
    server = ThrowawayRedis().start()
    yield server
    server.stop()


def write_config(tmp_path: Path, base_url: str, frontier: str, state_url: str, delay: float = 0.25) -> Path:
    db = tmp_path / "cw.db"
    cfg = tmp_path / "crisiswatch.yaml"
    cfg.write_text(yaml.safe_dump({
        "state": {"url": state_url}, "state_db": str(db),
        "index": {"url": f"sqlite:///{db}", "batch_size": 20},
        "crawl": {"frontier": frontier},
        "brands": [{"key": "aurora", "names": ["极光优选"], "sources": {"weibo_search": list(TOPICS)}}],
        "sources": {"weibo_search": {"base_url": base_url, "download_delay": delay, "max_pages": 1000}},
        "enrichment": {"sentiment_model": "crisiswatch"},
    }, allow_unicode=True), encoding="utf-8")
    return cfg


def crawler(cfg: Path, *extra: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "crisiswatch.cli", "--config", str(cfg), "crawl", "weibo_search",
                             *extra], cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def test_two_hosts_split_one_crawl_and_move_marks_once(tmp_path, redis_server):
    scenario = four_topics(datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(minutes=5))
    expected = {p.id for p in scenario.posts}
    frontier = redis_server.url(1)
    state_url = f"sqlite:///{tmp_path / 'cw.db'}"
    with ReplayServer(scenario) as server:
        cfg = write_config(tmp_path, server.base_url, frontier, state_url)
        seeder = crawler(cfg)
        shared = SharedCrawl.from_url(frontier, "weibo_search")
        deadline = time.monotonic() + 60
        while shared.current() is None and time.monotonic() < deadline and seeder.poll() is None:
            time.sleep(0.05)
        joiner = crawler(cfg, "--join")
        outs = [p.communicate(timeout=180) for p in (seeder, joiner)]
        assert [p.returncode for p in (seeder, joiner)] == [0, 0], [e[-1500:] for _, e in outs]
        pages = [int(out.split(" pages")[0].rsplit(" ", 1)[-1]) for out, _ in outs]
        assert all(n > 5 for n in pages), pages  # both hosts read a share of the pages
        page_urls = [r for r in server.requests if "getIndex" in r]
        assert len(page_urls) == len(set(page_urls)) == sum(pages)  # no page read twice
    db = tmp_path / "cw.db"
    stored = [r[0] for r in rows(db, "SELECT native_id FROM mentions")]
    assert sorted(stored) == sorted(expected)  # every post, none twice
    marks = CrawlState(connect(state_url))
    newest = max(p.created_at for p in scenario.posts)
    assert all(marks.mark("weibo", t) is not None for t in TOPICS)
    assert max(marks.mark("weibo", t) for t in TOPICS) == newest.replace(microsecond=0)
    assert shared.current() is None and not shared.r.keys("crisiswatch:frontier:weibo_search:*")  # cleared


def test_a_host_that_finds_no_crawl_to_join_leaves_at_once_and_moves_nothing(tmp_path, redis_server):
    scenario = four_topics(datetime.now(UTC).replace(second=0, microsecond=0), rate=2)
    state_url = f"sqlite:///{tmp_path / 'cw.db'}"
    with ReplayServer(scenario) as server:
        cfg = write_config(tmp_path, server.base_url, redis_server.url(2), state_url)
        out, err = crawler(cfg, "--join").communicate(timeout=120)
        assert "0 pages" in out, err[-1500:]
        assert not [r for r in server.requests if "getIndex" in r]
    assert all(CrawlState(connect(state_url)).mark("weibo", t) is None for t in TOPICS)


def test_a_cookie_is_leased_to_one_host_at_a_time(state_url):
    def pool() -> SessionPool:
        cookies = [Session(f"weibo_search cookie {n}", "env", {"SUB": str(n)}, fingerprint=f"fp{n}") for n in (1, 2)]
        return SessionPool("weibo_search", cookies, connect(state_url))

    first, second, third = pool(), pool(), pool()
    assert first.lease("host-a", timedelta(minutes=15)) == []
    assert len(second.lease("host-b", timedelta(minutes=15))) == 2  # both held by host a
    first.release()
    assert second.lease("host-b", timedelta(minutes=15)) == []
    assert [s.label for s in second.live] == ["weibo_search cookie 1", "weibo_search cookie 2"]
    assert third.lease("host-c", timedelta(minutes=15)) == ["weibo_search cookie 1", "weibo_search cookie 2"]
    assert third.next() is None and "in use by another crawler host" in third.exhausted_line()


def test_a_frontier_that_does_not_answer_is_one_line_and_no_crawl(tmp_path):
    import socket

    with socket.socket() as sock:  # a port nothing listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    scenario = four_topics(datetime.now(UTC).replace(second=0, microsecond=0), rate=2)
    with ReplayServer(scenario) as server:
        cfg = write_config(tmp_path, server.base_url, f"redis://:s3cret@127.0.0.1:{port}/0",
                           f"sqlite:///{tmp_path / 'cw.db'}")
        proc = crawler(cfg)
        out, err = proc.communicate(timeout=120)
        assert not [r for r in server.requests if "getIndex" in r]
    assert proc.returncode == 1, (out, err[-1500:])
    lines = [line for line in (out + err).splitlines() if line.strip()]
    assert len(lines) == 1 and "crawl frontier" in lines[0] and "does not answer" in lines[0], lines[:5]
    assert "s3cret" not in out + err and "Unhandled error" not in err
