"""The JD review spider on saved club.jd.com replies (GBK JSONP), its block replies, and over the replay server."""

from __future__ import annotations

import asyncio
import sqlite3
from datetime import UTC, datetime
from urllib.parse import parse_qs, urlsplit

import pytest
from scrapy.exceptions import CloseSpider, DropItem
from scrapy.http import HtmlResponse, Request, TextResponse

from crawlers.blocks import THROTTLED, block_of, block_reason
from crawlers.health import source_health
from crawlers.pipelines import ValidationPipeline
from crawlers.replay import ReplayServer, load_scenario
from crawlers.replay.sites import jd as jd_site
from crawlers.spiders.jd_reviews import JdReviewsSpider
from crawlers.state import CrawlState
from crawlers.wiring import state_connection
from crisiswatch.commands.crawl import summary_line
from crisiswatch.db import connect
from crisiswatch.deadletter import DeadLetters
from crisiswatch.mention import Mention
from tests import realsize
from tests.conftest import FIXTURES
from tests.replay_crawl import rows
from tests.replay_sources import crawl, health, small_scenario, stored, write_config

SKU = "100012043978"
URL = (f"https://club.jd.com/comment/productPageComments.action?callback=fetchJSON_comment98&productId={SKU}"
       "&score=0&sortType=6&page=0&pageSize=10&isShadowSku=0&fold=1")


def reply(fixture: str, page: int = 0, content_type: str | None = None, cls: type = TextResponse) -> TextResponse:
    """A response as the downloader builds it: bytes and headers, no encoding chosen for us."""
    headers = {"Content-Type": content_type} if content_type else {}
    meta = {"brand": "aurora", "query": SKU, "page": page}
    return cls(url=URL, body=(FIXTURES / fixture).read_bytes(), headers=headers, request=Request(URL, meta=meta))


def parse(crawler, fixture: str, page: int = 0, content_type: str | None = None) -> list:
    return list(crawler.spider.parse(reply(fixture, page, content_type)))


def first_request(spider) -> Request:
    async def first():
        async for request in spider.start():
            return request

    return asyncio.run(first())


def test_start_builds_the_club_url_with_the_item_page_as_referer(crawler_for):
    request = first_request(crawler_for(JdReviewsSpider, query=SKU, brand="aurora").spider)
    parts = urlsplit(request.url)
    assert (parts.scheme, parts.netloc, parts.path) == ("https", "club.jd.com", "/comment/productPageComments.action")
    assert {k: v[0] for k, v in parse_qs(parts.query).items()} == {
        "callback": "fetchJSON_comment98", "productId": SKU, "score": "0", "sortType": "6", "page": "0",
        "pageSize": "10", "isShadowSku": "0", "fold": "1"}
    assert request.headers["Referer"] == f"https://item.jd.com/{SKU}.html".encode()


def test_signed_api_is_a_configuration_error_not_an_empty_crawl(crawler_for):
    crawler = crawler_for(JdReviewsSpider, query=SKU, api="h5st")
    with pytest.raises(CloseSpider) as raised:
        first_request(crawler.spider)
    assert raised.value.reason == "config_error"
    events = CrawlState(state_connection(crawler)).events()
    assert [(e.source, e.event) for e in events] == [("jd_reviews", "config_error")]
    assert "h5st" in events[0].detail["reason"]


@pytest.mark.parametrize("content_type", [None, "text/html;charset=GBK"])
def test_gbk_jsonp_page_yields_reviews_and_the_next_page(crawler_for, content_type):
    out = parse(crawler_for(JdReviewsSpider), "jd/comments_p0.jsonp", content_type=content_type)
    items = [o for o in out if isinstance(o, dict)]
    requests = [o for o in out if isinstance(o, Request)]
    assert [i["native_id"] for i in items] == ["20931457712", "20931400001", "20931377777"]
    first = Mention.model_validate(items[0])
    assert first.source == "jd" and first.rating == 2 and first.brands == ["aurora"] and first.query == SKU
    assert first.text.startswith("空气炸锅收到了") and first.text.endswith("追评：用了三天，底部涂层开始掉了，联系客服没人回。")
    assert first.created_at == datetime(2026, 11, 20, 13, 14, 5, tzinfo=UTC)  # China time in the reply
    assert first.author.name == "橘***水" and first.engagement.likes == 7 and first.engagement.comments == 1
    assert first.extra["user_level"] == "PLUS会员" and first.extra["product_color"] == "奶油白"
    assert first.extra["replies"][0]["content"].startswith("亲，非常抱歉")
    assert Mention.model_validate(items[1]).rating == 5 and "追评" not in items[1]["text"]
    assert len(requests) == 1 and requests[0].meta["page"] == 1 and "page=1&" in requests[0].url
    assert requests[0].headers["Referer"] == f"https://item.jd.com/{SKU}.html".encode()


