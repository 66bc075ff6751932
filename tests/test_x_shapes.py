"""The X collector on what X really sends beyond a plain tweet: retweets and quotes with the original in
`includes.tweets`, paid blue checks, a 200 reply's partial `errors`, edited posts, withheld posts, the monthly
usage cap and a rate limit longer than the collection may run (X's URLs served by `responses`)."""

from __future__ import annotations

import json
import logging
import sqlite3
import time
from datetime import UTC, datetime

import pytest
import responses
from responses import matchers

from crawlers.feed import PipelineFeed
from crawlers.x import collector
from crawlers.x.stream import MentionStream
from crisiswatch.config import parse_config
from crisiswatch.db import connect
from crisiswatch.mention import mention_id
from tests.conftest import FIXTURES, config_dict

RECENT = "https://api.twitter.com/2/tweets/search/recent"
QUERY = "BrandX OR @brandx"
FIELDS = {"tweet.fields": ",".join(collector.TWEET_FIELDS), "user.fields": ",".join(collector.USER_FIELDS),
          "expansions": ",".join(collector.EXPANSIONS)}
ORIGINAL = "1934000000000000101"  # Kim's long complaint, retweeted twice and quoted once in the fixture


def body(name: str) -> str:
    return (FIXTURES / "x" / name).read_text(encoding="utf-8")


@pytest.fixture(autouse=True)
def clock(monkeypatch):
    """The collector's clock at the fixtures' time, so their ids are inside X's 7-day window."""
    monkeypatch.setattr(collector, "now", lambda: datetime(2025, 6, 15, tzinfo=UTC))


def make_config(tmp_path, **extra):
    brands = [{"key": "brandx", "names": ["BrandX"], "sources": {"x": [QUERY]}}]
    return parse_config(config_dict(tmp_path, brands=brands, **extra), str(tmp_path / "crisiswatch.yaml"))


@pytest.fixture
def config(tmp_path):
    return make_config(tmp_path)


@pytest.fixture
def client(config, monkeypatch):
    monkeypatch.setenv("X_BEARER_TOKEN", "test-bearer")
    return collector.make_client(config)


def docs(config) -> dict[str, dict]:
    conn = sqlite3.connect(config.state_store)
    try:
        return {json.loads(d)["native_id"]: json.loads(d) for (d,) in conn.execute("SELECT doc FROM mentions")}
    finally:
        conn.close()


def page(name: str, **params: str) -> dict:
    return {"body": body(name), "content_type": "application/json",
            "match": [matchers.query_param_matcher({"query": QUERY, "max_results": "100", **FIELDS, **params})]}


@responses.activate
def test_a_retweet_is_read_in_the_originals_whole_words_and_points_at_it(config, client):
    responses.get(RECENT, **page("search_recent_spread.json"))
    result = collector.search(client, config, QUERY, brand="brandx")
    assert result.tweets == 4
    found = docs(config)
    # the original, reached through two retweets and a quote, is one mention, with its own metrics
    assert sorted(found) == [ORIGINAL, "1934000000000000108", "1934000000000000109", "1934000000000000110",
                             "1934000000000000111"]
    original = found[ORIGINAL]
    assert original["text"].endswith("So I am filing a complaint with the consumer council today.")
    assert original["engagement"] == {"reposts": 873, "comments": 95, "likes": 2400}
    assert original["extra"]["via_repost"] in ("1934000000000000111", "1934000000000000110", "1934000000000000109")
    # before: the retweet was stored as X sends it, "RT @kimchen: " and 125 characters, the complaint cut off,
    # pointing nowhere, with the original's 812 retweets as its own
    retweet = found["1934000000000000111"]
    assert retweet["text"] == "RT @kimchen: " + original["text"]
    assert retweet["parent_id"] == mention_id("x", ORIGINAL) == original["id"]
    assert retweet["engagement"] == {"reposts": 0, "comments": 0, "likes": 0}
    assert retweet["extra"]["retweet_of"]["author"] == {"id": "7104", "name": "Kim Chen"}
    # a quote keeps its own words and points at what it quotes
    quote = found["1934000000000000109"]
    assert quote["text"].startswith("Same thing happened to me in May.")
    assert quote["parent_id"] == original["id"] and quote["extra"]["quoted"]["text"].startswith("BrandX charged")
    # a reply to a deleted post points at it all the same; a post withheld in some countries says where
    assert found["1934000000000000108"]["parent_id"] == mention_id("x", "1934000000000000090")
    assert found["1934000000000000108"]["extra"]["withheld_in"] == ["DE", "FR"]


