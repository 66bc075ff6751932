"""X recent search: every page since the last run's newest tweet, through the crawl pipelines.

A run cut short by `--max` leaves a backlog (the tweets between the stored since_id and the oldest one it
read); the next runs read the backlog first, with until_id, and only then move since_id, so a cap on one
run never skips tweets.

Recent search reads only the last 7 days, and refuses (HTTP 400) a since_id or until_id older than that: the
mark of a quiet query, or of every query after a week without runs, ages into it. Such a mark is not sent;
the search starts at the window's start instead, and says which tweets could not be read.
"""

from __future__ import annotations

import logging
import os
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import requests
import tweepy

from crawlers.feed import PipelineFeed
from crawlers.health import STATUSES
from crawlers.state import CrawlState
from crawlers.wiring import state_connection
from crawlers.x.tweets import EXPANSIONS, TWEET_FIELDS, USER_FIELDS, page_items, raw, users_by_id
from crisiswatch.config import Config
from crisiswatch.db import StateConnection, connect
from crisiswatch.errors import CrisiswatchError
from crisiswatch.localtime import local_time

logger = logging.getLogger(__name__)
DEFAULT_TOKEN_ENV = "X_BEARER_TOKEN"

SNOWFLAKE_EPOCH_MS = 1288834974657  # a tweet id's creation time: (id >> 22) ms after this instant
RECENT_WINDOW = timedelta(days=7)  # how far back recent search reads, and the oldest id it accepts
# a mark older than this is not sent: X would refuse it by the time it checks, or on a later page
STALE_MARK = RECENT_WINDOW - timedelta(hours=1)
# start_time this far inside the window, so the last page, after a rate-limit wait (15 minutes at most),
# still asks for a time X reads
START_MARGIN = timedelta(minutes=20)


def now() -> datetime:
    return datetime.now(UTC)


def tweet_time(tweet_id: str | int) -> datetime:
    """When a tweet was created, from its id (a snowflake)."""
    return datetime.fromtimestamp(((int(tweet_id) >> 22) + SNOWFLAKE_EPOCH_MS) / 1000, UTC)


class SearchFailed(CrisiswatchError):
    """A query's search X refused or never answered; its health `status` is recorded already."""

    def __init__(self, message: str, status: str) -> None:
        super().__init__(message)
        self.status = status


def record_failed_queries(config: Config, failed: list[SearchFailed], queries: int) -> None:
    """One failed run of the whole X collection, after the queries that did not fail: a later query's clean run
    must not make `status` read ok while another query fails every time."""
    worst = max(failed, key=lambda f: STATUSES.index(f.status) if f.status in STATUSES else len(STATUSES))
    conn = connect(config.state_store)
    try:
        state = CrawlState(conn)
        run = state.start_run("x")
        state.record("x", "crawl_failed", status=worst.status,
                     reason=f"{len(failed)} of {queries} X queries failed: {worst}")
        state.finish_run(run, "failed", 0, 0)
    finally:
        conn.close()


class TokenMissing(CrisiswatchError):
    def __init__(self, variable: str) -> None:
        self.problem = f"environment variable {variable} is not set"
        super().__init__(f"{self.problem}: put the X API bearer token in it (or name another variable in "
                         "sources.x.token_env)")


def bearer_token(config: Config) -> str:
    """The token from the environment variable the config names; a missing one is said as the variable to set
    (the file is not at fault, and with no file "bad config : …" named none)."""
    name = config.source("x").token_env or DEFAULT_TOKEN_ENV
    token = os.environ.get(name, "").strip()
    if not token:
        raise TokenMissing(name)
    return token


@dataclass(frozen=True)
class Backlog:
    until_id: str  # the oldest tweet read so far: everything older (and newer than since_id) is unread
    newest_id: str  # the newest tweet read: since_id once the backlog is done


class SinceIds:
    """Per query, the newest tweet id already indexed (X's own high-water mark: ids grow with time), and
    the backlog a capped run left behind."""

    def __init__(self, conn: StateConnection) -> None:
        self.conn = conn

    def get(self, query: str) -> str | None:
        row = self.conn.execute("SELECT since_id FROM x_since WHERE query=?", (query,)).fetchone()
        return row[0] or None if row else None

    def backlog(self, query: str) -> Backlog | None:
        row = self.conn.execute("SELECT backlog_until, backlog_newest FROM x_since WHERE query=?",
                                (query,)).fetchone()
        return Backlog(row[0], row[1]) if row and row[0] else None

    def _write(self, query: str, since_id: str | None, backlog: Backlog | None) -> None:
        self.conn.execute(
            "INSERT INTO x_since(query, since_id, updated_at, backlog_until, backlog_newest) VALUES (?,?,?,?,?)"
            " ON CONFLICT(query) DO UPDATE SET since_id=excluded.since_id, updated_at=excluded.updated_at,"
            " backlog_until=excluded.backlog_until, backlog_newest=excluded.backlog_newest",
            (query, since_id or "", datetime.now(UTC).isoformat(),
             backlog.until_id if backlog else None, backlog.newest_id if backlog else None))

    def advance(self, query: str, newest: str) -> None:
        """Everything up to `newest` is read: since_id moves there and any backlog is done."""
        current = self.get(query)
        if current is not None and int(current) >= int(newest):
            return  # only forward, so an older partial run can never rewind it
        self._write(query, newest, None)

    def defer(self, query: str, backlog: Backlog) -> None:
        """A capped run: since_id stays, the unread part is remembered."""
        self._write(query, self.get(query), backlog)


