"""Replies under Weibo comments beyond the one or two hotflow shows inline: m.weibo.cn's hotFlowChild.

`/comments/hotFlowChild?cid=<comment id>&max_id=<cursor>&max_id_type=<type>` (first page max_id=0)
answers flat, not inside a second `data` as hotflow does:
`{"ok":1, "data":[reply, ...], "total_number":N, "max_id":<cursor, 0 on the last page>,
"max_id_type":0, "rootComment":[the comment]}`. Each reply is a comment object (id, created_at,
text, user, rootid = the comment, like_count, reply_original_text); its `mid` is its own id, not
the post's. The cursor is passed back with the `max_id_type` the reply gave. Throttling and login
walls are the m.weibo.cn ones (errno 100005, ok:-100, 432, 418), seen by block detection; an `ok:0`
that is not an empty list is a lost page; "暂无数据" (as an `ok:0` or as m.weibo.cn's HTML error
page) is a comment whose replies are gone.

Replies are read to the list's end, `max_pages` pages a comment at most and `reply_pages` pages a crawl
over all comments (hotflow lists comments by likes, so the budget goes to the most read ones first; the
rest are counted as not read, and a comment stopped part-way keeps its mark). Each comment's replies
carry their own crawl mark, `<post id>/replies/<comment id>`: the post's comments' mark says nothing
of replies never read before, and one mark for all of a post's replies would be wrong too, since a
crawl reads the lists minutes apart (a reply to a comment read early may be older than the newest
reply to a comment read late). The list is not documented as time-ordered (`max_id_type` 0 is the
"hot" order on Weibo's open platform), so a comment's replies stop at its mark only when every page
read of them was newest first and the page lies entirely at or before it; otherwise they are read
to the end, as hotflow is.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any
from urllib.parse import urlencode

import scrapy

from crawlers.jsonp import response_text
from crawlers.normalize import parse_count
from crawlers.weibo import empty_list, incomplete, refusal

GONE_PAGE = "暂无数据"  # m.weibo.cn's HTML error page for a comment whose replies are gone


def replies_query(mid: str, cid: str) -> str:
    """The query (and crawl mark) of one comment's replies."""
    return f"{mid}/replies/{cid}"


