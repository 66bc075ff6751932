"""The brand-account timeline spider on saved m.weibo.cn replies: paging by since_id, pinned posts,
long-text expansion, the last page, block replies and a changed layout."""

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
from crawlers.spiders.weibo_timeline import WeiboTimelineSpider
from crawlers.state import CrawlState
from crawlers.wiring import state_connection
from crisiswatch.config import parse_config
from crisiswatch.deadletter import DeadLetters
from crisiswatch.mention import Mention
from tests.conftest import config_dict, fixture_response

UID = "2000000001"
URL = f"https://m.weibo.cn/api/container/getIndex?type=uid&value={UID}&containerid=230413{UID}&page=1"
META = {"brand": "aurora", "query": UID, "page": 1, "since_id": None}


@pytest.fixture
def config(tmp_path):
    brands = [{"key": "aurora", "names": ["极光优选"], "sources": {"weibo_timeline": [UID, "2000000002"]}}]
    return parse_config(config_dict(tmp_path, brands=brands), str(tmp_path / "crisiswatch.yaml"))


def parse(crawler, fixture: str, **meta):
    return list(crawler.spider.parse(fixture_response(fixture, URL, meta={**META, **meta})))


def split(out):
    return [o for o in out if isinstance(o, dict)], [o for o in out if isinstance(o, Request)]


def test_targets_come_from_the_brand_accounts(crawler_for):
    crawler = crawler_for(WeiboTimelineSpider)

    async def all_requests():
        return [r async for r in crawler.spider.start()]

    requests = asyncio.run(all_requests())
    assert [r.meta["query"] for r in requests] == [UID, "2000000002"]
    assert requests[0].url == URL and requests[0].headers["Referer"] == f"https://m.weibo.cn/u/{UID}".encode()


def test_first_page_yields_posts_expands_long_ones_and_follows_since_id(crawler_for):
    crawler = crawler_for(WeiboTimelineSpider)
    items, requests = split(parse(crawler, "weibo/timeline_getIndex_p1.json"))
    assert [i["native_id"] for i in items] == ["5000000000000001", "5123400000000010"]
    extend, page = requests
    assert extend.url == "https://m.weibo.cn/statuses/extend?id=5123400000000030"
    assert extend.meta["item"]["native_id"] == "5123400000000030"
    assert page.meta["page"] == 2 and page.meta["since_id"] == "5123400000000010"
    assert "since_id=5123400000000010" in page.url and "page=" not in page.url
    pinned = Mention.model_validate(items[0])
    assert pinned.author.followers == 1_286_000 and pinned.author.verified and pinned.query == UID
    assert pinned.brands == ["aurora"] and pinned.engagement.likes == 11_000
    normal = Mention.model_validate(items[1])
    assert normal.text == "618 第二波返场今晚八点开始 #极光优选618#"
    assert normal.created_at == datetime(2025, 6, 14, 1, 30, tzinfo=UTC)


def test_long_text_is_expanded_or_kept_short_on_failure(crawler_for):
    crawler = crawler_for(WeiboTimelineSpider)
    extend = split(parse(crawler, "weibo/timeline_getIndex_p1.json"))[1][0]
    full = list(crawler.spider.parse_long_text(fixture_response("weibo/statuses_extend_ok.json", extend.url,
                                                                meta=extend.meta)))
    assert Mention.model_validate(full[0]).text.endswith("这是我第三次催单了。")
    short = list(crawler.spider.parse_long_text(fixture_response("weibo/statuses_extend_failed.json", extend.url,
                                                                 meta=extend.meta)))
    assert Mention.model_validate(short[0]).text.startswith("关于近期部分地区配送延迟的说明")
    html = TextResponse(extend.url, body=b"<html>login</html>", encoding="utf-8", request=extend)
    assert list(crawler.spider.parse_long_text(html))[0]["native_id"] == "5123400000000030"
    # a download error or a block (IgnoreRequest) reaches the errback: the post is still yielded
    failure = Failure(RuntimeError("connection lost"))
    failure.request = extend
    assert list(crawler.spider.long_text_failed(failure))[0]["native_id"] == "5123400000000030"
    assert crawler.stats.get_value("crisiswatch/long_text_failed") == 3


