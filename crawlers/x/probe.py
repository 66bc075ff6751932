"""`crisiswatch sources check x`: one recent-search request per configured query, read as the collector
reads it, with the same statuses the spiders' probes use (crawlers/probe.py).

    needs-token     no bearer token in the environment variable the config names
    token-refused   X refused the token (401)
    gated           the app's access level does not include recent search (403)
    blocked         rate limited (429)
    invalid-request X refused the request as invalid (400): the query, most often; X's reason says
    layout-changed  the reply was not the v2 shape, or its tweets fail validation
    unreachable     no answer, or a server error
"""

from __future__ import annotations

from typing import Any

import requests
import tweepy
from pydantic import ValidationError

from crawlers.probe import CheckResult
from crawlers.x.collector import TokenMissing, bearer_token, refusal, targets
from crawlers.x.tweets import EXPANSIONS, TWEET_FIELDS, USER_FIELDS, tweet_item, users_by_id
from crisiswatch.config import Config
from crisiswatch.mention import Mention, validation_reason

# a probe must answer now: tweepy's own wait on a rate limit would sleep up to 15 minutes
PROBE_SIZE = 10


def probe_x(config: Config, client: tweepy.Client | None = None) -> list[CheckResult]:
    queries = [query for _, query in targets(config)]
    try:
        token = bearer_token(config)
    except TokenMissing as exc:
        return [CheckResult("x", q, "needs-token", f"no bearer token: {exc.problem}") for q in queries]
    client = client or tweepy.Client(token, wait_on_rate_limit=False, return_type=dict)
    return [CheckResult("x", query, *_probe(client, query)) for query in queries]


def _probe(client: tweepy.Client, query: str) -> tuple[str, str]:
    try:
        reply: Any = client.search_recent_tweets(query, max_results=PROBE_SIZE, tweet_fields=TWEET_FIELDS,
                                                 user_fields=USER_FIELDS, expansions=EXPANSIONS)
    except (tweepy.HTTPException, requests.RequestException) as exc:
        return refusal(exc)
    if not isinstance(reply, dict) or not isinstance(reply.get("data", []), list):
        return "layout-changed", "the reply is not X API v2's {data: [...]} shape"
    users = users_by_id(reply.get("includes"))
    tweets = reply.get("data") or []
    for tweet in tweets:
        try:
            Mention.model_validate(tweet_item(tweet, users, query=query))
        except ValidationError as exc:
            return "layout-changed", f"tweets fail validation: {validation_reason(exc)}"
    return "ok", f"{len(tweets)} posts read"
