"""JD product reviews from club.jd.com's comment API (JSONP, historically GBK), newest first."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from datetime import datetime
from typing import Any
from urllib.parse import urlencode, urlsplit

import scrapy

from crawlers.blocks import THROTTLED
from crawlers.items import review_dict
from crawlers.normalize import parse_count, parse_time
from crawlers.spiders.base import MentionSpider

CLUB = "https://club.jd.com"
ITEM = "https://item.jd.com"
PAGE_SIZE = 10
# JD moved its web UI to api.m.jd.com (functionId=pc_club_productPageComments), which answers
# 403 without an h5st signature computed by obfuscated browser JavaScript we cannot reproduce.
SIGNED_HOSTS = ("api.m.jd.com",)
SITE_PAGE_LIMIT = 100  # club.jd.com lists no more pages of a product's comments, however many it has
REVIEW_SETTINGS: dict[str, Any] = {
    "DOWNLOAD_DELAY": 5,
    "DOWNLOAD_DELAY_JITTER": 0.5,  # ±50% around the delay
    "CONCURRENT_REQUESTS_PER_DOMAIN": 1,
    "AUTOTHROTTLE_ENABLED": True,
    "REDIRECT_ENABLED": False,  # a passport.jd.com / login redirect must reach block detection
}


class JdReviewsSpider(MentionSpider):
    """`brands[].sources.jd_reviews: [sku, ...]`; a review on the brand's product is about the brand."""

    name = "jd_reviews"
    source = "jd"
    expects_json = True
    custom_settings = REVIEW_SETTINGS

    def __init__(self, api: str = "club", **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.api = api

    async def start(self) -> AsyncIterator[Any]:
        base = self.base_url(CLUB)
        if self.api not in ("club", "h5st"):
            raise self.config_error(f"unknown api {self.api!r} (use api=club)")
        if self.api == "h5st" or urlsplit(base).hostname in SIGNED_HOSTS:
            raise self.config_error(
                f"the signed api.m.jd.com comment API (api={self.api}, base_url={base}) needs an h5st "
                "signature crisiswatch cannot compute; use the club.jd.com API (api=club, no base_url)")
        for brand, sku in self.targets():
            yield self.page_request(brand, sku, 0)

    def page_request(self, brand: str, sku: str, page: int) -> scrapy.Request:
        params = {"callback": "fetchJSON_comment98", "productId": sku, "score": 0, "sortType": 6,
                  "page": page, "pageSize": PAGE_SIZE, "isShadowSku": 0, "fold": 1}
        base = self.base_url(CLUB)
        # club and item pages live on two hosts; a configured base (the replay server) stands for both
        item_base = ITEM if base == CLUB else base
        return scrapy.Request(
            f"{base}/comment/productPageComments.action?{urlencode(params)}", callback=self.parse,
            meta={"brand": brand, "query": sku, "page": page},
            headers={"Referer": f"{item_base}/{sku}.html", "Accept": "*/*"},
        )

    def parse(self, response: Any) -> Iterator[Any]:
        meta = response.meta
        data = self.reply_object(response)
        if data is None:
            return
        comments = data.get("comments")
        if not isinstance(comments, list):
            self.unreadable(response, "reply has no comments[] list")
            return
        summary = data.get("productCommentSummary") or {}
        if meta["page"] == 0 and summary:
            self.crawler.stats.set_value(f"crisiswatch/jd/{meta['query']}/comment_count",
                                         parse_count(summary.get("commentCount")))
        items = [review_item(c, sku=meta["query"], brand=meta["brand"]) for c in comments]
        if any(_incomplete(i) for i in items):
            self.layout_changed("comments lack id, content or creationTime", response.url)
        # JD answers a client it throttles or does not trust with pages it already sent (public crawlers report
        # most of a product's 'reviews' as repeats)
        self.check_not_repeated(meta, items, response.url, "comments", "JD withholds the later pages from a "
                                "throttled client")
        yield from items
        created = [i["created_at"] for i in items if isinstance(i.get("created_at"), datetime)]
        if self.listed_newest_first(meta["query"], created, response.url) and self.passed_mark(meta["query"], created):
            self.crawler.stats.inc_value("crisiswatch/stopped_at_mark")
            return
        next_page = meta["page"] + 1
        max_page = data.get("maxPage")
        if isinstance(max_page, str) and max_page.isdigit():
            max_page = int(max_page)
        if not isinstance(max_page, int):
            # without it a full page is the only sign of more: page on by that, and say the reply changed
            self.layout_changed(f"reply has no maxPage (got {max_page!r})", response.url)
            more = len(comments) >= PAGE_SIZE
        else:
            more = next_page < max_page
            if more and not comments:
                # the reply itself says later pages exist: an empty page here is JD withholding them
                raise self.report_block(f"page {meta['page']} of {max_page} came back without comments (JD "
                                        "withholds them from a throttled client)", response.url, THROTTLED,
                                        query=meta["query"])
            if not more and max_page >= SITE_PAGE_LIMIT:
                self._site_limit(meta["query"], max_page, summary, response.url)
        if more and self.within_max_pages(meta["query"], next_page, response.url,
                                          newest_first=meta["query"] not in self.unordered):
            yield self.page_request(meta["brand"], meta["query"], next_page)

    def _site_limit(self, sku: str, max_page: int, summary: dict, url: str) -> None:
        """JD lists at most 100 pages of any product: the older reviews of a product with more are out of
        reach. Not a failure (no crawl can read them), but said in the crawl's line and the log."""
        total = parse_count(summary.get("commentCount"))
        if total <= max_page * PAGE_SIZE:
            return
        self.crawler.stats.inc_value("crisiswatch/site_page_limit")
        self.logger.warning("%s: %s has %d reviews, JD lists %d pages of %d: the older ones are out of reach (%s)",
                            self.name, sku, total, max_page, PAGE_SIZE, url.split("?", 1)[0])


def review_item(comment: dict, *, sku: str, brand: str) -> dict[str, Any]:
    """A Mention-shaped dict; missing required fields stay missing so validation names them."""
    after = ((comment.get("afterUserComment") or {}).get("hAfterUserComment") or {}).get("content") or ""
    content = comment.get("content") or ""
    extra: dict[str, Any] = {"sku": sku}
    for key, name in (("userLevelName", "user_level"), ("productColor", "product_color"),
                      ("productSize", "product_size"), ("userClientShow", "client"),
                      ("referenceName", "product_name")):
        if comment.get(key):
            extra[name] = comment[key]
    if replies := [{"content": r.get("content", ""), "created": r.get("creationTime", "")}
                   for r in comment.get("replies") or []]:
        extra["replies"] = replies
    if after:
        extra["after_comment"] = after
    item = review_dict(source="jd", native_id=comment.get("id"), url=f"https://item.jd.com/{sku}.html#comment",
                       content=content, follow_up=after, author=comment.get("nickname") or "", query=sku,
                       brand=brand, extra=extra,
                       engagement={"comments": parse_count(comment.get("replyCount")),
                                   "likes": parse_count(comment.get("usefulVoteCount"))})
    if isinstance(comment.get("score"), int | float | str) and str(comment.get("score")).isdigit():
        item["rating"] = float(comment["score"])
    if comment.get("creationTime"):
        try:
            item["created_at"] = parse_time(comment["creationTime"])
        except ValueError:
            item["created_at"] = comment["creationTime"]  # validation rejects it with the reason
    return item


def _incomplete(item: dict[str, Any]) -> bool:
    return not item["native_id"] or not item["text"] or "created_at" not in item