def test_last_page_by_since_id_and_by_page(crawler_for):
    crawler = crawler_for(WeiboTimelineSpider)
    items, requests = split(parse(crawler, "weibo/timeline_getIndex_last.json", since_id="5123400000000010", page=9))
    assert [i["native_id"] for i in items] == ["5123300000000001"] and requests == []
    assert parse(crawler, "weibo/search_getIndex_empty.json", page=12) == []


def test_max_pages(crawler_for):
    out = parse(crawler_for(WeiboTimelineSpider, max_pages=1), "weibo/timeline_getIndex_p1.json")
    assert [r.url for r in split(out)[1]] == ["https://m.weibo.cn/statuses/extend?id=5123400000000030"]


def test_incremental_stop_ignores_the_pinned_post(crawler_for):
    crawler = crawler_for(WeiboTimelineSpider)
    state = CrawlState(state_connection(crawler))
    # newer than the pinned post (January) but older than every other post: keep paging
    state.advance_mark("weibo", UID, datetime(2025, 6, 14, 1, 0, tzinfo=UTC))
    assert any("since_id" in r.url for r in split(parse(crawler, "weibo/timeline_getIndex_p1.json"))[1])
    # the list is strictly newest first: one known post (09:30 China) ends the paging
    state.advance_mark("weibo", UID, datetime(2025, 6, 14, 1, 30, tzinfo=UTC))
    crawler = crawler_for(WeiboTimelineSpider)
    assert not any("since_id" in r.url for r in split(parse(crawler, "weibo/timeline_getIndex_p1.json"))[1])
    assert crawler.stats.get_value("crisiswatch/stopped_at_mark") == 1


def test_changed_layout_is_dead_lettered_and_paging_goes_on(crawler_for):
    crawler = crawler_for(WeiboTimelineSpider)
    items, requests = split(parse(crawler, "weibo/timeline_getIndex_layout_changed.json"))
    assert len(items) == 1 and len(requests) == 1
    (event,) = CrawlState(state_connection(crawler)).events()
    assert event.event == "layout_changed" and event.detail["reason"] == "mblogs lack id, text or created_at"
    with pytest.raises(DropItem, match="created_at"):
        ValidationPipeline.from_crawler(crawler).process_item(items[0])
    assert DeadLetters(state_connection(crawler)).recent()[0].payload["native_id"] == "5123400000000099"


def reply(crawler, body: dict, **meta):
    response = TextResponse(URL, body=json.dumps(body, ensure_ascii=False).encode(), encoding="utf-8",
                            request=Request(URL, meta={**META, **meta}))
    return list(crawler.spider.parse(response))


@pytest.mark.parametrize(("meta", "body", "lost"), [
    ({"page": 3, "since_id": "4383"}, {"ok": 0, "msg": "这里还没有内容"}, False),  # past the last page
    ({"page": 3, "since_id": "4383"}, {"ok": 0, "msg": "出错了"}, True),
    ({"page": 2}, {"ok": 0}, True),
    ({"page": 1, "container": "107603"}, {"ok": 0, "msg": "这里还没有内容"}, False),  # no posts in either
    ({"page": 1, "container": "107603"}, {"ok": 0, "errno": "20000", "msg": "出错了"}, True),
])
def test_only_the_empty_list_message_ends_paging(crawler_for, meta, body, lost):
    crawler = crawler_for(WeiboTimelineSpider)
    assert reply(crawler, body, **meta) == []
    assert bool(crawler.spider.lost_pages) == lost
    if lost:
        assert crawler.spider.lost_pages[0][0] == UID and "not an empty list" in crawler.spider.lost_pages[0][1]


