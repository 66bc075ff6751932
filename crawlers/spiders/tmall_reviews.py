"""Tmall product reviews: the mtop review API the item page uses now, or the older rate.tmall.com list.

`-a api=mtop` (the default) calls h5api.m.tmall.com's `mtop.alibaba.review.list.for.new.pc.detail`,
signed with the public mtop recipe (crawlers/mtop.py): the gateway hands out the `_m_h5_tk` token
in a Set-Cookie on the first call, the session keeps it, and the call is signed again. The list
wants a logged-in Taobao cookie (`sources.tmall_reviews.cookie_env` or `cookie_files`); without one
the gateway's FAIL_SYS_SESSION_EXPIRED ends the crawl as needs-cookie. `-a api=rate` reads the
older `rate.tmall.com/list_detail_rate.htm` JSONP list, which needs the same cookie and now often
meets the slider captcha (the rgv587 punish reply).
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

import scrapy

from crawlers import mtop
from crawlers.items import review_dict
from crawlers.normalize import CHINA, parse_count, parse_time
from crawlers.spiders.base import MentionSpider
from crawlers.spiders.jd_reviews import REVIEW_SETTINGS
from crawlers.wiring import session_pool

RATE = "https://rate.tmall.com"
MTOP = "https://h5api.m.tmall.com"
MTOP_API = "mtop.alibaba.review.list.for.new.pc.detail"
MTOP_PAGE_SIZE = 20
TOKEN_TRIES = 2  # a fresh `_m_h5_tk` is asked for at most this often per page
_CLOCK = re.compile(r"\d{1,2}:\d{2}")
# Taobao's rate APIs grade a review good (1), neutral (0) or bad (-1); Tmall shows no stars
RATE_TYPE_STARS = {"1": 5.0, "0": 3.0, "-1": 1.0}


class TmallReviewsSpider(MentionSpider):
    """`brands[].sources.tmall_reviews: ["itemId[:sellerId]", ...]`; needs a logged-in cookie live."""

    name = "tmall_reviews"
    source = "tmall"
    expects_json = True
    custom_settings = REVIEW_SETTINGS

    def __init__(self, api: str = "mtop", **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.api = api

    async def start(self) -> AsyncIterator[Any]:
        if self.api not in ("mtop", "rate"):
            raise self.config_error(f"unknown api {self.api!r} (use api=mtop, or api=rate for rate.tmall.com)")
        for brand, target in self.targets():
            yield self.mtop_request(brand, target, 1) if self.api == "mtop" else self.page_request(brand, target, 1)

    def page_items(self, response: Any, entries: list, to_item: Any, missing: str) -> list[dict[str, Any]]:
        """The page's reviews as items; one layout_changed event when some lack required fields."""
        meta = response.meta
        item_id = meta["query"].partition(":")[0]
        items = [to_item(e, item_id=item_id, query=meta["query"], brand=meta["brand"]) for e in entries]
        if any(not i["native_id"] or not i["text"] or "created_at" not in i for i in items):
            self.layout_changed(missing, response.url)
        return items

    # the mtop review API ------------------------------------------------------------------------
    def mtop_request(self, brand: str, target: str, page: int, tries: int = 0, session: str = "") -> scrapy.Request:
        """One page, signed with the token of the session it will be sent with."""
        item_id = target.partition(":")[0]
        pool = session_pool(self.crawler)
        chosen = pool.get(session) if session else None
        if chosen is None or chosen.expired:
            chosen = pool.next()
        data = {"itemId": item_id, "bizCode": "ali.china.tmall", "channel": "pc_detail",
                "pageSize": MTOP_PAGE_SIZE, "pageNum": page}
        query = mtop.signed_query(MTOP_API, data, chosen.cookies if chosen else {})
        meta: dict[str, Any] = {"brand": brand, "query": target, "page": page, "token_tries": tries}
        if chosen is not None:
            meta["session"] = chosen.label
        return scrapy.Request(f"{self.base_url(MTOP)}/h5/{MTOP_API}/1.0/?{query}", callback=self.parse_mtop,
                              meta=meta, dont_filter=True, headers={
                                  "Referer": f"https://detail.tmall.com/item.htm?id={item_id}", "Accept": "*/*"})

    def parse_mtop(self, response: Any) -> Iterator[Any]:
        meta = response.meta
        data = self.reply_object(response)
        if data is None:
            return
        ret = mtop.ret_codes(data)
        if any(code in ret for code in (*mtop.TOKEN_RETRY, "FAIL_SYS_ILLEGAL_ACCESS")):
            # the gateway set a fresh _m_h5_tk on this session (CredentialsMiddleware kept it): sign again
            if meta["token_tries"] < TOKEN_TRIES:
                self.crawler.stats.inc_value("crisiswatch/mtop_token_refreshed")
                yield self.mtop_request(meta["brand"], meta["query"], meta["page"], meta["token_tries"] + 1,
                                        meta.get("session", ""))
            else:
                self.unreadable(response, f"the mtop gateway refused the signature twice ({ret[:60]})")
            return
        if mtop.SUCCESS not in ret:
            self.unreadable(response, f"the mtop gateway refused the call ({ret[:80]})")
            return
        module = (data.get("data") or {}).get("module") if isinstance(data.get("data"), dict) else None
        if module is None:
            # past the last page the gateway answers SUCCESS without a module; on the first page there is
            # no last page to be past: a reply in another shape (another API's data, a renamed module)
            if meta["page"] == 1:
                self.unreadable(response, "SUCCESS reply without data.module on the first page")
            return
        reviews = module.get("reviewVOList") if isinstance(module, dict) else None
        if not isinstance(reviews, list):
            self.unreadable(response, "reply has no data.module.reviewVOList[]")
            return
        items = self.page_items(response, reviews, review_item, "reviewVOList entries lack id, reviewWordContent "
                                                                  "or reviewDate")
        yield from items
        # dates here are days ("3天前", "2个月前"): only a review from before the mark's day proves
        # the rest known, reviews of the mark's own day are read again
        mark = self.mark_for(meta["query"])
        created = [i["created_at"] for i in items if isinstance(i.get("created_at"), datetime)]
        if mark and any(c < mark for c in created):
            self.crawler.stats.inc_value("crisiswatch/stopped_at_mark")
            return
        more = str(module.get("hasNext", "")).lower() == "true" or len(reviews) >= MTOP_PAGE_SIZE
        if reviews and more and self.within_max_pages(meta["query"], meta["page"], response.url):
            yield self.mtop_request(meta["brand"], meta["query"], meta["page"] + 1, session=meta.get("session", ""))

    # rate.tmall.com -----------------------------------------------------------------------------
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
        data = self.reply_object(response)
        if data is None:
            return
        detail = data.get("rateDetail")
        rates = detail.get("rateList") if isinstance(detail, dict) else None
        if not isinstance(rates, list):
            self.unreadable(response, "reply has no rateDetail.rateList[]")
            return
        items = self.page_items(response, rates, rate_item, "rateList entries lack id, rateContent or rateDate")
        yield from items
        created = [i["created_at"] for i in items if isinstance(i.get("created_at"), datetime)]
        if self.passed_mark(meta["query"], created):
            self.crawler.stats.inc_value("crisiswatch/stopped_at_mark")
            return
        paginator = detail.get("paginator") or {}
        last_page = int(paginator.get("lastPage") or 0)
        if rates and meta["page"] < last_page and self.within_max_pages(meta["query"], meta["page"], response.url):
            yield self.page_request(meta["brand"], meta["query"], meta["page"] + 1)


