"""聚投诉 (ts.21cn.com): keyword search over complaint posts, with full text from each post's page.

Public crawlers read the search (listType=1) as newest first and stop at a date; so does this spider, at
the crawl mark, while each page shows that order (MentionSpider.listed_newest_first): a page that breaks
it sends the query on to max_pages instead.

The search list carries a shortened topic; a post whose topic was cut short (ends in "...") is
completed from its page `/tousu/show/id/{id}` unless `-a details=0`. The post page's content
selector is not verified against the live site (see CONTENT_CSS).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from datetime import datetime
from typing import Any
from urllib.parse import urlencode

import scrapy

from crawlers.normalize import parse_time
from crawlers.spiders.base import MentionSpider
from crawlers.spiders.tousu_sina import COMPLAINT_SETTINGS

JUTOUSU = "https://ts.21cn.com"
PAGE_SIZE = 10
CONTENT_CSS = "div.tousu_content"  # unverified guess at the post page's body container
_CUT = ("...", "…")


class JutousuSpider(MentionSpider):
    name = "jutousu"
    source = "jutousu"
    expects_json = True  # post pages are HTML; crawlers.blocks.HTML_PAGES knows them by URL
    custom_settings = COMPLAINT_SETTINGS

    def __init__(self, details: str | int | bool = True, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.details = str(details).lower() not in ("0", "false", "no")

    async def start(self) -> AsyncIterator[Any]:
        for brand, keyword in self.targets():
            yield self.page_request(brand, keyword, 1)

    def page_request(self, brand: str, keyword: str, page: int) -> scrapy.Request:
        params = {"pageNo": page, "title": keyword, "listType": 1}
        return scrapy.Request(
            f"{self.base_url(JUTOUSU)}/front/api/search/searchPostList.do?{urlencode(params)}",
            callback=self.parse, meta={"brand": brand, "query": keyword, "page": page},
            headers={"Referer": f"{JUTOUSU}/", "Accept": "application/json"},
        )

    def parse(self, response: Any) -> Iterator[Any]:
        meta = response.meta
        data = self.reply_object(response)
        if data is None:
            return
        posts = data.get("postList")
        if not isinstance(posts, list):
            self.unreadable(response, "reply has no postList[]")
            return
        items = [post_item(p, query=meta["query"], brand=meta["brand"]) for p in posts]
        if any(not i["native_id"] or not i["text"] or "created_at" not in i for i in items):
            self.layout_changed("posts lack id, shortTopic or ctime", response.url)
        self.check_not_repeated(meta, items, response.url)
        mark = self.mark_for(meta["query"])
        for item in items:
            created = item.get("created_at")
            if not (self.details and not self.probe and item["native_id"] and isinstance(created, datetime)
                    and item["text"].rstrip().endswith(_CUT)):
                yield item
            elif mark is None or created > mark:
                yield self.detail_request(item)
            # else: stored with its full text already; the cut copy would overwrite it
        created_list = [i["created_at"] for i in items if isinstance(i.get("created_at"), datetime)]
        if (self.listed_newest_first(meta["query"], created_list, response.url)
                and self.passed_mark(meta["query"], created_list)):
            self.crawler.stats.inc_value("crisiswatch/stopped_at_mark")
            return
        if len(posts) >= PAGE_SIZE and self.within_max_pages(meta["query"], meta["page"], response.url,
                                                             newest_first=meta["query"] not in self.unordered):
            yield self.page_request(meta["brand"], meta["query"], meta["page"] + 1)

    def detail_request(self, item: dict[str, Any]) -> scrapy.Request:
        return scrapy.Request(f"{self.base_url(JUTOUSU)}/tousu/show/id/{item['native_id']}",
                              callback=self.parse_detail, errback=self.detail_failed, meta={"item": item},
                              headers={"Referer": f"{JUTOUSU}/"})

    def parse_detail(self, response: Any) -> Iterator[Any]:
        item = response.meta["item"]
        text = "\n".join(t.strip() for t in response.css(f"{CONTENT_CSS} ::text").getall() if t.strip())
        if not text:
            if "登录聚投诉" in response.text:
                raise self.report_block("聚投诉 login wall instead of a post page", response.url,
                                        query=item.get("query", ""))
            self.layout_changed(f"post page has no {CONTENT_CSS}", response.url)
            yield item
            return
        yield {**item, "text": text, "extra": {**item["extra"], "full_text": True}}

    def detail_failed(self, failure: Any) -> Iterator[dict[str, Any]]:
        self.crawler.stats.inc_value("crisiswatch/detail_failed")
        yield failure.request.meta["item"]


def post_item(post: dict, *, query: str, brand: str) -> dict[str, Any]:
    """A Mention-shaped dict; missing required fields stay missing so validation names them."""
    post_id = str(post.get("id") or "")
    extra = {name: post[key] for key, name in (("shuqiu", "appeal"), ("merchantname", "merchant"))
             if post.get(key)}
    item: dict[str, Any] = {
        "source": "jutousu",
        "native_id": post_id,
        "url": f"https://ts.21cn.com/tousu/show/id/{post_id}",
        "title": post.get("title") or "",
        "text": post.get("shortTopic") or "",
        "author": {"name": post.get("username") or ""},
        "query": query,
        "brands": [brand] if brand else [],
        "extra": extra,
    }
    if post.get("ctime"):
        try:
            item["created_at"] = parse_time(post["ctime"])
        except ValueError:
            item["created_at"] = post["ctime"]
    return item
