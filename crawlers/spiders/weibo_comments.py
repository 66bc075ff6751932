"""Comments on followed Weibo posts: m.weibo.cn's hotflow, with the older comments/show as fallback."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from datetime import datetime
from typing import Any
from urllib.parse import urlencode

import scrapy

from crawlers.jsonp import response_json
from crawlers.normalize import follower_count, parse_count, parse_time
from crawlers.spiders.base import MentionSpider
from crawlers.spiders.weibo_replies import WeiboRepliesMixin
from crawlers.weibo import WEIBO_SETTINGS, empty_list, incomplete, refusal
from crisiswatch.mention import mention_id


def comment_item(comment: dict, *, mid: str, brand: str = "") -> dict[str, Any]:
    """A comment as a Mention-shaped dict whose parent is the post's mention."""
    user = comment.get("user") or {}
    cid = str(comment.get("id") or "")
    item: dict[str, Any] = {
        "source": "weibo_comment",
        "native_id": cid,
        "url": f"https://m.weibo.cn/detail/{mid}?cid={cid}",
        "text": comment.get("text") or "",
        "author": {"id": str(user.get("id", "")), "name": user.get("screen_name", ""),
                   "followers": follower_count(user.get("followers_count")), "verified": bool(user.get("verified"))},
        "engagement": {"likes": parse_count(comment.get("like_count", comment.get("like_counts"))),
                       "comments": parse_count(comment.get("total_number"))},
        "parent_id": mention_id("weibo", mid),
        "query": mid,
        "brands": [brand] if brand else [],
        "extra": {k: v for k, v in {"post_id": mid, "root_id": str(comment.get("rootid") or ""),
                                    "reply_to": str(comment.get("reply_id") or ""),
                                    "region": comment.get("source") or ""}.items() if v and v != cid},
    }
    if comment.get("created_at"):
        try:
            item["created_at"] = parse_time(comment["created_at"])
        except ValueError:
            item["created_at"] = comment["created_at"]  # validation dead-letters it with the reason
    return item


def inline_replies(comment: dict) -> list[dict]:
    """The first replies hotflow shows under a comment (`comments`: a list, or false when none are shown)."""
    return [r for r in comment.get("comments") or [] if isinstance(r, dict)]


UNREAD_REASONS = {"capped": "past the page cap", "budget": "past the crawl's reply pages (reply_pages)",
                  "lost": "on lost pages", "gone": "no longer listed by Weibo"}


def unread_reasons(stats: dict) -> str:
    """'4 past the page cap, 2 on lost pages' from the crawl's stats."""
    return ", ".join(f"{n} {words}" for why, words in UNREAD_REASONS.items()
                     if (n := stats.get(f"crisiswatch/replies_unread_{why}")))


