"""What every crisiswatch spider shares: its targets from arguments or config, and incremental stops."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any

import scrapy
from scrapy.exceptions import CloseSpider

from crawlers.blocks import CAPTCHA, THROTTLED, Block
from crawlers.health import record_block
from crawlers.jsonp import response_json
from crawlers.normalize import china_time
from crawlers.state import CrawlState
from crawlers.wiring import crawler_config, state_connection

# What a query stopped at max_pages leaves for the next crawl, by the kind of list it is (`within_max_pages`).
# Every crawl starts again at page 1: a newest-first list whose mark stays is read down to it again, but a
# list ranked by relevance or likes (黑猫投诉's keyword search, Weibo's hotflow) puts the same top posts on
# page 1 again, so the posts past the cap wait until they rank higher, whatever the mark.
CAP_OUTCOMES = {
    "marked": "newest first: its mark stays, the next crawl reads down to it again",
    "ranked": "ranked by relevance or likes: the next crawl starts at page 1 again, the posts past the cap are out"
              " of reach until they rank higher",
    "first": "a first crawl (no mark yet): the older posts are not read",
}


class MentionSpider(scrapy.Spider):
    """Base for spiders that yield Mention-shaped dicts for (brand, query) targets.

    Targets come from `-a query=... -a brand=...` or, by default, from every brand's
    `sources.<spider name>` list in the config. `self.marks` holds each query's high-water
    mark so a later crawl stops paging at posts it already has.
    """

    source: str = ""           # Mention.source of the items
    expects_json: bool = True  # HTML where JSON was expected means a login or captcha page
    config_key: str = ""       # key under brands[].sources; defaults to the spider name

    def __init__(self, query: str | None = None, brand: str | None = None, max_pages: str | int | None = None,
                 since: str | None = None, probe: str | bool = False, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.arg_query = query
        self.arg_brand = brand
        self.arg_max_pages = int(max_pages) if max_pages else None
        # without a zone, China time: a naive --since could not be compared with the posts' times
        self.since = china_time(datetime.fromisoformat(since)) if since else None
        self.blocked: str | bool = False
        self.marks: dict[str, datetime | None] = {}
        # (query, reason, url) of list pages whose posts this crawl could not read: their queries'
        # marks stay where they are, and the crawl ends failed (see crawlers.extensions.CrawlOutcome)
        self.lost_pages: list[tuple[str, str, str]] = []
        # (query, reason, url) of posts read but lost to a pipeline that raised on them: the same
        self.lost_posts: list[tuple[str, str, str]] = []
        # queries with more new posts than `max_pages` pages hold: their marks stay too (`within_max_pages`)
        self.capped: set[str] = set()
        self.capped_kinds: dict[str, str] = {}  # query -> its CAP_OUTCOMES kind, for the crawl's line and status
        # `crisiswatch sources check` runs each spider as a probe: first pages only, no long texts or
        # detail pages, no health events but what it finds per target (crawlers/probe.py)
        self.probe = str(probe).lower() in ("1", "true", "yes")
        self.probe_results: dict[str, tuple[str, str]] = {}
        self.probe_replied: set[str] = set()
        # queries whose list showed itself not newest first this crawl, and the oldest time listed so far
        self.unordered: set[str] = set()
        self._oldest_listed: dict[str, datetime] = {}
        self._listed_ids: dict[str, set[str]] = {}  # per query, the ids its list pages held so far

    @classmethod
    def from_crawler(cls, crawler: Any, *args: Any, **kwargs: Any) -> MentionSpider:
        spider = super().from_crawler(crawler, *args, **kwargs)
        spider.config = crawler_config(crawler)
        spider.crawl_state = CrawlState(state_connection(crawler))
        return spider

    @property
    def max_pages(self) -> int:
        if self.probe:
            return 1
        return self.arg_max_pages or self.config.source(self.name).max_pages

    def probe_outcome(self, query: str, status: str, reason: str) -> None:
        """What a probe found for one target; the first finding stands."""
        self.probe_results.setdefault(query, (status, reason))

    def base_url(self, default: str) -> str:
        return (self.config.source(self.name).base_url or self.settings.get(f"{self.name.upper()}_BASE_URL")
                or default).rstrip("/")

    def targets(self) -> Iterator[tuple[str, str]]:
        """(brand key, query) pairs to crawl."""
        if self.arg_query:
            yield (self.arg_brand or "", self.arg_query)
            return
        key = self.config_key or self.name
        for brand in self.config.brands:
            if self.arg_brand and brand.key != self.arg_brand:
                continue
            for query in getattr(brand.sources, key):
                yield brand.key, query

    def mark_for(self, query: str) -> datetime | None:
        if query not in self.marks:
            self.marks[query] = self.crawl_state.mark(self.source, query)
        mark = self.marks[query]
        if self.since and (mark is None or self.since > mark):
            return self.since
        return mark

    def reached_mark(self, query: str, created: list[datetime]) -> bool:
        """True when a newest-first page is entirely at or before the mark: older pages are known."""
        mark = self.mark_for(query)
        return bool(mark and created and max(created) <= mark)

    def listed_newest_first(self, query: str, created: list[datetime], url: str) -> bool:
        """Whether a list taken to be newest first still shows itself so: no time on this page is newer than
        the one before it, nor than the oldest of the earlier pages. The stops at the mark rest on that order;
        the first page that breaks it is said once, and the query is read on to max_pages, never stopped at
        its mark (a stop would skip the new posts listed after an old one)."""
        if query in self.unordered:
            return False
        times = ([self._oldest_listed[query]] if query in self._oldest_listed else []) + created
        if any(later > earlier for earlier, later in zip(times, times[1:], strict=False)):
            self.unordered.add(query)
            self.crawler.stats.inc_value("crisiswatch/not_newest_first")
            self.logger.warning("%s: %r is not listed newest first (%s): read on to max_pages, not stopped at its"
                                " mark", self.name, query, url.split("?", 1)[0])
            return False
        if times:
            self._oldest_listed[query] = times[-1]
        return True

    def check_not_repeated(self, meta: dict, items: list[dict[str, Any]], url: str, noun: str = "posts",
                           why: str = "the site withholds the later pages from a throttled client") -> None:
        """A later page holding only posts of earlier pages is the site repeating itself, not more of the list:
        paging on would read the same page to max_pages, and the mark would move past the pages never shown.
        It blocks the source as throttled (raises CloseSpider)."""
        seen = self._listed_ids.setdefault(str(meta.get("query", "")), set())
        ids = {str(i["native_id"]) for i in items if i.get("native_id")}
        if ids and ids <= seen:  # (on a query's first page nothing is seen yet)
            raise self.report_block(f"page {meta['page']} repeats {noun} of an earlier page ({why})", url, THROTTLED,
                                    query=str(meta.get("query", "")))
        seen |= ids

    def passed_mark(self, query: str, created: list[datetime]) -> bool:
        """True once any post of a strictly newest-first list is at or before the mark."""
        mark = self.mark_for(query)
        return bool(mark and any(c <= mark for c in created))

    # replies and pages ------------------------------------------------------------------------
    def reply_object(self, response: Any) -> dict | None:
        """The reply as a JSON object (JSON or JSONP, any charset), or None after reporting it.

        A reply that is not JSON, or JSON of another type (an array, a string), is an unreadable
        page: its posts are lost to this crawl, so it is reported, never passed over.
        """
        try:
            data = response_json(response)
        except ValueError:
            self.unreadable(response, "reply is not JSON")
            return None
        if not isinstance(data, dict):
            self.unreadable(response, f"reply is a JSON {type(data).__name__} where an object was expected")
            return None
        return data

    def unreadable(self, response: Any, reason: str) -> None:
        """A list page whose posts cannot be read: a layout change, and a lost page."""
        if self.probe:
            self.probe_outcome(str(response.meta.get("query", "")), "layout-changed", reason)
            return
        self.layout_changed(reason, response.url)
        self.page_lost(response.meta, reason, response.url)

    def page_refused(self, response: Any, reason: str) -> None:
        """A list page the site refused in a way that is neither a known block nor the end of the list:
        a lost page (its query's mark stays, the crawl ends failed)."""
        if self.probe:
            self.probe_outcome(str(response.meta.get("query", "")), "layout-changed", reason)
            return
        self.page_lost(response.meta, reason, response.url)

    def page_lost(self, meta: dict, reason: str, url: str) -> None:
        """A list page this crawl did not read (unreadable, failed download, error in its callback)."""
        self.lost_pages.append((str(meta.get("query", "")), reason, url))
        self.crawler.stats.inc_value("crisiswatch/pages_lost")

    def post_lost(self, query: str, reason: str, url: str) -> None:
        """A post a pipeline raised on (it is dead-lettered by crawlers.extensions.CrawlOutcome)."""
        self.lost_posts.append((query, reason, url))
        self.crawler.stats.inc_value("crisiswatch/posts_lost")

    def within_max_pages(self, query: str, pages_read: int, url: str, newest_first: bool = True) -> bool:
        """Whether a query with more pages may read the next one, after `pages_read` of them.

        At `max_pages` a query whose mark lies further back leaves new posts unread (a pile-on faster than the
        schedule): counted, said once per query, and its mark stays, so the next crawl reads down to it again
        instead of skipping what lies between. A first crawl, with no mark yet, reads as deep as it may by
        design; it is counted, and its mark moves. A list that is not newest first (黑猫投诉's keyword search
        by relevance, Weibo's hotflow by likes) may hold new posts on any page: a cap leaves some unread
        whatever the mark, so it is always capped, and said as what it is: the next crawl starts at page 1
        again, and those posts are out of reach until they rank higher (CAP_OUTCOMES)."""
        if pages_read < self.max_pages:
            return True
        self.crawler.stats.inc_value("crisiswatch/pages_capped")
        self.crawler.stats.set_value("crisiswatch/max_pages", self.max_pages)
        if query in self.capped_kinds:
            return False
        kind = "ranked" if not newest_first else "marked" if self.mark_for(query) is not None else "first"
        self.capped_kinds[query] = kind
        self.crawler.stats.inc_value(f"crisiswatch/capped_{kind}")
        if kind != "first":
            self.capped.add(query)
            self.logger.warning("%s: %r has more %sposts than %d pages hold (the last read: %s); %s", self.name,
                                query, "new " if kind == "marked" else "", self.max_pages, url, CAP_OUTCOMES[kind])
        return False

    def capped_outcome(self) -> str:
        """One line for status: the queries stopped at max_pages whose lists held more, by what the next crawl
        does about them."""
        parts = []
        for kind in ("marked", "ranked"):
            queries = [q for q, k in self.capped_kinds.items() if k == kind]
            if queries:
                named = ", ".join(repr(q) for q in queries[:3]) + (f" and {len(queries) - 3} more" if len(queries) > 3
                                                                   else "")
                parts.append(f"{named} {CAP_OUTCOMES[kind]}")
        return f"stopped at max_pages {self.max_pages}: " + "; ".join(parts)

    @property
    def lost_queries(self) -> set[str]:
        """Queries this crawl did not read in full: their crawl marks stay where they are."""
        return {query for query, _, _ in self.lost_pages + self.lost_posts} | self.capped

    # health events a spider raises itself ------------------------------------------------------
    def layout_changed(self, reason: str, url: str = "") -> None:
        """Required fields missing: one `layout_changed` health event per crawl.

        The items themselves still go on, so validation dead-letters each with its reason.
        """
        self.crawler.stats.inc_value("crisiswatch/layout_changed")
        if getattr(self, "_layout_reported", False) or self.probe:
            return
        self._layout_reported = True
        self.crawl_state.record(self.name, "layout_changed", reason=reason, url=url)
        self.logger.warning("%s: the site's layout changed? %s (%s)", self.name, reason, url)

    def config_error(self, reason: str) -> CloseSpider:
        """Records a `config_error` health event and returns the CloseSpider to raise from start()."""
        if not self.probe:
            self.crawl_state.record(self.name, "config_error", reason=reason)
        self.logger.error("%s: configuration error: %s", self.name, reason)
        self.crawler.stats.set_value("crisiswatch/config_error", reason)
        return CloseSpider("config_error")

    def report_block(self, reason: str, url: str, kind: str = CAPTCHA, *, status: str = "blocked",
                     query: str = "") -> CloseSpider:
        """A block only the spider can see (e.g. a login wall inside an HTML page): as the middleware does.

        `status` is the health word (`gated` for a request signature the site refuses); `query` names the
        target a probe found it for."""
        record_block(self.crawler, Block(reason, kind), url, status, query=query)
        return CloseSpider("blocked")