def _with_time(item: dict[str, Any], value: Any) -> dict[str, Any]:
    """created_at from the list's date; a date without a time of day ("3天前", "2个月前", "2025年6月14日")
    is the start of that day, China time, flagged `extra.date_precision = "day"`."""
    if value:
        try:
            created = parse_time(value)
        except ValueError:
            item["created_at"] = value  # validation dead-letters it with the reason
            return item
        if not _CLOCK.search(str(value)) and not str(value).strip().isdigit():
            created = created.astimezone(CHINA).replace(hour=0, minute=0, second=0, microsecond=0).astimezone(UTC)
            item["extra"]["date_precision"] = "day"
        item["created_at"] = created
    return item


def review_item(review: dict, *, item_id: str, query: str, brand: str) -> dict[str, Any]:
    """An mtop reviewVOList entry as a Mention-shaped dict; missing fields stay missing for validation."""
    content = review.get("reviewWordContent") or ""
    append = review.get("reviewAppendVO") if isinstance(review.get("reviewAppendVO"), dict) else {}
    append_text = (append or {}).get("appendedWordContent") or ""
    interaction = review.get("interactionVO") if isinstance(review.get("interactionVO"), dict) else {}
    extra: dict[str, Any] = {"item_id": item_id, "via": "mtop"}
    if isinstance(review.get("skuText"), dict) and review["skuText"]:
        extra["sku"] = ";".join(f"{k}:{v}" for k, v in review["skuText"].items())
    if review.get("reply"):
        extra["reply"] = review["reply"]
    if append_text:
        extra["append_comment"] = append_text
    if review.get("reviewPicPathList"):
        extra["pictures"] = len(review["reviewPicPathList"])
    item = review_dict(source="tmall", native_id=review.get("id"), url=f"https://detail.tmall.com/item.htm?id={item_id}",
                       content=content, follow_up=append_text, author=review.get("userNick") or "", query=query,
                       brand=brand, extra=extra,
                       engagement={"comments": parse_count((interaction or {}).get("commentCount")),
                                   "likes": parse_count((interaction or {}).get("likeCount"))})
    return _with_time(item, review.get("reviewDate"))


def rate_item(rate: dict, *, item_id: str, query: str, brand: str) -> dict[str, Any]:
    """A rate.tmall.com rateList entry as a Mention-shaped dict; missing fields stay missing."""
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
    item = review_dict(source="tmall", native_id=rate.get("id"), url=f"https://detail.tmall.com/item.htm?id={item_id}",
                       content=content, follow_up=append_text, author=rate.get("displayUserNick") or "", query=query,
                       brand=brand, extra=extra)
    if (stars := RATE_TYPE_STARS.get(str(rate.get("rateType", "")))) is not None:
        item["rating"] = stars
    return _with_time(item, rate.get("rateDate"))