@dataclass
class SearchResult:
    query: str
    pages: int = 0
    tweets: int = 0
    indexed: int = 0
    since_id: str | None = None
    newest_id: str | None = None
    backlog: bool = False  # capped by --max: older unread tweets wait for the next run
    lost: int = 0  # tweets a pipeline raised on: dead-lettered, and since_id stays for the next run to read again
    left_out: int = 0  # authors or referenced tweets X did not send with a page (suspended, protected, deleted)


def search(client: tweepy.Client, config: Config, query: str, *, brand: str = "", max_tweets: int | None = None,
           page_size: int = 100) -> SearchResult:
    """Pages through recent search newer than the stored since_id (the backlog first, if a capped run left
    one); moves since_id only after the write, and only past tweets really read."""
    feed = PipelineFeed(config, "x")
    since = SinceIds(_state(feed))
    result = SearchResult(query=query, since_id=since.get(query))
    backlog = since.backlog(query)
    newest: int | None = None
    oldest: int | None = None
    capped = False
    try:
        window, read_to = _window(config, query, result.since_id, backlog)
    except BaseException:
        feed.close("failed")
        raise
    if backlog and "until_id" not in window:
        backlog = None  # it is past reading: what comes after it is read as an ordinary run reads
    paginator = tweepy.Paginator(
        client.search_recent_tweets, query, max_results=page_size,
        tweet_fields=TWEET_FIELDS, user_fields=USER_FIELDS, expansions=EXPANSIONS, **window)
    try:
        for response in paginator:
            result.pages += 1
            tweets, includes, errors = _parts(response)
            if max_tweets is not None:
                room = max(max_tweets - result.tweets, 0)
                capped = len(tweets) > room or (len(tweets) == room and _has_next(response))
                tweets = tweets[:room]
            result.tweets += len(tweets)
            result.left_out += left_out(query, tweets, includes, errors)
            feed.feed(page_items(tweets, includes, query=query, brands=[brand] if brand else []))
            ids = [int(raw(t).get("id") or 0) for t in tweets]
            if ids:
                newest, oldest = max(newest or 0, *ids), min(oldest or ids[0], *ids)
            if capped:
                break
    except (requests.RequestException, tweepy.HTTPException) as exc:  # said in one line, and kept for `status`
        status, reason = refusal(exc)
        why = f"X API unreachable: {reason}" if status == "unreachable" else f"X: {reason}"
        CrawlState(_state(feed)).record("x", "crawl_failed", reason=why, status=status)
        feed.close("failed")
        raise SearchFailed(why, status) from None
    except BaseException:
        feed.close("failed")
        raise
    feed.close("finished")
    result.indexed = int(feed.stats.get("crisiswatch/indexed") or 0)
    result.lost = len(feed.spider.lost_posts)
    newest_read = backlog.newest_id if backlog else (str(newest) if newest else read_to)
    if result.lost:  # since_id stays, as a crawl keeps the mark of a query with lost posts
        return result
    if capped and oldest:
        since.defer(query, Backlog(until_id=str(oldest), newest_id=newest_read or str(newest)))
        result.backlog = True
    elif newest_read:
        since.advance(query, newest_read)
        result.newest_id = newest_read
    return result


