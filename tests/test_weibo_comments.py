"""The comments spider on saved m.weibo.cn replies: hotflow paging on max_id, the comments/show
fallback, parent ids, block replies and a changed layout."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta

import pytest
from scrapy.exceptions import DropItem
from scrapy.http import Request, TextResponse
from twisted.python.failure import Failure

from crawlers.blocks import block_reason
from crawlers.pipelines import ValidationPipeline
from crawlers.spiders.weibo_comments import WeiboCommentsSpider
from crawlers.state import CrawlState
from crawlers.wiring import state_connection
from crisiswatch.config import parse_config
from crisiswatch.deadletter import DeadLetters
from crisiswatch.mention import Mention, mention_id
from tests.conftest import config_dict, fixture_response

MID = "5123400000000030"
URL = f"https://m.weibo.cn/comments/hotflow?id={MID}&mid={MID}&max_id_type=0"
META = {"brand": "aurora", "query": MID, "page": 1}
NO_REPLIES = {"replies": [0] * 60}  # replay comments without replies: these tests are about the comments


@pytest.fixture
def config(tmp_path):
    brands = [{"key": "aurora", "names": ["极光优选"], "sources": {"weibo_comments": [MID]}}]
    return parse_config(config_dict(tmp_path, brands=brands), str(tmp_path / "crisiswatch.yaml"))


def run(callback, fixture: str, **meta):
    return list(callback(fixture_response(fixture, URL, meta={**META, **meta})))


def split(out):
    return [o for o in out if isinstance(o, dict)], [o for o in out if isinstance(o, Request)]


def first_request(crawler):
    async def go():
        return [r async for r in crawler.spider.start()]
    return asyncio.run(go())


def test_targets_from_config_or_post_id(crawler_for):
    (request,) = first_request(crawler_for(WeiboCommentsSpider))
    assert request.url == URL and request.headers["Referer"] == f"https://m.weibo.cn/detail/{MID}".encode()
    (request,) = first_request(crawler_for(WeiboCommentsSpider, post_id="5000000000000777"))
    assert "id=5000000000000777&mid=5000000000000777" in request.url and request.meta["query"] == "5000000000000777"


def test_hotflow_page_yields_comments_and_replies_and_the_next_max_id(crawler_for):
    crawler = crawler_for(WeiboCommentsSpider)
    items, requests = split(run(crawler.spider.parse, "weibo/hotflow_p1.json"))
    assert [i["native_id"] for i in items] == ["5123400000100002", "5123400000100009", "5123400000100001"]
    first, reply, _ = (Mention.model_validate(i) for i in items)
    assert first.source == "weibo_comment" and first.parent_id == mention_id("weibo", MID)
    assert first.text == "我的订单已经第九天了，物流一直显示在分拣中心[委屈]" and first.engagement.likes == 318
    assert first.created_at == datetime(2025, 6, 14, 4, 40, 10, tzinfo=UTC) and first.extra["region"] == "来自浙江"
    assert reply.text == "回复@柚子不酸:同样，客服只会让等" and reply.extra["root_id"] == "5123400000100002"
    assert reply.author.followers == 15_000 and first.brands == ["aurora"] and first.query == MID
    replies, nxt = requests  # the first comment has 2 replies, 1 shown inline: the other is read from hotFlowChild
    assert replies.url == "https://m.weibo.cn/comments/hotFlowChild?cid=5123400000100002&max_id=0&max_id_type=0"
    assert nxt.url.endswith("max_id_type=0&max_id=4968123456788") and nxt.meta["page"] == 2
    assert nxt.headers["Referer"] == f"https://m.weibo.cn/detail/{MID}".encode()


def test_max_id_zero_ends(crawler_for):
    items, requests = split(run(crawler_for(WeiboCommentsSpider).spider.parse, "weibo/hotflow_last.json", page=7))
    assert [i["native_id"] for i in items] == ["5123400000100000"] and requests == []


@pytest.mark.parametrize("body", [b'{"ok":0,"msg":"\xe6\x9a\x82\xe6\x97\xa0"}', b"not json at all", b""])
def test_failed_hotflow_falls_back_to_comments_show(crawler_for, body):
    crawler = crawler_for(WeiboCommentsSpider)
    response = TextResponse(URL, body=body, encoding="utf-8", request=Request(URL, meta=dict(META)))
    (fallback,) = list(crawler.spider.parse(response))
    assert fallback.url == f"https://m.weibo.cn/api/comments/show?id={MID}&page=1"
    assert fallback.callback == crawler.spider.parse_show
    # past the first page a refusal just ends the post (what was read is kept)
    later = TextResponse(URL, body=body, encoding="utf-8", request=Request(URL, meta={**META, "page": 3}))
    assert list(crawler.spider.parse(later)) == []


@pytest.mark.parametrize(("callback", "page", "body", "lost"), [
    ("parse", 2, {"ok": 0, "msg": "还没有人评论哦~快来抢沙发！"}, False),
    ("parse", 2, {"ok": 0, "msg": "出错了"}, True),
    ("parse", 4, {"ok": 0}, True),
    ("parse_show", 1, {"ok": 0, "msg": "还没有人评论哦~快来抢沙发！"}, False),  # a post without comments
    ("parse_show", 1, {"ok": 0, "msg": "出错了"}, True),  # hotflow failed too: nothing else to read
    ("parse_show", 3, {"ok": 0, "errno": "20000", "msg": "出错了"}, True),
])
def test_past_the_first_hotflow_page_only_the_empty_list_ends(crawler_for, callback, page, body, lost):
    crawler = crawler_for(WeiboCommentsSpider)
    response = TextResponse(URL, body=json.dumps(body, ensure_ascii=False).encode(), encoding="utf-8",
                            request=Request(URL, meta={**META, "page": page}))
    assert list(getattr(crawler.spider, callback)(response)) == []
    assert bool(crawler.spider.lost_pages) == lost
    if lost:
        assert crawler.spider.lost_pages[0][0] == MID and "not an empty list" in crawler.spider.lost_pages[0][1]


def test_throttled_past_the_first_hotflow_page_blocks_and_keeps_the_mark(tmp_path):
    from crawlers.replay import ReplayServer
    from tests.replay_crawl import OFFICIAL, crawl, rows, scenario, write_config

    sc = scenario(datetime.now(UTC), [{"at": "26h", "author": OFFICIAL, "text": "极光优选公告", "comments": 25, "extra": NO_REPLIES}])
    mid = next(p.id for p in sc.posts if p.author.id == "2000000001")
    with ReplayServer(sc) as server:
        server.inject("max_id=", "throttled", times=0)
        cfg = write_config(tmp_path, "weibo_comments", server.base_url, {"weibo_comments": [mid]})
        out = crawl(cfg, "weibo_comments", ok=False)
        assert "BLOCKED: Weibo throttling (errno 100005" in out
        assert not [r for r in server.requests if "/api/comments/show" in r]
    db = tmp_path / "cw.db"
    assert rows(db, "SELECT reason FROM crawl_runs") == [("blocked",)]
    assert rows(db, "SELECT COUNT(*) FROM crawl_marks") == [(0,)]


def test_hotflow_error_falls_back_too(crawler_for):
    crawler = crawler_for(WeiboCommentsSpider)
    (request,) = first_request(crawler)
    failure = Failure(RuntimeError("HTTP 500 after retries"))
    failure.request = request
    (fallback,) = list(crawler.spider.hotflow_failed(failure))
    assert "/api/comments/show?" in fallback.url
    crawler.spider.blocked = "Weibo captcha (ok:-100)"  # a block pauses the source: no fallback request
    assert list(crawler.spider.hotflow_failed(failure)) == []


def test_comments_show_pages_until_max(crawler_for):
    crawler = crawler_for(WeiboCommentsSpider)
    now = datetime.now(UTC)
    items, requests = split(run(crawler.spider.parse_show, "weibo/comments_show_p1.json"))
    assert [i["native_id"] for i in items] == ["5123400000100003", "5123400000100004", "5123400000100005"]
    just, five, hot = (Mention.model_validate(i) for i in items)
    assert abs(just.created_at - now) < timedelta(seconds=5)
    assert abs(five.created_at - (now - timedelta(minutes=5))) < timedelta(seconds=5)
    assert five.extra["reply_to"] == "5123400000100003" and hot.author.verified and hot.engagement.likes == 1520
    assert [r.url for r in requests] == [f"https://m.weibo.cn/api/comments/show?id={MID}&page=2"]
    items, requests = split(run(crawler.spider.parse_show, "weibo/comments_show_p1.json", page=3))
    assert len(items) == 2 and requests == [], "page 3 of max 3 is the last (hot comments only on page 1)"
    assert run(crawler.spider.parse_show, "weibo/comments_show_empty.json", page=2) == []


def test_hotflow_is_sorted_by_likes_so_the_mark_never_stops_it(crawler_for):
    crawler = crawler_for(WeiboCommentsSpider)
    # every comment on the first page is older than the mark: the next page may still hold new ones
    CrawlState(state_connection(crawler)).advance_mark("weibo_comment", MID,
                                                       datetime(2025, 6, 14, 4, 45, tzinfo=UTC))
    items, requests = split(run(crawler.spider.parse, "weibo/hotflow_p1.json"))
    assert len(items) == 3 and [r.meta["page"] for r in requests if "/hotflow?" in r.url] == [2]
    assert not crawler.stats.get_value("crisiswatch/stopped_at_mark")


def test_comments_show_is_newest_first_and_stops_at_the_mark(crawler_for):
    crawler = crawler_for(WeiboCommentsSpider)
    CrawlState(state_connection(crawler)).advance_mark("weibo_comment", MID, datetime.now(UTC) + timedelta(hours=1))
    assert split(run(crawler.spider.parse_show, "weibo/comments_show_p1.json"))[1] == []
    assert crawler.stats.get_value("crisiswatch/stopped_at_mark") == 1


@pytest.mark.parametrize("marked", [False, True])
def test_a_hotflow_cap_leaves_the_mark_and_the_run_is_capped(crawler_for, marked):
    crawler = crawler_for(WeiboCommentsSpider, max_pages=2)
    if marked:
        CrawlState(state_connection(crawler)).advance_mark("weibo_comment", MID, datetime(2025, 6, 14, tzinfo=UTC))
    assert [r for r in split(run(crawler.spider.parse, "weibo/hotflow_p1.json", page=2))[1]
            if "/comments/hotflow?" in r.url] == []
    # sorted by likes, the unread pages may hold new comments even on a first crawl: the mark must stay
    assert crawler.spider.capped == {MID} and crawler.spider.lost_queries == {MID}


def test_changed_layout_is_dead_lettered_and_the_rest_goes_on(crawler_for):
    crawler = crawler_for(WeiboCommentsSpider)
    items, _ = split(run(crawler.spider.parse, "weibo/hotflow_layout_changed.json"))
    pipeline = ValidationPipeline.from_crawler(crawler)
    with pytest.raises(DropItem, match="created_at"):
        pipeline.process_item(items[0])
    assert pipeline.process_item(items[1]).text == "这一条还是旧字段"
    assert DeadLetters(state_connection(crawler)).recent()[0].payload["native_id"] == "5123400000100077"
    (event,) = CrawlState(state_connection(crawler)).events()
    assert event.event == "layout_changed" and event.detail["reason"] == "comments lack id, text or created_at"
    # one event a crawl, and comments/show says it too
    crawler = crawler_for(WeiboCommentsSpider)
    renamed = TextResponse(URL, encoding="utf-8", request=Request(URL, meta={**META}), body=json.dumps(
        {"ok": 1, "data": {"data": [{"id": 5123400000100078, "created_at": "刚刚", "text_raw": "改名了"}], "max": 1}},
        ensure_ascii=False).encode())
    assert len(list(crawler.spider.parse_show(renamed))) == 1
    assert crawler.stats.get_value("crisiswatch/layout_changed") == 1


@pytest.mark.parametrize(("fixture", "status", "body", "expected"), [
    ("weibo/captcha_limit.json", 200, None, "captcha"),
    ("weibo/login_required.json", 200, None, "login required"),
    ("weibo/throttled.json", 200, None, "Weibo throttling (errno 100005"),
    ("", 432, None, "432"),
    ("", 418, None, "418"),
    ("", 200, "<html><head><title>微博</title></head><body>请登录</body></html>".encode(), "HTML"),
])
def test_block_replies_on_hotflow(crawler_for, fixture, status, body, expected):
    spider = crawler_for(WeiboCommentsSpider).spider
    response = fixture_response(fixture, URL, status=status)
    if body is not None:
        response = response.replace(body=body)
    assert expected in block_reason(response, expects_json=spider.expects_json)


def test_incremental_crawl_and_fallback_over_the_replay_server(tmp_path):
    from crawlers.replay import ReplayServer
    from tests.replay_crawl import OFFICIAL, Clock, crawl, rows, scenario, write_config

    # comments/show prints relative times ("5分钟前"): the replay clock ends the test near real time
    anchor = datetime.now(UTC).replace(microsecond=0) + timedelta(hours=2)
    events = [{"at": "26h", "author": OFFICIAL, "text": "极光优选关于配送延迟的说明", "comments": 40, "extra": NO_REPLIES}]
    sc = scenario(anchor, events)
    mid = next(p.id for p in sc.posts if p.author.id == "2000000001")
    clock = Clock(anchor - timedelta(hours=4) + timedelta(minutes=90, seconds=30))  # 30 of 40 comments out
    db = tmp_path / "cw.db"
    with ReplayServer(sc, clock=clock) as server:
        cfg = write_config(tmp_path, "weibo_comments", server.base_url, {"weibo_comments": [mid]})

        def hotflow(since: int) -> list[str]:
            return [r for r in server.requests[since:] if r.startswith("/comments/hotflow")]

        def stored() -> list[tuple]:
            return rows(db, "SELECT COUNT(*), COUNT(DISTINCT native_id) FROM mentions WHERE source='weibo_comment'")

        crawl(cfg, "weibo_comments")
        assert len(hotflow(0)) == 3 and "max_id=" in hotflow(0)[1] and stored() == [(30, 30)]
        parents = rows(db, "SELECT DISTINCT json_extract(doc, '$.parent_id') FROM mentions")
        assert parents == [(mention_id("weibo", mid),)]

        # hotflow lists by likes: every page is read each crawl (the upsert stores nothing twice)
        before = len(server.requests)
        crawl(cfg, "weibo_comments")
        assert hotflow(before)[0] == f"/comments/hotflow?id={mid}&mid={mid}&max_id_type=0"
        assert len(hotflow(before)) == 3 and stored() == [(30, 30)]

        clock.advance(minutes=30)  # ten more comments with few likes: hotflow's last page, all of it old before
        before = len(server.requests)
        crawl(cfg, "weibo_comments")
        assert len(hotflow(before)) == 4 and stored() == [(40, 40)]
        assert rows(db, "SELECT reason FROM crawl_runs ORDER BY id") == [("finished",)] * 3

        # hotflow refuses (ok:0): the same comments come from /api/comments/show, nothing twice
        server.inject("/comments/hotflow", "empty", times=0)
        before = len(server.requests)
        crawl(cfg, "weibo_comments")
        paths = [r.split("?")[0] for r in server.requests[before:]]
        assert paths[:2] == ["/comments/hotflow", "/api/comments/show"]
        # minute-rounded relative times may make the newest page look new: at most one known page more
        assert paths.count("/api/comments/show") <= 2 and len(paths) == len(set(server.requests[before:]))
        assert stored() == [(40, 40)]


def test_a_captcha_on_hotflow_pauses_the_source(tmp_path):
    from crawlers.replay import ReplayServer
    from tests.replay_crawl import OFFICIAL, crawl, rows, scenario, write_config

    sc = scenario(datetime.now(UTC), [{"at": "26h", "author": OFFICIAL, "text": "极光优选公告", "comments": 20, "extra": NO_REPLIES}])
    mid = next(p.id for p in sc.posts if p.author.id == "2000000001")
    with ReplayServer(sc) as server:
        server.inject("max_id=", "captcha")
        cfg = write_config(tmp_path, "weibo_comments", server.base_url, {"weibo_comments": [mid]})
        out = crawl(cfg, "weibo_comments", ok=False)
        assert "BLOCKED: Weibo captcha (ok:-100)" in out
        assert not [r for r in server.requests if "/api/comments/show" in r], "a block is not a hotflow failure"
    events = rows(tmp_path / "cw.db", "SELECT source, event FROM source_health")
    assert events == [("weibo_comments", "source_blocked")]
    # the page read before the block is kept, but the mark did not move: the next crawl re-reads it
    assert rows(tmp_path / "cw.db", "SELECT COUNT(*) FROM mentions") == [(10,)]
    assert rows(tmp_path / "cw.db", "SELECT COUNT(*) FROM crawl_marks") == [(0,)]


def test_a_post_with_more_hotflow_pages_than_max_pages_is_capped_and_keeps_its_mark(tmp_path):
    from crawlers.replay import ReplayServer
    from tests.replay_crawl import OFFICIAL, crawl, rows, scenario, write_config

    sc = scenario(datetime.now(UTC), [{"at": "26h", "author": OFFICIAL, "text": "极光优选公告", "comments": 25, "extra": NO_REPLIES}])
    mid = next(p.id for p in sc.posts if p.author.id == "2000000001")
    db = tmp_path / "cw.db"
    with ReplayServer(sc) as server:
        cfg = write_config(tmp_path, "weibo_comments", server.base_url, {"weibo_comments": [mid]}, max_pages=2)
        crawl(cfg, "weibo_comments")
        assert len([r for r in server.requests if r.startswith("/comments/hotflow")]) == 2
    assert rows(db, "SELECT reason, items FROM crawl_runs") == [("capped", 20)]
    assert rows(db, "SELECT COUNT(*) FROM crawl_marks") == [(0,)], "the next crawl's comments/show must not stop short"
