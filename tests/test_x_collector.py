"""The X collector through tweepy against X's real API URLs (served by `responses`): recent search
pages, the since_id high-water mark, a 429 wait, the filtered stream with rules and keep-alives,
and the same pipelines (validation, dead letters, index) as the crawlers."""

from __future__ import annotations

import json
import logging
import sqlite3
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
import responses
import tweepy
from responses import matchers

from crawlers.feed import PipelineFeed
from crawlers.x import collector
from crawlers.x.stream import MentionStream, configured_rules
from crisiswatch.cli import main
from crisiswatch.config import parse_config
from crisiswatch.db import connect
from crisiswatch.deadletter import DeadLetters
from crisiswatch.errors import CrisiswatchError
from tests.conftest import FIXTURES, config_dict

RECENT = "https://api.twitter.com/2/tweets/search/recent"
STREAM = "https://api.twitter.com/2/tweets/search/stream"
RULES = "https://api.twitter.com/2/tweets/search/stream/rules"
QUERY = "(BrandX OR @brandx) -is:retweet"
FIELDS = {"tweet.fields": ",".join(collector.TWEET_FIELDS), "user.fields": ",".join(collector.USER_FIELDS),
          "expansions": ",".join(collector.EXPANSIONS)}


def body(name: str) -> str:
    return (FIXTURES / "x" / name).read_text(encoding="utf-8")


def brands() -> list[dict]:
    return [{"key": "brandx", "names": ["BrandX"], "sources": {"x": [QUERY]}},
            {"key": "aurora", "names": ["极光优选"], "sources": {"x": ["极光优选 lang:zh"]}}]


FIXTURES_NOW = datetime(2025, 6, 15, tzinfo=UTC)  # the fixtures' tweets are of 2025-06-14


@pytest.fixture(autouse=True)
def clock(monkeypatch):
    """The collector's clock at the fixtures' time, so their ids are inside X's 7-day window."""
    monkeypatch.setattr(collector, "now", lambda: FIXTURES_NOW, raising=False)
    return FIXTURES_NOW


@pytest.fixture
def config(tmp_path):
    return parse_config(config_dict(tmp_path, brands=brands()), str(tmp_path / "crisiswatch.yaml"))


@pytest.fixture
def client():
    return collector.XClient("test-bearer")


def db_rows(config, sql: str, params: tuple = ()) -> list[tuple]:
    conn = sqlite3.connect(config.state_store)
    try:
        return conn.execute(sql, params).fetchall()
    finally:
        conn.close()


def page(name: str, **params: str) -> dict:
    return {"body": body(name), "content_type": "application/json",
            "match": [matchers.query_param_matcher({"query": QUERY, "max_results": "100", **FIELDS, **params})]}


@responses.activate
def test_recent_search_pages_then_resumes_from_since_id(config, client):
    responses.get(RECENT, **page("search_recent_p1.json"))
    responses.get(RECENT, **page("search_recent_p2.json", next_token="b26v89c19zqg8o3fpzbn1e0ffhxjiofzw6po136rvbnul"))
    result = collector.search(client, config, QUERY, brand="brandx")
    assert (result.pages, result.tweets, result.indexed) == (2, 4, 3)
    assert result.since_id is None and result.newest_id == "1934000000000000012"
    assert responses.calls[0].request.headers["Authorization"] == "Bearer test-bearer"
    # the tweet without text or time is dead-lettered with its reason; the others are indexed
    (letter,) = DeadLetters(connect(config.state_store)).recent()
    assert letter.payload["native_id"] == "1934000000000000004" and "text" in letter.reason
    doc = json.loads(db_rows(config, "SELECT doc FROM mentions WHERE native_id='1934000000000000012'")[0][0])
    assert doc["source"] == "x" and doc["brands"] == ["brandx"] and doc["query"] == QUERY
    assert doc["author"] == {"id": "7001", "name": "Dana Reviews", "followers": 48200, "verified": True}
    assert doc["engagement"] == {"reposts": 45, "comments": 17, "likes": 230}
    assert doc["url"] == "https://x.com/danareviews/status/1934000000000000012"
    assert doc["created_at"].startswith("2025-06-14T04:00:00") and doc["extra"]["hashtags"] == ["BrandX"]
    assert collector.SinceIds(connect(config.state_store)).get(QUERY) == "1934000000000000012"

    responses.get(RECENT, **page("search_recent_new.json", since_id="1934000000000000012"))
    again = collector.search(client, config, QUERY, brand="brandx")
    assert again.since_id == "1934000000000000012" and again.newest_id == "1934000000000000020"
    assert "since_id=1934000000000000012" in responses.calls[-1].request.url
    assert db_rows(config, "SELECT COUNT(*) FROM mentions WHERE source='x'") == [(4,)]

    responses.get(RECENT, **page("search_recent_empty.json", since_id="1934000000000000020"))
    assert collector.search(client, config, QUERY).tweets == 0
    assert collector.SinceIds(connect(config.state_store)).get(QUERY) == "1934000000000000020"