@pytest.mark.parametrize("container", ["230413", "107603"])
@pytest.mark.parametrize(("body", "why"), [
    ({"ok": 1, "data": {"cardlistInfo": {"since_id": 4383}, "list": [{"id": "5000000000000001"}]}},
     "no data.cards[] list"),
    ({"ok": 1, "data": {"cards": [{"card_type": 9, "status": {"id": "5000000000000001"}}]}},
     "card_type 9 cards without an mblog"),
    ({"ok": 1, "data": {"cardlistInfo": {"total": 812}, "cards": []}}, "cardlistInfo.total is 812"),
])
def test_a_first_page_without_readable_cards_is_unreadable(crawler_for, container, body, why):
    crawler = crawler_for(WeiboTimelineSpider)
    assert reply(crawler, body, container=container) == [], "no fallback either: the reply is not 'no posts'"
    ((query, reason, _),) = crawler.spider.lost_pages
    assert query == UID and why in reason and crawler.stats.get_value("crisiswatch/layout_changed") == 1


def test_an_empty_first_page_tries_the_old_container_then_finishes_clean(crawler_for):
    crawler = crawler_for(WeiboTimelineSpider)
    empty = {"ok": 1, "data": {"cardlistInfo": {"total": 0}, "cards": []}}
    (fallback,) = reply(crawler, empty)
    assert "containerid=107603" in fallback.url
    assert reply(crawler, empty, container="107603") == []
    assert not crawler.spider.lost_pages and not crawler.stats.get_value("crisiswatch/layout_changed")


def test_an_ok0_first_page_of_the_current_container_still_tries_the_old_one(crawler_for):
    crawler = crawler_for(WeiboTimelineSpider)
    (fallback,) = reply(crawler, {"ok": 0, "msg": "出错了"})
    assert "containerid=107603" in fallback.url and not crawler.spider.lost_pages


@pytest.mark.parametrize(("fixture", "status", "body", "expected"), [
    ("weibo/captcha_limit.json", 200, None, "captcha"),
    ("weibo/login_required.json", 200, None, "login required"),
    ("weibo/throttled.json", 200, None, "Weibo throttling (errno 100005"),
    ("", 432, None, "432"),
    ("", 418, None, "418"),
    ("", 200, b"<!DOCTYPE html><html><body>Sina Visitor System</body></html>", "HTML"),
])
def test_block_replies_on_the_timeline(crawler_for, fixture, status, body, expected):
    spider = crawler_for(WeiboTimelineSpider).spider
    response = fixture_response(fixture, URL, status=status)
    if body is not None:
        response = response.replace(body=body)
    assert expected in block_reason(response, expects_json=spider.expects_json)


def test_incremental_crawl_over_the_replay_server_reads_no_old_pages(tmp_path):
    from crawlers.replay import ReplayServer
    from tests.replay_crawl import OFFICIAL, Clock, crawl, hourly, rows, scenario, write_config

    anchor = datetime.now(UTC).replace(microsecond=0)
    long_text = "极光优选官方长文：关于配送延迟的完整说明。" + "我们逐一核对了每个仓库的情况，" * 12 + "以上。"
    events = [{"at": "0h30m", "author": OFFICIAL, "text": "置顶：极光优选官方售后通道", "extra": {"pinned": True}},
              {"at": "5h30m", "author": OFFICIAL, "text": long_text, "extra": {"long": True}},
              *hourly(2, 25), *hourly(27, 3)]
    clock = Clock(anchor - timedelta(hours=3, minutes=30))  # the last three hourly posts are not out yet
    db = tmp_path / "cw.db"
    with ReplayServer(scenario(anchor, events), clock=clock) as server:
        cfg = write_config(tmp_path, "weibo_timeline", server.base_url, {"weibo_timeline": [UID]})

        def timeline_requests(since: int) -> list[str]:
            return [r for r in server.requests[since:] if "containerid=230413" in r]

        crawl(cfg, "weibo_timeline")
        assert len(timeline_requests(0)) == 3  # 27 posts, 10 a page, paged by since_id
        assert "since_id=" in timeline_requests(0)[1]
        assert rows(db, "SELECT COUNT(*) FROM mentions WHERE author_id=?", (UID,)) == [(27,)]
        (text,) = rows(db, "SELECT json_extract(doc, '$.text') FROM mentions WHERE doc LIKE '%官方长文%'")[0]
        assert text.endswith("以上。"), "the long post is stored with its full text from /statuses/extend"

        before = len(server.requests)
        crawl(cfg, "weibo_timeline")
        assert [r.rsplit("&", 1)[-1] for r in timeline_requests(before)] == ["page=1"]
        assert not [r for r in server.requests[before:] if "/statuses/extend" in r]

        clock.advance(hours=3, minutes=30)
        before = len(server.requests)
        crawl(cfg, "weibo_timeline")
        assert len(timeline_requests(before)) == 1
        assert rows(db, "SELECT COUNT(*), COUNT(DISTINCT native_id) FROM mentions WHERE author_id=?", (UID,)) == [
            (30, 30)]


