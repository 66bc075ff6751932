"""The dashboard's numbers come only through `Backend` queries, so SQLite and OpenSearch show the same view."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from crisiswatch.db import connect
from index import open_backend
from monitor.dashboard.filters import View
from monitor.dashboard.service import DashboardService
from monitor.incidents.service import IncidentService
from playbooks.tickets.service import TicketService
from tests.browser.dashboard_site import BRANDS, demo_mentions

NOW = datetime(2026, 3, 2, 9, 30, 0, tzinfo=UTC)
VIEWS = [View(), View(brand="aurora", range="6h"), View(source="weibo", category="logistics"), View(range="1h")]


def test_same_overview_on_sqlite_and_opensearch(tmp_path, osmem_server):
    data = demo_mentions(NOW, count=300, seed=11)
    conn = connect(tmp_path / "state.db")
    incidents, tickets = IncidentService(conn), TicketService(conn)
    names = {k: [v] for k, v in BRANDS.items()}
    sqlite = open_backend(f"sqlite:///{tmp_path / 'index.db'}")
    clone = osmem_server.clone()
    search = open_backend(f"opensearch://{clone.url.split('://', 1)[1]}")
    search.ensure_ready()
    try:
        for backend in (sqlite, search):
            backend.upsert(data)
        answers = [[DashboardService(b, incidents, tickets, names).overview(v, now=NOW) for v in VIEWS]
                   for b in (sqlite, search)]
    finally:
        sqlite.close()
        search.close()
        clone.close()
    assert answers[0][0]["total"] == len(data)
    assert answers[1][2]["total"] > 0 and answers[1][3]["total"] > 0
    assert answers[0] == answers[1]


def test_sqlite_range_counts_equal_the_plain_group_by(tmp_path, monkeypatch):
    """The per-bucket range counts the dashboard's speed relies on answer exactly like one GROUP BY."""
    import index.sqlite as sqlite_module
    from index.base import MentionFilter

    backend = open_backend(f"sqlite:///{tmp_path / 'index.db'}")
    data = demo_mentions(NOW, count=300, seed=5)
    data[0].brands = ["aurora", "beichen"]  # counted once per brand when grouped by brand
    data[1].brands = []
    backend.upsert(data)
    since, until = NOW - timedelta(hours=20, seconds=17), NOW + timedelta(seconds=1)  # not on bucket edges
    filters = [MentionFilter(since=since, until=until), MentionFilter(brand="aurora", since=since, until=until),
               MentionFilter(source="weibo", sentiment_band="negative", since=since, until=until),
               MentionFilter(brand="beichen", category="logistics", since=since, until=until)]
    asked = [(f, step, group) for f in filters for step in (60, 900, 7 * 3600) for group in (None, "brand")]
    fast = [backend.counts_over_time(f, step, group) for f, step, group in asked]
    monkeypatch.setattr(sqlite_module, "_MAX_RANGE_BUCKETS", -1)  # force the plain GROUP BY
    plain = [backend.counts_over_time(f, step, group) for f, step, group in asked]
    backend.close()
    assert any(len(buckets) > 3 for buckets in fast)
    assert fast == plain
