"""聚投诉: the post search list, full texts from post pages, the login wall, and incremental crawls over HTTP."""

from __future__ import annotations

import asyncio
import json
import sqlite3
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
from scrapy.exceptions import CloseSpider, DropItem
from scrapy.http import HtmlResponse, Request, TextResponse

from crawlers.blocks import block_reason
from crawlers.pipelines import ValidationPipeline
from crawlers.replay import ReplayServer, load_scenario
from crawlers.spiders.jutousu import JutousuSpider
from crawlers.state import CrawlState
from crawlers.wiring import state_connection
from crisiswatch.deadletter import DeadLetters
from crisiswatch.mention import Mention
from tests.conftest import FIXTURES
from tests.replay_crawl import Clock
from tests.replay_sources import crawl, small_scenario, stored, write_config

KEYWORD = "极光优选"
URL = "https://ts.21cn.com/front/api/search/searchPostList.do?pageNo=1&title=%E6%9E%81%E5%85%89%E4%BC%98%E9%80%89&listType=1"
SHOW = "https://ts.21cn.com/tousu/show/id/2305099"


def parse(crawler, fixture: str, page: int = 1) -> list:
    meta = {"brand": "aurora", "query": KEYWORD, "page": page}
    response = TextResponse(URL, body=(FIXTURES / fixture).read_bytes(), request=Request(URL, meta=meta),
                            headers={"Content-Type": "application/json;charset=UTF-8"})
    return list(crawler.spider.parse(response))


def test_start_builds_the_search_url(crawler_for):
    spider = crawler_for(JutousuSpider, query=KEYWORD, brand="aurora").spider

    async def first():
        async for request in spider.start():
            return request

    parts = urlsplit(asyncio.run(first()).url)
    assert (parts.netloc, parts.path) == ("ts.21cn.com", "/front/api/search/searchPostList.do")
    assert {k: v[0] for k, v in parse_qs(parts.query).items()} == {"pageNo": "1", "title": KEYWORD, "listType": "1"}


def test_full_page_yields_posts_fetches_cut_topics_and_pages_on(crawler_for):
    crawler = crawler_for(JutousuSpider)
    out = parse(crawler, "jutousu/searchPostList_p1.json")
    items = [Mention.model_validate(o) for o in out if isinstance(o, dict)]
    details = [o for o in out if isinstance(o, Request) and o.callback == crawler.spider.parse_detail]
    pages = [o for o in out if isinstance(o, Request) and o.callback == crawler.spider.parse]
    assert len(items) == 8 and [r.url for r in details] == [SHOW, "https://ts.21cn.com/tousu/show/id/2305093"]
    first = items[0]
    assert first.source == "jutousu" and first.native_id == "2305100" and first.brands == ["aurora"]
    assert first.title == "极光优选快递八天没到，客服电话一" and first.text == "极光优选快递八天没到，客服电话一直占线，要求退款"
    assert first.created_at == datetime.fromtimestamp(1795741200, UTC) and first.author.name == "用户8801"
    assert first.url == "https://ts.21cn.com/tousu/show/id/2305100" and first.extra["appeal"] == "退款"
    assert len(pages) == 1 and "pageNo=2&" in pages[0].url

    page = HtmlResponse(SHOW, body=(FIXTURES / "jutousu/show.html").read_bytes(), request=details[0])
    full = Mention.model_validate(next(crawler.spider.parse_detail(page)))
    assert full.native_id == "2305099" and full.text.endswith("要求全额退款并赔偿来回运费。")
    assert "..." not in full.text and full.extra["full_text"]


def test_short_page_and_max_pages_stop_paging(crawler_for):
    out = parse(crawler_for(JutousuSpider), "jutousu/searchPostList_last.json", page=4)
    assert len(out) == 1 and isinstance(out[0], dict)
    assert not [o for o in parse(crawler_for(JutousuSpider, max_pages=1), "jutousu/searchPostList_p1.json")
                if isinstance(o, Request) and "searchPostList" in o.url]


def test_paging_stops_at_the_mark_and_known_posts_are_not_refetched(crawler_for):
    crawler = crawler_for(JutousuSpider)
    CrawlState(state_connection(crawler)).advance_mark("jutousu", KEYWORD, datetime.fromtimestamp(1795741200 - 3 * 3600, UTC))
    out = parse(crawler, "jutousu/searchPostList_p1.json")
    requests = [o for o in out if isinstance(o, Request)]
    assert [r.url for r in requests] == [SHOW]  # the other cut post is older than the mark; no next page
    # the older cut post is stored with its full text already: its cut copy must not overwrite it
    assert "2305093" not in [o["native_id"] for o in out if isinstance(o, dict)]
    assert len([o for o in out if isinstance(o, dict)]) == 8


