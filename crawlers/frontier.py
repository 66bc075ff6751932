"""A crawl shared by several hosts through Redis (`crawl.frontier: redis://host:6379/0`).

The crawl worker that holds a source's `crawl:<spider>` lease starts a shared crawl: its start
requests go into a Redis queue (scrapy-redis's scheduler and duplicate filter, keyed by this
crawl's id), and every other crawl worker joins with `crisiswatch crawl SPIDER --join`, taking
requests from the same queue; what any host's pages lead to goes back into it, each URL once.

A host is idle when Scrapy finds nothing in flight and the queue empty; it waits while another
member is still busy (that one may add pages), and leaves once every member is idle. Each host
hands what it saw (newest post per query, lost pages, a block, an unclean end) to the crawl; the
last host to leave advances the crawl marks from all of it at once, and only if no host lost a
page of that query, was blocked or ended otherwise: marks move only when the shared crawl finished.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any

import redis
from scrapy import signals
from scrapy.exceptions import DontCloseSpider, NotConfigured
from scrapy.settings import Settings
from scrapy_redis.dupefilter import RFPDupeFilter
from scrapy_redis.scheduler import Scheduler as RedisScheduler

logger = logging.getLogger(__name__)
PREFIX = "crisiswatch:frontier"
CRAWL_TTL = 6 * 3600  # keys of a crawl whose hosts all died go away by themselves


class SharedCrawl:
    """One spider's shared crawl in Redis: which crawl is on, who takes part, what each saw."""

    def __init__(self, client: redis.Redis, spider: str, member: str) -> None:
        self.r, self.spider, self.member = client, spider, member
        self.crawl_id: str | None = None
        self.seeder = False

    @classmethod
    def from_url(cls, url: str, spider: str, member: str | None = None) -> SharedCrawl:
        return cls(redis.Redis.from_url(url), spider, member or uuid.uuid4().hex[:12])

    def _current_key(self) -> str:
        return f"{PREFIX}:{self.spider}:current"

    def key(self, name: str) -> str:
        return f"{PREFIX}:{self.spider}:{self.crawl_id}:{name}"

    def current(self) -> str | None:
        value = self.r.get(self._current_key())
        return value.decode() if value else None

    def begin(self, join: bool) -> None:
        """Starts the spider's shared crawl, or joins the one under way (always, with `join`). A host
        that finds none to join gets an empty crawl of its own and leaves at once."""
        new = uuid.uuid4().hex[:12]
        if not join and self.r.set(self._current_key(), new, nx=True, ex=CRAWL_TTL):
            self.crawl_id, self.seeder = new, True
        else:
            self.crawl_id = self.current() or new
        pipe = self.r.pipeline()
        pipe.sadd(self.key("members"), self.member)
        pipe.incr(self.key("open"))
        for name in ("members", "open"):
            pipe.expire(self.key(name), CRAWL_TTL)
        pipe.execute()
        return True

    # idleness ---------------------------------------------------------------------------------
    def pending(self) -> int:
        return int(self.r.zcard(self.key("requests")))

    def busy(self) -> None:
        self.r.srem(self.key("idle"), self.member)

    def idle(self) -> bool:
        """Marks this host idle; True when every member is idle and the queue is empty (done)."""
        pipe = self.r.pipeline()
        pipe.sadd(self.key("idle"), self.member)
        pipe.expire(self.key("idle"), CRAWL_TTL)
        pipe.execute()
        members, idle = self.r.smembers(self.key("members")), self.r.smembers(self.key("idle"))
        return members <= idle and self.pending() == 0

    # what each host saw -------------------------------------------------------------------------
    def contribute(self, marks: dict[tuple[str, str], datetime], lost: set[str], unclean: str | None) -> None:
        pipe = self.r.pipeline()
        for (source, query), newest in marks.items():
            pipe.rpush(self.key("marks"), json.dumps([source, query, newest.isoformat()], ensure_ascii=False))
        for query in lost:
            pipe.sadd(self.key("lost"), query)
        if unclean:
            pipe.sadd(self.key("unclean"), f"{self.member}: {unclean}")
        for name in ("marks", "lost", "unclean"):
            pipe.expire(self.key(name), CRAWL_TTL)
        pipe.execute()

    def leave(self) -> bool:
        """True for the last host to leave: it closes the crawl."""
        return int(self.r.decr(self.key("open"))) <= 0

    def outcome(self) -> tuple[dict[tuple[str, str], datetime], set[str], list[str]]:
        """(newest post per (source, query) over every host, queries with a lost page, unclean ends)."""
        marks: dict[tuple[str, str], datetime] = {}
        for raw in self.r.lrange(self.key("marks"), 0, -1):
            source, query, at = json.loads(raw)
            newest = datetime.fromisoformat(at)
            if (source, query) not in marks or newest > marks[(source, query)]:
                marks[(source, query)] = newest
        lost = {q.decode() for q in self.r.smembers(self.key("lost"))}
        unclean = sorted(u.decode() for u in self.r.smembers(self.key("unclean")))
        return marks, lost, unclean

    def close(self) -> None:
        names = ("requests", "dupefilter", "members", "open", "idle", "marks", "lost", "unclean")
        self.r.delete(*(self.key(n) for n in names))
        if self.current() == self.crawl_id:
            self.r.delete(self._current_key())


