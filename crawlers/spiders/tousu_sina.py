"""黑猫投诉 (tousu.sina.com.cn): a company's received complaints, the latest feed, or a keyword search.

Targets under `brands[].sources.tousu_sina`: a numeric couid (the company page), `feed` (the
site-wide latest complaints, kept when they name the brand), or any other text (keyword search,
which the site may only answer with a login cookie). The company list and the feed are newest
first, so paging stops at the first complaint at or before the stored mark; the keyword search
lists by relevance (public samples show its dates out of order), so it is read to max_pages each
crawl and never stopped at the mark. `-a details=1` also reads each complaint's page for its
status and timeline.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Iterator
from datetime import datetime
from typing import Any
from urllib.parse import urlencode

import scrapy

from crawlers.blocks import FORBIDDEN, THROTTLED
from crawlers.normalize import parse_count, parse_time
from crawlers.spiders.base import MentionSpider
from crawlers.tousu_signature import signed_params

TOUSU = "https://tousu.sina.com.cn"
PAGE_SIZE = 10
COMPLAINT_SETTINGS: dict[str, Any] = {
    "DOWNLOAD_DELAY": 4,
    "DOWNLOAD_DELAY_JITTER": 0.5,  # ±50% around the delay
    "CONCURRENT_REQUESTS_PER_DOMAIN": 1,
    "AUTOTHROTTLE_ENABLED": True,
    "REDIRECT_ENABLED": False,
}
_MAIN_FIELDS = ("sn", "title", "appeal", "summary", "cotitle", "cost", "status", "issue", "timestamp")
# the keyword search marks its hits in title, summary and company name: <span class="code-red">品牌</span>
_HIGHLIGHT = re.compile(r'<span class="code-red">|</span>')


def is_search(target: str) -> bool:
    """A keyword target (not a couid, not the feed): the site's search, listed by relevance."""
    return not target.isdigit() and target != "feed"