def test_login_wall_is_a_block_wherever_it_appears(crawler_for):
    wall = (FIXTURES / "jutousu/login_wall.html").read_bytes()
    assert "聚投诉 login wall" in block_reason(HtmlResponse(URL, body=wall, request=Request(URL)), expects_json=True)
    assert "聚投诉 login wall" in block_reason(HtmlResponse(SHOW, body=wall, request=Request(SHOW)), expects_json=True)
    post_page = HtmlResponse(SHOW, body=(FIXTURES / "jutousu/show.html").read_bytes(), request=Request(SHOW))
    assert block_reason(post_page, expects_json=True) is None
    crawler = crawler_for(JutousuSpider)
    request = Request(SHOW, meta={"item": {"native_id": "2305099", "text": "x...", "extra": {}}})
    body = "<html><head><title>聚投诉</title></head><body><a>登录聚投诉</a>后查看</body></html>".encode()
    with pytest.raises(CloseSpider) as raised:
        list(crawler.spider.parse_detail(HtmlResponse(SHOW, body=body, request=request)))
    assert raised.value.reason == "blocked"


def test_changed_layouts_dead_letter_or_keep_the_short_text_with_one_health_event(crawler_for):
    crawler = crawler_for(JutousuSpider)
    items = [o for o in parse(crawler, "jutousu/searchPostList_layout_changed.json") if isinstance(o, dict)]
    with pytest.raises(DropItem, match="created_at"):
        ValidationPipeline.from_crawler(crawler).process_item(items[0])
    assert DeadLetters(state_connection(crawler)).recent()[0].payload["native_id"] == "2305999"
    item = {"native_id": "2305099", "text": "短文本...", "extra": {}}
    page = HtmlResponse(SHOW, body=(FIXTURES / "jutousu/show_changed.html").read_bytes(),
                        request=Request(SHOW, meta={"item": item}))
    assert list(crawler.spider.parse_detail(page)) == [item]
    assert [e.event for e in CrawlState(state_connection(crawler)).events()] == ["layout_changed"]


def test_second_crawl_over_the_replay_server_reads_only_the_newest_page(tmp_path):
    scenario = load_scenario(str(small_scenario(tmp_path)))
    posts = [p for p in scenario.posts if p.source == "jutousu" and KEYWORD in p.text]
    cut = sum(1 for p in posts if len(p.text) > 30)
    with ReplayServer(scenario) as server:
        cfg = write_config(tmp_path, server)
        first = crawl(cfg, server, "jutousu")
        assert first.returncode == 0, first.stderr[-2000:]
        assert stored(tmp_path / "cw.db", "jutousu") == (len(posts), len(posts)), first.stdout + first.stderr[-1500:]
        shows = [r for r in first.requests if r.startswith("/tousu/show/id/")]
        assert 0 < len(shows) == cut  # the post pages passed block detection and completed the texts
        second = crawl(cfg, server, "jutousu")
        assert second.returncode == 0, second.stderr[-2000:]
        assert second.requests == [first.requests[0]]
        texts = [json.loads(r[0])["text"] for r in sqlite3.connect(tmp_path / "cw.db").execute(
            "SELECT doc FROM mentions WHERE source='jutousu'")]
        assert not [t for t in texts if t.endswith("...")]  # full texts survived the second crawl


def test_a_search_listed_otherwise_than_newest_first_is_read_past_the_mark(tmp_path):
    """Before: the stop at the mark trusted the search to be newest first; listed by relevance, a second crawl
    read one page and the new posts listed among the old ones on later pages were never read."""
    scenario = load_scenario(str(small_scenario(tmp_path)))
    posts = [p for p in scenario.posts if p.source == "jutousu" and KEYWORD in p.text]
    clock = Clock(scenario.end - timedelta(hours=3))
    with ReplayServer(scenario, clock=clock) as server:
        server.jutousu_by_relevance = True
        cfg = write_config(tmp_path, server)
        assert crawl(cfg, server, "jutousu").returncode == 0
        clock.advance(hours=3)
        second = crawl(cfg, server, "jutousu")
    assert second.returncode == 0, second.stdout + second.stderr[-2000:]
    assert "is not listed newest first" in second.stderr
    assert "1 query not listed newest first (read on, not stopped at the mark)" in second.stdout
    assert len([r for r in second.requests if "searchPostList" in r]) == -(-len(posts) // 10) + (len(posts) % 10 == 0)
    assert stored(tmp_path / "cw.db", "jutousu") == (len(posts), len(posts))


def test_a_page_repeating_an_earlier_one_blocks_instead_of_paging_on(crawler_for):
    """Before: page 2 answered with page 1's posts was read on (to max_pages, each repeat dropped as a
    duplicate), 'finished', and the mark moved past the posts the site never showed."""
    crawler = crawler_for(JutousuSpider)
    parse(crawler, "jutousu/searchPostList_p1.json")
    with pytest.raises(CloseSpider) as raised:
        parse(crawler, "jutousu/searchPostList_p1.json", page=2)
    assert raised.value.reason == "blocked" and crawler.spider.blocked.startswith("page 2 repeats posts of an earlier page")
    assert [e.event for e in CrawlState(state_connection(crawler)).events()] == ["source_blocked"]