def _window(config: Config, query: str, since_id: str | None,
            backlog: Backlog | None) -> tuple[dict[str, str], str | None]:
    """The search's bounds (since_id, until_id or start_time), none older than X's recent-search window,
    and the mark to move to when the search reads nothing newer (a given-up backlog's newest tweet)."""
    at = now()
    stale = at - STALE_MARK
    start = at - RECENT_WINDOW + START_MARGIN
    dropped: list[str] = []  # the marks not sent, as the log line names them
    read_to = None
    lost = False  # unread tweets were older than the window
    if backlog and tweet_time(backlog.until_id) < stale:
        # every tweet the backlog waits for is older than its until_id: none can be read any more
        dropped.append(f"the backlog's until_id {backlog.until_id} is {_age(at - tweet_time(backlog.until_id))} old")
        since_id, read_to, backlog, lost = backlog.newest_id, backlog.newest_id, None, True
    window: dict[str, str] = {"until_id": backlog.until_id} if backlog else {}
    if since_id and tweet_time(since_id) < stale:
        dropped.append(f"since_id {since_id} is {_age(at - tweet_time(since_id))} old")
        lost = lost or tweet_time(since_id) < start
        window["start_time"] = start.strftime("%Y-%m-%dT%H:%M:%SZ")
    elif since_id:
        window["since_id"] = since_id
    if dropped:
        begin = local_time(start, config.alerts.timezone, "%Y-%m-%d %H:%M %Z")
        then = f"from {begin}" if "start_time" in window else f"on from since_id {since_id}"
        if lost:
            logger.warning("x: %r: %s, older than X's 7-day recent-search window (X refuses it): unread tweets"
                           " from before %s could not be read; reading %s", query, " and ".join(dropped),
                           begin, then)
        else:
            logger.info("x: %r: %s, at the edge of X's 7-day recent-search window (too old to send); reading %s",
                        query, " and ".join(dropped), then)
    return window, read_to


def _age(age: timedelta) -> str:
    days, hours = age.days, age.seconds // 3600
    return " ".join(f"{n} {unit}{'s' if n != 1 else ''}" for n, unit in ((days, "day"), (hours, "hour"))
                    if n) or "under an hour"


def _has_next(response: Any) -> bool:
    meta = response.get("meta") if isinstance(response, dict) else getattr(response, "meta", None)
    return bool((meta or {}).get("next_token"))


def _parts(response: Any) -> tuple[list, dict, list]:
    """(tweets, includes, errors) from a raw JSON page or a tweepy Response."""
    if isinstance(response, dict):
        return list(response.get("data") or []), response.get("includes") or {}, list(response.get("errors") or [])
    return list(response.data or []), response.includes or {}, list(response.errors or [])


def left_out(query: str, tweets: list, includes: dict, errors: list) -> int:
    """Says in one line what a 200 reply left out: its `errors` (a suspended or protected author, a deleted
    original) and tweets whose author is not in `includes.users` (stored without name or followers).
    Returns how many things were left out."""
    users = users_by_id(includes)
    nameless = [str(raw(t).get("id")) for t in tweets if str(raw(t).get("author_id") or "") not in users]
    details = list(dict.fromkeys(str(e.get("detail") or e.get("title") or e.get("message") or e)
                                 if isinstance(e, dict) else str(e) for e in errors))
    if not nameless and not details:
        return 0
    said = [f"{len(nameless)} tweet{'s' if len(nameless) > 1 else ''} stored without the author's name and"
            " followers"] if nameless else []
    if details:
        shown = "; ".join(details[:3]) + (f"; and {len(details) - 3} more" if len(details) > 3 else "")
        said.append(f"X left out {len(errors)} authors or referenced tweets ({shown})")
    logger.warning("x: %r: %s", query, "; ".join(said))
    return max(len(errors), len(nameless))


def _state(feed: PipelineFeed) -> StateConnection:
    return state_connection(feed.crawler)


def targets(config: Config, query: str | None = None, brand: str | None = None) -> list[tuple[str, str]]:
    """(brand key, query) pairs: one given query, or every configured brand's `sources.x`."""
    if query:
        return [(brand or "", query)]
    return [(b.key, q) for b in config.brands if not brand or b.key == brand for q in b.sources.x]


class UsageCapped(tweepy.TooManyRequests):
    """X's monthly usage cap is reached: a 429 that no wait of minutes lifts."""


class RateLimitPastTimeout(tweepy.TooManyRequests):
    """A rate limit whose reset comes after the collection must have ended (crawl.timeout_minutes)."""


class XClient(tweepy.Client):
    """tweepy's Client, waiting on a rate limit only when the wait is worth it.

    tweepy's own wait_on_rate_limit sleeps until `x-rate-limit-reset` and asks again, forever: on the
    monthly usage cap (also a 429) it slept 15 minutes a time, or, without the header, asked again at once in
    a loop, until the run loop killed the collection at crawl.timeout_minutes with its pages unwritten. Here
    the usage cap ends the query at once, and a rate-limit wait that would end past the collection's
    deadline ends it too (what was read is kept, since_id stays for the next run).
    """

    def __init__(self, bearer_token: str, *, deadline: float | None = None, **kwargs: Any) -> None:
        super().__init__(bearer_token, wait_on_rate_limit=False, return_type=dict, **kwargs)
        self.deadline = deadline  # time.monotonic() by which every wait must have ended

    def request(self, method: str, route: str, params: Any = None, json: Any = None, user_auth: bool = False) -> Any:
        while True:
            try:
                return super().request(method, route, params, json, user_auth)
            except tweepy.TooManyRequests as exc:
                if usage_capped(exc):
                    raise UsageCapped(exc.response) from None
                wait = max((exc.reset_time or 0) - time.time() + 1, 1) if exc.reset_time else RATE_LIMIT_WAIT
                if self.deadline is not None and time.monotonic() + wait > self.deadline:
                    raise RateLimitPastTimeout(exc.response, reset_time=exc.reset_time) from None
                logger.warning("x: rate limited (HTTP 429): waiting %.0f s for X's reset", wait)
                time.sleep(wait)