@responses.activate
def test_rate_limit_waits_until_the_reset_time(config, client, monkeypatch):
    waits: list[float] = []
    monkeypatch.setattr(tweepy.client.time, "sleep", waits.append)
    reset = int(time.time()) + 42
    responses.get(RECENT, body=body("rate_limited.json"), status=429, content_type="application/json",
                  headers={"x-rate-limit-limit": "450", "x-rate-limit-remaining": "0", "x-rate-limit-reset": str(reset)})
    responses.get(RECENT, **page("search_recent_p2.json"))
    result = collector.search(client, config, QUERY)
    assert len(waits) == 1 and 41 <= waits[0] <= 43
    assert result.tweets == 2 and len(responses.calls) == 2


@responses.activate
def test_a_failed_run_does_not_move_since_id(config, client):
    responses.get(RECENT, **page("search_recent_p1.json"))
    responses.get(RECENT, status=503, json={"title": "Service Unavailable"})
    with pytest.raises(CrisiswatchError, match="X API unreachable: X answered HTTP 503"):
        collector.search(client, config, QUERY)
    assert collector.SinceIds(connect(config.state_store)).get(QUERY) is None
    # what was read is kept (the index upsert makes the re-read harmless)
    assert db_rows(config, "SELECT COUNT(*) FROM mentions") == [(2,)]


@responses.activate
def test_filtered_stream_syncs_rules_and_indexes_matches(config):
    responses.get(RULES, body=body("rules_get.json"), content_type="application/json")
    responses.post(RULES, body=body("rules_deleted.json"), content_type="application/json",
                   match=[matchers.json_params_matcher({"delete": {"ids": ["1800000000000000002"]}})])
    responses.post(RULES, body=body("rules_added.json"), content_type="application/json",
                   match=[matchers.json_params_matcher({"add": [{"value": "极光优选 lang:zh", "tag": "aurora"}]})])
    responses.get(STREAM, body=(FIXTURES / "x" / "stream_lines.ndjson").read_bytes(),
                  content_type="application/json")
    with PipelineFeed(config, "x") as feed:
        stream = MentionStream("test-bearer", feed, max_tweets=3)
        assert stream.sync_rules(configured_rules(config)) == (1, 1)
        stream.run()
    assert (stream.received, stream.keep_alives) == (3, 3)
    stream_call = next(c for c in responses.calls if c.request.url.split("?")[0] == STREAM)
    assert "expansions=author_id" in stream_call.request.url
    docs = [json.loads(d) for (d,) in db_rows(config, "SELECT doc FROM mentions ORDER BY native_id")]
    assert [d["native_id"] for d in docs] == ["1934000000000000031", "1934000000000000032"]
    assert docs[0]["brands"] == ["aurora"] and docs[1]["brands"] == ["aurora", "brandx"]
    assert docs[0]["author"]["name"] == "小林" and docs[1]["extra"]["rules"] == ["1800000000000000001",
                                                                                "1800000000000000003"]
    assert DeadLetters(connect(config.state_store)).recent()[0].payload["native_id"] == "1934000000000000033"


def test_stream_lines_fed_to_on_data_directly(config):
    lines = (FIXTURES / "x" / "stream_lines.ndjson").read_bytes().split(b"\r\n")
    with PipelineFeed(config, "x") as feed:
        stream = MentionStream("test-bearer", feed, batch_size=100)
        for line in lines[:3]:  # one tweet, then two keep-alives
            stream.on_data(line) if line else stream.on_keep_alive()
        # the keep-alive wrote the buffered tweet without waiting for a full batch
        assert feed.stats.get("crisiswatch/indexed") == 1 and stream.buffer == []
        stream.on_data(lines[3])
        assert len(stream.buffer) == 1
        stream.on_disconnect()  # tweepy calls it when the stream ends: nothing stays in memory
        assert stream.buffer == []
    assert db_rows(config, "SELECT COUNT(*) FROM mentions") == [(2,)]