class WeiboCommentsSpider(WeiboRepliesMixin, MentionSpider):
    """Targets are post ids (`brands[].sources.weibo_comments`, or `-a post_id=MID`).

    hotflow pages on `max_id` until it is 0. Each comment carries its first replies inline (`comments`)
    and the count of all of them (`total_number`); the rest are read from hotFlowChild
    (crawlers/spiders/weibo_replies.py), and the crawl's summary line says how many replies were read and
    how many were not, and why. Its comments are sorted by likes, not time: a new comment
    with few likes sits on the last pages, so hotflow is never stopped at the crawl mark; it is read to
    its end (or `max_pages`, which leaves the mark where it is), and the index's upsert makes the
    comments read again harmless. When hotflow fails (an error, a non-JSON reply or `ok != 1` on its
    first page) the post is read from `/api/comments/show` page by page instead: that list is newest
    first, and stops at the mark.
    """

    name = "weibo_comments"
    source = "weibo_comment"
    custom_settings = dict(WEIBO_SETTINGS)
    comment_item = staticmethod(comment_item)

    def __init__(self, post_id: str | None = None, query: str | None = None, **kwargs: Any) -> None:
        super().__init__(query=post_id or query, **kwargs)
        self.replies_seen: set[str] = set()  # reply ids yielded this crawl: inline ones are listed again
        self.reply_pages_asked = 0  # hotFlowChild pages requested this crawl, against `reply_pages`

    def closed(self, reason: str) -> None:
        if unread := self.crawler.stats.get_value("crisiswatch/replies_unread"):
            why = unread_reasons(self.crawler.stats.get_stats())
            self.crawler.stats.set_value("crisiswatch/replies_unread_why", why)  # for the summary line
            self.logger.warning("%s: %d replies under comments not read (%s)", self.name, unread, why)

    def hotflow_url(self, mid: str, max_id: str | int | None = None) -> str:
        params: dict[str, Any] = {"id": mid, "mid": mid, "max_id_type": 0}
        if max_id:
            params["max_id"] = max_id
        return f"{self.base_url('https://m.weibo.cn')}/comments/hotflow?{urlencode(params)}"

    def show_url(self, mid: str, page: int) -> str:
        return f"{self.base_url('https://m.weibo.cn')}/api/comments/show?{urlencode({'id': mid, 'page': page})}"

    async def start(self) -> AsyncIterator[Any]:
        for brand, mid in self.targets():
            yield self.hotflow_request(brand, mid.strip(), None, 1)

    def _headers(self, mid: str) -> dict[str, str]:
        # hotflow answers only requests that look like they come from the post's page
        return {"Referer": f"https://m.weibo.cn/detail/{mid}", "Accept": "application/json",
                "X-Requested-With": "XMLHttpRequest"}

    def hotflow_request(self, brand: str, mid: str, max_id: Any, page: int) -> scrapy.Request:
        # a first page that fails is read from comments/show instead: not lost
        return scrapy.Request(self.hotflow_url(mid, max_id), callback=self.parse, errback=self.hotflow_failed,
                              headers=self._headers(mid),
                              meta={"brand": brand, "query": mid, "page": page, "recoverable": page == 1})

    def show_request(self, brand: str, mid: str, page: int) -> scrapy.Request:
        return scrapy.Request(self.show_url(mid, page), callback=self.parse_show, headers=self._headers(mid),
                              meta={"brand": brand, "query": mid, "page": page}, dont_filter=True)

    def parse(self, response: Any) -> Iterator[Any]:
        meta = response.meta
        try:
            data = response_json(response)
        except ValueError:
            data = None
        if not isinstance(data, dict) or data.get("ok") not in (1, "1"):
            if meta["page"] == 1:  # hotflow refuses this post: the older endpoint may still answer
                self.crawler.stats.inc_value("crisiswatch/hotflow_fallback")
                yield self.show_request(meta["brand"], meta["query"], 1)
            elif not isinstance(data, dict):
                self.unreadable(response, "hotflow reply is not a JSON object")
            elif not empty_list(data):  # past the first page only {"ok":0,"msg":"还没有人评论哦"} ends it
                self.page_refused(response, refusal(data))
            return
        body = data.get("data") or {}
        items, _ = self._page(meta, body.get("data") or [], nested=True, url=response.url)
        yield from items
        for comment in body.get("data") or []:
            if isinstance(comment, dict):
                yield from self.reply_requests(meta, comment, inline_replies(comment))
        # sorted by likes: a page of old comments says nothing of the next page's, so no stop at the mark
        max_id = body.get("max_id")
        if max_id in (0, "0", None) or not self.within_max_pages(meta["query"], meta["page"], response.url,
                                                                  newest_first=False):
            return
        yield self.hotflow_request(meta["brand"], meta["query"], max_id, meta["page"] + 1)

    def hotflow_failed(self, failure: Any) -> Iterator[Any]:
        meta = failure.request.meta
        if meta.get("page") == 1 and not getattr(self, "blocked", False):
            self.crawler.stats.inc_value("crisiswatch/hotflow_fallback")
            yield self.show_request(meta["brand"], meta["query"], 1)

    def parse_show(self, response: Any) -> Iterator[Any]:
        meta = response.meta
        data = self.reply_object(response)
        if data is None:
            return
        if data.get("ok") not in (1, "1"):  # {"ok":0,"msg":"还没有人评论哦"}: the end; any other refusal: lost
            if not empty_list(data):
                self.page_refused(response, refusal(data))
            return
        body = data.get("data") or {}
        comments = list(body.get("data") or [])
        if meta["page"] == 1:
            comments += body.get("hot_data") or []
        if not comments:
            return
        items, created = self._page(meta, comments, nested=False, url=response.url)
        yield from items
        if self._stop(meta, created):
            return
        last = parse_count(body.get("max"))
        if (not last or meta["page"] < last) and self.within_max_pages(meta["query"], meta["page"], response.url):
            yield self.show_request(meta["brand"], meta["query"], meta["page"] + 1)

    def _page(self, meta: dict, comments: list[dict], nested: bool, url: str) -> tuple[list[dict], list[datetime]]:
        """The page's comments (with hotflow's nested replies) and the top-level comments' times; one
        layout_changed event when some lack id, text or created_at (validation dead-letters them)."""
        items, created = [], []
        for comment in comments:
            replies = inline_replies(comment) if nested else []
            for c in [comment, *replies]:
                item = comment_item(c, mid=meta["query"], brand=meta["brand"])
                if c is comment and isinstance(item.get("created_at"), datetime):
                    created.append(item["created_at"])
                items.append(item)
        if any(incomplete(i) for i in items):
            self.layout_changed("comments lack id, text or created_at", url)
        return items, created

    def _stop(self, meta: dict, created: list[datetime]) -> bool:
        if self.reached_mark(meta["query"], created):
            self.crawler.stats.inc_value("crisiswatch/stopped_at_mark")
            return True
        return False