@responses.activate
def test_a_paid_blue_check_earns_no_verified_bonus(config, client):
    responses.get(RECENT, **page("search_recent_spread.json"))
    collector.search(client, config, QUERY, brand="brandx")
    found = docs(config)
    # before: verified (true for a bought blue check too) gave Lee the bonus meant for accounts the media picks up
    blue, business = found["1934000000000000111"], found["1934000000000000109"]
    assert blue["author"]["verified"] is False and blue["extra"]["verified_type"] == "blue"
    assert business["author"]["verified"] is True and business["extra"]["verified_type"] == "business"
    assert found["1934000000000000110"]["author"]["verified"] is False
    assert "verified_type" in responses.calls[0].request.url


@responses.activate
def test_what_x_left_out_of_a_page_is_said(config, client, caplog):
    responses.get(RECENT, **page("search_recent_spread.json"))
    with caplog.at_level(logging.WARNING, logger="crawlers.x.collector"):
        result = collector.search(client, config, QUERY, brand="brandx")
    # before: the 200 reply's errors were never read, and a suspended author's tweet was stored nameless in silence
    (line,) = [r.getMessage() for r in caplog.records if r.name == "crawlers.x.collector"]
    assert line.startswith(f"x: {QUERY!r}: 1 tweet stored without the author's name and followers")
    assert "X left out 2 authors or referenced tweets (User has been suspended: [7199].; Could not find tweet" in line
    assert result.left_out == 2
    reply = docs(config)["1934000000000000108"]
    assert reply["author"] == {"id": "7199", "name": "", "followers": None, "verified": False}  # unknown, not 0


def edited(tweet_id: str, history: list[str], text: str) -> str:
    return json.dumps({"data": [{
        "id": tweet_id, "text": text, "created_at": "2025-06-14T07:00:00.000Z", "author_id": "7102", "lang": "en",
        "public_metrics": {"retweet_count": 0, "reply_count": 0, "like_count": 2, "quote_count": 0},
        "edit_history_tweet_ids": history}],
        "meta": {"newest_id": tweet_id, "oldest_id": tweet_id, "result_count": 1}})


@responses.activate
def test_an_edited_post_replaces_its_first_version(config, client):
    first, second = "1934000000000000120", "1934000000000000125"
    responses.get(RECENT, body=edited(first, [first], "BrandX lost my parcel"), content_type="application/json",
                  match=[matchers.query_param_matcher({"query": QUERY, "max_results": "100", **FIELDS})])
    collector.search(client, config, QUERY)
    # minutes later its author edits it: X sends it again under a new id, with both ids in its history
    responses.get(RECENT, body=edited(second, [first, second], "BrandX lost my parcel and will not refund it"),
                  content_type="application/json",
                  match=[matchers.query_param_matcher({"query": QUERY, "max_results": "100", **FIELDS,
                                                       "since_id": first})])
    assert collector.search(client, config, QUERY).newest_id == second
    found = docs(config)
    # before: two posts, the first version and the edit, each counted in the volume
    assert list(found) == [first]
    assert found[first]["text"] == "BrandX lost my parcel and will not refund it"
    assert found[first]["url"].endswith(f"/status/{second}") and found[first]["extra"]["tweet_id"] == second


