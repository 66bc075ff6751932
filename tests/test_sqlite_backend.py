"""The embedded backend's queries (the contract suite for all backends lives in test_backend_contract)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from crisiswatch.mention import Mention
from index import open_backend
from index.base import MentionFilter

T0 = datetime(2025, 6, 14, 4, 0, tzinfo=UTC)


def mention(n: int, text: str, minutes: int, brand: str = "aurora", sentiment: float = 0.5, followers: int = 10,
            source: str = "weibo", category: str | None = None) -> Mention:
    return Mention(source=source, native_id=str(n), text=text, created_at=T0 + timedelta(minutes=minutes),
                   brands=[brand], sentiment=sentiment, category=category,
                   author={"id": f"u{n % 3}", "name": f"user{n % 3}", "followers": followers * (n % 3 + 1)})


@pytest.fixture
def backend(tmp_path):
    b = open_backend(f"sqlite:///{tmp_path / 'idx.db'}")
    b.upsert([
        mention(1, "极光优选快递五天没到，客服不理人", 0, sentiment=0.1, category="logistics"),
        mention(2, "极光优选的空气炸锅很好用", 0, sentiment=0.9),
        mention(3, "极光优选物流太慢了", 1, sentiment=0.2, category="logistics"),
        mention(4, "另一个品牌的退款问题", 2, brand="other", sentiment=0.1, source="jd", category="after_sales"),
    ])
    yield b
    b.close()


def test_same_mention_twice_is_stored_once(backend):
    backend.upsert([mention(1, "极光优选快递五天没到，客服不理人（已编辑）", 0, sentiment=0.1)])
    assert backend.count() == 4
    assert backend.get(mention(1, "x", 0).id).text.endswith("（已编辑）")


def test_counts_over_time_by_brand_and_band(backend):
    buckets = backend.counts_over_time(MentionFilter(), 60, group_by="brand")
    assert [(b.start - T0, b.key, b.count) for b in buckets] == [
        (timedelta(0), "aurora", 2), (timedelta(minutes=1), "aurora", 1), (timedelta(minutes=2), "other", 1)]
    neg = backend.counts_over_time(MentionFilter(brand="aurora", sentiment_band="negative"), 120)
    assert [(b.start - T0, b.count) for b in neg] == [(timedelta(0), 2)]


def test_counts_by_and_filters(backend):
    assert backend.counts_by(MentionFilter(), "category") == [("logistics", 2), ("after_sales", 1)]
    assert backend.counts_by(MentionFilter(), "source") == [("weibo", 3), ("jd", 1)]
    assert backend.count(MentionFilter(since=T0 + timedelta(minutes=1))) == 2
    assert backend.count(MentionFilter(until=T0 + timedelta(minutes=1))) == 2


def test_top_authors_by_reach(backend):
    authors = backend.top_authors(MentionFilter(brand="aurora"))
    assert [a.author_id for a in authors] == ["u2", "u1", "u0"]
    assert authors[1].negative == 1


def test_latest_and_scan_order(backend):
    assert [m.native_id for m in backend.latest(MentionFilter(), limit=2)] == ["4", "3"]
    assert [m.native_id for m in backend.scan(MentionFilter(), batch_size=1)] == ["1", "2", "3", "4"]


def test_chinese_full_text_search(backend):
    assert {m.native_id for m in backend.search("快递")} == {"1"}
    assert {m.native_id for m in backend.search("物流")} == {"3"}
    assert {m.native_id for m in backend.search("极光优选 退款")} == set()
    assert [m.native_id for m in backend.search("极光优选", MentionFilter(sentiment_band="positive"))] == ["2"]


def test_hostile_search_text_is_only_text(backend):
    for query in ['"', "NEAR(", "a* OR b", "'; DROP TABLE mentions; --"]:
        backend.search(query)
    assert backend.count() == 4


def test_text_that_looks_like_html_survives_the_round_trip(tmp_path):
    # spiders' HTML is stripped once on the way in; what a person literally wrote stays as written
    b = open_backend(f"sqlite:///{tmp_path / 'rt.db'}")
    m = Mention(source="weibo", native_id="x", text="<b>快递</b> 没到 &amp; 客服说 &lt;script&gt;", created_at=T0)
    assert m.text == "快递 没到 & 客服说 <script>"
    b.upsert([m])
    assert b.get(m.id).text == "快递 没到 & 客服说 <script>"
    b.upsert([b.get(m.id)])  # and again: nothing is eaten on a second trip
    assert b.get(m.id).text == m.text


def test_search_follows_a_mention_whose_text_changed(backend):
    changed = mention(1, "极光优选的退款终于到账了", 0, sentiment=0.9)
    backend.upsert([changed])
    assert "1" not in {m.native_id for m in backend.search("快递")}
    assert [m.native_id for m in backend.search("退款 到账")] == ["1"]
    assert backend.count() == 4


def test_top_authors_walk_matches_ranking_every_author(tmp_path):
    """The reach walk (most followed first) must give exactly the full ranking, ties included."""
    import random

    rng = random.Random(3)
    b = open_backend(f"sqlite:///{tmp_path / 'authors.db'}")
    b.upsert([Mention(source="weibo", native_id=str(i), text="极光优选 帖子", created_at=T0 + timedelta(minutes=i),
                      brands=[rng.choice(["aurora", "other"])], sentiment=rng.choice([0.1, 0.9]),
                      author={"id": f"a{(a := rng.randrange(40))}", "name": f"n{a}",
                              "followers": rng.choice([10, 10, 500, 500, 9000])})
              for i in range(600)])
    for flt in (MentionFilter(), MentionFilter(brand="aurora"),
                MentionFilter(since=T0 + timedelta(minutes=100), until=T0 + timedelta(minutes=300))):
        walk = b.top_authors(flt, limit=7)
        assert b._reach_candidates(flt, 7) is not None  # the walk path really ran
        everyone = b.top_authors(flt, limit=1000)[:7]     # ranking every author: the reference
        assert walk == everyone
    assert b._reach_candidates(MentionFilter(), 7, budget=1) is None


def test_search_walks_matches_newest_first_across_chunks(tmp_path, monkeypatch):
    import random

    import index.sqlite as sqlite_backend

    monkeypatch.setattr(sqlite_backend, "SEARCH_CHUNK", 3)  # force many chunks
    rng = random.Random(5)
    b = open_backend(f"sqlite:///{tmp_path / 'search.db'}")
    posts = [Mention(source="weibo", native_id=str(i), created_at=T0 + timedelta(seconds=rng.randrange(40)),
                     text=rng.choice(["极光优选快递没到", "极光优选很好用", "快递员态度差"]),
                     brands=[rng.choice(["aurora", "other"])], sentiment=rng.choice([0.1, 0.9]))
             for i in range(80)]
    b.upsert(posts)
    for flt in (MentionFilter(), MentionFilter(brand="aurora", sentiment_band="negative"),
                MentionFilter(since=T0 + timedelta(seconds=10), until=T0 + timedelta(seconds=25))):
        expected = sorted((m for m in posts if "快递" in m.text
                           and (flt.brand is None or flt.brand in m.brands)
                           and (flt.sentiment_band is None or m.sentiment_band == flt.sentiment_band)
                           and (flt.since is None or m.created_at >= flt.since)
                           and (flt.until is None or m.created_at < flt.until)),
                          key=lambda m: (m.created_at, m.id), reverse=True)[:7]
        assert [m.id for m in b.search("快递", flt, limit=7)] == [m.id for m in expected]


def test_a_mention_that_moves_in_time_is_found_at_its_new_time(tmp_path):
    b = open_backend(f"sqlite:///{tmp_path / 'move.db'}")
    m = Mention(source="weibo", native_id="1", text="极光优选快递没到", created_at=T0)
    b.upsert([m])
    moved = m.model_copy(update={"created_at": T0 + timedelta(hours=2)})
    b.upsert([moved])
    assert [x.created_at for x in b.search("快递")] == [T0 + timedelta(hours=2)]
    assert b.search("快递", MentionFilter(until=T0 + timedelta(hours=1))) == []
    assert b.conn.execute("SELECT COUNT(*) FROM mention_text").fetchone()[0] == 1