def test_last_page_and_max_pages_stop_paging(crawler_for):
    out = parse(crawler_for(JdReviewsSpider), "jd/comments_last.jsonp", page=2)  # maxPage 3: pages 0..2
    assert len(out) == 1 and isinstance(out[0], dict)
    out = parse(crawler_for(JdReviewsSpider, max_pages=1), "jd/comments_p0.jsonp")
    assert not [o for o in out if isinstance(o, Request)]


def test_a_page_reaching_the_mark_ends_paging(crawler_for):
    crawler = crawler_for(JdReviewsSpider)
    CrawlState(state_connection(crawler)).advance_mark("jd", SKU, datetime(2026, 11, 19, 0, 30, tzinfo=UTC))
    out = parse(crawler, "jd/comments_p0.jsonp")
    assert len([o for o in out if isinstance(o, dict)]) == 3
    assert not [o for o in out if isinstance(o, Request)]
    assert crawler.stats.get_value("crisiswatch/stopped_at_mark") == 1


def test_block_replies_are_recognised():
    assert "{}" in block_reason(reply("jd/empty.json", content_type="application/json"), expects_json=True)
    wrapped = TextResponse(URL, body=b"fetchJSON_comment98({});", request=Request(URL))
    assert "{}" in block_reason(wrapped, expects_json=True)
    assert "JD login" in block_reason(reply("jd/blocked.html", cls=HtmlResponse), expects_json=True)
    redirect = TextResponse(URL, status=302, headers={"Location": "https://passport.jd.com/new/login.aspx"})
    assert "login" in block_reason(redirect, expects_json=True)
    assert block_reason(reply("jd/comments_p0.jsonp", content_type="text/html;charset=GBK"), True) is None
    assert block_reason(reply("jd/comments_p0.jsonp"), True) is None


def test_changed_layout_is_dead_lettered_with_one_health_event(crawler_for):
    crawler = crawler_for(JdReviewsSpider)
    items = [o for o in parse(crawler, "jd/comments_layout_changed.jsonp") if isinstance(o, dict)]
    second = reply("jd/comments_layout_changed.jsonp", page=1)  # the next page: another comment, as changed
    second = second.replace(body=second.body.replace(b"20931499999", b"20931499998"))
    items += [o for o in crawler.spider.parse(second) if isinstance(o, dict)]
    pipeline = ValidationPipeline.from_crawler(crawler)
    for item in items:
        with pytest.raises(DropItem, match="text"):
            pipeline.process_item(item)
    letters = DeadLetters(state_connection(crawler)).recent()
    assert len(letters) == 2 and "created_at" in letters[0].reason and letters[1].payload["native_id"] == "20931499999"
    events = CrawlState(state_connection(crawler)).events()
    assert [(e.source, e.event) for e in events] == [("jd_reviews", "layout_changed")]