@responses.activate
def test_an_edit_stored_under_its_own_id_by_an_older_release_is_one_post_when_read_again(config, client):
    from crawlers.x.tweets import page_items
    from crisiswatch.mention import Mention
    from index import open_backend
    from index.base import MentionFilter

    first, second = "1934000000000000120", "1934000000000000125"
    # before edits were keyed by their first id, the edited version was stored under its own id
    earlier = json.loads(edited(second, [first, second], "BrandX lost my parcel"))
    stored = Mention.model_validate({**page_items(earlier["data"], None, query=QUERY)[0], "native_id": second})
    backend = open_backend(config.index.url)
    backend.upsert([stored])
    responses.get(RECENT, body=edited(second, [first, second], "BrandX lost my parcel and will not refund it"),
                  content_type="application/json")
    collector.search(client, config, QUERY)
    # before: the old row stayed beside the new one (native_id first), and the post was counted twice
    assert list(docs(config)) == [first]
    assert backend.count() == 1 and backend.search("refund")[0].native_id == first
    assert backend.search("parcel") == backend.search("refund")  # the old row's words went with it
    day = MentionFilter(since=datetime(2025, 6, 14, tzinfo=UTC), until=datetime(2025, 6, 15, tzinfo=UTC))
    assert sum(b.count for b in backend.counts_over_time(day, 3600)) == 1  # the pre-aggregated counts too
    backend.close()


USAGE_CAPPED = {"account_id": "1", "product_name": "standard-basic", "title": "UsageCapExceeded", "period": "Monthly",
                "scope": "Product", "detail": "Usage cap exceeded: Monthly product cap",
                "type": "https://api.twitter.com/2/problems/usage-capped"}


@responses.activate
def test_the_usage_cap_ends_the_query_at_once(config, client, monkeypatch):
    from crawlers.health import source_health

    waits: list[float] = []
    monkeypatch.setattr(time, "sleep", waits.append)
    reset = str(int(time.time()) + 900)
    responses.get(RECENT, status=429, json=USAGE_CAPPED,
                  headers={"x-rate-limit-limit": "450", "x-rate-limit-remaining": "449", "x-rate-limit-reset": reset})
    responses.get(RECENT, **page("search_recent_spread.json"))
    # before: tweepy waited for the rate-limit reset and asked again, 15 minutes a time, all month
    with pytest.raises(collector.SearchFailed) as failed:
        collector.search(client, config, QUERY)
    assert waits == [] and len(responses.calls) == 1
    assert failed.value.status == "gated"
    assert str(failed.value) == ("X: X's usage cap is reached (HTTP 429: Usage cap exceeded: Monthly product cap):"
                                 " nothing more is read until it resets or the plan allows more")
    health = {h.source: h for h in source_health(connect(config.state_store))}["x"]
    assert (health.status, health.reason) == ("gated", str(failed.value))


@responses.activate
def test_a_rate_limit_wait_past_the_crawl_timeout_ends_the_query_and_keeps_what_was_read(tmp_path, monkeypatch):
    config = make_config(tmp_path, crawl={"timeout_minutes": 10})
    monkeypatch.setenv("X_BEARER_TOKEN", "test-bearer")
    client = collector.make_client(config)
    waits: list[float] = []
    monkeypatch.setattr(time, "sleep", waits.append)
    spread = json.loads(body("search_recent_spread.json"))
    responses.get(RECENT, body=json.dumps({**spread, "meta": {**spread["meta"], "next_token": "b26v89c19zqg8o3"}}),
                  content_type="application/json")
    reset = int(time.time()) + 900  # 15 minutes: the loop would stop the collection at 10
    responses.get(RECENT, status=429, json={"title": "Too Many Requests", "detail": "Too Many Requests",
                                            "type": "about:blank", "status": 429},
                  headers={"x-rate-limit-limit": "450", "x-rate-limit-remaining": "0", "x-rate-limit-reset": str(reset)})
    # before: tweepy slept the 15 minutes; the run loop killed the collection at 10, its read pages unwritten
    with pytest.raises(collector.SearchFailed, match=r"rate limited \(HTTP 429\) until \d\d:\d\d UTC, past crawl"):
        collector.search(client, config, QUERY)
    assert waits == []
    assert len(docs(config)) == 5  # the first page is written; since_id stays, so the next run reads on
    assert collector.SinceIds(connect(config.state_store)).get(QUERY) is None


