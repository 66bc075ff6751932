"""An incident's facts and its page count the whole window, however many posts a crisis brings: what is
read post by post (terms, authors, top posts) comes from the newest posts, and says so."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from crisiswatch.audit import AuditLog
from crisiswatch.db import connect
from crisiswatch.mention import Author, Mention, mention_id
from index import open_backend
from index.base import MentionFilter
from monitor.dashboard.incident_page import IncidentPageService
from monitor.explain import SAMPLE, explain
from monitor.incidents.service import IncidentService
from playbooks.statements import StatementStore
from playbooks.tickets.service import TicketService
from tests.test_alert_helpers import open_incident

NOW = datetime(2025, 6, 14, 6, 30, tzinfo=UTC)
STORY = mention_id("weibo", "c0")  # a cluster is named by its first post


@pytest.fixture
def crisis(config):
    """1,500 angry copies of one story 12 to 29 minutes ago, then 500 ordinary reviews in the last ten."""
    backend = open_backend(config.index.url)
    backend.upsert([Mention(source="weibo", native_id=f"c{i}", url=f"https://weibo.com/1/c{i}",
                            text="极光优选充电宝冒烟了，大家小心", author=Author(id=f"u{i}", name=f"网友{i}"),
                            created_at=NOW - timedelta(minutes=12, seconds=i % 1000), brands=["aurora"],
                            sentiment=0.05, cluster_id=STORY, category="product_quality") for i in range(1500)]
                   + [Mention(source="jd", native_id=f"n{i}", url=f"https://item.jd.com/1.html#n{i}",
                              text=f"极光优选 普通评论 {i}", author=Author(id=f"v{i}", name=f"买家{i}"),
                              created_at=NOW - timedelta(seconds=1 + i), brands=["aurora"], sentiment=0.5)
                      for i in range(500)])
    return backend


def test_an_incidents_facts_count_every_post_of_the_window(crisis):
    facts = explain(crisis, "aurora", since=NOW - timedelta(minutes=30), until=NOW)
    # counted over the newest 500 they read "500 mentions, all neutral, no sources, no copies"
    assert facts["mentions"] == 2000
    assert facts["sentiment_mix"] == {"negative": 1500, "neutral": 500}
    assert facts["sources"] == {"weibo": 1500} and facts["categories"] == {"product_quality": 1500}
    assert facts["max_cluster_size"] == 1500
    assert facts["sampled"] == SAMPLE  # the terms and top posts were read from the newest 500


def test_the_incident_page_counts_the_window_too(config, crisis):
    conn = connect(config.state_store)
    incident = open_incident(conn, at=NOW - timedelta(minutes=12))
    page = IncidentPageService(crisis, IncidentService(conn), TicketService.from_config(config, conn),
                               StatementStore(conn), AuditLog(conn), lambda brand: brand)
    spread = page.spreading(incident, MentionFilter(brand="aurora", since=NOW - timedelta(minutes=30), until=NOW))
    assert (spread["mentions"], spread["negative"]) == (2000, 1500)
    assert spread["sources"] == {"weibo": 1500} and spread["categories"] == {"product_quality": 1500}
    assert [(c["size"], c["sample"]["text"], c["sources"]) for c in spread["clusters"]] == [
        (1500, "极光优选充电宝冒烟了，大家小心", ["weibo"])]