RATE_LIMIT_WAIT = 60.0  # a 429 without x-rate-limit-reset: tweepy's stream waits a minute too


def usage_capped(exc: tweepy.HTTPException) -> bool:
    """A 429 that is X's usage cap ({"title": "UsageCapExceeded", "type": ".../problems/usage-capped"})."""
    try:
        reply = exc.response.json()
    except ValueError:
        return False
    return isinstance(reply, dict) and ("usage-capped" in str(reply.get("type") or "")
                                        or str(reply.get("title") or "").startswith("UsageCap"))


def make_client(config: Config, **kwargs: Any) -> XClient:
    """Raw JSON pages (return_type=dict): tweepy's Tweet model raises on a tweet without `text`,
    which would lose the whole page; as dicts, such a tweet is dead-lettered on its own. Rate-limit waits
    end before crawl.timeout_minutes (less a minute to write what was read) from now."""
    deadline = time.monotonic() + max(config.crawl.timeout_minutes * 60 - 60, 0)
    return XClient(bearer_token(config), deadline=deadline, **kwargs)


def refusal(exc: requests.RequestException | tweepy.HTTPException, endpoint: str = "recent search") -> tuple[str, str]:
    """(health status, reason) of a request X refused or never answered, as `sources check` names them."""
    if isinstance(exc, tweepy.Unauthorized):
        return "token-refused", "X refused the bearer token (HTTP 401): create a new one"
    if isinstance(exc, tweepy.Forbidden):
        return "gated", f"HTTP 403: the app's access level does not include {endpoint} ({api_reason(exc)})"
    if isinstance(exc, tweepy.TooManyRequests) and usage_capped(exc):
        return "gated", (f"X's usage cap is reached (HTTP 429: {api_reason(exc)}): nothing more is read until it"
                         " resets or the plan allows more")
    if isinstance(exc, RateLimitPastTimeout):
        until = datetime.fromtimestamp(exc.reset_time, UTC).strftime("%H:%M UTC") if exc.reset_time else "later"
        return "blocked", (f"rate limited (HTTP 429) until {until}, past crawl.timeout_minutes: stopped, the rest"
                           " is read next run")
    if isinstance(exc, tweepy.TooManyRequests):
        return "blocked", "rate limited (HTTP 429)"
    if isinstance(exc, tweepy.BadRequest):
        return "invalid-request", f"X refused the request as invalid (HTTP 400): {api_reason(exc)}"
    if isinstance(exc, tweepy.HTTPException):
        return "unreachable", f"X answered HTTP {exc.response.status_code}"
    return "unreachable", unreachable_reason(exc)


def api_reason(exc: tweepy.HTTPException) -> str:
    """What X's reply says was wrong: its errors' messages (else its detail, else its title), one line."""
    messages = [str(m) for m in exc.api_messages if m]
    if not messages:
        try:
            reply = exc.response.json()
        except ValueError:
            reply = {}
        messages = [str(reply.get("title") or exc.response.reason or "no reason given")] if isinstance(
            reply, dict) else [str(exc.response.reason)]
    try:
        reply = exc.response.json()
    except ValueError:
        reply = None
    if isinstance(reply, dict) and reply.get("reason"):  # X's own name for a 403: "client-not-enrolled"
        messages = [str(reply["reason"]), *messages]
    text = " ".join("; ".join(dict.fromkeys(messages)).split())
    return text if len(text) <= 300 else text[:299] + "…"


def unreachable_reason(exc: requests.RequestException) -> str:
    """What stopped the request, without urllib3's pool and connection reprs around it: "Failed to resolve
    'api.twitter.com' ([Errno -2] Name or service not known)" (the whole message was cut before it)."""
    inner = exc.args[0] if exc.args else exc
    text = str(getattr(inner, "reason", None) or inner)
    return text.split("): ", 1)[1] if text.startswith(("HTTPSConnection", "HTTPConnection")) and "): " in text else text