@responses.activate
def test_a_short_rate_limit_is_waited_out(config, client, monkeypatch):
    waits: list[float] = []
    monkeypatch.setattr(time, "sleep", waits.append)
    responses.get(RECENT, status=429, json={"title": "Too Many Requests", "type": "about:blank", "status": 429},
                  headers={"x-rate-limit-remaining": "0", "x-rate-limit-reset": str(int(time.time()) + 30)})
    responses.get(RECENT, **page("search_recent_spread.json"))
    assert collector.search(client, config, QUERY).tweets == 4
    assert len(waits) == 1 and 29 <= waits[0] <= 32


def test_a_streamed_retweet_brings_its_original_whole(config):
    spread = json.loads(body("search_recent_spread.json"))
    line = {"data": spread["data"][0], "includes": spread["includes"],
            "matching_rules": [{"id": "1800000000000000001", "tag": "brandx"}]}
    with PipelineFeed(config, "x") as feed:
        stream = MentionStream("test-bearer", feed, batch_size=100)
        stream.on_data(json.dumps(line))
        stream.on_disconnect()
    found = docs(config)
    assert sorted(found) == [ORIGINAL, "1934000000000000111"]
    assert found["1934000000000000111"]["text"].endswith("consumer council today.")
    assert found[ORIGINAL]["brands"] == ["brandx"]


@responses.activate
def test_collect_x_says_how_many_things_x_left_out(tmp_path, monkeypatch, capsys):
    import yaml

    from crisiswatch.cli import main

    monkeypatch.setenv("X_BEARER_TOKEN", "cli-bearer")
    cfg = tmp_path / "crisiswatch.yaml"
    brands = [{"key": "brandx", "names": ["BrandX"], "sources": {"x": [QUERY]}}]
    cfg.write_text(yaml.safe_dump(config_dict(tmp_path, brands=brands), allow_unicode=True), encoding="utf-8")
    responses.get(RECENT, **page("search_recent_spread.json"))
    assert main(["--config", str(cfg), "collect", "x"]) == 0
    assert f"x: {QUERY!r} · 1 pages · 4 tweets · 5 indexed · 2 left out by X · since_id" in capsys.readouterr().out


NOT_ENROLLED = {"client_id": "1", "title": "Client Forbidden", "reason": "client-not-enrolled",
                "required_enrollment": "Appropriate Level of API Access",
                "registration_url": "https://developer.x.com/en/docs/projects/overview",
                "detail": "This request must be made using an approved developer account that is enrolled in the"
                          " requested endpoint.", "type": "https://api.twitter.com/2/problems/client-forbidden"}
RULES = "https://api.twitter.com/2/tweets/search/stream/rules"
STREAM = "https://api.twitter.com/2/tweets/search/stream"


def write_config(tmp_path):
    import yaml

    cfg = tmp_path / "crisiswatch.yaml"
    brands = [{"key": "brandx", "names": ["BrandX"], "sources": {"x": [QUERY]}}]
    cfg.write_text(yaml.safe_dump(config_dict(tmp_path, brands=brands), allow_unicode=True), encoding="utf-8")
    return cfg


@responses.activate
def test_a_stream_x_refuses_is_one_line_and_exit_1(tmp_path, monkeypatch, capsys):
    from crawlers.health import source_health
    from crisiswatch.cli import main

    monkeypatch.setenv("X_BEARER_TOKEN", "cli-bearer")
    responses.get(RULES, status=403, json=NOT_ENROLLED)
    # before: tweepy's Forbidden, an 'unexpected error' cut at 300 characters, and nothing for `status`
    assert main(["--config", str(write_config(tmp_path)), "collect", "x", "--stream"]) == 1
    why = ("X: HTTP 403: the app's access level does not include the filtered stream (client-not-enrolled; This"
           " request must be made using an approved developer account that is enrolled in the requested endpoint.)")
    assert capsys.readouterr().err.splitlines() == [f"x stream: {why}"]
    health = {h.source: h for h in source_health(connect(make_config(tmp_path).state_store))}["x"]
    assert (health.status, health.reason) == ("gated", why)


