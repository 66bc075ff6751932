"""Every way a crawl used to lose posts without saying so, each over the real crawl path.

A post dated 30 days ahead moved the crawl mark past the posts published after it; a lone surrogate
kept a post from being stored or dead-lettered; a 10 MB post marked its source blocked; a JSON array
where an object was expected, and a source answering HTTP 500 to everything, both ended "finished",
exit 0, with no health event.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from crawlers.health import source_health
from crawlers.pipelines import IndexPipeline
from crawlers.replay import ReplayServer
from crawlers.sanitize import MAX_TEXT
from crawlers.spiders.weibo_search import WeiboSearchSpider
from crisiswatch.db import connect
from tests import realsize
from tests.replay_crawl import Clock, crawl, rows, run_crawl, scenario, write_config
from tests.test_realsize import crawl_path, downloaded

QUERY = "极光优选"
SEARCH = "https://m.weibo.cn/api/container/getIndex?containerid=100103type%3D61%26q%3D极光优选&page=1"
META = {"brand": "aurora", "query": QUERY, "page": 1}


def stored_texts(db) -> dict[str, str]:
    return dict(rows(db, "SELECT native_id, json_extract(doc, '$.text') FROM mentions"))


def test_a_post_dated_30_days_ahead_does_not_hide_the_posts_after_it(tmp_path):
    # the first crawl runs at the site's "now"; the later posts appear in the next 6 hours
    anchor = datetime.now(UTC).replace(microsecond=0) + timedelta(hours=7)
    wrong_clock = {"at": "20h", "author": {"id": 1_900_000_077, "name": "时钟错了", "followers": 10},
                   "text": "极光优选的手机时间设错了", "extra": {"dated_ahead_hours": 30 * 24}}
    later = [{"at": f"{24 + i * 0.2:.1f}h", "author": {"id": 1_900_000_100 + i, "name": f"后来{i}", "followers": 5},
              "text": f"极光优选后来的第{i}条"} for i in range(25)]
    clock = Clock(anchor - timedelta(hours=7))  # now: the 25 later posts are not out yet
    db = tmp_path / "cw.db"
    with ReplayServer(scenario(anchor, [wrong_clock, *later], crowd_rate=1), clock=clock) as server:
        cfg = write_config(tmp_path, "weibo_search", server.base_url, {"weibo_search": [QUERY]})
        crawl(cfg, "weibo_search")
        (mark,) = rows(db, "SELECT newest_at FROM crawl_marks")[0]
        assert datetime.fromisoformat(mark) <= datetime.now(UTC) + timedelta(minutes=10)
        clock.advance(hours=7)
        crawl(cfg, "weibo_search")
    texts = stored_texts(db).values()
    assert sum("后来的第" in t for t in texts) == 25, "every post published after the wrong clock is read"


def test_a_pile_on_deeper_than_max_pages_is_read_on_by_the_next_crawl_not_skipped(tmp_path):
    anchor = datetime.now(UTC).replace(microsecond=0)  # the scenario ends now: the pile-on is 6 to 3 hours old
    pile_on = [{"at": f"{24 + i * 0.05:.2f}h", "author": {"id": 1_900_000_100 + i, "name": f"网友{i}", "followers": 5},
                "text": f"极光优选又出事了第{i}条"} for i in range(60)]
    clock = Clock(anchor - timedelta(hours=7))  # the pile-on is not out yet
    db = tmp_path / "cw.db"
    with ReplayServer(scenario(anchor, pile_on, crowd_rate=1), clock=clock) as server:
        cfg = write_config(tmp_path, "weibo_search", server.base_url, {"weibo_search": [QUERY]})
        crawl(cfg, "weibo_search")  # the first crawl: everything so far, and the mark
        clock.advance(hours=7)
        capped = run_crawl(cfg, "weibo_search", "--max-pages", "2")  # the pile-on holds more than two pages
        assert capped.returncode == 0, capped.stderr[-2000:]
        assert f"{QUERY!r} has more new posts than 2 pages hold" in capped.stderr
        assert rows(db, "SELECT reason FROM crawl_runs ORDER BY id DESC LIMIT 1") == [("capped",)]
        # a newest-first list: what the next crawl does about it, in the crawl's line and in status
        assert "1 query stopped at max_pages 2 (1 newest first: the next crawl reads down to its mark again)" in (
            capped.stdout), capped.stdout
        (health,) = [h for h in source_health(connect(db)) if h.source == "weibo_search"]
        assert f"stopped at max_pages 2: {QUERY!r} newest first: its mark stays" in health.reason, health.reason
        assert sum("又出事了" in t for t in stored_texts(db).values()) < 60
        crawl(cfg, "weibo_search")  # the next crawl reads on down to the mark the capped one kept
    assert sum("又出事了" in t for t in stored_texts(db).values()) == 60, "the posts past page 2 were skipped"


def test_a_lone_surrogate_is_replaced_and_the_post_stored(crawler_for, config):
    body, posts = realsize.weibo_search(20)
    page = json.loads(body)
    page["data"]["cards"][0]["mblog"]["text"] = "极光优选客服\ud83d说会处理"  # half an emoji pair
    broken = json.dumps(page, ensure_ascii=True).encode()  # as the site sends it: a "\ud83d" escape
    crawler = crawler_for(WeiboSearchSpider)
    mentions = crawl_path(crawler, downloaded(SEARCH, broken, "application/json", dict(META)),
                          extend={p.id: p.text for p in posts})
    index = IndexPipeline.from_crawler(crawler)
    for mention in mentions:
        index.process_item(mention)
    index.close_spider()
    first = stored_texts(config.resolve(config.state_db))[posts[0].id]
    assert first.startswith("极光优选客服\ufffd说会处理")
    assert crawler.stats.get_value("crisiswatch/sanitized") == 1
    assert len(stored_texts(config.resolve(config.state_db))) == len(mentions)


def test_a_10_mb_post_is_cut_flagged_and_stored_and_blocks_nothing(crawler_for, config):
    body, posts = realsize.weibo_search(20)
    page = json.loads(body)
    huge = "极光优选" + "刷屏" * 5_000_000  # 10 M characters, 30 MB of UTF-8
    page["data"]["cards"][0]["mblog"]["text"] = huge
    crawler = crawler_for(WeiboSearchSpider)
    mentions = crawl_path(crawler, downloaded(SEARCH, json.dumps(page, ensure_ascii=False).encode(),
                                              "application/json", dict(META)), extend={p.id: p.text for p in posts})
    index = IndexPipeline.from_crawler(crawler)
    for mention in mentions:
        index.process_item(mention)
    index.close_spider()
    stored = stored_texts(config.resolve(config.state_db))
    assert len(stored) == len(mentions) and len(stored[posts[0].id]) == MAX_TEXT
    (cut,) = rows(config.resolve(config.state_db), "SELECT json_extract(doc, '$.extra.truncated.text') FROM mentions"
                  " WHERE native_id=?", (posts[0].id,))[0]
    assert cut == len(huge) and crawler.stats.get_value("crisiswatch/truncated") == 1


def test_a_json_array_where_an_object_was_expected_fails_the_crawl(tmp_path):
    anchor = datetime.now(UTC).replace(microsecond=0)
    with ReplayServer(scenario(anchor, [])) as server:
        server.inject("page=2", "array")
        cfg = write_config(tmp_path, "weibo_search", server.base_url, {"weibo_search": [QUERY]})
        out = crawl(cfg, "weibo_search", ok=False)
    assert "FAILED: 1 of 2 pages lost (reply is a JSON list where an object was expected)" in out
    db = tmp_path / "cw.db"
    assert rows(db, "SELECT event FROM source_health ORDER BY id") == [("layout_changed",), ("crawl_failed",)]
    assert rows(db, "SELECT reason FROM crawl_runs") == [("failed",)]
    assert rows(db, "SELECT COUNT(*) FROM crawl_marks") == [(0,)], "the query is read again next time"


def test_a_source_answering_500_to_everything_fails_the_crawl(tmp_path):
    with ReplayServer(scenario(datetime.now(UTC), [])) as server:
        server.inject("/api/container/getIndex", "500", times=0)
        cfg = write_config(tmp_path, "weibo_search", server.base_url, {"weibo_search": [QUERY, "极光"]})
        out = crawl(cfg, "weibo_search", ok=False)
    assert "FAILED: every request failed (HTTP 500 x2)" in out
    (detail,) = rows(tmp_path / "cw.db", "SELECT detail FROM source_health WHERE event='crawl_failed'")[0]
    assert json.loads(detail)["reason"] == "every request failed (HTTP 500 x2)"
