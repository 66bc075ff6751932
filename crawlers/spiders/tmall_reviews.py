"""Tmall product reviews from rate.tmall.com's list_detail_rate JSONP API."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from datetime import datetime
from typing import Any
from urllib.parse import urlencode

import scrapy

from crawlers.jsonp import response_json
from crawlers.normalize import parse_time
from crawlers.spiders.base import MentionSpider
from crawlers.spiders.jd_reviews import REVIEW_SETTINGS

RATE = "https://rate.tmall.com"
# Taobao's rate APIs grade a review good (1), neutral (0) or bad (-1); Tmall shows no stars
RATE_TYPE_STARS = {"1": 5.0, "0": 3.0, "-1": 1.0}


class TmallReviewsSpider(MentionSpider):
    """`brands[].sources.tmall_reviews: ["itemId[:sellerId]", ...]`; needs a logged-in cookie live."""

    name = "tmall_reviews"
    source = "tmall"
    expects_json = True
    custom_settings = REVIEW_SETTINGS

    async def start(self) -> AsyncIterator[Any]:
        for brand, target in self.targets():
            yield self.page_request(brand, target, 1)

    def page_request(self, brand: str, target: str, page: int) -> scrapy.Request:
        item_id, _, seller_id = target.partition(":")
        params = {"itemId": item_id, "spuId": "", "sellerId": seller_id, "order": 3, "currentPage": page,
                  "append": 0, "content": 1, "callback": "jsonp928"}
        return scrapy.Request(
            f"{self.base_url(RATE)}/list_detail_rate.htm?{urlencode(params)}", callback=self.parse,
            meta={"brand": brand, "query": target, "page": page},
            headers={"Referer": f"https://detail.tmall.com/item.htm?id={item_id}", "Accept": "*/*"},
        )

    def parse(self, response: Any) -> Iterator[Any]:
        meta = response.meta
        data = response_json(response)
        detail = data.get("rateDetail") if isinstance(data, dict) else None
        rates = detail.get("rateList") if isinstance(detail, dict) else None
        if not isinstance(rates, list):
            self.layout_changed("reply has no rateDetail.rateList[]", response.url)
            return
        item_id = meta["query"].partition(":")[0]
        items = [rate_item(r, item_id=item_id, query=meta["query"], brand=meta["brand"]) for r in rates]
        if any(not i["native_id"] or not i["text"] or "created_at" not in i for i in items):
            self.layout_changed("rateList entries lack id, rateContent or rateDate", response.url)
        yield from items
        created = [i["created_at"] for i in items if isinstance(i.get("created_at"), datetime)]
        if self.passed_mark(meta["query"], created):
            self.crawler.stats.inc_value("crisiswatch/stopped_at_mark")
            return
        paginator = detail.get("paginator") or {}
        last_page = int(paginator.get("lastPage") or 0)
        if rates and meta["page"] < last_page and meta["page"] < self.max_pages:
            yield self.page_request(meta["brand"], meta["query"], meta["page"] + 1)


def rate_item(rate: dict, *, item_id: str, query: str, brand: str) -> dict[str, Any]:
    """A Mention-shaped dict; missing required fields stay missing so validation names them."""
    content = rate.get("rateContent") or ""
    append = rate.get("appendComment") or {}
    append_text = append.get("content", "") if isinstance(append, dict) else str(append)
    extra: dict[str, Any] = {"item_id": item_id}
    for key, name in (("auctionSku", "sku"), ("reply", "reply"), ("tamllSweetLevel", "member_level")):
        if rate.get(key):
            extra[name] = rate[key]
    if append_text:
        extra["append_comment"] = append_text
    if rate.get("pics"):
        extra["pictures"] = len(rate["pics"])
    item: dict[str, Any] = {
        "source": "tmall",
        "native_id": str(rate.get("id") or ""),
        "url": f"https://detail.tmall.com/item.htm?id={item_id}",
        "text": f"{content}\n追评：{append_text}" if content and append_text else content,
        "author": {"name": rate.get("displayUserNick") or ""},
        "query": query,
        "brands": [brand] if brand else [],
        "extra": extra,
    }
    if (stars := RATE_TYPE_STARS.get(str(rate.get("rateType", "")))) is not None:
        item["rating"] = stars
    if rate.get("rateDate"):
        try:
            item["created_at"] = parse_time(rate["rateDate"])
        except ValueError:
            item["created_at"] = rate["rateDate"]
    return item