class TousuSinaSpider(MentionSpider):
    name = "tousu_sina"
    source = "tousu_sina"
    expects_json = True  # detail pages are HTML; crawlers.blocks.HTML_PAGES knows them by URL
    custom_settings = COMPLAINT_SETTINGS

    def __init__(self, details: str | int | bool = False, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.details = str(details).lower() in ("1", "true", "yes")

    async def start(self) -> AsyncIterator[Any]:
        for brand, target in self.targets():
            yield self.page_request(brand, target, 1)

    def list_url(self, target: str, page: int) -> str:
        base = self.base_url(TOUSU)
        if target.isdigit():
            values: dict[str, str | int] = {"couid": target, "type": 1, "page_size": PAGE_SIZE, "page": page}
            return f"{base}/api/company/received_complaints?{urlencode(signed_params(values))}"
        if target == "feed":
            values = {"type": 1, "page_size": PAGE_SIZE, "page": page}
            return f"{base}/api/index/feed?{urlencode(signed_params(values))}"
        # the search signature is unconfirmed: signed like the others, with the keywords as a value
        values = {"keywords": target, "page_size": PAGE_SIZE, "page": page}
        return f"{base}/api/index/s?{urlencode(signed_params(values))}"

    def page_request(self, brand: str, target: str, page: int) -> scrapy.Request:
        return scrapy.Request(self.list_url(target, page), callback=self.parse,
                              meta={"brand": brand, "query": target, "page": page},
                              headers={"Referer": f"{TOUSU}/", "Accept": "application/json"})

    def parse(self, response: Any) -> Iterator[Any]:
        meta = response.meta
        reply = self.reply_object(response)
        if reply is None:
            return
        result = reply.get("result") if isinstance(reply.get("result"), dict) else {}
        status = result.get("status") or {}
        if str(status.get("code", 0)) != "0":
            msg = str(status.get("msg") or status)
            if "签名" in msg:  # the recipe reproduces a captured request; a refusal means the site changed it
                raise self.report_block(
                    f"黑猫投诉 refused the request signature ({msg}): its web app's salt or recipe changed "
                    "(crawlers/tousu_signature.py)", response.url, FORBIDDEN, status="gated", query=meta["query"])
            self.unreadable(response, f"site refused the list: {msg}")
            return
        data = result.get("data") or {}
        entries = data.get("complaints", data.get("lists"))
        if not isinstance(entries, list):
            self.unreadable(response, "reply has no result.data.complaints[] or lists[]")
            return
        pager = data.get("pager")
        if isinstance(pager, dict) and not entries and int(pager.get("item_count") or 0) > (meta["page"] - 1) * PAGE_SIZE:
            # a page the pager says holds complaints comes back empty: the site's 风控, not the end of the list
            raise self.report_block(f"page {meta['page']} came back empty while the list counts "
                                    f"{pager.get('item_count')} complaints (黑猫投诉 throttling)", response.url,
                                    THROTTLED, query=meta["query"])
        items = [complaint_item(e, query=meta["query"], brand=meta["brand"]) for e in entries]
        if any(not i["native_id"] or not i["text"] or "created_at" not in i for i in items):
            self.layout_changed("complaints lack main.sn, main.summary or main.timestamp", response.url)
        self.check_not_repeated(meta, items, response.url, "complaints")
        created = [i["created_at"] for i in items if isinstance(i.get("created_at"), datetime)]
        mark = self.mark_for(meta["query"])
        for item in self._about_brand(items, meta):
            if not self.details or self.probe or not item["native_id"] or not isinstance(item.get("created_at"), datetime):
                yield item
            elif mark is None or item["created_at"] > mark:
                yield self.detail_request(item)
            # else: stored with its details already; a list-only copy would overwrite them
        newest_first = not is_search(meta["query"]) and self.listed_newest_first(meta["query"], created, response.url)
        if newest_first and self.passed_mark(meta["query"], created):
            self.crawler.stats.inc_value("crisiswatch/stopped_at_mark")
            return
        if not isinstance(pager, dict):
            # without it a full page is the only sign of more: page on by that, and say the reply changed
            self.layout_changed("reply has no result.data.pager", response.url)
            current, more = meta["page"], len(entries) >= PAGE_SIZE
        else:
            current = int(pager.get("current") or meta["page"])
            more = bool(entries) and current < int(pager.get("page_amount") or 0)
        if more and self.within_max_pages(meta["query"], meta["page"], response.url, newest_first=newest_first):
            # every URL is new (fresh ts/rs), so the dupefilter cannot stop a pager that stands still
            next_page = max(int(pager.get("next") or 0), current + 1) if isinstance(pager, dict) else current + 1
            yield self.page_request(meta["brand"], meta["query"], next_page)

    def _about_brand(self, items: list[dict[str, Any]], meta: dict) -> list[dict[str, Any]]:
        """The site-wide feed holds every company's complaints: keep the ones naming the brand."""
        brand = self.config.brand(meta["brand"]) if meta["brand"] else None
        if meta["query"] != "feed" or brand is None:
            return items
        return [i for i in items if any(n in f"{i.get('title', '')} {i['text']} {i['extra'].get('cotitle', '')}"
                                        for n in brand.names)]

    # complaint pages ------------------------------------------------------------------------
    def detail_request(self, item: dict[str, Any]) -> scrapy.Request:
        return scrapy.Request(f"{self.base_url(TOUSU)}/complaint/view/{item['native_id']}/",
                              callback=self.parse_detail, errback=self.detail_failed, meta={"item": item},
                              headers={"Referer": f"{TOUSU}/"})

    def parse_detail(self, response: Any) -> Iterator[Any]:
        item = response.meta["item"]
        status = " ".join(response.xpath('//ul[@class="ts-q-list"]/li[last()]/b//text()').getall()).strip()
        timeline = [{
            "name": _text(step, "span.u-name"), "status": _text(step, "span.u-status"),
            "date": _text(step, "span.u-date"), "content": _text(step, "div.ts-d-cont"),
        } for step in response.css("div.ts-d-item")]
        if not status and not timeline:
            if "登录" in response.text or "验证码" in response.text:
                raise self.report_block("黑猫投诉 login or captcha page instead of a complaint", response.url,
                                        query=item.get("query", ""))
            self.layout_changed("complaint page has no ul.ts-q-list or div.ts-d-item", response.url)
            yield item
            return
        extra = {**item["extra"], "timeline": timeline}
        if status:
            extra["status"] = status
        text = item["text"]
        first = timeline[0]["content"] if timeline else ""
        if len(first) > len(text):  # the list's summary is cut short; the complaint step is whole
            text = first
        yield {**item, "text": text, "extra": extra}

    def detail_failed(self, failure: Any) -> Iterator[dict[str, Any]]:
        self.crawler.stats.inc_value("crisiswatch/detail_failed")
        yield failure.request.meta["item"]


def complaint_item(entry: dict, *, query: str, brand: str) -> dict[str, Any]:
    """A Mention-shaped dict; missing required fields stay missing so validation names them."""
    main = entry.get("main") or {}
    author = entry.get("author") or {}
    sn = str(main.get("sn") or "")
    extra = {k: _plain(main[k]) if isinstance(main[k], str) else main[k]
             for k in _MAIN_FIELDS if main.get(k) not in (None, "")}
    item: dict[str, Any] = {
        "source": "tousu_sina",
        "native_id": sn,
        "url": f"https://tousu.sina.com.cn/complaint/view/{sn}/",
        "title": _plain(main.get("title")),
        "text": _plain(main.get("summary")),
        "author": {"id": str(author.get("wb_profile") or ""), "name": author.get("title") or ""},
        "engagement": {"comments": parse_count(main.get("comment_amount")),
                       "likes": parse_count(main.get("upvote_amount"))},
        "query": query,
        "brands": [brand] if brand else [],
        "extra": extra,
    }
    if main.get("timestamp"):
        try:
            item["created_at"] = parse_time(main["timestamp"])
        except ValueError:
            item["created_at"] = main["timestamp"]
    return item


def _plain(value: Any) -> str:
    """A list field without the search's hit marks (their text stays)."""
    return _HIGHLIGHT.sub("", value) if isinstance(value, str) else ""


def _text(node: Any, css: str) -> str:
    return " ".join(t.strip() for t in node.css(f"{css} ::text").getall() if t.strip())