@responses.activate
def test_a_stream_whose_token_is_refused_ends_instead_of_reconnecting_for_ever(tmp_path, monkeypatch, capsys):
    import tweepy.streaming

    from crisiswatch.cli import main

    def no_more(seconds):  # tweepy's reconnect wait: the stream retried a refused token 5 s to 320 s apart, for ever
        raise AssertionError(f"reconnecting after a 401 (waiting {seconds} s)")

    monkeypatch.setattr(tweepy.streaming, "sleep", no_more)
    monkeypatch.setenv("X_BEARER_TOKEN", "cli-bearer")
    responses.get(RULES, json={"data": [{"id": "1800000000000000001", "value": QUERY, "tag": "brandx"}],
                               "meta": {"sent": "2025-06-14T04:00:00.000Z", "result_count": 1}})
    responses.get(STREAM, status=401, json={"title": "Unauthorized", "type": "about:blank", "status": 401,
                                            "detail": "Unauthorized"})
    assert main(["--config", str(write_config(tmp_path)), "collect", "x", "--stream"]) == 1
    assert capsys.readouterr().err.splitlines() == [
        "x stream: X: X refused the bearer token (HTTP 401): create a new one"]


@responses.activate
def test_a_stream_at_the_usage_cap_ends_in_one_line_gated_and_exit_1(tmp_path, monkeypatch, capsys):
    import tweepy.streaming

    from crawlers.health import source_health
    from crisiswatch.cli import main

    def no_more(seconds):  # before: tweepy reconnected 60 s to 320 s apart, all month, saying only "HTTP error: 429"
        raise AssertionError(f"reconnecting at the usage cap (waiting {seconds} s)")

    monkeypatch.setattr(tweepy.streaming, "sleep", no_more)
    monkeypatch.setenv("X_BEARER_TOKEN", "cli-bearer")
    responses.get(RULES, json={"data": [{"id": "1800000000000000001", "value": QUERY, "tag": "brandx"}],
                               "meta": {"sent": "2025-06-14T04:00:00.000Z", "result_count": 1}})
    responses.get(STREAM, status=429, json=USAGE_CAPPED)
    assert main(["--config", str(write_config(tmp_path)), "collect", "x", "--stream"]) == 1
    why = ("X: X's usage cap is reached (HTTP 429: Usage cap exceeded: Monthly product cap): nothing more is read"
           " until it resets or the plan allows more")
    assert capsys.readouterr().err.splitlines() == [f"x stream: {why}"]
    health = {h.source: h for h in source_health(connect(make_config(tmp_path).state_store))}["x"]
    assert (health.status, health.reason) == ("gated", why)


TOO_MANY_CONNECTIONS = {"title": "ConnectionException", "connection_issue": "TooManyConnections",
                        "detail": "This stream is currently at the maximum allowed connection limit.",
                        "type": "https://api.twitter.com/2/problems/streaming-connection"}


@responses.activate
def test_a_stream_at_its_connection_limit_backs_off_and_says_so_once(config, monkeypatch, caplog):
    import tweepy.streaming

    waits: list[float] = []
    monkeypatch.setattr(tweepy.streaming, "sleep", waits.append)
    # another client holds the app's one connection for two tries, then lets go
    responses.get(STREAM, status=429, json=TOO_MANY_CONNECTIONS)
    responses.get(STREAM, status=429, json=TOO_MANY_CONNECTIONS)
    responses.get(STREAM, body=(FIXTURES / "x" / "stream_lines.ndjson").read_bytes(), content_type="application/json")
    with caplog.at_level(logging.WARNING), PipelineFeed(config, "x") as feed:
        stream = MentionStream("test-bearer", feed, max_tweets=3)
        stream.run()
    assert stream.refused is None and stream.received == 3 and waits == [60, 120]  # tweepy's backoff, kept
    # before: tweepy's two lines at each retry ("Stream encountered HTTP error: 429", then the reply's text)
    said = [r.getMessage() for r in caplog.records if "429" in r.getMessage() or "HTTP error" in r.getMessage()]
    assert said == ["X stream: HTTP 429 (This stream is currently at the maximum allowed connection limit.):"
                    " reconnecting with tweepy's backoff, 60 s doubling to 320 s; said once until a connection"
                    " succeeds"], said
