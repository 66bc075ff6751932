"""Negative-spike detection over the index: one surge, one incident; restarts don't re-alert."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from crisiswatch.db import connect
from crisiswatch.mention import Mention
from index import open_backend
from monitor.detection import DetectionService
from monitor.detectors.negative_spike import NegativeSpikeRule, poisson_sf
from monitor.incidents.service import IncidentService

T0 = datetime(2025, 6, 14, 0, 0, tzinfo=UTC)


@pytest.fixture
def config(store_config):
    """This module's tests run on each state store (SQLite, PostgreSQL)."""
    return store_config


def posts(backend, minute: int, negative: int, positive: int = 1, start: int = 0) -> None:
    backend.upsert([
        Mention(source="weibo", native_id=f"{minute}-{i}", text=f"极光优选 post {i}", brands=["aurora"],
                created_at=T0 + timedelta(minutes=minute, seconds=i % 60),
                sentiment=0.05 if i < negative else 0.95)
        for i in range(start, start + negative + positive)
    ])


def test_poisson_tail():
    assert abs(poisson_sf(1, 0.5) - (1 - 2.718281828 ** -0.5)) < 1e-9
    assert poisson_sf(0, 3) == 1.0
    assert poisson_sf(30, 1) < 1e-20


def test_min_count_and_zero_baseline_never_fire(config):
    rule = NegativeSpikeRule(config.detection.negative_spike)
    from monitor.detectors.base import Observation

    for n in range(3):  # below min_count even against a near-zero baseline
        assert rule.observe(Observation(T0, 1, "brand=new", "new", n, n)) is None
    assert rule.observe(Observation(T0, 1, "brand=new", "new", 0, 0)) is None


def test_surge_is_one_incident_that_resolves_and_survives_restart(config, tmp_path):
    backend = open_backend(config.index.url)
    for minute in range(0, 180):
        posts(backend, minute, negative=1 if minute % 10 == 0 else 0)
    for minute in range(180, 200):  # the surge
        posts(backend, minute, negative=12)
    conn = connect(config.state_store)
    service = DetectionService(config, backend, conn)
    changes = service.advance(T0 + timedelta(minutes=190))
    opened = [c for c in changes if c.kind == "opened"]
    assert len(opened) == 1
    assert opened[0].incident.opened_at == T0 + timedelta(minutes=180)
    facts = opened[0].incident.facts
    assert facts["sentiment_mix"]["negative"] >= 12 and facts["top_posts"]

    # a restart: new service objects, same database; the surge goes on and is not re-opened
    service = DetectionService(config, backend, connect(config.state_store))
    changes = service.advance(T0 + timedelta(minutes=200))
    assert not [c for c in changes if c.kind == "opened"]
    assert len(IncidentService(conn).list()) == 1

    # quiet again: after resolve_after_minutes without firing, one resolve event
    for minute in range(200, 260):
        posts(backend, minute, negative=0)
    changes = service.advance(T0 + timedelta(minutes=260))
    # windowed rules (negative share) may still update it while the surge is in their window
    assert [c.kind for c in changes if c.kind != "updated"] == ["resolved"]
    assert IncidentService(conn).list()[0].status == "resolved"


def test_baseline_is_not_taught_by_the_surge(config):
    rule = NegativeSpikeRule(config.detection.negative_spike)
    from monitor.detectors.base import Observation

    for m in range(60):
        rule.observe(Observation(T0 + timedelta(minutes=m), 1, "k", "b", 1, 0))
    before = rule.baseline("k")
    for m in range(60, 90):
        assert rule.observe(Observation(T0 + timedelta(minutes=m), 1, "k", "b", 20, 20)) is not None
    assert rule.baseline("k") == before


def test_explanation_counts_copies_of_the_same_story(config):
    from monitor.explain import explain

    backend = open_backend(config.index.url)
    backend.upsert([
        Mention(source="weibo", native_id=f"copy{i}", text="极光优选的快递十天没到，客服只会说在核实", brands=["aurora"],
                created_at=T0 + timedelta(seconds=i), sentiment=0.05, cluster_id="story1",
                author={"id": f"u{i}", "name": f"n{i}", "followers": 10 + i})
        for i in range(7)
    ])
    facts = explain(backend, "aurora", since=T0, until=T0 + timedelta(minutes=5))
    assert facts["max_cluster_size"] == 7
    assert all(p["cluster_size"] == 7 for p in facts["top_posts"])



def test_an_author_of_unknown_follower_count_is_ranked_and_said_as_unknown(config):
    from monitor.explain import explain

    backend = open_backend(config.index.url)
    # s.weibo.com's results give no follower count: the facts crashed on sorting None before
    backend.upsert([
        Mention(source="weibo", native_id=f"html{i}", text=f"极光优选的快递丢了第{i}次", brands=["aurora"],
                created_at=T0 + timedelta(seconds=i), sentiment=0.05,
                author={"id": f"h{i}", "name": f"n{i}", "followers": followers})
        for i, followers in enumerate([None, 0, 300, None])
    ])
    facts = explain(backend, "aurora", since=T0, until=T0 + timedelta(minutes=5), top=4)
    assert [(a["name"], a["followers"]) for a in facts["top_authors"]] == [
        ("n2", 300), ("n1", 0), ("n0", None), ("n3", None)]
