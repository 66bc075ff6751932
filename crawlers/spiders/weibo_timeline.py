"""A brand account's own posts on m.weibo.cn, newest first after the pinned ones.

The profile's post list is container `230413{uid}` (public crawlers moved to it in 2022); when it
answers nothing on its first page, the pre-2022 container `107603{uid}` is read instead.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any
from urllib.parse import urlencode

import scrapy

from crawlers.spiders.base import MentionSpider
from crawlers.weibo import (
    MISSING_FIELDS,
    WEIBO_SETTINGS,
    LongTextMixin,
    empty_list,
    incomplete,
    mblog_cards,
    page_items,
    refusal,
    unreadable_first_page,
)

CURRENT, FALLBACK = "230413", "107603"


class WeiboTimelineSpider(LongTextMixin, MentionSpider):
    """Targets are account uids (`brands[].sources.weibo_timeline` or `-a query=UID`).

    Pages follow `cardlistInfo.since_id` when the reply gives one (the newer API) and the page
    number otherwise. Pinned posts (mblogtype 2) are old by design, so they never stop the crawl.
    """

    name = "weibo_timeline"
    source = "weibo"
    custom_settings = dict(WEIBO_SETTINGS)

    def timeline_url(self, uid: str, page: int, since_id: str | None = None, container: str = CURRENT) -> str:
        params: dict[str, Any] = {"type": "uid", "value": uid, "containerid": f"{container}{uid}"}
        if since_id:
            params["since_id"] = since_id
        else:
            params["page"] = page
        return f"{self.base_url('https://m.weibo.cn')}/api/container/getIndex?{urlencode(params)}"

    async def start(self) -> AsyncIterator[Any]:
        for brand, uid in self.targets():
            yield self.page_request(brand, uid.strip(), 1)

    def page_request(self, brand: str, uid: str, page: int, since_id: str | None = None,
                     container: str = CURRENT) -> scrapy.Request:
        return scrapy.Request(
            self.timeline_url(uid, page, since_id, container), callback=self.parse,
            meta={"brand": brand, "query": uid, "page": page, "since_id": since_id, "container": container},
            headers={"Referer": f"https://m.weibo.cn/u/{uid}", "Accept": "application/json",
                     "X-Requested-With": "XMLHttpRequest", "MWeibo-Pwa": "1"},
        )

    def parse(self, response: Any) -> Iterator[Any]:
        meta = response.meta
        data = self.reply_object(response)
        if data is None:
            return
        ok = data.get("ok") in (1, "1")
        mblogs = mblog_cards(data) if ok else []
        if not mblogs:
            if ok and meta["page"] == 1 and (why := unreadable_first_page(data)):
                self.unreadable(response, why)  # not "no posts": a reply in a shape crisiswatch cannot read
            elif meta["page"] == 1 and meta.get("container", CURRENT) == CURRENT:
                # an account the current container does not list: the old one may ({"ok":0} or no posts)
                self.crawler.stats.inc_value("crisiswatch/timeline_fallback")
                yield self.page_request(meta["brand"], meta["query"], 1, container=FALLBACK)
            elif not ok and not empty_list(data):  # only {"ok":0,"msg":"这里还没有内容"} is past the last page
                self.page_refused(response, refusal(data))
            return
        items, created = page_items(mblogs, meta)
        if any(incomplete(i) for i in items):  # dead-lettered by validation, and said once as a layout change
            self.layout_changed(MISSING_FIELDS, response.url)
        for item, mblog in zip(items, mblogs, strict=True):
            yield from self.post_items(item, mblog, meta)
        # an account's own list is strictly newest first (after the pinned posts): the first known
        # post means everything after it is known too
        if self.passed_mark(meta["query"], created):
            self.crawler.stats.inc_value("crisiswatch/stopped_at_mark")
            return
        since_id = ((data.get("data") or {}).get("cardlistInfo") or {}).get("since_id")
        if not since_id and meta.get("since_id"):
            return  # paging by since_id, and the last page carries none
        if not self.within_max_pages(meta["query"], meta["page"], response.url):
            return
        yield self.page_request(meta["brand"], meta["query"], meta["page"] + 1,
                                str(since_id) if since_id else None, meta.get("container", CURRENT))
