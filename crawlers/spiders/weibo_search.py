"""Weibo keyword search: m.weibo.cn's JSON API (container 100103type=61, 实时: newest first) or, with
`-a mode=html`, s.weibo.com's HTML search cut into time slices past its 50-page cap."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

import scrapy
from parsel import Selector

from crawlers import weibo_html
from crawlers.blocks import search_wall
from crawlers.normalize import china_time
from crawlers.spiders.base import MentionSpider
from crawlers.weibo import (
    MISSING_FIELDS,
    WEIBO_SETTINGS,
    LongTextMixin,
    empty_list,
    incomplete,
    is_ok0,
    mblog_cards,
    page_items,
    refusal,
    unreadable_first_page,
)
from crawlers.weibo_html import PAGE_CAP, Slice

MINUTE = timedelta(minutes=1)


class WeiboSearchSpider(LongTextMixin, MentionSpider):
    name = "weibo_search"
    source = "weibo"
    custom_settings = dict(WEIBO_SETTINGS)
    # the HTML search's first crawl of a keyword looks this far back (later crawls start at the mark)
    html_lookback = timedelta(days=7)

    def __init__(self, mode: str = "json", until: str | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.mode = mode
        self.until = china_time(datetime.fromisoformat(until)) if until else None
        if mode == "html":
            self.expects_json = False

    # m.weibo.cn JSON --------------------------------------------------------------------------------
    # 100103type=61 is 实时, newest first, which the stop at the crawl mark needs; type=1 (综合, the app's
    # default) ranks by popularity, where a page of old hot posts says nothing of the newer ones after it
    SEARCH_TYPE = 61

    def search_url(self, query: str, page: int) -> str:
        params = {"containerid": f"100103type={self.SEARCH_TYPE}&q={query}", "page_type": "searchall", "page": page}
        return f"{self.base_url('https://m.weibo.cn')}/api/container/getIndex?{urlencode(params)}"

    async def start(self) -> AsyncIterator[Any]:
        if self.mode not in ("json", "html"):
            raise self.config_error(f"weibo_search mode must be json or html, not {self.mode!r}")
        for brand, query in self.targets():
            if self.mode == "html":
                since = self.mark_for(query) or (datetime.now(UTC) - self.html_lookback)
                until = self.until or datetime.now(UTC)
                yield self.slice_request(brand, query, Slice.covering(since, until), 1)
            else:
                yield self.page_request(brand, query, 1)

    def page_request(self, brand: str, query: str, page: int) -> scrapy.Request:
        return scrapy.Request(
            self.search_url(query, page), callback=self.parse,
            meta={"brand": brand, "query": query, "page": page},
            headers={"Referer": "https://m.weibo.cn/search", "Accept": "application/json"},
        )

    def parse(self, response: Any) -> Iterator[Any]:
        meta = response.meta
        data = self.reply_object(response)
        if data is None:
            return
        if is_ok0(data):  # {"ok":0,"msg":"这里还没有内容"}: past the last page; any other ok:0 loses the page
            if not empty_list(data):
                self.page_refused(response, refusal(data))
            return
        mblogs = mblog_cards(data)
        if not mblogs:  # a page without posts (only user or topic cards): past the results
            if meta["page"] == 1 and (why := unreadable_first_page(data)):
                self.unreadable(response, why)  # not "no posts": a reply in a shape crisiswatch cannot read
            return
        items, created = page_items(mblogs, meta)
        if any(incomplete(i) for i in items):  # dead-lettered by validation, and said once as a layout change
            self.layout_changed(MISSING_FIELDS, response.url)
        for item, mblog in zip(items, mblogs, strict=True):
            yield from self.post_items(item, mblog, meta)
        if self.reached_mark(meta["query"], created):
            self.crawler.stats.inc_value("crisiswatch/stopped_at_mark")
            return
        if mblogs and self.within_max_pages(meta["query"], meta["page"], response.url):
            yield self.page_request(meta["brand"], meta["query"], meta["page"] + 1)

    # s.weibo.com HTML -------------------------------------------------------------------------------
    def html_url(self, query: str, piece: Slice, page: int) -> str:
        params = {"q": query, "typeall": 1, "suball": 1, "timescope": piece.timescope, "Refer": "g", "page": page}
        return f"{self.base_url('https://s.weibo.com')}/weibo?{urlencode(params)}"

    def slice_request(self, brand: str, query: str, piece: Slice, page: int, url: str | None = None) -> scrapy.Request:
        return scrapy.Request(
            url or self.html_url(query, piece, page), callback=self.parse_html,
            meta={"brand": brand, "query": query, "page": page, "timescope": piece.timescope},
            headers={"Referer": "https://s.weibo.com/"},
        )

    def parse_html(self, response: Any) -> Iterator[Any]:
        meta = response.meta
        piece = Slice.parse(meta["timescope"])
        sel = Selector(text=response.text)
        found = weibo_html.cards(sel)
        if not found:
            if weibo_html.no_result(sel):
                return
            # neither results nor the no-result card: a login/captcha wall (which BlockDetectionMiddleware
            # meets first in a crawl, retiring an expired cookie), or a redesigned page
            if block := search_wall(response.text):
                raise self.report_block(block.reason, response.url, block.kind)
            self.unreadable(response, "s.weibo.com page without result cards or the no-result card")
            return
        next_href = weibo_html.next_page_href(sel)
        capped = (meta["page"] == 1 and weibo_html.page_link_count(sel) >= weibo_html.CAP_LINKS) or (
            meta["page"] >= PAGE_CAP and next_href)
        if capped and (pieces := piece.split()):
            # this range holds more than the site will list: read it again in smaller ranges
            self.crawler.stats.inc_value("crisiswatch/slices_split")
            for sub in reversed(pieces):  # newest first, like the site
                yield self.slice_request(meta["brand"], meta["query"], sub, 1)
            return
        if capped:
            self.crawler.stats.inc_value("crisiswatch/slice_capped")  # one hour beyond 50 pages
        now = datetime.now(UTC)
        items = [weibo_html.card_item(card, query=meta["query"], brand=meta["brand"], now=now)
                 for card in found]
        yield from items
        # the page prints minutes ("5分钟前", "今天12:30"): a post read again may parse up to a minute
        # later than the first time, which must not make a known page look new
        created = [i["created_at"] - MINUTE for i in items if isinstance(i.get("created_at"), datetime)]
        if self.reached_mark(meta["query"], created):
            self.crawler.stats.inc_value("crisiswatch/stopped_at_mark")
            return
        if next_href and items and meta["page"] < PAGE_CAP and self.within_max_pages(meta["query"], meta["page"],
                                                                                      response.url):
            yield self.slice_request(meta["brand"], meta["query"], piece, meta["page"] + 1,
                                     url=response.urljoin(next_href))