@responses.activate
def test_a_pipeline_raising_on_one_tweet_loses_that_tweet_alone_and_says_so(tmp_path, monkeypatch, capsys):
    from monitor.enrich.pipeline import EnrichPipeline

    enrich = EnrichPipeline.process_item

    def flaky(self, item):  # a bug met by one tweet's text
        if "快递又延迟了" in item.text:
            raise RuntimeError("enrichment bug")
        return enrich(self, item)

    monkeypatch.setattr(EnrichPipeline, "process_item", flaky)
    monkeypatch.setenv("X_BEARER_TOKEN", "cli-bearer")
    responses.get(RULES, body=body("rules_get.json"), content_type="application/json")
    responses.post(RULES, body=body("rules_deleted.json"), content_type="application/json")
    responses.post(RULES, body=body("rules_added.json"), content_type="application/json")
    responses.get(STREAM, body=(FIXTURES / "x" / "stream_lines.ndjson").read_bytes(), content_type="application/json")
    cfg = _write_config(tmp_path)
    # the three tweets come in one batch: before, the first one's exception left the feed, tweepy's thread
    # swallowed it, the stream stopped with the second unwritten and the command said nothing, exit 0
    assert main(["--config", str(cfg), "collect", "x", "--stream", "--max", "3"]) == 1
    err = capsys.readouterr().err
    assert "x stream: 1 of 2 posts lost in the pipeline (RuntimeError while processing a post: enrichment bug)" in err
    config = parse_config(config_dict(tmp_path, brands=brands()), str(cfg))
    assert db_rows(config, "SELECT native_id FROM mentions") == [("1934000000000000032",)]
    letters = {d.payload["native_id"]: d.reason for d in DeadLetters(connect(config.state_store)).recent()}
    assert letters["1934000000000000031"].startswith("RuntimeError while processing a post")
    assert db_rows(config, "SELECT reason FROM crawl_runs") == [("failed",)]


def test_a_post_longer_than_280_characters_is_stored_whole():
    from crawlers.x.tweets import tweet_item

    whole = "BrandX support has ignored my refund request for three weeks. " * 8  # 504 characters
    tweet = {"id": "1934000000000000099", "text": whole[:277] + "…", "author_id": "7001", "lang": "en",
             "created_at": "2025-06-14T04:05:00.000Z",
             "note_tweet": {"text": whole, "entities": {"hashtags": [{"start": 0, "end": 7, "tag": "BrandX"}]}}}
    item = tweet_item(tweet, {"7001": {"id": "7001", "username": "kim", "name": "Kim"}})
    assert item["text"] == whole and item["extra"]["long_post"] and item["extra"]["hashtags"] == ["BrandX"]
    assert "note_tweet" in collector.TWEET_FIELDS  # asked for: the API sends it only when asked


@responses.activate
def test_a_search_that_lost_a_tweet_to_a_pipeline_keeps_its_since_id(config, client, monkeypatch):
    from monitor.enrich.pipeline import EnrichPipeline

    enrich = EnrichPipeline.process_item

    def flaky(self, item):
        if item.native_id == "1934000000000000012":
            raise RuntimeError("enrichment bug")
        return enrich(self, item)

    monkeypatch.setattr(EnrichPipeline, "process_item", flaky)
    responses.get(RECENT, **page("search_recent_p1.json"))
    responses.get(RECENT, **page("search_recent_p2.json", next_token="b26v89c19zqg8o3fpzbn1e0ffhxjiofzw6po136rvbnul"))
    result = collector.search(client, config, QUERY, brand="brandx")
    # the other tweets are read and indexed; the next run reads the lost one again (it moved to ...012)
    assert (result.lost, result.indexed, result.newest_id) == (1, 2, None)
    assert collector.SinceIds(connect(config.state_store)).get(QUERY) is None
    assert db_rows(config, "SELECT reason FROM crawl_runs") == [("failed",)]


def _write_config(tmp_path: Path) -> Path:
    import yaml

    cfg = tmp_path / "crisiswatch.yaml"
    cfg.write_text(yaml.safe_dump(config_dict(tmp_path, brands=brands()), allow_unicode=True), encoding="utf-8")
    return cfg


