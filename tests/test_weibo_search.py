"""The Weibo search spider on saved replies shaped like m.weibo.cn's, including its failure replies."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from scrapy.http import Request, TextResponse

from crawlers.blocks import block_reason
from crawlers.pipelines import ValidationPipeline
from crawlers.spiders.weibo_search import WeiboSearchSpider
from crawlers.state import CrawlState
from crawlers.wiring import state_connection
from crisiswatch.deadletter import DeadLetters
from crisiswatch.mention import Mention
from tests.conftest import fixture_response

URL = "https://m.weibo.cn/api/container/getIndex?containerid=100103type%3D61%26q%3D极光优选&page_type=searchall&page=1"
META = {"brand": "aurora", "query": "极光优选", "page": 1}


def parse(crawler, fixture: str, meta=META):
    """The page's items (long posts expanded from a saved extend reply) and its page requests."""
    out = []
    for o in crawler.spider.parse(fixture_response(fixture, URL, meta=dict(meta))):
        if isinstance(o, Request) and "/statuses/extend" in o.url:
            out.extend(crawler.spider.parse_long_text(
                fixture_response("weibo/statuses_extend_ok.json", o.url, meta=o.meta)))
        else:
            out.append(o)
    return out


def test_start_builds_the_real_search_url(crawler_for):
    crawler = crawler_for(WeiboSearchSpider)

    async def first():
        async for request in crawler.spider.start():
            return request

    import asyncio

    request = asyncio.run(first())
    assert request.url.startswith("https://m.weibo.cn/api/container/getIndex?")
    # type 61 (实时) lists newest first, as the stop at the crawl mark needs (type 1, 综合, ranks by popularity)
    assert "containerid=100103type%3D61%26q%3D%E6%9E%81%E5%85%89%E4%BC%98%E9%80%89" in request.url
    assert "page_type=searchall" in request.url and request.url.endswith("page=1")
    assert request.meta == {"brand": "aurora", "query": "极光优选", "page": 1}


def test_normal_page_yields_every_mblog_and_the_next_page(crawler_for):
    out = parse(crawler_for(WeiboSearchSpider), "weibo/search_getIndex_ok.json")
    items = [o for o in out if isinstance(o, dict)]
    requests = [o for o in out if isinstance(o, Request)]
    assert [i["native_id"] for i in items] == ["5123456789012345", "5123456789012001", "5123456789011002"]
    first = Mention.model_validate(items[0])
    assert first.text.startswith("@极光优选 快递七天还没到") and "[怒]" in first.text and "<" not in first.text
    assert first.text.endswith("第三次催单了。") and first.extra["long_text"]  # the extend reply's full text
    assert first.created_at == datetime(2025, 6, 14, 4, 0, tzinfo=UTC)
    assert first.author.followers == 634_000 and first.author.verified
    assert first.engagement.comments == 12_000 and first.engagement.reposts == 35
    assert first.url == "https://weibo.com/1880000001/PqRsTuVwX"
    assert first.brands == ["aurora"] and first.query == "极光优选"
    assert Mention.model_validate(items[1]).text == "在极光优选买的空气炸锅到了，包装很用心&好评"
    assert Mention.model_validate(items[2]).engagement.reposts == 1_000_000
    assert len(requests) == 1 and requests[0].meta["page"] == 2 and requests[0].url.endswith("page=2")


def test_last_page_stops_paging(crawler_for):
    assert parse(crawler_for(WeiboSearchSpider), "weibo/search_getIndex_empty.json") == []


def test_max_pages_stops_paging(crawler_for):
    out = parse(crawler_for(WeiboSearchSpider, max_pages=1), "weibo/search_getIndex_ok.json")
    assert not [o for o in out if isinstance(o, Request)]


def test_incremental_stop_at_high_water_mark(crawler_for):
    crawler = crawler_for(WeiboSearchSpider)
    CrawlState(state_connection(crawler)).advance_mark("weibo", "极光优选", datetime(2025, 6, 14, 4, 0, tzinfo=UTC))
    out = parse(crawler, "weibo/search_getIndex_ok.json")
    assert not [o for o in out if isinstance(o, Request)], "page older than the mark must end paging"
    assert crawler.stats.get_value("crisiswatch/stopped_at_mark") == 1