def test_second_crawl_over_the_replay_server_reads_only_the_newest_page(tmp_path):
    scenario = load_scenario(str(small_scenario(tmp_path)))
    expected = sum(1 for p in scenario.posts if p.source == "jd")
    with ReplayServer(scenario) as server:
        cfg = write_config(tmp_path, server)
        first = crawl(cfg, server, "jd_reviews")
        assert first.returncode == 0, first.stderr[-2000:]
        assert stored(tmp_path / "cw.db", "jd") == (expected, expected), first.stdout + first.stderr[-1500:]
        assert len(first.requests) == -(-expected // 10)  # every page once
        second = crawl(cfg, server, "jd_reviews")
        assert second.returncode == 0, second.stderr[-2000:]
        assert len(second.requests) == 1 and "&page=0&" in second.requests[0]
        assert stored(tmp_path / "cw.db", "jd") == (expected, expected)


def test_blocked_changed_and_misconfigured_crawls_raise_health_events(tmp_path):
    with ReplayServer(load_scenario(str(small_scenario(tmp_path)))) as server:
        cfg = write_config(tmp_path, server)
        server.inject("/comment/productPageComments.action", "html")
        blocked = crawl(cfg, server, "jd_reviews")
        assert blocked.returncode == 1 and "BLOCKED" in blocked.stdout
        server.inject("&page=0&", "layout")  # the newest page renamed its fields
        changed = crawl(cfg, server, "jd_reviews")
        assert changed.returncode == 0 and "10 invalid" in changed.stdout, changed.stdout
        conn = sqlite3.connect(tmp_path / "cw.db")
        assert conn.execute("SELECT COUNT(*) FROM dead_letters WHERE source='jd'").fetchone() == (10,)
        conn.close()
        misconfigured = crawl(write_config(tmp_path, server, "https://api.m.jd.com"), server, "jd_reviews")
        assert misconfigured.returncode == 1 and "config_error" in misconfigured.stdout
        assert len(misconfigured.requests) == 0
    assert health(tmp_path / "cw.db", "jd_reviews") == [
        "source_blocked", "layout_changed", "source_unblocked", "config_error"]


def test_a_since_without_a_zone_is_china_time_for_every_spider(crawler_for):
    from crawlers.spiders.tousu_sina import TousuSinaSpider

    for spider_cls in (JdReviewsSpider, TousuSinaSpider):
        spider = crawler_for(spider_cls, since="2025-01-05").spider  # a plain date, as people type it
        assert spider.mark_for("q") == datetime(2025, 1, 4, 16, 0, tzinfo=UTC)  # midnight in China
        # it raised "can't compare offset-naive and offset-aware datetimes" on the first page
        assert spider.passed_mark("q", [datetime(2025, 1, 4, 2, 0, tzinfo=UTC)])


@pytest.mark.parametrize("body", [b"", b"\r\n", b"fetchJSON_comment98();", b"fetchJSON_comment98( );\n"])
def test_an_empty_reply_is_jds_throttle(body):
    response = TextResponse(URL, body=body, headers={"Content-Type": "text/html;charset=GBK"}, request=Request(URL))
    block = block_of(response, expects_json=True)
    assert block is not None and block.kind == THROTTLED and "empty reply" in block.reason


def test_an_empty_reply_mid_crawl_blocks_the_source_and_keeps_the_mark(tmp_path):
    """Before: JD's empty 200 (its throttle) was an unreadable page, and status said layout-changed."""
    with ReplayServer(load_scenario(str(small_scenario(tmp_path)))) as server:
        cfg = write_config(tmp_path, server)
        server.inject("&page=1&", "jd_blank")
        throttled = crawl(cfg, server, "jd_reviews")
        assert throttled.returncode == 1 and "BLOCKED: empty reply" in throttled.stdout, throttled.stdout
        assert len(throttled.requests) == 2  # paused at the throttle, not hammering on
    assert health(tmp_path / "cw.db", "jd_reviews") == ["source_blocked"]
    assert rows(tmp_path / "cw.db", "SELECT COUNT(*) FROM crawl_marks") == [(0,)]
    (status,) = source_health(connect(tmp_path / "cw.db"), ["jd_reviews"])
    assert status.status == "blocked" and "empty reply" in status.reason


def _page(page: int, chunk_from: int, total: int, max_page: int | None) -> TextResponse:
    """A club.jd.com page as the replay server renders it (GBK JSONP, tens of KB), `maxPage` as given."""
    every = realsize.posts(total, source="jd")
    payload = jd_site.comments_page(every, SKU, every[chunk_from:chunk_from + 10], page, 10)
    if max_page is None:
        payload.pop("maxPage")
    else:
        payload["maxPage"] = max_page
    url = URL.replace("&page=0&", f"&page={page}&")
    return TextResponse(url, body=jd_site.jsonp_gbk(payload), headers={"Content-Type": "text/html;charset=GBK"},
                        request=Request(url, meta={"brand": "aurora", "query": SKU, "page": page}))


def test_a_reply_without_max_page_pages_on_and_says_the_layout_changed(crawler_for):
    """Before: a reply without maxPage ended the crawl after its first page, 'finished', status ok."""
    crawler = crawler_for(JdReviewsSpider)
    out = list(crawler.spider.parse(_page(0, 0, 40, None)))
    assert len([o for o in out if isinstance(o, dict)]) == 10
    (next_page,) = [o for o in out if isinstance(o, Request)]
    assert next_page.meta["page"] == 1
    (event,) = CrawlState(state_connection(crawler)).events()
    assert event.event == "layout_changed" and "maxPage" in event.detail["reason"]
    # a short page is the end, as maxPage would have said
    assert not [o for o in crawler.spider.parse(_page(3, 35, 40, None)) if isinstance(o, Request)]
    # a count sent as a string is still the count
    crawler = crawler_for(JdReviewsSpider)
    page = _page(0, 0, 40, None)
    page = page.replace(body=page.body.replace(b'"testId"', b'"maxPage": "4", "testId"'))
    assert [o.meta["page"] for o in crawler.spider.parse(page) if isinstance(o, Request)] == [1]
    assert not crawler.stats.get_value("crisiswatch/layout_changed")


def test_an_empty_page_before_max_page_is_jd_withholding_it(crawler_for):
    """Before: comments: [] on page 2 of 4 ended paging as if the list had ended."""
    crawler = crawler_for(JdReviewsSpider)
    empty = _page(2, 40, 40, 4)
    with pytest.raises(CloseSpider) as raised:
        list(crawler.spider.parse(empty))
    assert raised.value.reason == "blocked" and "page 2 of 4 came back without comments" in crawler.spider.blocked
    # the last page may be empty (reviews deleted since maxPage was counted): that is the end
    assert list(crawler_for(JdReviewsSpider).spider.parse(_page(3, 40, 40, 4))) == []


def test_pages_repeating_the_first_block_the_source_and_keep_the_mark(tmp_path):
    """Before: JD answering every page with page 0's comments was read to maxPage: 'finished', status ok, the
    repeats dropped as duplicates, and the mark moved past the reviews JD never showed."""
    scenario = load_scenario(str(small_scenario(tmp_path)))
    with ReplayServer(scenario) as server:
        cfg = write_config(tmp_path, server)
        server.jd_repeat_first_page = True
        repeated = crawl(cfg, server, "jd_reviews")
        assert repeated.returncode == 1, repeated.stdout
        assert "BLOCKED: page 1 repeats comments of an earlier page" in repeated.stdout
        assert len(repeated.requests) == 2
    assert health(tmp_path / "cw.db", "jd_reviews") == ["source_blocked"]
    assert rows(tmp_path / "cw.db", "SELECT COUNT(*) FROM crawl_marks") == [(0,)]


def test_the_sites_100_page_limit_is_said_in_the_crawls_line(crawler_for):
    """Before: a product with more reviews than JD's 100 pages hold ended 'finished' with nothing said."""
    crawler = crawler_for(JdReviewsSpider)
    last = _page(99, 0, 1234, 100)
    assert not [o for o in crawler.spider.parse(last) if isinstance(o, Request)]
    assert crawler.stats.get_value("crisiswatch/site_page_limit") == 1
    line = summary_line("jd_reviews", {**crawler.stats.get_stats(), "finish_reason": "finished"})
    assert "1 query past the site's page limit (older posts out of reach)" in line
    # a product whose reviews fit in its pages says nothing
    crawler = crawler_for(JdReviewsSpider)
    list(crawler.spider.parse(_page(3, 30, 40, 4)))
    assert not crawler.stats.get_value("crisiswatch/site_page_limit")


def test_a_crawl_stopped_by_max_pages_says_so_in_its_line(tmp_path):
    """Before: the crawl's line said 'finished · 2 pages'; only the log said that more pages were left."""
    with ReplayServer(load_scenario(str(small_scenario(tmp_path)))) as server:
        cfg = write_config(tmp_path, server)
        capped = crawl(cfg, server, "jd_reviews", "--max-pages", "2")
        assert capped.returncode == 0 and len(capped.requests) == 2
        assert "1 query stopped at max_pages 2" in capped.stdout, capped.stdout


def test_a_page_out_of_time_order_is_not_stopped_at_the_mark(crawler_for):
    """Before: an old comment listed first (a pinned one, or a list not sorted by time) stopped paging at the
    mark on page 0, and the new comments after it, on that page and the next, were never looked for again."""
    every = realsize.posts(40, source="jd")  # newest first, 4 minutes apart
    pinned = [every[30], *every[:9]]
    payload = jd_site.comments_page(every, SKU, pinned, 0, 10)
    response = TextResponse(URL, body=jd_site.jsonp_gbk(payload), headers={"Content-Type": "text/html;charset=GBK"},
                            request=Request(URL, meta={"brand": "aurora", "query": SKU, "page": 0}))
    crawler = crawler_for(JdReviewsSpider)
    CrawlState(state_connection(crawler)).advance_mark("jd", SKU, every[25].created_at)
    out = list(crawler.spider.parse(response))
    assert [o.meta["page"] for o in out if isinstance(o, Request)] == [1]
    assert crawler.stats.get_value("crisiswatch/not_newest_first") == 1
    assert not crawler.stats.get_value("crisiswatch/stopped_at_mark")
