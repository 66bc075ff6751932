"""Weibo keyword search on m.weibo.cn's JSON API (container 100103, newest first)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any
from urllib.parse import urlencode

import scrapy

from crawlers.spiders.base import MentionSpider
from crawlers.weibo import mblog_cards, mblog_item


class WeiboSearchSpider(MentionSpider):
    name = "weibo_search"
    source = "weibo"
    custom_settings = {
        # weibo-crawler's experience: 8-15 s between requests, one at a time, or 418/432 follow
        "DOWNLOAD_DELAY": 10,
        "RANDOMIZE_DOWNLOAD_DELAY": True,
        "CONCURRENT_REQUESTS_PER_DOMAIN": 1,
        "AUTOTHROTTLE_ENABLED": True,
        # a login redirect must stay visible to block detection instead of being followed
        "REDIRECT_ENABLED": False,
    }

    def search_url(self, query: str, page: int) -> str:
        params = {"containerid": f"100103type=1&q={query}", "page_type": "searchall", "page": page}
        return f"{self.base_url('https://m.weibo.cn')}/api/container/getIndex?{urlencode(params)}"

    async def start(self) -> AsyncIterator[Any]:
        for brand, query in self.targets():
            yield self.page_request(brand, query, 1)

    def page_request(self, brand: str, query: str, page: int) -> scrapy.Request:
        return scrapy.Request(
            self.search_url(query, page), callback=self.parse,
            meta={"brand": brand, "query": query, "page": page},
            headers={"Referer": "https://m.weibo.cn/search", "Accept": "application/json"},
        )

    def parse(self, response: Any) -> Iterator[Any]:
        meta = response.meta
        data = response.json()
        if data.get("ok") in (0, "0"):  # {"ok":0,"msg":"这里还没有内容"}: past the last page
            return
        mblogs = mblog_cards(data)
        if not mblogs and not (data.get("data") or {}).get("cards"):
            return
        items = [mblog_item(m, query=meta["query"], brand=meta["brand"]) for m in mblogs]
        # pinned posts (mblogtype 2) sit on top regardless of age: keep them out of the stop rule
        created = [i["created_at"] for i, m in zip(items, mblogs, strict=True)
                   if m.get("mblogtype") != 2 and not isinstance(i.get("created_at"), str | type(None))]
        yield from items
        if self.reached_mark(meta["query"], created):
            self.crawler.stats.inc_value("crisiswatch/stopped_at_mark")
            return
        if meta["page"] < self.max_pages and mblogs:
            yield self.page_request(meta["brand"], meta["query"], meta["page"] + 1)
