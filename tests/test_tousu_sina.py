"""黑猫投诉: the request signature, the complaint lists and pages, blocks, and incremental crawls over HTTP."""

from __future__ import annotations

import asyncio
import json
import random
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
from scrapy.exceptions import CloseSpider, DropItem
from scrapy.http import HtmlResponse, Request, TextResponse

from crawlers.blocks import LOGIN, block_of, block_reason
from crawlers.health import source_health
from crawlers.pipelines import ValidationPipeline
from crawlers.replay import ReplayServer, load_scenario
from crawlers.replay.sites import tousu as tousu_site
from crawlers.spiders.tousu_sina import TousuSinaSpider
from crawlers.state import CrawlState
from crawlers.tousu_signature import signature, signed_params
from crawlers.wiring import state_connection
from crisiswatch.db import connect
from crisiswatch.deadletter import DeadLetters
from crisiswatch.mention import Mention
from tests import realsize, replay_crawl
from tests.conftest import FIXTURES
from tests.replay_crawl import Clock, rows
from tests.replay_sources import crawl, small_scenario, stored, write_config

COUID = "6384912431"
BRAND = "极光优选"
LIST = f"https://tousu.sina.com.cn/api/company/received_complaints?couid={COUID}&type=1&page_size=10&page=1"
VIEW = "https://tousu.sina.com.cn/complaint/view/17395550001/"


def test_signature_reproduces_a_captured_request():
    assert signature("1614340290475", "I66jvmc7WhlW1wOE", COUID, 1, 10, 1) == (
        "a5c5f96f03b397bf45566a07faa959fa473b7ba65e1000dc6714ad12ab97d75f")
    # the values are sorted before hashing, so their order does not matter; every value does
    assert signature("1614340290475", "I66jvmc7WhlW1wOE", 1, 10, 1, COUID) == signature(
        "1614340290475", "I66jvmc7WhlW1wOE", COUID, 1, 10, 1)
    assert signature("1614340290475", "I66jvmc7WhlW1wOE", COUID, 1, 10, 2) != signature(
        "1614340290475", "I66jvmc7WhlW1wOE", COUID, 1, 10, 1)


def test_signed_params_carry_ts_rs_and_a_matching_signature():
    params = signed_params({"couid": COUID, "type": 1, "page_size": 10, "page": 3}, now_ms=1795741200123,
                           rng=random.Random(4))
    assert list(params)[:3] == ["ts", "rs", "signature"] and params["ts"] == "1795741200123"
    assert len(params["rs"]) == 16 and params["rs"].isalnum()
    assert params["signature"] == signature(params["ts"], params["rs"], COUID, "1", "10", "3")


def _first_request(spider) -> Request:
    async def first():
        async for request in spider.start():
            return request

    return asyncio.run(first())


@pytest.mark.parametrize(("target", "path", "signed"), [
    (COUID, "/api/company/received_complaints", ["couid", "type", "page_size", "page"]),
    ("feed", "/api/index/feed", ["type", "page_size", "page"]),
    ("极光优选", "/api/index/s", ["keywords", "page_size", "page"]),
])
def test_each_target_kind_gets_its_signed_list_url(crawler_for, target, path, signed):
    request = _first_request(crawler_for(TousuSinaSpider, query=target, brand="aurora").spider)
    parts = urlsplit(request.url)
    query = {k: v[0] for k, v in parse_qs(parts.query).items()}
    assert parts.path == path and list(query) == ["ts", "rs", "signature", *signed]
    assert query["signature"] == signature(query["ts"], query["rs"], *(query[k] for k in signed))


def parse(crawler, fixture: str, query: str = COUID, page: int = 1) -> list:
    meta = {"brand": "aurora", "query": query, "page": page}
    response = TextResponse(LIST, body=(FIXTURES / fixture).read_bytes(), request=Request(LIST, meta=meta),
                            headers={"Content-Type": "application/json;charset=UTF-8"})
    return list(crawler.spider.parse(response))


def test_complaint_list_keeps_the_complaint_fields_and_pages_on(crawler_for):
    out = parse(crawler_for(TousuSinaSpider), "tousu/received_complaints_p1.json")
    items = [Mention.model_validate(o) for o in out if isinstance(o, dict)]
    requests = [o for o in out if isinstance(o, Request)]
    assert [m.native_id for m in items] == ["17395550001", "17395550002", "17395550003"]
    first = items[0]
    assert first.source == "tousu_sina" and first.brands == ["aurora"] and first.query == COUID
    assert first.title == "极光优选快递九天未到，客服推诿" and first.text.startswith("11月13日在极光优选下单")
    assert first.url == "https://tousu.sina.com.cn/complaint/view/17395550001/"
    assert first.created_at == datetime.fromtimestamp(1795741200, UTC)
    assert first.author.name == "海盐柠檬" and first.engagement.likes == 3
    assert {k: first.extra[k] for k in ("sn", "appeal", "cotitle", "cost", "status", "timestamp")} == {
        "sn": "17395550001", "appeal": "退款", "cotitle": "极光优选", "cost": "299", "status": "处理中",
        "timestamp": "1795741200"}
    assert len(requests) == 1 and requests[0].meta["page"] == 2
    assert parse_qs(urlsplit(requests[0].url).query)["page"] == ["2"]


