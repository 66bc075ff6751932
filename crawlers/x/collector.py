"""X recent search: every page since the last run's newest tweet, through the crawl pipelines."""

from __future__ import annotations

import logging
import os
import sqlite3
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import tweepy

from crawlers.feed import PipelineFeed
from crawlers.x.tweets import EXPANSIONS, TWEET_FIELDS, USER_FIELDS, raw, tweet_item, users_by_id
from crisiswatch.config import Config
from crisiswatch.db import ensure_schema
from crisiswatch.errors import ConfigError

logger = logging.getLogger(__name__)
DEFAULT_TOKEN_ENV = "X_BEARER_TOKEN"

DDL = """
CREATE TABLE IF NOT EXISTS x_since (
    query TEXT PRIMARY KEY,
    since_id TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
"""


def bearer_token(config: Config) -> str:
    """The token from the environment variable the config names; a missing one is a config error."""
    name = config.source("x").token_env or DEFAULT_TOKEN_ENV
    token = os.environ.get(name, "").strip()
    if not token:
        raise ConfigError(config.path, "sources.x.token_env", f"environment variable {name} is not set")
    return token


class SinceIds:
    """Per query, the newest tweet id already indexed (X's own high-water mark: ids grow with time)."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn
        ensure_schema(conn, "x_since", DDL)

    def get(self, query: str) -> str | None:
        row = self.conn.execute("SELECT since_id FROM x_since WHERE query=?", (query,)).fetchone()
        return row[0] if row else None

    def advance(self, query: str, newest: str) -> None:
        current = self.get(query)
        if current is not None and int(current) >= int(newest):
            return  # only forward, so an older partial run can never rewind it
        self.conn.execute(
            "INSERT INTO x_since(query, since_id, updated_at) VALUES (?,?,?)"
            " ON CONFLICT(query) DO UPDATE SET since_id=excluded.since_id, updated_at=excluded.updated_at",
            (query, newest, datetime.now(UTC).isoformat()))


@dataclass
class SearchResult:
    query: str
    pages: int = 0
    tweets: int = 0
    indexed: int = 0
    since_id: str | None = None
    newest_id: str | None = None


def search(client: tweepy.Client, config: Config, query: str, *, brand: str = "", max_tweets: int | None = None,
           page_size: int = 100) -> SearchResult:
    """Pages through recent search newer than the stored since_id; moves it only after the write."""
    feed = PipelineFeed(config, "x")
    since = SinceIds(_state(feed))
    result = SearchResult(query=query, since_id=since.get(query))
    newest: int | None = None
    paginator = tweepy.Paginator(
        client.search_recent_tweets, query, since_id=result.since_id, max_results=page_size,
        tweet_fields=TWEET_FIELDS, user_fields=USER_FIELDS, expansions=EXPANSIONS)
    try:
        for response in paginator:
            result.pages += 1
            tweets, includes = _parts(response)
            users = users_by_id(includes)
            if max_tweets is not None:
                tweets = tweets[: max(max_tweets - result.tweets, 0)]
            result.tweets += len(tweets)
            feed.feed(tweet_item(t, users, query=query, brands=[brand] if brand else []) for t in tweets)
            for t in tweets:
                newest = max(newest or 0, int(raw(t).get("id") or 0))
            if max_tweets is not None and result.tweets >= max_tweets:
                break
    except BaseException:
        feed.close("failed")
        raise
    feed.close("finished")
    result.indexed = int(feed.stats.get("crisiswatch/indexed") or 0)
    if newest:
        since.advance(query, str(newest))
        result.newest_id = str(newest)
    return result


def _parts(response: Any) -> tuple[list, dict]:
    """(tweets, includes) from a raw JSON page or a tweepy Response."""
    if isinstance(response, dict):
        return list(response.get("data") or []), response.get("includes") or {}
    return list(response.data or []), response.includes or {}


def _state(feed: PipelineFeed) -> sqlite3.Connection:
    from crawlers.wiring import state_connection

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
