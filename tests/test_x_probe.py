"""`crisiswatch sources check x`: tweepy against X's real API URL (served by `responses`), each answer
X gives read as the spiders' probes read theirs."""

from __future__ import annotations

import pytest
import responses
import yaml

from crawlers.health import source_health
from crisiswatch.cli import main
from crisiswatch.db import connect
from tests.conftest import FIXTURES, config_dict

RECENT = "https://api.twitter.com/2/tweets/search/recent"
QUERIES = ["(BrandX OR @brandx) -is:retweet", "极光优选 lang:zh"]


@pytest.fixture
def cfg(tmp_path, monkeypatch):
    monkeypatch.setenv("X_BEARER_TOKEN", "test-bearer")
    path = tmp_path / "crisiswatch.yaml"
    path.write_text(yaml.safe_dump(config_dict(tmp_path, brands=[
        {"key": "brandx", "names": ["BrandX"], "sources": {"x": [QUERIES[0]]}},
        {"key": "aurora", "names": ["极光优选"], "sources": {"x": [QUERIES[1]]}}]), allow_unicode=True),
        encoding="utf-8")
    return path


def check(cfg, capsys) -> tuple[int, dict[str, str]]:
    code = main(["--config", str(cfg), "sources", "check", "x"])
    lines = [line for line in capsys.readouterr().out.splitlines() if line.startswith("x ")]
    return code, {q: line for line in lines for q in QUERIES if line.startswith(f"x {q} ")}


@responses.activate
def test_every_query_ok_when_x_answers_with_valid_tweets(cfg, capsys):
    responses.get(RECENT, body=(FIXTURES / "x" / "search_recent_new.json").read_text(), content_type="application/json")
    code, found = check(cfg, capsys)
    assert code == 0 and len(found) == 2 and all(" ok " in line for line in found.values())
    assert responses.calls[0].request.headers["Authorization"] == "Bearer test-bearer"
    assert "max_results=10" in responses.calls[0].request.url
    health = {h.source: h for h in source_health(connect(yaml.safe_load(cfg.read_text())["state_db"]))}
    assert health["x"].status == "ok" and health["x"].via == "check"  # status and the dashboard see it


@pytest.mark.parametrize(("status", "expected"), [
    (400, "invalid-request X refused the request as invalid (HTTP 400): x"),
    (401, "token-refused X refused the bearer token"), (403, "gated HTTP 403"),
    (429, "blocked rate limited"), (503, "unreachable X answered HTTP 503")])
@responses.activate
def test_each_refusal_has_its_status(cfg, capsys, status, expected):
    responses.get(RECENT, json={"title": "refused", "detail": "x", "type": "about:blank"}, status=status)
    code, found = check(cfg, capsys)
    assert code == 1 and all(f" {expected}" in line for line in found.values()), found


@responses.activate
def test_a_changed_reply_or_invalid_tweets_are_layout_changes(cfg, capsys):
    responses.get(RECENT, json={"data": {"id": "1"}})  # an object where a list was
    responses.get(RECENT, json={"data": [{"id": "1934000000000000099", "author_id": "1"}]})  # no text, no time
    code, found = check(cfg, capsys)
    assert code == 1
    assert "layout-changed the reply is not X API v2" in found[QUERIES[0]]
    assert "layout-changed tweets fail validation" in found[QUERIES[1]]


def test_no_token_names_the_variable(cfg, capsys, monkeypatch):
    monkeypatch.delenv("X_BEARER_TOKEN")
    code, found = check(cfg, capsys)
    assert code == 1 and all("needs-token no bearer token" in line and "X_BEARER_TOKEN" in line
                             for line in found.values())


@responses.activate
def test_the_monthly_usage_cap_is_gated_not_a_rate_limit(cfg, capsys):
    responses.get(RECENT, status=429, json={  # as X answers once the month's post reads are used up
        "title": "UsageCapExceeded", "period": "Monthly", "scope": "Product",
        "detail": "Usage cap exceeded: Monthly product cap", "type": "https://api.twitter.com/2/problems/usage-capped"},
        headers={"x-rate-limit-limit": "450", "x-rate-limit-remaining": "449"})
    code, found = check(cfg, capsys)
    # before: "blocked rate limited (HTTP 429)", which a wait of minutes would lift; this one lasts the month
    assert code == 1 and all(" gated X's usage cap is reached (HTTP 429: Usage cap exceeded: Monthly product cap)"
                             in line for line in found.values()), found
