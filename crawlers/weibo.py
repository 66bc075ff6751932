"""Weibo's mblog objects (m.weibo.cn JSON) as Mention-shaped dicts, and what Weibo spiders share."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any

import scrapy

from crawlers.jsonp import response_json
from crawlers.normalize import follower_count, parse_count, parse_time
from crisiswatch.mention import mention_id, strip_html

RETWEET_TEXT = 500  # characters of the original kept with a repost (the original is indexed whole)
# What m.weibo.cn says with `ok:0` when a list holds nothing (more): past the last page, a search without
# results, a post without comments. Only these end paging: any other `ok:0` is a refusal crisiswatch does
# not know (its throttle reply, errno 100005, is a block: crawlers/blocks.py), and the page is lost.
EMPTY_LIST_MESSAGES = ("这里还没有内容", "还没有人评论", "暂无评论", "暂无内容", "暂无数据", "没有更多")


def is_ok0(data: dict) -> bool:
    return data.get("ok") in (0, "0")


def empty_list(data: dict) -> bool:
    """An `ok:0` reply that says the list is empty ({"ok":0,"msg":"这里还没有内容"})."""
    msg = str(data.get("msg") or "")
    return is_ok0(data) and any(m in msg for m in EMPTY_LIST_MESSAGES)


def refusal(data: dict) -> str:
    """An `ok` other than 1 that is not an empty list, in words for the lost page's reason."""
    msg = str(data.get("msg") or "")[:40]
    errno = f", errno {data['errno']}" if data.get("errno") not in (None, "") else ""
    return f"the site answered ok {data.get('ok')!s}{errno} ({msg or 'no message'}), not an empty list"


def mblog_cards(data: dict) -> list[dict]:
    """mblogs from a getIndex reply: card_type 9 cards, also inside card_group (type 11) cards."""
    out = []
    body = data.get("data") if isinstance(data.get("data"), dict) else data  # before 2018: no "data"
    for card in body.get("cards") or []:
        if not isinstance(card, dict):
            continue
        if card.get("card_type") == 9 and card.get("mblog"):
            out.append(card["mblog"])
        for sub in card.get("card_group") or []:
            if isinstance(sub, dict) and sub.get("card_type") == 9 and sub.get("mblog"):
                out.append(sub["mblog"])
    return out


def unreadable_first_page(data: dict) -> str | None:
    """Why an `ok:1` first page without one mblog is not an empty result, or None when it may be one.

    A search without results, or an account without posts, answers cards: [] (and a total of 0, or
    none). A reply without a cards list, type-9 (post) cards without an mblog, or no cards while
    `cardlistInfo.total` counts some is a reply crisiswatch cannot read, not "no posts".
    """
    body = data.get("data") if isinstance(data.get("data"), dict) else data
    cards = body.get("cards")
    if not isinstance(cards, list):
        return "reply has no data.cards[] list"
    flat = [c for c in cards if isinstance(c, dict)]
    flat += [sub for c in flat if isinstance(c.get("card_group"), list) for sub in c["card_group"]
             if isinstance(sub, dict)]
    if any(c.get("card_type") in (9, "9") for c in flat):
        return "card_type 9 cards without an mblog"
    info = body.get("cardlistInfo") if isinstance(body.get("cardlistInfo"), dict) else {}
    if not cards and (total := parse_count(info.get("total"))):
        return f"no cards though cardlistInfo.total is {total}"
    return None


def mblog_item(mblog: dict, *, query: str = "", brand: str = "", now: datetime | None = None,
               source: str = "weibo") -> dict[str, Any]:
    """A Mention-shaped dict; missing required fields stay missing so validation names them."""
    user = mblog.get("user") or {}
    bid = mblog.get("bid") or ""
    uid = str(user.get("id", ""))
    item: dict[str, Any] = {
        "source": source,
        "native_id": str(mblog.get("id") or mblog.get("mid") or ""),
        "url": f"https://m.weibo.cn/detail/{mblog.get('id')}" if not bid else f"https://weibo.com/{uid}/{bid}",
        "text": mblog.get("text") or "",
        "author": {
            "id": uid,
            "name": user.get("screen_name", ""),
            "followers": follower_count(user.get("followers_count")),
            "verified": bool(user.get("verified")),
        },
        "engagement": {
            "reposts": parse_count(mblog.get("reposts_count")),
            "comments": parse_count(mblog.get("comments_count")),
            "likes": parse_count(mblog.get("attitudes_count") or mblog.get("like_count")),
        },
        "query": query,
        "brands": [brand] if brand else [],
        "extra": {k: mblog[k] for k in ("bid", "region_name", "source", "isLongText") if mblog.get(k)},
    }
    if mblog.get("created_at"):
        try:
            item["created_at"] = parse_time(mblog["created_at"], now)
        except ValueError:
            item["created_at"] = mblog["created_at"]  # validation rejects it with the reason
    if isinstance(retweeted := mblog.get("retweeted_status"), dict) and (retweeted.get("id") or retweeted.get("mid")):
        original = str(retweeted.get("id") or retweeted.get("mid"))
        ruser = retweeted.get("user") or {}  # null when the original was deleted
        item["parent_id"] = mention_id(source, original)
        item["extra"]["retweet_of"] = {
            "id": original, "author": {"id": str(ruser.get("id", "")), "name": ruser.get("screen_name", "")},
            "text": strip_html(str(retweeted.get("text") or ""))[:RETWEET_TEXT],
        }
    return item


