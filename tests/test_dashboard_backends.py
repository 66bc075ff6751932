"""The dashboard's numbers come only through `Backend` queries, so SQLite and OpenSearch show the same view."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from crisiswatch.db import connect
from crisiswatch.mention import Mention
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


def test_sqlite_stored_counts_equal_counting_the_mentions(tmp_path, monkeypatch):
    """The pre-aggregated counts answer every aligned window like the mentions do, after replacements too."""
    import index.sqlite_counts as counts
    from index.base import MentionFilter

    backend = open_backend(f"sqlite:///{tmp_path / 'index.db'}")
    data = demo_mentions(NOW, count=400, seed=3)
    backend.upsert(data)
    moved = data[:60]  # re-crawled: new time, brands, tone and category; the old counts must leave
    for n, m in enumerate(moved):
        m.created_at -= timedelta(hours=n % 7, minutes=n)
        m.brands = [["beichen"], ["aurora", "beichen"], []][n % 3]
        m.sentiment = 0.9 if n % 2 else 0.05
        m.category = None if n % 2 else "price"
    backend.upsert(moved + moved[:5])  # a repeated id in one batch counts once
    since, until = NOW - timedelta(days=1, hours=2), NOW + timedelta(hours=6)
    since = since.replace(minute=0, second=0, microsecond=0)
    until = until.replace(hour=until.hour // 6 * 6, minute=0, second=0, microsecond=0)
    filters = [MentionFilter(since=since, until=until), MentionFilter(brand="aurora", since=since, until=until),
               MentionFilter(brand="", since=since, until=until),
               MentionFilter(source="weibo", sentiment_band="negative", since=since, until=until),
               MentionFilter(brand="beichen", category="price", since=since, until=until),
               MentionFilter(severity="紧急", since=since, until=until)]
    asked = [(f, step, group) for f in filters for step in (900, 3600, 6 * 3600)
             for group in (None, "brand", "category", "sentiment_band", "severity")]

    def answers():
        return ([backend.counts_over_time(f, step, group) for f, step, group in asked],
                [backend.counts_by(f, field, 20) for f in filters for field in ("brand", "source", "category",
                                                                                 "sentiment_band")],
                [backend.count(f) for f in filters])

    assert counts.step_for(filters[0]) == 3600 and counts.step_for(filters[0], 900) == 900
    stored = answers()
    monkeypatch.setattr(counts, "STEPS", ())  # every question goes to the mentions
    counted = answers()
    backend.close()
    assert len(data) - 10 < stored[2][0] <= len(data) and stored[1][0][0][1] > 0
    assert stored == counted


def test_sqlite_counts_are_built_for_a_database_from_before_them(tmp_path):
    from index.base import MentionFilter

    path = tmp_path / "index.db"
    backend = open_backend(f"sqlite:///{path}")
    backend.upsert(demo_mentions(NOW, count=120, seed=9))
    backend.conn.execute("DELETE FROM mention_counts")
    backend.conn.execute("DELETE FROM mention_counts_built")  # as an older release left it
    backend.close()
    reopened = open_backend(f"sqlite:///{path}")
    day = MentionFilter(since=NOW.replace(hour=0, minute=0) - timedelta(days=1), until=NOW.replace(hour=12, minute=0))
    assert reopened.count(day) == reopened.conn.execute("SELECT COUNT(*) FROM mentions").fetchone()[0] == 120
    reopened.close()


def test_sqlite_by_reach_walks_or_sorts_with_the_same_answer(tmp_path, monkeypatch):
    import index.sqlite as sqlite_module
    from index.base import MentionFilter

    backend = open_backend(f"sqlite:///{tmp_path / 'index.db'}")
    backend.upsert(demo_mentions(NOW, count=300, seed=4))
    filters = [MentionFilter(sentiment_band="negative", since=NOW - timedelta(hours=3), until=NOW),
               MentionFilter(brand="aurora", since=NOW - timedelta(hours=20), until=NOW),
               MentionFilter(source="jd", sentiment_band="negative")]
    pages = [(f, offset) for f in filters for offset in (0, 10, 40)]

    def answers(walk: int) -> list[list[str]]:
        monkeypatch.setattr(sqlite_module, "REACH_WALK", walk)
        return [[m.id for m in backend.by_reach(f, 10, offset)] for f, offset in pages]

    walked, sorted_ = answers(10**9), answers(0)
    backend.close()
    assert walked == sorted_ and sum(map(len, walked)) > 30


def _authors_posts(now: datetime) -> list[Mention]:
    """2,400 authors (more than one composite page) with followers from a few to millions, a tie at the
    tenth place, and a source with no follower counts at all, where posts decide the order."""
    out = []
    for n in range(3000):
        author = n % 2400
        followers = 0 if author >= 2000 else (author * 7919) % 1_000_000
        if author in (5, 6, 7):
            followers = 999_999  # tied at the top: posts, then the id, decide
        out.append(Mention(source="tousu_sina" if author >= 2000 else "weibo", native_id=f"a{n}",
                           text="极光优选的快递又晚了", created_at=now - timedelta(minutes=n % 600),
                           author={"id": f"u{author:04d}", "name": f"作者{author}", "followers": followers},
                           brands=["aurora"], sentiment=0.1 if n % 3 else 0.9))
    return out


def test_top_authors_are_the_same_on_both_and_take_a_few_searches_however_many_authors(tmp_path, osmem_server):
    """OpenSearch walked every author of the window, a thousand a page, on every live update (200,000 posts a
    day by 80,000 authors: 80 searches a second per open dashboard); now three, with the same answer as SQLite."""
    data = _authors_posts(NOW)
    sqlite = open_backend(f"sqlite:///{tmp_path / 'index.db'}")
    clone = osmem_server.clone()
    search = open_backend(f"opensearch://{clone.url.split('://', 1)[1]}")
    search.ensure_ready()
    searches = []
    real_search = search._search
    search._search = lambda body: searches.append(body) or real_search(body)
    try:
        for backend in (sqlite, search):
            backend.upsert(data)
        for view in (View(), View(source="tousu_sina"), View(source="weibo", range="6h")):
            flt = view.mention_filter(NOW)
            searches.clear()
            found = search.top_authors(flt, limit=10)
            assert found == sqlite.top_authors(flt, limit=10), view
            if view.source != "tousu_sina":  # no follower counts: ties all the way, every author is walked
                assert len(searches) <= 3, (view, len(searches))
        assert [a.author_id for a in search.top_authors(View().mention_filter(NOW), 3)] == ["u0005", "u0006", "u0007"]
    finally:
        sqlite.close()
        search.close()
        clone.close()