def test_cli_without_a_token_is_a_one_line_config_error(tmp_path, monkeypatch, capsys):
    monkeypatch.delenv("X_BEARER_TOKEN", raising=False)
    assert main(["--config", str(_write_config(tmp_path)), "collect", "x"]) == 1
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "X_BEARER_TOKEN" in err and "sources.x.token_env" in err


@responses.activate
def test_cli_collects_every_configured_query(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("X_BEARER_TOKEN", "cli-bearer")
    responses.get(RECENT, **page("search_recent_p2.json"))
    responses.get(RECENT, body=body("search_recent_empty.json"), content_type="application/json",
                  match=[matchers.query_param_matcher({"query": "极光优选 lang:zh"}, strict_match=False)])
    assert main(["--config", str(_write_config(tmp_path)), "collect", "x", "--max", "5"]) == 0
    out = capsys.readouterr().out
    assert "1 pages · 2 tweets · 1 indexed" in out and "since_id - -> 1934000000000000005" in out
    assert all(c.request.headers["Authorization"] == "Bearer cli-bearer" for c in responses.calls)


@responses.activate
def test_a_capped_run_leaves_a_backlog_that_the_next_runs_read_first(config, client):
    # run 1, capped at 3: page 1 (2 tweets) and one tweet of page 2; one tweet stays unread
    responses.get(RECENT, **page("search_recent_p1.json"))
    responses.get(RECENT, **page("search_recent_p2.json", next_token="b26v89c19zqg8o3fpzbn1e0ffhxjiofzw6po136rvbnul"))
    first = collector.search(client, config, QUERY, max_tweets=3)
    assert first.tweets == 3 and first.backlog and first.newest_id is None
    ids = collector.SinceIds(connect(config.state_store))
    assert ids.get(QUERY) is None
    assert ids.backlog(QUERY) == collector.Backlog("1934000000000000005", "1934000000000000012")

    # run 2 asks only for what is older than the oldest tweet read, gets the rest, and only then moves since_id
    responses.get(RECENT, body=json.dumps({
        "data": [json.loads(body("search_recent_p2.json"))["data"][1]],
        "includes": json.loads(body("search_recent_p2.json"))["includes"],
        "meta": {"result_count": 1}}), content_type="application/json",
        match=[matchers.query_param_matcher({"query": QUERY, "max_results": "100", **FIELDS,
                                             "until_id": "1934000000000000005"})])
    second = collector.search(client, config, QUERY, max_tweets=3)
    assert second.tweets == 1 and not second.backlog
    assert ids.get(QUERY) == "1934000000000000012" and ids.backlog(QUERY) is None
    # every tweet of both pages was read exactly once (the one without text is dead-lettered, as before)
    assert db_rows(config, "SELECT COUNT(*) FROM mentions WHERE source='x'") == [(3,)]
    assert len(DeadLetters(connect(config.state_store)).recent()) == 1

    # run 3 is an ordinary incremental run again
    responses.get(RECENT, **page("search_recent_new.json", since_id="1934000000000000012"))
    third = collector.search(client, config, QUERY, max_tweets=3)
    assert third.tweets == 1 and not third.backlog and ids.get(QUERY) == "1934000000000000020"


@responses.activate
def test_a_cap_that_happens_to_fit_the_last_page_leaves_no_backlog(config, client):
    responses.get(RECENT, **page("search_recent_p2.json"))
    result = collector.search(client, config, QUERY, max_tweets=2)
    assert result.tweets == 2 and not result.backlog and result.newest_id == "1934000000000000005"
    assert collector.SinceIds(connect(config.state_store)).backlog(QUERY) is None


def test_an_old_since_table_gains_the_backlog_columns(config):
    old = sqlite3.connect(config.state_store)  # a file from before versioned migrations
    old.execute("CREATE TABLE x_since (query TEXT PRIMARY KEY, since_id TEXT NOT NULL, updated_at TEXT NOT NULL)")
    old.execute("INSERT INTO x_since VALUES (?, '1934000000000000012', '2026-01-01T00:00:00+00:00')", (QUERY,))
    old.commit()
    old.close()
    ids = collector.SinceIds(connect(config.state_store))
    assert ids.get(QUERY) == "1934000000000000012" and ids.backlog(QUERY) is None
    ids.defer(QUERY, collector.Backlog("1934000000000000030", "1934000000000000040"))
    assert ids.get(QUERY) == "1934000000000000012" and ids.backlog(QUERY).newest_id == "1934000000000000040"


@responses.activate
def test_an_unreachable_api_is_said_with_its_reason_and_kept_for_status(config, client):
    import urllib3

    from crawlers.health import source_health

    resolve = urllib3.exceptions.NameResolutionError(  # as urllib3 raises it when DNS has no answer
        "api.twitter.com", urllib3.connection.HTTPSConnection("api.twitter.com", 443),
        OSError("[Errno -2] Name or service not known"))
    responses.get(RECENT, body=requests.ConnectionError(urllib3.exceptions.MaxRetryError(None, RECENT, resolve)))
    with pytest.raises(CrisiswatchError) as raised:
        collector.search(client, config, QUERY)
    # it was an "unexpected error" cut at 300 characters, before the cause
    assert str(raised.value).startswith("X API unreachable: Failed to resolve 'api.twitter.com'")
    health = {h.source: h for h in source_health(connect(config.state_store))}["x"]
    assert health.status == "unreachable" and health.reason == str(raised.value)
    assert collector.SinceIds(connect(config.state_store)).get(QUERY) is None


@responses.activate
def test_a_refused_token_is_said_in_one_line_and_kept_for_status(config, client, capsys):
    from crawlers.health import source_health

    responses.get(RECENT, status=401, json={"title": "Unauthorized", "type": "about:blank", "status": 401,
                                            "detail": "Unauthorized"})
    with pytest.raises(CrisiswatchError) as raised:  # was tweepy's Unauthorized, an unexpected error
        collector.search(client, config, QUERY)
    assert str(raised.value) == "X: X refused the bearer token (HTTP 401): create a new one"
    health = {h.source: h for h in source_health(connect(config.state_store))}["x"]
    assert health.status == "token-refused" and health.reason == str(raised.value)


OLD = "1860000000000000000"  # a tweet of 2024-11-22: months before the fixtures' clock


def created(tweet_id: str) -> datetime:
    return datetime.fromtimestamp(((int(tweet_id) >> 22) + 1288834974657) / 1000, UTC)


def asked(call) -> dict[str, str]:
    return params_of(call.request)


def params_of(request) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(request.url).query).items()}


