"""X recent search: every page since the last run's newest tweet, through the crawl pipelines.

A run cut short by `--max` leaves a backlog (the tweets between the stored since_id and the oldest one it
read); the next runs read the backlog first, with until_id, and only then move since_id, so a cap on one
run never skips tweets.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import requests
import tweepy

from crawlers.feed import PipelineFeed
from crawlers.state import CrawlState
from crawlers.wiring import state_connection
from crawlers.x.tweets import EXPANSIONS, TWEET_FIELDS, USER_FIELDS, raw, tweet_item, users_by_id
from crisiswatch.config import Config
from crisiswatch.db import StateConnection
from crisiswatch.errors import ConfigError, CrisiswatchError

logger = logging.getLogger(__name__)
DEFAULT_TOKEN_ENV = "X_BEARER_TOKEN"



def bearer_token(config: Config) -> str:
    """The token from the environment variable the config names; a missing one is a config error."""
    name = config.source("x").token_env or DEFAULT_TOKEN_ENV
    token = os.environ.get(name, "").strip()
    if not token:
        raise ConfigError(config.path, "sources.x.token_env", f"environment variable {name} is not set")
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
    window = {"until_id": backlog.until_id} if backlog else {}
    paginator = tweepy.Paginator(
        client.search_recent_tweets, query, since_id=result.since_id, max_results=page_size,
        tweet_fields=TWEET_FIELDS, user_fields=USER_FIELDS, expansions=EXPANSIONS, **window)
    try:
        for response in paginator:
            result.pages += 1
            tweets, includes = _parts(response)
            users = users_by_id(includes)
            if max_tweets is not None:
                room = max(max_tweets - result.tweets, 0)
                capped = len(tweets) > room or (len(tweets) == room and _has_next(response))
                tweets = tweets[:room]
            result.tweets += len(tweets)
            feed.feed(tweet_item(t, users, query=query, brands=[brand] if brand else []) for t in tweets)
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
        raise CrisiswatchError(why) from None
    except BaseException:
        feed.close("failed")
        raise
    feed.close("finished")
    result.indexed = int(feed.stats.get("crisiswatch/indexed") or 0)
    result.lost = len(feed.spider.lost_posts)
    newest_read = backlog.newest_id if backlog else (str(newest) if newest else None)
    if result.lost:  # since_id stays, as a crawl keeps the mark of a query with lost posts
        return result
    if capped and oldest:
        since.defer(query, Backlog(until_id=str(oldest), newest_id=newest_read or str(newest)))
        result.backlog = True
    elif newest_read:
        since.advance(query, newest_read)
        result.newest_id = newest_read
    return result


def _has_next(response: Any) -> bool:
    meta = response.get("meta") if isinstance(response, dict) else getattr(response, "meta", None)
    return bool((meta or {}).get("next_token"))


def _parts(response: Any) -> tuple[list, dict]:
    """(tweets, includes) from a raw JSON page or a tweepy Response."""
    if isinstance(response, dict):
        return list(response.get("data") or []), response.get("includes") or {}
    return list(response.data or []), response.includes or {}


def _state(feed: PipelineFeed) -> StateConnection:
    return state_connection(feed.crawler)


def targets(config: Config, query: str | None = None, brand: str | None = None) -> list[tuple[str, str]]:
    """(brand key, query) pairs: one given query, or every configured brand's `sources.x`."""
    if query:
        return [(brand or "", query)]
    return [(b.key, q) for b in config.brands if not brand or b.key == brand for q in b.sources.x]


def make_client(config: Config, **kwargs: Any) -> tweepy.Client:
    """Raw JSON pages (return_type=dict): tweepy's Tweet model raises on a tweet without `text`,
    which would lose the whole page; as dicts, such a tweet is dead-lettered on its own."""
    return tweepy.Client(bearer_token(config), wait_on_rate_limit=True, return_type=dict, **kwargs)


def refusal(exc: requests.RequestException | tweepy.HTTPException) -> tuple[str, str]:
    """(health status, reason) of a request X refused or never answered, as `sources check` names them."""
    if isinstance(exc, tweepy.Unauthorized):
        return "token-refused", "X refused the bearer token (HTTP 401): create a new one"
    if isinstance(exc, tweepy.Forbidden):
        return "gated", "HTTP 403: the app's access level does not include recent search"
    if isinstance(exc, tweepy.TooManyRequests):
        return "blocked", "rate limited (HTTP 429)"
    if isinstance(exc, tweepy.HTTPException):
        return "unreachable", f"X answered HTTP {exc.response.status_code}"
    return "unreachable", unreachable_reason(exc)


def unreachable_reason(exc: requests.RequestException) -> str:
    """What stopped the request, without urllib3's pool and connection reprs around it: "Failed to resolve
    'api.twitter.com' ([Errno -2] Name or service not known)" (the whole message was cut before it)."""
    inner = exc.args[0] if exc.args else exc
    text = str(getattr(inner, "reason", None) or inner)
    return text.split("): ", 1)[1] if text.startswith(("HTTPSConnection", "HTTPConnection")) and "): " in text else text