def test_last_page_and_max_pages_stop_paging(crawler_for):
    out = parse(crawler_for(TousuSinaSpider), "tousu/received_complaints_last.json", page=3)
    assert len(out) == 1 and isinstance(out[0], dict)
    assert not [o for o in parse(crawler_for(TousuSinaSpider, max_pages=1), "tousu/received_complaints_p1.json")
                if isinstance(o, Request)]


def test_paging_stops_at_the_first_complaint_older_than_the_mark(crawler_for):
    crawler = crawler_for(TousuSinaSpider)
    # the mark sits between the 2nd and 3rd complaint: the page is not all old, but the list has reached it
    CrawlState(state_connection(crawler)).advance_mark("tousu_sina", COUID, datetime.fromtimestamp(1795735000, UTC))
    out = parse(crawler, "tousu/received_complaints_p1.json")
    assert len([o for o in out if isinstance(o, dict)]) == 3
    assert not [o for o in out if isinstance(o, Request)]


def test_feed_keeps_only_complaints_about_the_brand(crawler_for):
    items = [o for o in parse(crawler_for(TousuSinaSpider), "tousu/feed_p1.json", query="feed") if isinstance(o, dict)]
    assert [i["native_id"] for i in items] == ["17395550001"]


def test_details_add_status_and_timeline(crawler_for):
    crawler = crawler_for(TousuSinaSpider, details="1")
    out = parse(crawler, "tousu/received_complaints_p1.json")
    details = [o for o in out if isinstance(o, Request) and o.callback == crawler.spider.parse_detail]
    assert [r.url for r in details][:1] == [VIEW] and len(details) == 3
    page = HtmlResponse(VIEW, body=(FIXTURES / "tousu/detail.html").read_bytes(), request=details[0])
    item = Mention.model_validate(next(crawler.spider.parse_detail(page)))
    assert item.extra["status"] == "已回复"
    assert [(s["name"], s["status"]) for s in item.extra["timeline"]] == [("海盐柠檬", "发起投诉"), ("极光优选", "商家已回复")]
    assert item.text.endswith("请平台督促处理，全额退款。")  # the whole complaint, not the list's summary
    assert item.title == "极光优选快递九天未到，客服推诿"


def test_a_captcha_instead_of_a_complaint_page_is_a_block(crawler_for):
    captcha = HtmlResponse(VIEW, body=(FIXTURES / "tousu/captcha.html").read_bytes(), request=Request(VIEW))
    assert "验证码" in block_reason(captcha, expects_json=True)
    # a complaint that talks about 验证码 is not a captcha page
    talk = HtmlResponse(VIEW, body=(FIXTURES / "tousu/detail.html").read_bytes().replace(
        "退款".encode(), "验证码".encode()), request=Request(VIEW))
    assert block_reason(talk, expects_json=True) is None
    crawler = crawler_for(TousuSinaSpider, details="1")
    request = Request(VIEW, meta={"item": {"native_id": "1", "text": "x", "extra": {}}})
    wall = HtmlResponse(VIEW, body="<html><body>请先登录后查看</body></html>".encode(), request=request)
    with pytest.raises(CloseSpider) as raised:
        list(crawler.spider.parse_detail(wall))
    assert raised.value.reason == "blocked" and crawler.spider.blocked
    assert [e.event for e in CrawlState(state_connection(crawler)).events()] == ["source_blocked"]


def test_refused_list_and_changed_layout_raise_one_health_event(crawler_for):
    crawler = crawler_for(TousuSinaSpider)
    other = TextResponse(LIST, body=(FIXTURES / "tousu/refused.json").read_bytes().replace(
        "签名错误".encode(), "参数错误".encode()), request=Request(LIST, meta={"brand": "aurora", "query": COUID, "page": 1}))
    assert list(crawler.spider.parse(other)) == []
    items = [o for o in parse(crawler, "tousu/received_complaints_layout_changed.json") if isinstance(o, dict)]
    with pytest.raises(DropItem, match="created_at"):
        ValidationPipeline.from_crawler(crawler).process_item(items[0])
    assert "text" in DeadLetters(state_connection(crawler)).recent()[0].reason
    events = CrawlState(state_connection(crawler)).events()
    assert [e.event for e in events] == ["layout_changed"] and "参数错误" in events[0].detail["reason"]