def shared_crawl(crawler: Any) -> SharedCrawl | None:
    return getattr(crawler, "_crisiswatch_frontier", None)


class FrontierExtension:
    """Joins or starts the shared crawl when the spider opens, and keeps it open while others work."""

    def __init__(self, crawler: Any) -> None:
        url = crawler.settings.get("CRISISWATCH_FRONTIER")
        if not url:
            raise NotConfigured
        self.crawler = crawler
        self.shared = SharedCrawl.from_url(url, crawler.spidercls.name, crawler.settings.get("CRISISWATCH_HOLDER"))
        self.shared.begin(crawler.settings.getbool("CRISISWATCH_FRONTIER_JOIN"))
        role = "seeded" if self.shared.seeder else "joined"
        crawler.stats.set_value("crisiswatch/frontier", f"{role} shared crawl {self.shared.crawl_id}")
        crawler._crisiswatch_frontier = self.shared
        crawler.signals.connect(self.spider_idle, signal=signals.spider_idle)
        crawler.signals.connect(self.spider_closed, signal=signals.spider_closed)

    @classmethod
    def from_crawler(cls, crawler: Any) -> FrontierExtension:
        return cls(crawler)

    def spider_idle(self, spider: Any) -> None:
        shared = shared_crawl(self.crawler)
        if shared is None:
            return
        if shared.pending():
            shared.busy()
            raise DontCloseSpider  # the next heartbeat takes what is queued
        if not shared.idle():
            raise DontCloseSpider  # another host is still reading pages that may lead further


    def spider_closed(self, spider: Any) -> None:
        pool = getattr(self.crawler, "_crisiswatch_sessions", None)
        if pool is not None:  # the cookies this host leased are free for the next crawl
            pool.release()


class FrontierScheduler(RedisScheduler):
    """scrapy-redis's scheduler on this crawl's keys; a host that takes a request is busy again."""

    @classmethod
    def from_crawler(cls, crawler: Any) -> FrontierScheduler:
        shared = shared_crawl(crawler)
        if shared is None:
            raise NotConfigured("the frontier scheduler needs a shared crawl (crawl.frontier)")
        settings = Settings(crawler.settings.copy_to_dict())
        settings.set("SCHEDULER_QUEUE_KEY", shared.key("requests"))
        settings.set("SCHEDULER_PERSIST", True)  # the crawl's keys are cleared by its last host, not by each
        instance = cls.from_settings(settings)
        instance.stats = crawler.stats
        instance.df = RFPDupeFilter(instance.server, key=shared.key("dupefilter"))
        instance.shared = shared
        return instance

    # as scrapy-redis's, without the `spider` argument Scrapy's stats no longer take
    def enqueue_request(self, request: Any) -> bool:
        if not request.dont_filter and self.df.request_seen(request):
            self.df.log(request, self.spider)
            return False
        self.stats.inc_value("scheduler/enqueued/redis")
        self.queue.push(request)
        return True

    def next_request(self) -> Any:
        request = self.queue.pop(self.idle_before_close)
        if request is not None:
            self.stats.inc_value("scheduler/dequeued/redis")
            self.shared.busy()
        return request


class FrontierStartMiddleware:
    """A joining host reads no start requests of its own: the seeder's are in the queue."""

    def __init__(self, crawler: Any) -> None:
        if not crawler.settings.get("CRISISWATCH_FRONTIER"):
            raise NotConfigured
        self.crawler = crawler

    @classmethod
    def from_crawler(cls, crawler: Any) -> FrontierStartMiddleware:
        return cls(crawler)

    async def process_start(self, start: AsyncIterator[Any]) -> AsyncIterator[Any]:
        shared = shared_crawl(self.crawler)
        if shared is None or not shared.seeder:
            return
        async for request in start:
            yield request


def frontier_settings(url: str, holder: str, join: bool) -> dict[str, Any]:
    """The Scrapy settings that put a crawl on the shared frontier at `url`."""
    return {
        "CRISISWATCH_FRONTIER": url,
        "CRISISWATCH_FRONTIER_JOIN": join,
        "CRISISWATCH_HOLDER": holder,
        "REDIS_URL": url,
        # a host takes one request at a time from the queue (politeness allows no more per site anyway),
        # so it never hoards pages in its own downloader that another host could be reading
        "CONCURRENT_REQUESTS": 1,
        "SCHEDULER": "crawlers.frontier.FrontierScheduler",
        "SCHEDULER_QUEUE_CLASS": "scrapy_redis.queue.PriorityQueue",
        # scrapy-redis builds Scrapy's own filter through from_settings, which Scrapy 2.13 removed: its own then
        "DUPEFILTER_CLASS": "scrapy_redis.dupefilter.RFPDupeFilter",
    }