def test_pinned_old_post_does_not_stop_paging(crawler_for):
    # the pinned post (mblogtype 2) is older, but a newer post on the page is past the mark
    crawler = crawler_for(WeiboSearchSpider)
    CrawlState(state_connection(crawler)).advance_mark("weibo", "极光优选", datetime(2025, 6, 14, 3, 59, tzinfo=UTC))
    out = parse(crawler, "weibo/search_getIndex_ok.json")
    assert [o for o in out if isinstance(o, Request)]


def test_changed_layout_goes_to_dead_letters_and_the_crawl_goes_on(crawler_for):
    crawler = crawler_for(WeiboSearchSpider)
    items = [o for o in parse(crawler, "weibo/search_getIndex_layout_changed.json") if isinstance(o, dict)]
    pipeline = ValidationPipeline.from_crawler(crawler)
    from scrapy.exceptions import DropItem

    with pytest.raises(DropItem, match="created_at"):
        pipeline.process_item(items[0])
    letters = DeadLetters(state_connection(crawler)).recent()
    assert len(letters) == 1 and letters[0].stage == "validation"
    assert "text" in letters[0].reason and "created_at" in letters[0].reason
    assert letters[0].payload["native_id"] == "5123456789019999"
    assert crawler.stats.get_value("crisiswatch/invalid") == 1
    (event,) = CrawlState(state_connection(crawler)).events()
    assert event.event == "layout_changed" and event.detail["reason"] == "mblogs lack id, text or created_at"


def test_a_crawl_whose_posts_all_lack_a_renamed_field_shows_layout_changed_in_status(tmp_path, capsys):
    from crawlers.replay import ReplayServer
    from crisiswatch.cli import main
    from tests.replay_crawl import crawl, rows, scenario, write_config

    with ReplayServer(scenario(datetime.now(UTC), [])) as server:
        server.inject("getIndex", "layout", times=0)  # every page renames text and created_at
        cfg = write_config(tmp_path, "weibo_search", server.base_url, {"weibo_search": ["极光优选"]})
        out = crawl(cfg, "weibo_search")  # the pages were read: the posts are dead-lettered, not lost
    assert " 0 mentions · " in out and " 0 invalid" not in out
    db = tmp_path / "cw.db"
    assert rows(db, "SELECT event FROM source_health") == [("layout_changed",)]
    assert main(["--config", str(cfg), "status"]) == 0
    (line,) = [line for line in capsys.readouterr().out.splitlines() if "weibo_search" in line]
    assert "layout-changed: mblogs lack id, text or created_at; 0 mentions (crawl" in line


def _resp(body: bytes, status: int = 200, headers=None) -> TextResponse:
    return TextResponse(URL, body=body, status=status, headers=headers, encoding="utf-8", request=Request(URL))


@pytest.mark.parametrize(("fixture", "status", "expected"), [
    ("weibo/captcha_limit.json", 200, "captcha"),
    ("weibo/login_required.json", 200, "login required"),
    ("weibo/throttled.json", 200, "Weibo throttling (errno 100005"),
    ("", 432, "432"),
    ("", 418, "418"),
    ("", 403, "403"),
])
def test_block_replies_are_recognised(fixture, status, expected):
    response = fixture_response(fixture, URL, status=status)
    assert expected in block_reason(response, expects_json=True)


def test_html_where_json_expected_is_a_block_but_empty_results_are_not():
    assert "HTML" in block_reason(_resp(b"<html><body>\xe8\xaf\xb7\xe7\x99\xbb\xe5\xbd\x95</body></html>"), True)
    assert block_reason(fixture_response("weibo/search_getIndex_empty.json", URL), True) is None
    assert block_reason(fixture_response("weibo/search_getIndex_ok.json", URL), True) is None
    assert block_reason(_resp(b"", status=500), True) is None  # an error for RetryMiddleware, not a block
    redirect = _resp(b"", status=302, headers={"Location": "https://passport.weibo.com/sso/signin"})
    assert "login" in block_reason(redirect, True)


