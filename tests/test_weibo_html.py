"""s.weibo.com's HTML search (`weibo_search -a mode=html`): cards, paging, the no-result card, the
login wall, a changed layout, and time slices that get past the site's 50-page cap."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
from parsel import Selector
from scrapy.exceptions import CloseSpider, DropItem
from scrapy.http import Request

from crawlers import weibo_html
from crawlers.blocks import block_reason
from crawlers.normalize import CHINA
from crawlers.pipelines import ValidationPipeline
from crawlers.spiders.weibo_search import WeiboSearchSpider
from crawlers.state import CrawlState
from crawlers.weibo_html import Slice
from crawlers.wiring import state_connection
from crisiswatch.deadletter import DeadLetters
from crisiswatch.mention import Mention
from tests.conftest import FIXTURES, fixture_response

NOW = datetime(2025, 6, 14, 6, 0, tzinfo=UTC)  # 14:00 in China
WEEK = "custom:2025-06-08-0:2025-06-15-0"
URL = "https://s.weibo.com/weibo?q=%E6%9E%81%E5%85%89%E4%BC%98%E9%80%89&typeall=1&suball=1&page=1"


def meta(timescope: str = WEEK, page: int = 1) -> dict:
    return {"brand": "aurora", "query": "极光优选", "page": page, "timescope": timescope}


def parse(crawler, fixture: str, **kw):
    return list(crawler.spider.parse_html(fixture_response(fixture, URL, meta=meta(**kw))))


def cards(fixture: str) -> list[Mention]:
    sel = Selector(text=(FIXTURES / fixture).read_text(encoding="utf-8"))
    return [Mention.model_validate(weibo_html.card_item(c, query="极光优选", brand="aurora", now=NOW))
            for c in weibo_html.cards(sel)]


def test_cards_in_every_time_format():
    m = cards("weibo/s_weibo_search.html")
    assert [x.native_id for x in m] == [f"513000000000000{i}" for i in range(1, 7)]
    assert [x.created_at for x in m] == [
        datetime(2025, 6, 14, 4, 30, tzinfo=UTC),       # 今天12:30
        NOW,                                            # 刚刚
        NOW - timedelta(seconds=30),                    # 30秒前
        NOW - timedelta(minutes=5),                     # 5分钟前
        datetime(2025, 6, 14, 4, 30, tzinfo=UTC),       # 06月14日 12:30
        datetime(2024, 6, 14, 4, 30, tzinfo=UTC),       # 2024年06月14日 12:30
    ]


def test_card_fields():
    first, second, third, fourth, repost, old = cards("weibo/s_weibo_search.html")
    # a long post: the hidden full text, without the 展开/收起 links
    assert first.text.endswith("我们已联系平台求证。") and "#极光优选物流#" in first.text
    assert "展开" not in first.text and "收起" not in first.text
    assert first.author.id == "1880000001" and first.author.name == "数码生活观察" and first.author.verified
    assert first.author.followers is None  # the card shows no follower count: unknown, not 0
    assert first.engagement.reposts == 35 and first.engagement.comments == 12_000 and first.engagement.likes == 21_000
    assert first.url == "https://weibo.com/1880000001/CurL0ng01" and first.extra["source"] == "iPhone客户端"
    assert second.text == "极光优选的客服今天终于接通了 [doge]" and not second.author.verified
    assert (third.engagement.reposts, third.engagement.comments, third.engagement.likes) == (0, 2, 5)
    assert fourth.author.verified and fourth.extra["verified_type"] == "vyellow" and "&" in fourth.text
    # a repost card: its own text, counts and time, never the quoted original's
    assert repost.text == "转发理由：同样遇到了，极光优选什么时候给说法" and repost.extra["repost"]
    assert repost.engagement.reposts == 1_000_000 and repost.author.id == "5000004444"
    assert old.author.verified and old.brands == ["aurora"] and old.query == "极光优选"


def test_normal_page_yields_cards_and_follows_next(crawler_for):
    out = parse(crawler_for(WeiboSearchSpider, mode="html"), "weibo/s_weibo_search.html")
    items = [o for o in out if isinstance(o, dict)]
    requests = [o for o in out if isinstance(o, Request)]
    assert len(items) == 6
    assert len(requests) == 1 and requests[0].meta["page"] == 2 and requests[0].meta["timescope"] == WEEK
    assert requests[0].url == "https://s.weibo.com/weibo?q=%E6%9E%81%E5%85%89%E4%BC%98%E9%80%89&page=2"
    assert requests[0].callback == requests[0].callback.__self__.parse_html


def test_last_page_and_no_result_end_the_slice(crawler_for):
    crawler = crawler_for(WeiboSearchSpider, mode="html")
    last = parse(crawler, "weibo/s_weibo_search_last.html", page=5)
    assert [o["native_id"] for o in last] == ["5130000000000007"]
    assert parse(crawler, "weibo/s_weibo_search_noresult.html") == []
    assert not crawler.stats.get_value("crisiswatch/layout_changed")


def test_a_capped_week_is_split_by_day_then_by_hour(crawler_for):
    crawler = crawler_for(WeiboSearchSpider, mode="html")
    out = parse(crawler, "weibo/s_weibo_search_capped.html")
    assert all(isinstance(o, Request) for o in out), "a capped range is read again in pieces, not parsed"
    scopes = [o.meta["timescope"] for o in out]
    assert scopes[0] == "custom:2025-06-14-0:2025-06-15-0" and scopes[-1] == "custom:2025-06-08-0:2025-06-09-0"
    assert len(scopes) == 7 and all(o.meta["page"] == 1 for o in out)
    hours = parse(crawler, "weibo/s_weibo_search_capped.html", timescope="custom:2025-06-14-0:2025-06-15-0")
    assert [o.meta["timescope"] for o in hours][:2] == ["custom:2025-06-14-23:2025-06-15-0",
                                                        "custom:2025-06-14-22:2025-06-14-23"]
    assert len(hours) == 24
    assert crawler.stats.get_value("crisiswatch/slices_split") == 2


def test_a_capped_hour_is_read_to_its_50th_page(crawler_for):
    crawler = crawler_for(WeiboSearchSpider, mode="html")
    out = parse(crawler, "weibo/s_weibo_search_capped.html", timescope="custom:2025-06-14-9:2025-06-14-10")
    assert [o["native_id"] for o in out if isinstance(o, dict)] == ["5130000000000008"]
    assert [o.meta["page"] for o in out if isinstance(o, Request)] == [2]
    assert crawler.stats.get_value("crisiswatch/slice_capped") == 1
    # at page 50 a next link means the hour holds more than the site lists: nothing more to ask for
    end = parse(crawler, "weibo/s_weibo_search.html", timescope="custom:2025-06-14-9:2025-06-14-10", page=50)
    assert not [o for o in end if isinstance(o, Request)] and len(end) == 6


def test_page_50_of_a_day_with_a_next_link_splits_the_day(crawler_for):
    out = parse(crawler_for(WeiboSearchSpider, mode="html"), "weibo/s_weibo_search.html",
                timescope="custom:2025-06-14-0:2025-06-15-0", page=50)
    assert len(out) == 24 and all(isinstance(o, Request) and o.meta["page"] == 1 for o in out)


def test_slices():
    week = Slice.parse(WEEK)
    assert week.start == datetime(2025, 6, 8, tzinfo=CHINA) and week.timescope == WEEK
    days = week.split()
    assert len(days) == 7 and days[0] == Slice.parse("custom:2025-06-08-0:2025-06-09-0")
    assert all(b.start == a.end for a, b in zip(days, days[1:], strict=False))
    assert len(days[0].split()) == 24 and days[0].split()[5].timescope == "custom:2025-06-08-5:2025-06-08-6"
    assert Slice.parse("custom:2025-06-08-5:2025-06-08-6").split() == []
    # ragged ranges: hours rounded outwards, day pieces end on China midnight
    ragged = Slice.covering(datetime(2025, 6, 8, 2, 40, tzinfo=UTC), datetime(2025, 6, 10, 1, 5, tzinfo=UTC))
    assert ragged.timescope == "custom:2025-06-08-10:2025-06-10-10"
    assert [p.timescope for p in ragged.split()] == ["custom:2025-06-08-10:2025-06-09-0",
                                                      "custom:2025-06-09-0:2025-06-10-0",
                                                      "custom:2025-06-10-0:2025-06-10-10"]
    assert len(Slice.parse("custom:2025-06-10-0:2025-06-10-10").split()) == 10
    # a moment on the hour still gets a one-hour slice
    on_hour = datetime(2025, 6, 8, 2, 0, tzinfo=UTC)
    assert Slice.covering(on_hour, on_hour).timescope == "custom:2025-06-08-10:2025-06-08-11"


def test_start_slices_from_since_until_or_the_mark(crawler_for):
    def first(crawler):
        async def go():
            async for request in crawler.spider.start():
                return request
        return asyncio.run(go())

    request = first(crawler_for(WeiboSearchSpider, mode="html", since="2025-06-01T00:00", until="2025-06-03T12:30"))
    assert request.meta["timescope"] == "custom:2025-06-01-0:2025-06-03-13"
    assert "timescope=custom%3A2025-06-01-0%3A2025-06-03-13" in request.url and "q=%E6%9E%81" in request.url
    crawler = crawler_for(WeiboSearchSpider, mode="html", until="2025-06-20T00:00+08:00")
    CrawlState(state_connection(crawler)).advance_mark("weibo", "极光优选", datetime(2025, 6, 18, 3, 10, tzinfo=UTC))
    assert first(crawler).meta["timescope"] == "custom:2025-06-18-11:2025-06-20-0"


def test_changed_layout_is_dead_lettered_and_the_crawl_goes_on(crawler_for):
    crawler = crawler_for(WeiboSearchSpider, mode="html")
    out = parse(crawler, "weibo/s_weibo_search_layout_changed.html")
    assert len(out) == 1 and out[0]["native_id"] == "5130000000000009"
    with pytest.raises(DropItem, match="created_at"):
        ValidationPipeline.from_crawler(crawler).process_item(out[0])
    letter = DeadLetters(state_connection(crawler)).recent()[0]
    assert "text" in letter.reason and letter.payload["native_id"] == "5130000000000009"


def test_a_page_with_no_cards_at_all_is_a_layout_change(crawler_for):
    crawler = crawler_for(WeiboSearchSpider, mode="html")
    html = (FIXTURES / "weibo/s_weibo_search_noresult.html").read_text(encoding="utf-8")
    from scrapy.http import HtmlResponse

    body = html.replace("card card-no-result", "card wbpro-empty").replace("passport.weibo.com", "example.org")
    response = HtmlResponse(URL, body=body.encode(), encoding="utf-8", request=Request(URL, meta=meta()))
    assert list(crawler.spider.parse_html(response)) == []
    assert [e.event for e in CrawlState(state_connection(crawler)).events()] == ["layout_changed"]


def test_visitor_wall_stops_the_source(crawler_for):
    crawler = crawler_for(WeiboSearchSpider, mode="html")
    with pytest.raises(CloseSpider) as raised:
        parse(crawler, "weibo/s_weibo_visitor.html")
    assert raised.value.reason == "blocked" and crawler.spider.blocked
    events = CrawlState(state_connection(crawler)).events()
    assert [e.event for e in events] == ["source_blocked"] and "visitor" in events[0].detail["reason"]


@pytest.mark.parametrize(("status", "headers", "expected"), [
    (432, None, "432"), (418, None, "418"),
    (302, {"Location": "https://passport.weibo.com/visitor/visitor?entry=miniblog"}, "login"),
])
def test_block_replies_for_the_html_search(status, headers, expected):
    response = fixture_response("", URL, status=status, headers=headers)
    assert expected in block_reason(response, expects_json=False)


def test_a_login_wall_under_a_neutral_title_is_a_login_block():
    from scrapy.http import HtmlResponse

    from crawlers.blocks import LOGIN, block_of

    wall = ('<html><head><title>微博搜索</title></head><body><div class="m-error">请登录后查看更多内容'
            '<a href="https://passport.weibo.com/sso/signin">登录</a></div></body></html>')
    block = block_of(HtmlResponse(URL, body=wall.encode(), encoding="utf-8"), expects_json=False)
    assert block is not None and block.kind == LOGIN
    # the same words on a page that holds the no-result card are that card's, not a wall
    empty = (FIXTURES / "weibo/s_weibo_search_noresult.html").read_text(encoding="utf-8")
    assert block_of(HtmlResponse(URL, body=empty.replace("</body>", "请登录</body>").encode(), encoding="utf-8"),
                    expects_json=False) is None


def test_a_post_that_mentions_a_captcha_is_not_a_block():
    html = (FIXTURES / "weibo/s_weibo_search.html").read_text(encoding="utf-8")
    html = html.replace("客服今天终于接通了", "的验证码一直收不到")
    from scrapy.http import HtmlResponse

    assert block_reason(HtmlResponse(URL, body=html.encode(), encoding="utf-8"), expects_json=False) is None


def test_time_sliced_crawl_over_the_replay_server(tmp_path):
    from crawlers.replay import ReplayServer
    from tests.replay_crawl import crawl, rows, scenario, write_config

    anchor = datetime.now(UTC).replace(microsecond=0)
    # ~300 posts at 2 cards a page (the site shows 10) over 30 hours: ~150 pages for the whole range,
    # and whatever the time of day the 30 hours fall across two or three China days, one of which holds
    # at least 15 hours, ~75 pages: over the 50-page cap, so the crawl must split by day and then by
    # hour (at 5 posts an hour a 15/15 split stayed under the cap and the test failed around noon)
    sc = scenario(anchor, [], crowd_rate=10)
    expected = len([p for p in sc.posts if "极光优选" in p.text])
    assert expected > 250
    db = tmp_path / "cw.db"
    with ReplayServer(sc, page_size=2) as server:
        cfg = write_config(tmp_path, "weibo_search", server.base_url, {"weibo_search": ["极光优选"]})
        since = (anchor - timedelta(hours=30)).isoformat()
        crawl(cfg, "weibo_search", "-a", "mode=html", "--since", since, timeout=180)
        scopes = [Slice.parse(r.split("timescope=")[1].split("&")[0].replace("%3A", ":"))
                  for r in server.requests if r.startswith("/weibo?")]
        spans = {s.end - s.start for s in scopes}
        assert scopes[0].end - scopes[0].start > timedelta(days=1), "the whole range is tried first"
        assert timedelta(hours=1) in spans and any(timedelta(hours=1) < d <= timedelta(days=1) for d in spans)
        assert max(int(r.rsplit("page=", 1)[1]) for r in server.requests if "page=" in r) <= 50
        assert rows(db, "SELECT COUNT(*), COUNT(DISTINCT native_id) FROM mentions") == [(expected, expected)]

        before = len(server.requests)
        crawl(cfg, "weibo_search", "-a", "mode=html")
        again = server.requests[before:]
        assert len(again) == 1 and again[0].endswith("page=1"), again  # from the mark's hour, one page


def test_an_unknown_mode_is_a_config_error(crawler_for):
    crawler = crawler_for(WeiboSearchSpider, mode="xml")

    async def go():
        return [r async for r in crawler.spider.start()]

    with pytest.raises(CloseSpider) as raised:
        asyncio.run(go())
    assert raised.value.reason == "config_error"
    assert CrawlState(state_connection(crawler)).events()[0].detail["reason"].endswith("not 'xml'")


@pytest.mark.parametrize(("text", "expected"), [
    ("今天12:30", datetime(2025, 6, 14, 4, 30, tzinfo=UTC)),
    ("06月14日12:30", datetime(2025, 6, 14, 4, 30, tzinfo=UTC)),
    ("2024年06月14日12:30", datetime(2024, 6, 14, 4, 30, tzinfo=UTC)),
])
def test_times_printed_without_a_space(text, expected):
    from crawlers.normalize import parse_time

    assert parse_time(text, NOW) == expected


def test_an_author_read_from_the_html_search_has_an_unknown_follower_count_not_zero(tmp_path):
    from crawlers.replay import ReplayServer
    from index import open_backend
    from index.base import MentionFilter
    from monitor.enrich.influence import influence
    from tests.replay_crawl import crawl, rows, scenario, write_config

    anchor = datetime.now(UTC).replace(microsecond=0)
    big = {"id": 1880000001, "name": "数码生活观察", "followers": 2300000, "verified": True}
    sc = scenario(anchor, [{"at": "29h", "author": big, "reposts": 1000, "comments": 0, "likes": 0,
                            "text": "【曝光】极光优选快递多日未到、虚假签收，客服电话打不通"}], crowd_rate=1)
    db = tmp_path / "cw.db"
    with ReplayServer(sc, page_size=20) as server:
        cfg = write_config(tmp_path, "weibo_search", server.base_url, {"weibo_search": ["极光优选"]})
        crawl(cfg, "weibo_search", "-a", "mode=html", "--since", (anchor - timedelta(hours=2)).isoformat())
    [(doc,)] = rows(db, "SELECT doc FROM mentions WHERE author_id = '1880000001'")
    stored = Mention.from_stored(doc)
    # before: 0 followers, and an influence of a fresh account's (30) for a verified account with 2.3M
    assert stored.author.followers is None and stored.author.verified
    assert stored.influence == pytest.approx(influence(None, True, 1000, 0, 0)) and stored.influence > 50
    backend = open_backend(f"sqlite:///{db}")
    try:
        author = next(a for a in backend.top_authors(MentionFilter(), limit=50) if a.author_id == "1880000001")
        assert author.followers is None
    finally:
        backend.close()
