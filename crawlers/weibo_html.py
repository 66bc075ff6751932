"""s.weibo.com's HTML search: result cards as Mention-shaped dicts, and time slices past the 50-page cap.

The HTML search shows at most 50 pages (10 cards each) per query and time range. A range whose
first page lists ≥ 46 page links (or that still has a next page at page 50) is split by day, then
by hour; an hour is the finest `timescope` the site accepts.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from parsel import Selector

from crawlers.normalize import CHINA, parse_count, parse_time

PAGE_CAP = 50
CAP_LINKS = 46  # dataabc/weibo-search's threshold: this many page links means the range is truncated
VERIFIED_SVG = ("woo_svg_vblue", "woo_svg_vyellow", "woo_svg_vorange", "woo_svg_vgold")

_FOLD = re.compile(r"<a[^>]*action-type=\"fl_(?:un)?fold\"[^>]*>.*?</a>", re.S)
_NUMBER = re.compile(r"\d[\d.,]*\s*(?:万|亿|w|k)?\+?", re.I)
_UID = re.compile(r"weibo\.com/(?:u/)?(\d+)")
_NOT_REPOST = "[not(ancestor::div[contains(@class, 'card-comment')])]"
HOUR = timedelta(hours=1)
DAY = timedelta(days=1)


@dataclass(frozen=True)
class Slice:
    """A half-open range [start, end) of whole hours, China time, as s.weibo.com's `timescope`."""

    start: datetime
    end: datetime

    @classmethod
    def covering(cls, since: datetime, until: datetime) -> Slice:
        start = since.astimezone(CHINA).replace(minute=0, second=0, microsecond=0)
        end = until.astimezone(CHINA)
        if end.replace(minute=0, second=0, microsecond=0) != end or end <= start:
            end = end.replace(minute=0, second=0, microsecond=0) + HOUR
        return cls(start, max(end, start + HOUR))

    @classmethod
    def parse(cls, timescope: str) -> Slice:
        """'custom:2025-06-01-0:2025-06-02-0' -> Slice."""
        _, start, end = timescope.split(":")
        return cls(_hour(start), _hour(end))

    @property
    def timescope(self) -> str:
        return f"custom:{_fmt(self.start)}:{_fmt(self.end)}"

    def split(self) -> list[Slice]:
        """By day while the slice spans more than a day, then by hour; [] for a single hour."""
        step = DAY if self.end - self.start > DAY else HOUR
        if self.end - self.start <= HOUR:
            return []
        out, cursor = [], self.start
        while cursor < self.end:
            # day pieces end on China midnight so later hour splits stay aligned
            nxt = (cursor + DAY).replace(hour=0) if step is DAY else cursor + HOUR
            out.append(Slice(cursor, min(nxt, self.end)))
            cursor = min(nxt, self.end)
        return out


def _fmt(dt: datetime) -> str:
    dt = dt.astimezone(CHINA)
    return f"{dt:%Y-%m-%d}-{dt.hour}"


def _hour(text: str) -> datetime:
    date, hour = text.rsplit("-", 1)
    return datetime.fromisoformat(date).replace(hour=int(hour), tzinfo=CHINA)


def page_link_count(sel: Selector) -> int:
    return len(sel.xpath('//ul[contains(@class, "s-scroll")]/li'))


def next_page_href(sel: Selector) -> str | None:
    return sel.xpath('//a[contains(concat(" ", normalize-space(@class), " "), " next ")]/@href').get()


def no_result(sel: Selector) -> bool:
    return bool(sel.xpath('//div[contains(@class, "card-no-result")]'))


def cards(sel: Selector) -> list[Selector]:
    return sel.xpath('//div[contains(concat(" ", normalize-space(@class), " "), " card-wrap ")][@mid]')


def _count(card: Selector, action: str) -> int:
    text = " ".join(card.xpath(f'.//a[@action-type="{action}"]{_NOT_REPOST}//text()').getall())
    m = _NUMBER.search(text)
    return parse_count(m.group(0).strip()) if m else 0


def card_item(card: Selector, *, query: str = "", brand: str = "", now: datetime | None = None) -> dict[str, Any]:
    """One result card as a Mention-shaped dict; missing fields stay missing for validation to name."""
    mid = card.attrib.get("mid", "")
    name_link = card.xpath(f'.//div[@class="info"]/div[2]/a[1]{_NOT_REPOST}') or card.xpath(
        f'.//a[@nick-name]{_NOT_REPOST}')
    href = name_link.attrib.get("href", "") if name_link else ""
    uid = m.group(1) if (m := _UID.search(href)) else ""
    nick = (name_link.attrib.get("nick-name") or name_link.xpath("string()").get("") if name_link else "").strip()
    body = (card.xpath(f'.//p[@node-type="feed_list_content_full"]{_NOT_REPOST}').get()
            or card.xpath(f'.//p[@node-type="feed_list_content"]{_NOT_REPOST}').get()
            or card.xpath(f'.//p[contains(@class, "txt")]{_NOT_REPOST}').get())
    time_link = card.xpath(f'.//div[contains(@class, "from")]{_NOT_REPOST}/a[1]')
    bid_href = time_link.attrib.get("href", "") if time_link else ""
    bid = bid_href.split("?", 1)[0].rstrip("/").rsplit("/", 1)[-1] if bid_href else ""
    svg = card.xpath('.//div[contains(@class, "avator")]//svg/@id').get("")
    item: dict[str, Any] = {
        "source": "weibo",
        "native_id": mid,
        "url": f"https://weibo.com/{uid}/{bid}" if uid and bid else f"https://m.weibo.cn/detail/{mid}",
        # the result card shows no follower count: unknown (None), not an account nobody follows
        "author": {"id": uid, "name": nick, "followers": None, "verified": svg in VERIFIED_SVG},
        "engagement": {
            "reposts": _count(card, "feed_list_forward"),
            "comments": _count(card, "feed_list_comment"),
            "likes": _count(card, "feed_list_like"),
        },
        "query": query,
        "brands": [brand] if brand else [],
        "extra": {k: v for k, v in {
            "bid": bid, "verified_type": svg.removeprefix("woo_svg_") if svg else "",
            "source": (time_link.xpath("string(following-sibling::a[1])").get("").strip() if time_link else ""),
            "repost": bool(card.xpath('.//div[contains(@class, "card-comment")]')),
            "via": "s.weibo.com",
        }.items() if v},
    }
    if body is not None:
        item["text"] = _FOLD.sub("", body)
    when = time_link.xpath("string()").get("").strip() if time_link else ""
    if when:
        try:
            item["created_at"] = parse_time(" ".join(when.split()), now)
        except ValueError:
            item["created_at"] = when  # validation dead-letters it with the reason
    return item