def test_changed_layout_then_a_432_over_the_replay_server(tmp_path):
    from crawlers.replay import ReplayServer
    from tests.replay_crawl import crawl, hourly, rows, scenario, write_config

    with ReplayServer(scenario(datetime.now(UTC), hourly(2, 25))) as server:
        server.inject("page=1", "layout")  # the first page in a new shape: dead letters, paging goes on
        server.inject("since_id=", "432", times=0)
        cfg = write_config(tmp_path, "weibo_timeline", server.base_url, {"weibo_timeline": [UID]})
        out = crawl(cfg, "weibo_timeline", ok=False)
    assert "BLOCKED: HTTP 432" in out and "10 invalid" in out
    db = tmp_path / "cw.db"
    assert rows(db, "SELECT stage, COUNT(*) FROM dead_letters GROUP BY stage") == [("validation", 10)]
    assert rows(db, "SELECT source, event FROM source_health") == [("weibo_timeline", "layout_changed"),
                                                                    ("weibo_timeline", "source_blocked")]
    assert rows(db, "SELECT COUNT(*) FROM crawl_marks") == [(0,)]


def test_the_old_container_is_read_when_the_current_one_lists_nothing(tmp_path):
    from crawlers.replay import ReplayServer
    from tests.replay_crawl import crawl, hourly, rows, scenario, write_config

    with ReplayServer(scenario(datetime.now(UTC), hourly(2, 12))) as server:
        server.weibo_timeline_containers = {"107603"}  # the site before 2022
        cfg = write_config(tmp_path, "weibo_timeline", server.base_url, {"weibo_timeline": [UID]})
        crawl(cfg, "weibo_timeline")
        containers = [r.split("containerid=")[1][:6] for r in server.requests if "containerid=" in r]
    assert containers == ["230413", "107603", "107603"]
    assert rows(tmp_path / "cw.db", "SELECT COUNT(*) FROM mentions WHERE author_id=?", (UID,)) == [(12,)]


def test_a_repost_keeps_the_original_it_spreads(tmp_path):
    from crawlers.replay import ReplayServer
    from tests.replay_crawl import OFFICIAL, crawl, rows, scenario, write_config

    original = {"id": "4811111111111111", "text": "极光优选仓库爆仓，我的订单十天没动", "hours_before": 5,
                "author": {"id": 1_700_000_009, "name": "维权的小王", "followers": 88_000}, "reposts": 1200}
    events = [{"at": f"{10 + i}h", "author": OFFICIAL, "text": "转发微博", "extra": {"retweet": original}}
              for i in range(3)]
    with ReplayServer(scenario(datetime.now(UTC), events)) as server:
        cfg = write_config(tmp_path, "weibo_timeline", server.base_url, {"weibo_timeline": [UID]})
        crawl(cfg, "weibo_timeline")
    db = tmp_path / "cw.db"
    (orig_id, text, author) = rows(db, "SELECT id, json_extract(doc, '$.text'), json_extract(doc, '$.author.name')"
                                       " FROM mentions WHERE native_id='4811111111111111'")[0]
    assert text == "极光优选仓库爆仓，我的订单十天没动" and author == "维权的小王"
    reposts = rows(db, "SELECT json_extract(doc, '$.parent_id'), json_extract(doc, '$.extra.retweet_of.text')"
                       " FROM mentions WHERE author_id=?", (UID,))
    assert len(reposts) == 3 and all(r == (orig_id, "极光优选仓库爆仓，我的订单十天没动") for r in reposts)