MISSING_FIELDS = "mblogs lack id, text or created_at"


def incomplete(item: dict[str, Any]) -> bool:
    """A post or comment missing a field every valid one has: the site renamed it (e.g. text -> text_raw)."""
    return not item.get("native_id") or not item.get("text") or "created_at" not in item


def retweeted_original(mblog: dict) -> dict | None:
    """The post a repost spreads, when the reply still carries it (a deleted original has no user)."""
    original = mblog.get("retweeted_status")
    if isinstance(original, dict) and (original.get("id") or original.get("mid")) and original.get("user"):
        return original
    return None


# politeness every Weibo spider shares (weibo-crawler's experience: 8-15 s between requests,
# one at a time, or 418/432 follow); a login redirect must stay visible to block detection
WEIBO_SETTINGS: dict[str, Any] = {
    "DOWNLOAD_DELAY": 10,
    "DOWNLOAD_DELAY_JITTER": 0.5,  # ±50% around the delay
    "CONCURRENT_REQUESTS_PER_DOMAIN": 1,
    "AUTOTHROTTLE_ENABLED": True,
    "REDIRECT_ENABLED": False,
}


def page_items(mblogs: list[dict], meta: dict[str, Any]) -> tuple[list[dict[str, Any]], list[datetime]]:
    """Items of one page and the creation times that count for the incremental stop.

    Pinned posts (mblogtype 2) sit on top regardless of age, and a time that failed to parse is
    left for validation to reject: neither may end paging.
    """
    items = [mblog_item(m, query=meta["query"], brand=meta["brand"]) for m in mblogs]
    created = [i["created_at"] for i, m in zip(items, mblogs, strict=True)
               if m.get("mblogtype") != 2 and isinstance(i.get("created_at"), datetime)]
    return items, created


class LongTextMixin:
    """Expands posts flagged `isLongText` through `/statuses/extend` before they are yielded.

    The search and timeline replies carry only the first ~140 characters of a long post. A failed
    expansion (error, block, non-JSON, `ok != 1`) still yields the short text: a post is never lost
    for want of its tail.
    """

    # mixed into a MentionSpider, which provides base_url() and crawler
    def post_items(self, item: dict[str, Any], mblog: dict, meta: dict[str, Any]) -> Iterator[Any]:
        """A post and, for a repost, the original it spreads as a mention of its own.

        The repost keeps the reposter's words, `parent_id` = the original's mention id and a short
        `extra.retweet_of` (id, author, text); the original is indexed in full, so every repost of
        one post points at one indexed mention and the spread of that post is visible.
        """
        yield from self.with_long_text(item, mblog)
        if original := retweeted_original(mblog):
            copy = mblog_item(original, query=meta["query"], brand=meta["brand"])
            copy["extra"]["via_repost"] = item.get("native_id", "")
            self.crawler.stats.inc_value("crisiswatch/retweeted_originals")
            yield from self.with_long_text(copy, original)

    def with_long_text(self, item: dict[str, Any], mblog: dict) -> Iterator[Any]:
        native_id = item.get("native_id")
        if not mblog.get("isLongText") or not native_id or getattr(self, "probe", False):
            yield item
            return
        url = f"{self.base_url('https://m.weibo.cn')}/statuses/extend?id={native_id}"
        yield scrapy.Request(url, callback=self.parse_long_text, errback=self.long_text_failed,
                             meta={"item": item}, dont_filter=True,
                             headers={"Referer": f"https://m.weibo.cn/detail/{native_id}",
                                      "Accept": "application/json"})

    def parse_long_text(self, response: Any) -> Iterator[dict[str, Any]]:
        item = response.meta["item"]
        try:
            data = response_json(response)
        except ValueError:
            data = {}
        payload = data.get("data") if isinstance(data, dict) and data.get("ok") in (1, "1") else None
        full = payload.get("longTextContent") if isinstance(payload, dict) else None
        if isinstance(full, str) and full.strip():
            item = {**item, "text": full, "extra": {**item.get("extra", {}), "long_text": True}}
        else:
            self.crawler.stats.inc_value("crisiswatch/long_text_failed")
        yield item

    def long_text_failed(self, failure: Any) -> Iterator[dict[str, Any]]:
        self.crawler.stats.inc_value("crisiswatch/long_text_failed")
        yield failure.request.meta["item"]
