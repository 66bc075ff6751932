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

A host may die mid-crawl (kill -9, a lost machine) without leaving. Each member keeps a heartbeat key
(`alive:<member>`, a short TTL renewed by a thread while it crawls), and every request it takes from
the queue stays in its in-flight hash (`inflight:<member>`) until the request's callback is done. Any
host that waits for the others (and the next seeder) drops members whose heartbeat is gone from the
member set and the open count, and puts their in-flight requests back into the queue, past the
duplicate filter: the crawl finishes without them, and no page they had taken is lost. Posts a dead
host had read but not yet written to the index are lost with it, so its crawl counts as unclean and
the marks stay: the next crawl reads those minutes again. A crawl all of whose members are gone is
abandoned by the next seeder, which starts afresh from the marks.
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
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

from crisiswatch.errors import CrisiswatchError
from crisiswatch.indexurl import redact_url

logger = logging.getLogger(__name__)
PREFIX = "crisiswatch:frontier"
CRAWL_TTL = 6 * 3600  # keys of a crawl whose hosts all died go away by themselves
HEARTBEAT_SECONDS = 30.0  # a member silent this long is gone: its requests go back into the queue
TOKEN = "crisiswatch_frontier_token"  # request.meta: which in-flight entry the request is



def check_reachable(url: str, timeout: float = 5.0) -> None:
    """Raises CrisiswatchError, in one line, when the frontier's Redis does not answer: Scrapy would start
    anyway and print a hundred lines of unhandled Deferred errors, the crawl reading nothing."""
    client = redis.Redis.from_url(url, socket_connect_timeout=timeout, socket_timeout=timeout)
    try:
        client.ping()
    except redis.RedisError as exc:
        raise CrisiswatchError(f"the crawl frontier {redact_url(url)} does not answer ({exc.__class__.__name__}): no"
                               " crawl started; start Redis there, or empty crawl.frontier to crawl on this host"
                               " alone") from None
    finally:
        client.close()


# pops the best request into the member's in-flight hash, in one step: a host killed between the two
# loses nothing (the entry holds the score, so it goes back where it was)
_POP = r"""
local got = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
if #got == 0 then return false end
redis.call('ZREMRANGEBYRANK', KEYS[1], 0, 0)
local token = redis.sha1hex(got[1])
redis.call('HSET', KEYS[2], token, got[2] .. '\n' .. got[1])
redis.call('EXPIRE', KEYS[2], ARGV[1])
return got[1]
"""

# drops a member whose heartbeat is gone, once whoever notices first: its in-flight requests go back
# into the queue (no duplicate filter on the way), it leaves the member, idle and open counts, and the
# crawl is unclean (what it had read but not yet written is lost with it: marks must stay)
_REAP = r"""
if redis.call('EXISTS', KEYS[5]) == 1 then return -1 end
if redis.call('SREM', KEYS[1], ARGV[1]) == 0 then return -1 end
redis.call('SREM', KEYS[2], ARGV[1])
redis.call('DECR', KEYS[3])
redis.call('SADD', KEYS[7], ARGV[1] .. ': stopped beating without leaving (killed or cut off)')
redis.call('EXPIRE', KEYS[7], ARGV[2])
local entries = redis.call('HVALS', KEYS[4])
for _, entry in ipairs(entries) do
  local cut = string.find(entry, '\n', 1, true)
  redis.call('ZADD', KEYS[6], tonumber(string.sub(entry, 1, cut - 1)), string.sub(entry, cut + 1))
end
redis.call('DEL', KEYS[4])
return #entries
"""

# the member leaves: what it had taken and not finished (a crawl ended by a block) goes back into the
# queue for the others; the last one (open count at zero) closes the crawl; a member already dropped as
# gone is counted no more
_LEAVE = r"""
local entries = redis.call('HVALS', KEYS[5])
for _, entry in ipairs(entries) do
  local cut = string.find(entry, '\n', 1, true)
  redis.call('ZADD', KEYS[6], tonumber(string.sub(entry, 1, cut - 1)), string.sub(entry, cut + 1))
end
redis.call('DEL', KEYS[4], KEYS[5])
if redis.call('SREM', KEYS[1], ARGV[1]) == 0 then return 0 end
redis.call('SREM', KEYS[3], ARGV[1])
if redis.call('DECR', KEYS[2]) <= 0 then return 1 end
return 0
"""


