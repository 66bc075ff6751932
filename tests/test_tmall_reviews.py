"""The Tmall review spider: the mtop review API (signed, token round trip) and the older list_detail_rate
replies, the punish reply, and both over the replay server."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from urllib.parse import parse_qs, urlsplit

import pytest
from scrapy.exceptions import DropItem
from scrapy.http import Request, TextResponse

from crawlers.blocks import block_reason
from crawlers.pipelines import ValidationPipeline
from crawlers.replay import ReplayServer, load_scenario
from crawlers.spiders.tmall_reviews import TmallReviewsSpider
from crawlers.state import CrawlState
from crawlers.wiring import state_connection
from crisiswatch.deadletter import DeadLetters
from crisiswatch.mention import Mention
from tests.conftest import FIXTURES
from tests.replay_sources import crawl, small_scenario, stored, write_config

TARGET = "652310918452:2200000001"
URL = ("https://rate.tmall.com/list_detail_rate.htm?itemId=652310918452&spuId=&sellerId=2200000001&order=3"
       "&currentPage=1&append=0&content=1&callback=jsonp928")


def parse(crawler, fixture: str, page: int = 1) -> list:
    meta = {"brand": "aurora", "query": TARGET, "page": page}
    response = TextResponse(URL, body=(FIXTURES / fixture).read_bytes(), request=Request(URL, meta=meta),
                            headers={"Content-Type": "text/javascript;charset=UTF-8"})
    return list(crawler.spider.parse(response))


def test_start_builds_the_rate_url_from_item_and_seller(crawler_for):
    spider = crawler_for(TmallReviewsSpider, query=TARGET, brand="aurora", api="rate").spider

    async def first():
        async for request in spider.start():
            return request

    request = asyncio.run(first())
    parts = urlsplit(request.url)
    assert (parts.netloc, parts.path) == ("rate.tmall.com", "/list_detail_rate.htm")
    assert {k: v[0] for k, v in parse_qs(parts.query, keep_blank_values=True).items()} == {
        "itemId": "652310918452", "spuId": "", "sellerId": "2200000001", "order": "3", "currentPage": "1",
        "append": "0", "content": "1", "callback": "jsonp928"}


def test_normal_page_yields_rates_and_the_next_page(crawler_for):
    out = parse(crawler_for(TmallReviewsSpider), "tmall/rate_p1.jsonp")
    items = [Mention.model_validate(o) for o in out if isinstance(o, dict)]
    requests = [o for o in out if isinstance(o, Request)]
    assert [m.native_id for m in items] == ["1192837465001", "1192837465002", "1192837465003"]
    first = items[0]
    assert first.source == "tmall" and first.brands == ["aurora"] and first.query == TARGET
    assert first.text == "洗衣液味道很好闻，就是快递箱子破了一个角。\n追评：用了一周，洗得挺干净，回购。"
    assert first.created_at == datetime(2026, 11, 22, 10, 40, 12, tzinfo=UTC)
    assert first.author.name == "t***1" and first.extra["sku"] == "颜色分类:星空灰;规格:标准装"
    assert first.extra["reply"] == "感谢亲的支持～" and first.url.endswith("id=652310918452")
    assert [m.rating for m in items] == [5.0, 1.0, 3.0]
    assert len(requests) == 1 and "currentPage=2&" in requests[0].url and requests[0].meta["page"] == 2


def test_last_page_and_max_pages_stop_paging(crawler_for):
    out = parse(crawler_for(TmallReviewsSpider), "tmall/rate_last.jsonp", page=3)
    assert len(out) == 1 and isinstance(out[0], dict)
    assert not [o for o in parse(crawler_for(TmallReviewsSpider, max_pages=1), "tmall/rate_p1.jsonp")
                if isinstance(o, Request)]


def test_a_page_reaching_the_mark_ends_paging(crawler_for):
    crawler = crawler_for(TmallReviewsSpider)
    CrawlState(state_connection(crawler)).advance_mark("tmall", TARGET, datetime(2026, 11, 22, 1, 5, 55, tzinfo=UTC))
    assert not [o for o in parse(crawler, "tmall/rate_p1.jsonp") if isinstance(o, Request)]


def test_punish_reply_is_a_block_and_a_normal_page_is_not():
    punish = TextResponse(URL, body=(FIXTURES / "tmall/punish.json").read_bytes(), request=Request(URL))
    assert "rgv587" in block_reason(punish, expects_json=True)
    wrapped = TextResponse(URL, body=b'jsonp928({"rgv587_flag":"sm","url":"/punish"})', request=Request(URL))
    assert "rgv587" in block_reason(wrapped, expects_json=True)
    normal = TextResponse(URL, body=(FIXTURES / "tmall/rate_p1.jsonp").read_bytes(), request=Request(URL))
    assert block_reason(normal, expects_json=True) is None


def test_changed_layout_is_dead_lettered_with_one_health_event(crawler_for):
    crawler = crawler_for(TmallReviewsSpider)
    items = [o for o in parse(crawler, "tmall/rate_layout_changed.jsonp") if isinstance(o, dict)]
    with pytest.raises(DropItem, match="created_at"):
        ValidationPipeline.from_crawler(crawler).process_item(items[0])
    assert DeadLetters(state_connection(crawler)).recent()[0].payload["native_id"] == "1192837465999"
    parse(crawler, "tmall/rate_layout_changed.jsonp", page=2)
    assert [e.event for e in CrawlState(state_connection(crawler)).events()] == ["layout_changed"]


def test_second_crawl_over_the_replay_server_reads_only_the_newest_page(tmp_path):
    scenario = load_scenario(str(small_scenario(tmp_path)))
    expected = sum(1 for p in scenario.posts if p.source == "tmall")
    with ReplayServer(scenario) as server:
        cfg = write_config(tmp_path, server)
        first = crawl(cfg, server, "tmall_reviews", "-a", "api=rate")
        assert first.returncode == 0, first.stderr[-2000:]
        assert stored(tmp_path / "cw.db", "tmall") == (expected, expected), first.stdout + first.stderr[-1500:]
        assert len(first.requests) == -(-expected // 10)
        second = crawl(cfg, server, "tmall_reviews", "-a", "api=rate")
        assert second.returncode == 0, second.stderr[-2000:]
        assert len(second.requests) == 1 and "currentPage=1&" in second.requests[0]


def test_mtop_crawl_signs_with_the_token_the_gateway_hands_out(tmp_path):
    scenario = load_scenario(str(small_scenario(tmp_path)))
    expected = sum(1 for p in scenario.posts if p.source == "tmall")
    with ReplayServer(scenario) as server:
        cfg = write_config(tmp_path, server)
        first = crawl(cfg, server, "tmall_reviews")
        assert first.returncode == 0, first.stdout + first.stderr[-2000:]
        assert stored(tmp_path / "cw.db", "tmall") == (expected, expected), first.stdout + first.stderr[-1500:]
        # the first call has no _m_h5_tk: the gateway sets one, the spider signs again with it
        assert all("/h5/mtop.alibaba.review.list.for.new.pc.detail/1.0/" in r for r in first.requests)
        assert len(first.requests) == 1 + -(-expected // 20)
        sent = server.request_headers[-len(first.requests):]
        assert "_m_h5_tk=" not in sent[0].get("Cookie", "") and "_m_h5_tk=" in sent[1].get("Cookie", "")
        second = crawl(cfg, server, "tmall_reviews")
        assert second.returncode == 0, second.stdout + second.stderr[-2000:]
        assert len(second.requests) <= len(first.requests)
        assert stored(tmp_path / "cw.db", "tmall") == (expected, expected)


def test_mtop_without_a_login_session_says_it_needs_a_cookie(tmp_path):
    scenario = load_scenario(str(small_scenario(tmp_path)))
    with ReplayServer(scenario) as server:
        server.require_login("tmall", "cookie2", "valid-session")
        cfg = write_config(tmp_path, server)
        out = crawl(cfg, server, "tmall_reviews")
    assert out.returncode == 1
    assert "BLOCKED: mtop login session expired (FAIL_SYS_SESSION_EXPIRED" in out.stdout
    assert "needs a login cookie (set sources.tmall_reviews.cookie_env or cookie_files)" in out.stdout
    assert stored(tmp_path / "cw.db", "tmall") == (0, 0)


MTOP_URL = "https://h5api.m.tmall.com/h5/mtop.alibaba.review.list.for.new.pc.detail/1.0/?data=x"


def mtop_reply(crawler, data, page: int) -> list:
    import json

    body = {"api": "mtop.alibaba.review.list.for.new.pc.detail", "v": "1.0", "ret": ["SUCCESS::调用成功"], "data": data}
    meta = {"brand": "aurora", "query": TARGET, "page": page, "token_tries": 0}
    response = TextResponse(MTOP_URL, body=json.dumps(body, ensure_ascii=False).encode(), encoding="utf-8",
                            request=Request(MTOP_URL, meta=meta))
    return list(crawler.spider.parse_mtop(response))


@pytest.mark.parametrize("data", [
    {},  # no module at all
    {"rateList": [{"id": "1055390400001", "feedback": "纸巾一拆就破", "feedbackDate": "2025-06-12"}], "total": "1"},
    {"model": {"reviewVOList": []}},  # a renamed module
])
def test_mtop_success_without_a_module_on_the_first_page_is_unreadable(crawler_for, data):
    crawler = crawler_for(TmallReviewsSpider)
    assert mtop_reply(crawler, data, page=1) == []
    ((query, reason, _),) = crawler.spider.lost_pages
    assert query == TARGET and "without data.module on the first page" in reason
    assert crawler.stats.get_value("crisiswatch/layout_changed") == 1


def test_mtop_success_without_a_module_past_the_first_page_is_the_end(crawler_for):
    crawler = crawler_for(TmallReviewsSpider)
    assert mtop_reply(crawler, {}, page=3) == []
    # an item without reviews: a first page with an empty list
    assert mtop_reply(crawler, {"module": {"reviewVOList": [], "hasNext": "false"}}, page=1) == []
    assert not crawler.spider.lost_pages and not crawler.stats.get_value("crisiswatch/layout_changed")


def test_an_item_without_reviews_over_the_replay_server_is_a_clean_finish(tmp_path):
    scenario = load_scenario(str(small_scenario(tmp_path)))
    with ReplayServer(scenario) as server:
        cfg = write_config(tmp_path, server)
        out = crawl(cfg, server, "tmall_reviews", "--query", "600000000001")  # an item the site has no reviews of
    assert out.returncode == 0, out.stdout + out.stderr[-2000:]
    assert "tmall_reviews: finished" in out.stdout and "0 mentions" in out.stdout