def x_recent(now: datetime, reply: str):
    """Recent search as X answers it: 400 invalid-request for a since_id, until_id or start_time older
    than its 7-day window, else `reply`."""
    def answer(request):
        params, edge = params_of(request), now - timedelta(days=7)
        for name in ("since_id", "until_id"):
            if name in params and created(params[name]) <= edge:
                return 400, {}, json.dumps({
                    "errors": [{"parameters": {name: [params[name]]}, "message": (
                        f"Invalid '{name}':'{params[name]}'. '{name}' must be a tweet id created after"
                        f" {edge:%Y-%m-%dT%H:%M}Z.")}],
                    "title": "Invalid Request", "detail": "One or more parameters to your request was invalid.",
                    "type": "https://api.twitter.com/2/problems/invalid-request"})
        if "start_time" in params and datetime.fromisoformat(params["start_time"].replace("Z", "+00:00")) < edge:
            return 400, {}, json.dumps({"errors": [{"message": "Invalid 'start_time'"}], "title": "Invalid Request"})
        return 200, {}, reply
    return answer


@responses.activate
def test_a_since_id_older_than_x_reads_is_replaced_by_the_windows_start_and_moves_after(config, client, clock,
                                                                                        caplog):
    ids = collector.SinceIds(connect(config.state_store))
    ids.advance(QUERY, OLD)  # a quiet query: no tweet since
    responses.add_callback(responses.GET, RECENT, callback=x_recent(clock, body("search_recent_p2.json")),
                           content_type="application/json")
    with caplog.at_level(logging.INFO, logger="crawlers.x.collector"):
        # before: X answered 400 on every run, and since_id never moved
        result = collector.search(client, config, QUERY, brand="brandx")
    first = asked(responses.calls[0])
    assert "since_id" not in first and first["start_time"] == "2025-06-08T00:20:00Z"  # 7 days back, less 20 minutes
    assert result.tweets == 2 and result.newest_id == "1934000000000000005"
    assert ids.get(QUERY) == "1934000000000000005"
    (line,) = [r for r in caplog.records if r.name == "crawlers.x.collector"]
    assert line.levelno == logging.WARNING
    assert f"since_id {OLD} is 204 days 7 hours old, older than X's 7-day recent-search window" in line.getMessage()
    assert "could not be read" in line.getMessage()

    caplog.clear()
    collector.search(client, config, QUERY, brand="brandx")  # the next run is an ordinary one again
    assert asked(responses.calls[1])["since_id"] == "1934000000000000005"
    assert "start_time" not in asked(responses.calls[1])
    assert not [r for r in caplog.records if r.name == "crawlers.x.collector"]  # (other loggers' debug lines may be on)