def test_the_throttle_reply_is_a_throttled_block_not_the_end():
    from crawlers.blocks import THROTTLED, block_of

    block = block_of(fixture_response("weibo/throttled.json", URL), expects_json=True)
    assert block is not None and block.kind == THROTTLED and "请求过于频繁" in block.reason
    # the empty list is ok:0 too, and stays a real answer
    assert block_of(fixture_response("weibo/search_getIndex_empty.json", URL), expects_json=True) is None


@pytest.mark.parametrize(("page", "body", "lost"), [
    (2, {"ok": 0, "msg": "这里还没有内容"}, False),  # past the last page
    (1, {"ok": 0, "msg": "这里还没有内容", "data": {"cards": []}}, False),  # a keyword without results
    (2, {"ok": 0, "msg": "出错了"}, True),  # a refusal crisiswatch does not know
    (2, {"ok": 0}, True),
    (1, {"ok": "0", "errno": "20000", "msg": "出错了"}, True),
])
def test_only_the_empty_list_message_ends_paging(crawler_for, page, body, lost):
    crawler = crawler_for(WeiboSearchSpider)
    response = TextResponse(URL, body=json.dumps(body, ensure_ascii=False).encode(), encoding="utf-8",
                            request=Request(URL, meta={**META, "page": page}))
    assert list(crawler.spider.parse(response)) == []
    assert bool(crawler.spider.lost_pages) == lost
    if lost:
        ((query, reason, _),) = crawler.spider.lost_pages
        assert query == "极光优选" and "not an empty list" in reason


def test_throttled_on_page_2_blocks_the_source_and_keeps_the_mark(tmp_path):
    from crawlers.replay import ReplayServer
    from tests.replay_crawl import crawl, rows, scenario, write_config

    db = tmp_path / "cw.db"
    with ReplayServer(scenario(datetime.now(UTC), [])) as server:
        server.inject("page=2", "throttled", times=0)
        cfg = write_config(tmp_path, "weibo_search", server.base_url, {"weibo_search": ["极光优选"]})
        out = crawl(cfg, "weibo_search", ok=False)
    assert "BLOCKED: Weibo throttling (errno 100005: 请求过于频繁" in out
    assert rows(db, "SELECT reason FROM crawl_runs") == [("blocked",)]
    assert rows(db, "SELECT event, json_extract(detail, '$.kind') FROM source_health") == [
        ("source_blocked", "throttled")]
    assert rows(db, "SELECT COUNT(*) FROM crawl_marks") == [(0,)], "the unread pages are read by the next crawl"


def test_an_unknown_refusal_on_page_2_loses_the_page_and_keeps_the_mark(tmp_path):
    from crawlers.replay import ReplayServer
    from tests.replay_crawl import crawl, rows, scenario, write_config

    db = tmp_path / "cw.db"
    with ReplayServer(scenario(datetime.now(UTC), [])) as server:
        server.inject("page=2", "refused", times=0)
        cfg = write_config(tmp_path, "weibo_search", server.base_url, {"weibo_search": ["极光优选"]})
        out = crawl(cfg, "weibo_search", ok=False)
    assert "FAILED: 1 of 2 pages lost (the site answered ok 0 (出错了), not an empty list)" in out
    assert rows(db, "SELECT reason FROM crawl_runs") == [("failed",)]
    assert rows(db, "SELECT COUNT(*) FROM crawl_marks") == [(0,)]


def _post(i: int) -> dict:
    return {"id": f"51234567890{i:05d}", "created_at": "Sat Jun 14 12:00:00 +0800 2025", "text": f"极光优选第{i}单又没到",
            "user": {"id": 1880000000 + i, "screen_name": f"买家{i}"}}