class WeiboRepliesMixin:
    """Mixed into WeiboCommentsSpider (a MentionSpider): reply requests, pages and their counts."""

    def reply_requests(self, meta: dict, comment: dict, inline: list[dict]) -> Iterator[scrapy.Request]:
        """The first reply page of a comment that has more replies than hotflow showed inline."""
        total = parse_count(comment.get("total_number"))
        cid = str(comment.get("id") or "")
        known = {str(r.get("id")) for r in inline if r.get("id")}
        if not cid or total <= len(known):
            return
        if self.probe:  # a probe reads first pages only: replies are not its business
            return
        self.replies_seen.update(known)
        if not self._within_reply_budget():
            self._count_unread({"total": total, "known": len(known)}, "budget")
            return
        yield self.reply_request(meta["brand"], meta["query"], cid, 0, 0, 1,
                                 {"total": total, "known": len(known), "oldest": None})

    def hotflowchild_url(self, cid: str, max_id: Any, max_id_type: Any) -> str:
        params = {"cid": cid, "max_id": max_id or 0, "max_id_type": max_id_type or 0}
        return f"{self.base_url('https://m.weibo.cn')}/comments/hotFlowChild?{urlencode(params)}"

    def reply_request(self, brand: str, mid: str, cid: str, max_id: Any, max_id_type: Any, page: int,
                      progress: dict) -> scrapy.Request:
        return scrapy.Request(self.hotflowchild_url(cid, max_id, max_id_type), callback=self.parse_replies,
                              headers=self._headers(mid), dont_filter=True,
                              meta={"brand": brand, "query": replies_query(mid, cid), "post": mid, "cid": cid,
                                    "page": page, "max_id": str(max_id or 0), **progress})

    def parse_replies(self, response: Any) -> Iterator[Any]:
        meta = response.meta
        text = response_text(response)
        if text.lstrip().startswith("<") and GONE_PAGE in text:
            self._count_unread(meta, "gone")
            return
        data = self.reply_object(response)
        if data is None:
            return
        if data.get("ok") not in (1, "1"):
            if not empty_list(data):
                self.page_refused(response, refusal(data))
            elif meta["page"] == 1:  # the site counts replies it no longer lists: said, not lost
                self._count_unread(meta, "gone")
            return
        body = data.get("data")
        if isinstance(body, dict):  # two readers expect hotflow's nesting; no reply seen has it
            data, body = body, body.get("data")
        if not isinstance(body, list):
            self.unreadable(response, "hotFlowChild reply has no data[] list")
            return
        yield from self._reply_page(response, data, [r for r in body if isinstance(r, dict)])

    def _reply_page(self, response: Any, data: dict, replies: list[dict]) -> Iterator[Any]:
        meta = response.meta
        items, created = [], []
        for reply in replies:
            rid = str(reply.get("id") or "")
            if rid and rid in self.replies_seen:  # shown inline, or on an earlier page
                continue
            self.replies_seen.add(rid)
            item = self.reply_item(reply, meta)
            items.append(item)
            if isinstance(item.get("created_at"), datetime):
                created.append(item["created_at"])
        if any(incomplete(i) for i in items):
            self.layout_changed("replies lack id, text or created_at", response.url)
        self.crawler.stats.inc_value("crisiswatch/replies_read", len(items))
        yield from items
        # "mixed": the replies read of this comment were not newest first, so the mark cannot stop them
        oldest = meta["oldest"]
        if oldest == "mixed" or created != sorted(created, reverse=True) or (
                created and oldest and max(created) > datetime.fromisoformat(oldest)):
            oldest = "mixed"
        elif created:
            oldest = min(created).isoformat()
        progress = {"total": max(meta["total"], parse_count(data.get("total_number"))),
                    "known": meta["known"] + len(items), "oldest": oldest}
        max_id = data.get("max_id")
        if max_id in (0, "0", None, "") or not replies:
            return
        if str(max_id) == meta["max_id"]:
            self.page_refused(response, f"hotFlowChild's max_id {max_id} did not move")
            return
        if oldest != "mixed" and self.reached_mark(meta["query"], created):
            self.crawler.stats.inc_value("crisiswatch/replies_stopped_at_mark")
            return
        if not self.within_max_pages(meta["query"], meta["page"], response.url, newest_first=False):
            self._count_unread({**meta, **progress}, "capped")
            return
        if not self._within_reply_budget():
            self.capped.add(meta["query"])  # read part-way: its mark stays for the next crawl
            self._count_unread({**meta, **progress}, "budget")
            return
        yield self.reply_request(meta["brand"], meta["post"], meta["cid"], max_id, data.get("max_id_type"),
                                 meta["page"] + 1, progress)

    def reply_item(self, reply: dict, meta: dict) -> dict[str, Any]:
        item = self.comment_item(reply, mid=meta["post"], brand=meta["brand"])
        item["extra"].setdefault("root_id", meta["cid"])  # the comment it answers (rootid, when sent)
        item["query"] = meta["query"]  # its crawl mark is its comment's replies' ("<post id>/replies/<cid>")
        return item

    def _within_reply_budget(self) -> bool:
        """Whether this crawl may request one more hotFlowChild page (`reply_pages`); said once when not."""
        budget = self.config.source(self.name).reply_pages
        if self.reply_pages_asked < budget:
            self.reply_pages_asked += 1
            return True
        if self.reply_pages_asked == budget:
            self.reply_pages_asked += 1  # past it: the warning is said once
            self.logger.warning("%s: %d reply pages read, the crawl's reply_pages; replies of the comments after"
                                " are counted, not read", self.name, budget)
        return False

    def _count_unread(self, meta: dict, why: str) -> None:
        unread = max(0, meta["total"] - meta["known"])
        if unread:
            self.crawler.stats.inc_value("crisiswatch/replies_unread", unread)
            self.crawler.stats.inc_value(f"crisiswatch/replies_unread_{why}", unread)

    def page_lost(self, meta: dict, reason: str, url: str) -> None:
        super().page_lost(meta, reason, url)  # type: ignore[misc]
        if "cid" in meta and "total" in meta:
            self._count_unread(meta, "lost")