def test_second_crawl_over_the_replay_server_reads_only_the_newest_page(tmp_path):
    scenario = load_scenario(str(small_scenario(tmp_path)))
    expected = sum(1 for p in scenario.posts if p.source == "tousu_sina")
    with ReplayServer(scenario) as server:
        cfg = write_config(tmp_path, server)
        first = crawl(cfg, server, "tousu_sina")
        assert first.returncode == 0, first.stderr[-2000:]
        assert stored(tmp_path / "cw.db", "tousu_sina") == (expected, expected), first.stdout + first.stderr[-1500:]
        assert len(first.requests) == -(-expected // 10)
        second = crawl(cfg, server, "tousu_sina")
        assert second.returncode == 0, second.stderr[-2000:]
        assert len(second.requests) == 1 and second.requests[0].endswith("&page=1")


def _crawl_keyword(tmp_path, server, *args: str):
    cfg = replay_crawl.write_config(tmp_path, {"tousu_sina": server.base_url}, sources={"tousu_sina": [BRAND]})
    return crawl(cfg, server, "tousu_sina", *args)


def _texts(db) -> list[str]:
    """Each stored complaint's text, title and extra fields (the company name, the list's title and summary)."""
    return [json.dumps({k: doc[k] for k in ("text", "title", "extra")}, ensure_ascii=False)
            for doc in (json.loads(r[0]) for r in rows(db, "SELECT doc FROM mentions"))]


def test_keyword_search_is_listed_by_relevance_so_the_mark_never_stops_it(tmp_path):
    """Before: the keyword search (sorted by relevance: public samples list 11-23, 12-13, 11-18) stopped at the
    first page holding a complaint older than the mark, and new complaints on later pages were never read."""
    scenario = load_scenario(str(small_scenario(tmp_path)))
    complaints = [p for p in scenario.posts if p.source == "tousu_sina"]
    clock = Clock(scenario.end - timedelta(hours=3))
    with ReplayServer(scenario, clock=clock) as server:
        first = _crawl_keyword(tmp_path, server)
        assert first.returncode == 0, first.stdout + first.stderr[-2000:]
        clock.advance(hours=3)  # new complaints, which the search lists among the old ones
        second = _crawl_keyword(tmp_path, server)
        assert second.returncode == 0, second.stdout + second.stderr[-2000:]
    assert len(second.requests) == -(-len(complaints) // 10)  # every page, not only the first
    assert stored(tmp_path / "cw.db", "tousu_sina") == (len(complaints), len(complaints))
    # the search's hit marks are not the complainants' words, nor part of the company's name
    texts = _texts(tmp_path / "cw.db")
    assert not [t for t in texts if "code-red" in t or "span>" in t] and any(f'"cotitle": "{BRAND}"' in t for t in texts)


def test_a_keyword_search_capped_at_max_pages_says_the_next_crawl_starts_at_page_1_again(tmp_path):
    """Before: the crawl said the next one "reads on toward" the mark, which a list ranked by relevance never
    does: the next crawl starts at page 1 again, and the complaints past the cap wait until they rank higher."""
    scenario = load_scenario(str(small_scenario(tmp_path)))
    assert sum(1 for p in scenario.posts if p.source == "tousu_sina") > 10  # more than one page
    with ReplayServer(scenario) as server:
        capped = _crawl_keyword(tmp_path, server, "--max-pages", "1")
    assert capped.returncode == 0 and len(capped.requests) == 1, capped.stdout + capped.stderr[-2000:]
    ranked = "ranked by relevance or likes: the next crawl starts at page 1 again"
    assert (f"1 query stopped at max_pages 1 (1 {ranked}, posts past the cap out of reach until they rank higher)"
            in capped.stdout), capped.stdout
    assert f"{BRAND!r} has more posts than 1 pages hold" in capped.stderr and ranked in capped.stderr
    assert "reads on" not in capped.stdout + capped.stderr
    health = {h.source: h for h in source_health(connect(tmp_path / "cw.db"))}["tousu_sina"]
    assert health.status == "ok" and f"stopped at max_pages 1: {BRAND!r} {ranked}" in health.reason, health.reason


def test_a_refused_signature_blocks_the_source_as_gated(tmp_path):
    """Before: 签名错误 (the site's web app changed its salt) was an unreadable page: status layout-changed."""
    with ReplayServer(load_scenario(str(small_scenario(tmp_path)))) as server:
        cfg = write_config(tmp_path, server)
        server.tousu_salt = "$0ther-salt%"
        refused = crawl(cfg, server, "tousu_sina")
    assert refused.returncode == 1 and "BLOCKED: 黑猫投诉 refused the request signature (签名错误)" in refused.stdout
    (status,) = source_health(connect(tmp_path / "cw.db"), ["tousu_sina"])
    assert status.status == "gated" and "tousu_signature.py" in status.reason


def test_a_search_that_wants_a_login_says_needs_cookie(tmp_path):
    """Before: the search's login refusal (请先登录) was an unreadable page: status layout-changed."""
    with ReplayServer(load_scenario(str(small_scenario(tmp_path)))) as server:
        server.inject("/api/index/s?", "tousu_login", times=0)
        wall = _crawl_keyword(tmp_path, server)
    assert wall.returncode == 1 and "黑猫投诉 login required (请先登录)" in wall.stdout, wall.stdout
    (status,) = source_health(connect(tmp_path / "cw.db"), ["tousu_sina"])
    assert status.status == "needs-cookie" and "cookie" in status.reason


def test_a_sina_login_page_where_json_was_expected_is_a_login_wall():
    page = HtmlResponse(LIST, body=b'<html><head><title>\xe6\x96\xb0\xe6\xb5\xaa\xe9\x80\x9a\xe8\xa1\x8c\xe8\xaf\x81</title>'
                        b'</head><body><form action="https://login.sina.com.cn/sso/login.php"></form></body></html>',
                        request=Request(LIST))
    assert block_of(page, expects_json=True).kind == LOGIN
    moved = TextResponse(LIST, status=302, headers={"Location": "https://login.sina.com.cn/signup/signin.php?entry=ts"})
    assert block_of(moved, expects_json=True).kind == LOGIN


def test_an_empty_page_the_pager_counts_is_throttling_not_the_end(tmp_path):
    """Before: page 2 of 3 coming back empty (the site's 风控) ended the list: 'finished', marks moved."""
    with ReplayServer(load_scenario(str(small_scenario(tmp_path)))) as server:
        cfg = write_config(tmp_path, server)
        server.inject("&page=2", "tousu_throttled")
        throttled = crawl(cfg, server, "tousu_sina")
    assert throttled.returncode == 1 and "BLOCKED: page 2 came back empty" in throttled.stdout, throttled.stdout
    assert rows(tmp_path / "cw.db", "SELECT COUNT(*) FROM crawl_marks") == [(0,)]
    (status,) = source_health(connect(tmp_path / "cw.db"), ["tousu_sina"])
    assert status.status == "blocked"


def test_a_reply_without_a_pager_pages_on_and_says_the_layout_changed(crawler_for):
    """Before: a reply without result.data.pager ended the crawl after its first page, status ok."""
    body, _ = realsize.tousu_list(10)
    payload = json.loads(body)
    del payload["result"]["data"]["pager"]
    crawler = crawler_for(TousuSinaSpider)
    response = TextResponse(LIST, body=json.dumps(payload).encode(), headers={"Content-Type": "application/json"},
                            request=Request(LIST, meta={"brand": "aurora", "query": COUID, "page": 1}))
    out = list(crawler.spider.parse(response))
    assert len([o for o in out if isinstance(o, dict)]) == 10
    assert [o.meta["page"] for o in out if isinstance(o, Request)] == [2]
    (event,) = CrawlState(state_connection(crawler)).events()
    assert event.event == "layout_changed" and "pager" in event.detail["reason"]


def test_a_company_list_out_of_time_order_is_not_stopped_at_the_mark(crawler_for):
    """Before: the company list was trusted to be newest first: an old complaint listed first stopped paging
    at the mark, and the new complaints after it were never looked for again."""
    every = realsize.posts(30, source="tousu_sina")
    chunk = [every[20], *every[:9]]
    body = json.dumps(tousu_site.list_reply(chunk, BRAND, 1, 10, 30, "complaints")).encode()
    crawler = crawler_for(TousuSinaSpider)
    CrawlState(state_connection(crawler)).advance_mark("tousu_sina", COUID, every[15].created_at)
    out = list(crawler.spider.parse(TextResponse(LIST, body=body, headers={"Content-Type": "application/json"},
                                                 request=Request(LIST, meta={"brand": "aurora", "query": COUID,
                                                                             "page": 1}))))
    assert [o.meta["page"] for o in out if isinstance(o, Request)] == [2]
    assert crawler.stats.get_value("crisiswatch/not_newest_first") == 1


def test_a_page_repeating_an_earlier_one_blocks_instead_of_paging_on(crawler_for):
    """Before: page 2 answered with page 1's complaints was read on as more of the list, 'finished'."""
    crawler = crawler_for(TousuSinaSpider)
    parse(crawler, "tousu/received_complaints_p1.json")
    with pytest.raises(CloseSpider):
        parse(crawler, "tousu/received_complaints_p1.json", page=2)
    assert crawler.spider.blocked.startswith("page 2 repeats complaints of an earlier page")