@responses.activate
def test_a_backlog_older_than_x_reads_is_given_up_and_the_read_goes_on_from_its_newest(config, client, clock,
                                                                                       caplog):
    ids = collector.SinceIds(connect(config.state_store))
    ids.advance(QUERY, "1850000000000000000")
    ids.defer(QUERY, collector.Backlog(OLD, "1934000000000000005"))  # a capped run, then a week and more without
    responses.add_callback(responses.GET, RECENT, callback=x_recent(clock, body("search_recent_new.json")),
                           content_type="application/json")
    with caplog.at_level(logging.WARNING, logger="crawlers.x.collector"):
        result = collector.search(client, config, QUERY)
    sent = asked(responses.calls[0])
    assert sent["since_id"] == "1934000000000000005" and "until_id" not in sent and "start_time" not in sent
    assert result.newest_id == "1934000000000000020" and not result.backlog
    assert ids.get(QUERY) == "1934000000000000020" and ids.backlog(QUERY) is None
    assert f"the backlog's until_id {OLD} is 204 days 7 hours old" in caplog.records[0].getMessage()


@responses.activate
def test_a_query_x_fails_on_is_said_in_one_line_and_the_next_query_is_still_collected(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("X_BEARER_TOKEN", "cli-bearer")
    responses.get(RECENT, status=503, json={"title": "Service Unavailable"},
                  match=[matchers.query_param_matcher({"query": QUERY}, strict_match=False)])
    responses.get(RECENT, body=body("search_recent_new.json"), content_type="application/json",
                  match=[matchers.query_param_matcher({"query": "极光优选 lang:zh"}, strict_match=False)])
    # before: the first query's error ended the command, and the second was never asked
    assert main(["--config", str(_write_config(tmp_path)), "collect", "x"]) == 1  # the loop backs off a failed crawl
    out, err = capsys.readouterr()
    assert err.splitlines() == [f"x: {QUERY!r} failed: X API unreachable: X answered HTTP 503"]
    assert [params_of(c.request)["query"] for c in responses.calls] == [QUERY, "极光优选 lang:zh"]
    assert "x: '极光优选 lang:zh' · 1 pages · 1 tweets · 1 indexed · since_id - -> 1934000000000000020" in out
    from crawlers.health import source_health

    # the second query's clean run came last; status must still say that one query fails
    config = parse_config(config_dict(tmp_path, brands=brands()), str(tmp_path / "crisiswatch.yaml"))
    health = {h.source: h for h in source_health(connect(config.state_store))}["x"]
    assert (health.status, health.reason) == (
        "unreachable", "1 of 2 X queries failed: X API unreachable: X answered HTTP 503")


@responses.activate
def test_a_request_x_refuses_as_invalid_is_one_line_with_xs_reason(tmp_path, monkeypatch, capsys):
    from crawlers.health import source_health

    monkeypatch.setenv("X_BEARER_TOKEN", "cli-bearer")
    bad = "(BrandX OR"
    responses.get(RECENT, status=400, json={  # as X answers a query it cannot parse
        "errors": [{"parameters": {"query": [bad]},
                    "message": "There were errors processing your request: missing EOF at ')' (at position 10)"}],
        "title": "Invalid Request", "detail": "One or more parameters to your request was invalid.",
        "type": "https://api.twitter.com/2/problems/invalid-request"})
    cfg = _write_config(tmp_path)
    assert main(["--config", str(cfg), "collect", "x", "--query", bad]) == 1
    why = ("X: X refused the request as invalid (HTTP 400): There were errors processing your request:"
           " missing EOF at ')' (at position 10)")
    # before: "X API unreachable: X answered HTTP 400", without X's reason (earlier: tweepy's BadRequest)
    assert capsys.readouterr().err.splitlines() == [f"x: {bad!r} failed: {why}"]
    config = parse_config(config_dict(tmp_path, brands=brands()), str(cfg))
    health = {h.source: h for h in source_health(connect(config.state_store))}["x"]
    assert (health.status, health.reason) == ("invalid-request", why)
