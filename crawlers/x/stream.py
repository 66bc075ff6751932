"""X's filtered stream: rules from the config, each matching tweet through the crawl pipelines.

tweepy's `StreamingClient` owns the connection: it reads lines, calls `on_data` for each
tweet and `on_keep_alive` for the blank lines the API sends every ~20 s, and reconnects with
its own backoff (0.25 s -> 16 s for network errors, 5 s -> 320 s for HTTP errors, 60 s for 429).

A refused connection's reply is not given to `on_request_error` (tweepy 4.x passes the status alone and
only logs the text), yet a 429 means two things only its body tells apart: X's monthly usage cap
(`"type": ".../problems/usage-capped"`), which no reconnect lifts, and a connection limit
(`"connection_issue": "TooManyConnections"`, another client holding the app's one stream), which
passes. The stream keeps each refused reply from the session's response hook to read it.
"""

from __future__ import annotations

import json
import logging
from typing import Any

import requests
import tweepy

from crawlers.feed import PipelineFeed
from crawlers.x.collector import refusal, usage_capped
from crawlers.x.tweets import EXPANSIONS, TWEET_FIELDS, USER_FIELDS, page_items
from crisiswatch.config import Config

logger = logging.getLogger(__name__)
tweepy_logger = logging.getLogger("tweepy.streaming")


def configured_rules(config: Config, brand: str | None = None) -> list[tweepy.StreamRule]:
    """One rule per configured query, tagged with its brand key so a match names the brand."""
    return [tweepy.StreamRule(value=q, tag=b.key) for b in config.brands if not brand or b.key == brand
            for q in b.sources.x]


class MentionStream(tweepy.StreamingClient):
    """Buffers matching tweets and writes them at each keep-alive or every `batch_size` tweets."""

    def __init__(self, bearer_token: str, feed: PipelineFeed, *, max_tweets: int | None = None,
                 batch_size: int = 50, **kwargs: Any) -> None:
        super().__init__(bearer_token, wait_on_rate_limit=True, **kwargs)
        self.feed = feed
        self.max_tweets = max_tweets
        self.batch_size = batch_size
        self.buffer: list[dict[str, Any]] = []
        self.received = 0
        self.keep_alives = 0
        self.refused: tuple[str, str] | None = None  # (health status, reason) of a refusal that ended the stream
        self.refused_reply: requests.Response | None = None  # the last refused connection's reply
        self.backing_off = False  # a connection-limit 429 said once; tweepy's line for each retry is dropped
        self.session.hooks["response"].append(self._keep_refused_reply)

    def sync_rules(self, wanted: list[tweepy.StreamRule]) -> tuple[int, int]:
        """Makes the app's rules exactly the configured ones; returns (added, deleted)."""
        current = self.get_rules().data or []
        have = {(r.value, r.tag) for r in current}
        want = {(r.value, r.tag) for r in wanted}
        stale = [r.id for r in current if (r.value, r.tag) not in want]
        missing = [r for r in wanted if (r.value, r.tag) not in have]
        if stale:
            self.delete_rules(stale)
        if missing:
            self.add_rules(missing)
        return len(missing), len(stale)

    def run(self) -> None:
        """Blocks, reading the stream until `max_tweets` arrive or the process is stopped."""
        tweepy_logger.addFilter(self._said_already)
        try:
            self.filter(tweet_fields=TWEET_FIELDS, user_fields=USER_FIELDS, expansions=EXPANSIONS)
        finally:
            tweepy_logger.removeFilter(self._said_already)

    def _keep_refused_reply(self, response: requests.Response, *args: Any, **kwargs: Any) -> requests.Response:
        # a 200 is the stream itself, read line by line by tweepy: only a refusal's short body is read here
        if response.status_code != 200:
            self.refused_reply = response
        return response

    def _said_already(self, record: logging.LogRecord) -> bool:
        """tweepy logs each refused reply's text at every retry: once said in our words, it is not repeated."""
        return not (self.backing_off and str(record.msg).startswith("HTTP error response text"))

    def on_connect(self) -> None:
        self.backing_off = False  # a later connection limit is said again
        super().on_connect()

    def on_data(self, raw_data: bytes | str) -> None:
        """One stream line: `{"data": tweet, "includes": {...}, "matching_rules": [{"id", "tag"}]}`.

        Read as plain JSON rather than through tweepy's Tweet model, which raises on a tweet
        without `text` and would end the stream; such a tweet is dead-lettered like any bad item.
        """
        try:
            line = json.loads(raw_data)
        except ValueError:
            logger.warning("X stream: unreadable line %r", raw_data[:200])
            return
        if line.get("errors"):
            self.on_errors(line["errors"])
        if not isinstance(line.get("data"), dict):
            return
        rules = [r for r in line.get("matching_rules") or [] if isinstance(r, dict)]
        tags = sorted({str(r["tag"]) for r in rules if r.get("tag")})
        # the tweet, and the original it retweets or quotes (X sends it whole in includes.tweets)
        self.buffer.extend(page_items([line["data"]], line.get("includes"), query="stream", brands=tags,
                                      rules=[str(r["id"]) for r in rules if r.get("id")]))
        self.received += 1
        if len(self.buffer) >= self.batch_size:
            self.write()
        if self.max_tweets is not None and self.received >= self.max_tweets:
            self.write()
            self.disconnect()

    def on_keep_alive(self) -> None:
        # a quiet moment in the stream: nothing should wait in memory for a full batch
        self.keep_alives += 1
        self.write()

    def on_request_error(self, status_code: int) -> None:
        """A refused token (401) or an app without the stream (403) does not heal by reconnecting: tweepy would
        retry for ever, 5 s to 320 s apart, and the command never end. Such a refusal ends the stream."""
        if status_code == 401:
            self.refused = ("token-refused", "X refused the bearer token (HTTP 401): create a new one")
        elif status_code == 403:
            self.refused = ("gated", "HTTP 403: the app's access level does not include the filtered stream")
        elif status_code == 429 and self.refused_reply is not None:
            self.on_too_many_requests(tweepy.TooManyRequests(self.refused_reply))
            return
        else:
            super().on_request_error(status_code)
            return
        logger.error("X stream: %s", self.refused[1])
        self.disconnect()

    def on_too_many_requests(self, exc: tweepy.TooManyRequests) -> None:
        """The usage cap ends the stream as it ends a search (`gated`, exit 1); any other 429 (a connection
        limit) is said once and left to tweepy's backoff (60 s, doubling to 320 s), which outlasts it."""
        if usage_capped(exc):
            self.refused = refusal(exc, "the filtered stream")
            logger.error("X stream: %s", self.refused[1])
            self.disconnect()
            return
        if not self.backing_off:
            self.backing_off = True
            try:
                reply = exc.response.json()
            except ValueError:
                reply = {}
            detail = reply.get("detail") or reply.get("title") if isinstance(reply, dict) else None
            logger.warning("X stream: HTTP 429 (%s): reconnecting with tweepy's backoff, 60 s doubling to 320 s;"
                           " said once until a connection succeeds", detail or "too many requests")

    def on_errors(self, errors: Any) -> None:
        logger.warning("X stream errors: %s", errors)

    def write(self) -> None:
        if not self.buffer:
            return
        batch, self.buffer = self.buffer, []
        self.feed.feed(batch)
        self.feed.flush()

    def on_disconnect(self) -> None:
        self.write()