class SharedCrawl:
    """One spider's shared crawl in Redis: which crawl is on, who takes part, what each saw."""

    def __init__(self, client: redis.Redis, spider: str, member: str, heartbeat: float = HEARTBEAT_SECONDS) -> None:
        self.r, self.spider, self.member = client, spider, member
        self.heartbeat = heartbeat
        self.crawl_id: str | None = None
        self.seeder = False
        self._beating: threading.Event | None = None
        self._pop = client.register_script(_POP)
        self._reap = client.register_script(_REAP)
        self._leave = client.register_script(_LEAVE)

    @classmethod
    def from_url(cls, url: str, spider: str, member: str | None = None,
                 heartbeat: float = HEARTBEAT_SECONDS) -> SharedCrawl:
        return cls(redis.Redis.from_url(url), spider, member or uuid.uuid4().hex[:12], heartbeat)

    def _current_key(self) -> str:
        return f"{PREFIX}:{self.spider}:current"

    def key(self, name: str) -> str:
        return f"{PREFIX}:{self.spider}:{self.crawl_id}:{name}"

    def current(self) -> str | None:
        value = self.r.get(self._current_key())
        return value.decode() if value else None

    def begin(self, join: bool) -> None:
        """Starts the spider's shared crawl, or joins the one under way (always, with `join`). A host
        that finds none to join, or one whose members are all gone, gets an empty crawl of its own and
        leaves at once. A seeder that finds a crawl whose members are all gone abandons it (its marks
        never moved: this crawl reads again what it had) and starts a new one."""
        new = uuid.uuid4().hex[:12]
        stale = self.current()
        if stale is not None and not self._live_members(stale):
            if not join:
                logger.warning("shared crawl %s of %s: every member is gone (none beats); abandoned, a new crawl"
                               " starts from the marks", stale, self.spider)
                self._close(stale)
            stale = None
        if not join and self.r.set(self._current_key(), new, nx=True, ex=CRAWL_TTL):
            self.crawl_id, self.seeder = new, True
        else:
            self.crawl_id = (self.current() or new) if stale is not None or not join else new
        pipe = self.r.pipeline()
        pipe.set(self.key(f"alive:{self.member}"), "1", px=int(self.heartbeat * 1000))
        pipe.sadd(self.key("members"), self.member)
        pipe.incr(self.key("open"))
        for name in ("members", "open"):
            pipe.expire(self.key(name), CRAWL_TTL)
        pipe.execute()
        self._start_beating()

    def _live_members(self, crawl_id: str) -> list[str]:
        members = [m.decode() for m in self.r.smembers(f"{PREFIX}:{self.spider}:{crawl_id}:members")]
        return [m for m in members if self.r.exists(f"{PREFIX}:{self.spider}:{crawl_id}:alive:{m}")]

    # heartbeat and the members that lost theirs ------------------------------------------------------
    def _start_beating(self) -> None:
        self.stop_beating()
        stop = self._beating = threading.Event()
        key, ttl_ms = self.key(f"alive:{self.member}"), int(self.heartbeat * 1000)

        def beat() -> None:
            while not stop.wait(self.heartbeat / 3):
                try:
                    self.r.set(key, "1", px=ttl_ms)
                except redis.RedisError as exc:  # Redis away: the next beat tries again
                    logger.warning("shared crawl %s: heartbeat failed (%s)", self.crawl_id, exc)

        threading.Thread(target=beat, name=f"frontier-heartbeat:{self.member}", daemon=True).start()

    def stop_beating(self) -> None:
        if self._beating is not None:
            self._beating.set()
            self._beating = None

    def reap(self) -> int:
        """Drops the members whose heartbeat is gone; returns how many of their requests went back."""
        requeued = 0
        for raw in self.r.smembers(self.key("members")):
            member = raw.decode()
            if member == self.member:
                continue
            keys = [self.key(n) for n in ("members", "idle", "open", f"inflight:{member}", f"alive:{member}",
                                          "requests", "unclean")]
            n = int(self._reap(keys=keys, args=[member, CRAWL_TTL]))
            if n < 0:
                continue
            requeued += n
            logger.warning("shared crawl %s of %s: member %s stopped beating (killed or cut off); dropped, %d "
                           "request(s) it had taken put back into the queue, the crawl's marks stay",
                           self.crawl_id, self.spider, member, n)
        return requeued

    # requests a member has taken ---------------------------------------------------------------------
    def take(self) -> tuple[bytes, str] | None:
        """The best queued request (encoded) and its in-flight token; it stays in flight until `done`."""
        raw = self._pop(keys=[self.key("requests"), self.key(f"inflight:{self.member}")], args=[CRAWL_TTL])
        if raw is None:
            return None
        return raw, hashlib.sha1(raw).hexdigest()  # noqa: S324 (Redis's sha1hex names the entry, no security)

    def done(self, token: str | None) -> None:
        if token:
            self.r.hdel(self.key(f"inflight:{self.member}"), token)

    def settled(self) -> None:
        """Nothing of this host is in flight any more (Scrapy found it idle): its in-flight hash is empty."""
        self.r.delete(self.key(f"inflight:{self.member}"))

    def in_flight(self, member: str | None = None) -> int:
        return int(self.r.hlen(self.key(f"inflight:{member or self.member}")))

    # idleness ---------------------------------------------------------------------------------
    def pending(self) -> int:
        return int(self.r.zcard(self.key("requests")))

    def busy(self) -> None:
        self.r.srem(self.key("idle"), self.member)

    def idle(self) -> bool:
        """Marks this host idle; True when every live member is idle and the queue is empty (done). Members
        gone without leaving are dropped first, their requests queued again."""
        self.reap()
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
        """True for the last host to leave: it closes the crawl. Members gone without leaving are not
        waited for (their requests go back into the queue for whoever comes next)."""
        self.stop_beating()
        self.reap()
        keys = [self.key(n) for n in ("members", "open", "idle", f"alive:{self.member}", f"inflight:{self.member}",
                                      "requests")]
        return int(self._leave(keys=keys, args=[self.member])) == 1

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
        self.stop_beating()
        if self.crawl_id is not None:
            self._close(self.crawl_id)

    def _close(self, crawl_id: str) -> None:
        base = f"{PREFIX}:{self.spider}:{crawl_id}"
        names = ("requests", "dupefilter", "members", "open", "idle", "marks", "lost", "unclean")
        per_member = [*self.r.scan_iter(match=f"{base}:inflight:*"), *self.r.scan_iter(match=f"{base}:alive:*")]
        self.r.delete(*(f"{base}:{n}" for n in names), *per_member)
        if self.current() == crawl_id:
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
        self.shared = SharedCrawl.from_url(url, crawler.spidercls.name, crawler.settings.get("CRISISWATCH_HOLDER"),
                                           crawler.settings.getfloat("CRISISWATCH_FRONTIER_HEARTBEAT",
                                                                     HEARTBEAT_SECONDS))
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
        shared.settled()  # Scrapy has nothing of this host in flight: every request it took is done
        if shared.pending():
            shared.busy()
            raise DontCloseSpider  # the next heartbeat takes what is queued
        if not shared.idle():
            raise DontCloseSpider  # another host is still reading pages that may lead further


    def spider_closed(self, spider: Any) -> None:
        shared = shared_crawl(self.crawler)
        if shared is not None:
            shared.stop_beating()
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
        taken = self.shared.take()  # the queue's pop, with the request kept in flight until it is done
        if taken is None:
            return None
        raw, token = taken
        request = self.queue._decode_request(raw)
        request.meta[TOKEN] = token
        self.stats.inc_value("scheduler/dequeued/redis")
        self.shared.busy()
        return request


class FrontierStartMiddleware:
    """A joining host reads no start requests of its own: the seeder's are in the queue. A request taken
    from the queue is done once its callback's output has gone on (the pages it leads to are queued)."""

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

    def _done(self, response: Any) -> None:
        shared = shared_crawl(self.crawler)
        if shared is not None:
            shared.done(response.meta.get(TOKEN))

    def process_spider_output(self, response: Any, result: Any, spider: Any = None) -> Any:
        yield from result
        self._done(response)

    async def process_spider_output_async(self, response: Any, result: Any, spider: Any = None) -> Any:
        async for out in result:
            yield out
        self._done(response)


def frontier_settings(url: str, holder: str, join: bool, heartbeat: float = HEARTBEAT_SECONDS) -> dict[str, Any]:
    """The Scrapy settings that put a crawl on the shared frontier at `url`."""
    return {
        "CRISISWATCH_FRONTIER": url,
        "CRISISWATCH_FRONTIER_JOIN": join,
        "CRISISWATCH_FRONTIER_HEARTBEAT": heartbeat,
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