@pytest.mark.parametrize(("body", "why"), [
    ({"ok": 1, "data": {"cardlistInfo": {"total": 0}, "list": [_post(1), _post(2)]}}, "no data.cards[] list"),
    ({"ok": 1, "data": {"cards": {"0": {"card_type": 9, "mblog": _post(1)}}}}, "no data.cards[] list"),
    ({"ok": 1, "data": {"cards": [{"card_type": 9, "status": _post(1)}]}}, "card_type 9 cards without an mblog"),
    ({"ok": 1, "data": {"cards": [{"card_type": 11, "card_group": [{"card_type": 9, "mblog_v2": _post(1)}]}]}},
     "card_type 9 cards without an mblog"),
    ({"ok": 1, "data": {"cardlistInfo": {"total": "1.2万"}, "cards": []}}, "cardlistInfo.total is 12000"),
])
def test_a_first_page_without_readable_cards_is_unreadable_not_no_posts(crawler_for, body, why):
    crawler = crawler_for(WeiboSearchSpider)
    response = TextResponse(URL, body=json.dumps(body, ensure_ascii=False).encode(), encoding="utf-8",
                            request=Request(URL, meta=dict(META)))
    assert list(crawler.spider.parse(response)) == []
    ((query, reason, _),) = crawler.spider.lost_pages
    assert query == "极光优选" and why in reason
    assert crawler.stats.get_value("crisiswatch/layout_changed") == 1


@pytest.mark.parametrize(("page", "body"), [
    (1, {"ok": 1, "data": {"cardlistInfo": {"total": 0}, "cards": []}}),  # a keyword without results
    (1, {"ok": 1, "data": {"cards": []}}),
    (1, {"ok": 1, "data": {"cardlistInfo": {"total": 3}, "cards": [  # only the people block: no post
        {"card_type": 11, "card_group": [{"card_type": 10, "user": {"id": 1}}]}]}}),
    (1, {"ok": 0, "msg": "这里还没有内容"}),
    (4, {"ok": 1, "data": {"cardlistInfo": {"total": 37}, "cards": []}}),  # past the results
])
def test_a_genuinely_empty_result_is_a_clean_finish(crawler_for, page, body):
    crawler = crawler_for(WeiboSearchSpider)
    response = TextResponse(URL, body=json.dumps(body, ensure_ascii=False).encode(), encoding="utf-8",
                            request=Request(URL, meta={**META, "page": page}))
    assert list(crawler.spider.parse(response)) == []
    assert not crawler.spider.lost_pages and not crawler.stats.get_value("crisiswatch/layout_changed")


def test_new_quiet_posts_are_read_by_the_next_crawl_over_the_replay_server(tmp_path):
    from crawlers.replay import ReplayServer
    from tests.replay_crawl import Clock, crawl, rows, scenario, write_config

    anchor = datetime.now(UTC).replace(microsecond=0)
    quiet = [{"at": f"{27 + i * 0.2:.1f}h", "author": {"id": 1_900_000_200 + i, "name": f"路人{i}", "followers": 3},
              "text": f"极光优选的退款第{i}天还没到"} for i in range(15)]  # no likes, reposts or comments
    clock = Clock(anchor - timedelta(hours=3, minutes=30))  # the quiet posts are not out yet
    db = tmp_path / "cw.db"
    with ReplayServer(scenario(anchor, quiet, crowd_rate=1), clock=clock) as server:
        cfg = write_config(tmp_path, "weibo_search", server.base_url, {"weibo_search": ["极光优选"]})
        crawl(cfg, "weibo_search")
        assert all("100103type%3D61%26" in r for r in server.requests if "getIndex" in r)
        clock.advance(hours=3, minutes=30)
        before = len(server.requests)
        crawl(cfg, "weibo_search")
        pages = [r.rsplit("page=", 1)[-1] for r in server.requests[before:] if "getIndex" in r]
    texts = [t for (t,) in rows(db, "SELECT json_extract(doc, '$.text') FROM mentions")]
    assert sum("的退款第" in t for t in texts) == 15, "the 综合 ranking would list them after the old hot posts"
    assert pages == ["1", "2", "3"], "newest first: the page past the new posts ends paging"
