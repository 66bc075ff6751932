"""One contract for every backend: SQLite, OpenSearch (opensearch-py) and Elasticsearch (official client).

The two search backends run against a real osmem-server clone per test (the official client through
`EsCompatProxy`), and must answer exactly like SQLite for the same data.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest

from crisiswatch.mention import CATEGORIES, SEVERITIES, Mention
from index import open_backend
from index.base import MentionFilter
from tests.es_compat_proxy import EsCompatProxy

T0 = datetime(2025, 6, 14, 4, 0, 13, tzinfo=UTC)  # not on a bucket edge: buckets must align to the epoch
BACKENDS = ["sqlite", "opensearch", "elasticsearch"]


def mention(n: int, text: str, seconds: int, brands: tuple[str, ...] = ("aurora",), sentiment: float | None = 0.5,
            author: str = "u1", followers: int | None = 10, source: str = "weibo", category: str | None = None,
            **extra) -> Mention:
    return Mention(source=source, native_id=str(n), text=text, created_at=T0 + timedelta(seconds=seconds),
                   brands=list(brands), sentiment=sentiment, category=category,
                   author={"id": author, "name": f"name-{author}-{n}", "followers": followers}, **extra)


DATA = [
    mention(1, "极光优选快递五天没到，客服不理人", 0, sentiment=0.1, category="logistics", author="u1", followers=50),
    mention(2, "极光优选的空气炸锅很好用", 0, sentiment=0.9, author="u2", followers=50),
    mention(3, "极光优选物流太慢了，快递员态度差", 47, sentiment=0.2, category="logistics", author="u3",
            followers=900),
    mention(4, "另一个品牌的退款问题", 130, brands=("other",), sentiment=0.1, source="jd", category="after_sales",
            author="u1", followers=60),
    mention(5, "两个品牌一起被骂：极光和北辰都退款慢", 130, brands=("aurora", "beichen"), sentiment=0.15,
            category="after_sales", author="u4", followers=5),
    mention(6, "没有品牌的路人吐槽 iPhone15 价格", 301, brands=(), sentiment=None, author="", followers=0),
    mention(7, "极光优选 APP 闪退", 301, sentiment=0.5, category="other", author="u2", followers=50,
            severity="重要"),
]


@pytest.fixture(params=BACKENDS)
def make_backend(request, tmp_path):
    """A function returning a fresh, empty, ready backend of the parametrised kind."""
    opened = []

    def make():
        if request.param == "sqlite":
            backend = open_backend(f"sqlite:///{tmp_path / f'idx{len(opened)}.db'}")
        else:
            clone = request.getfixturevalue("osmem_server").clone()
            opened.append(clone)
            url = clone.url
            if request.param == "elasticsearch":
                proxy = EsCompatProxy(clone.url).start()
                opened.append(proxy)
                url = proxy.url
            backend = open_backend(f"{request.param}://{url.split('://', 1)[1]}")
            backend.ensure_ready()
        opened.append(backend)
        return backend

    make.kind = request.param
    yield make
    for thing in reversed(opened):
        (thing.stop if isinstance(thing, EsCompatProxy) else thing.close)()


@pytest.fixture
def backend(make_backend):
    b = make_backend()
    assert b.upsert(DATA).written == len(DATA)
    return b


def test_backend_kind(make_backend):
    b = make_backend()
    assert b.name == make_backend.kind


def test_idempotent_upsert_keeps_one_copy_and_the_last_version(backend):
    edited = mention(1, "极光优选快递五天没到（已编辑）", 0, sentiment=0.1, category="logistics", followers=50)
    backend.upsert([edited, edited])
    backend.upsert(DATA[1:3])
    assert backend.count() == len(DATA)
    assert backend.get(edited.id).text.endswith("（已编辑）")
    assert backend.get("no-such-id") is None


def test_counts_per_epoch_aligned_bucket(backend):
    buckets = backend.counts_over_time(MentionFilter(), 60)
    assert [(b.start.isoformat(), b.key, b.count) for b in buckets] == [
        ("2025-06-14T04:00:00+00:00", "", 2), ("2025-06-14T04:01:00+00:00", "", 1),
        ("2025-06-14T04:02:00+00:00", "", 2), ("2025-06-14T04:05:00+00:00", "", 2)]
    odd = backend.counts_over_time(MentionFilter(), 7)
    assert all(b.start.timestamp() % 7 == 0 for b in odd) and sum(b.count for b in odd) == len(DATA)


def test_counts_grouped_by_brand_and_missing_category(backend):
    by_brand = backend.counts_over_time(MentionFilter(), 120, group_by="brand")
    assert [(b.start.strftime("%H:%M"), b.key, b.count) for b in by_brand] == [
        ("04:00", "aurora", 3), ("04:02", "aurora", 1), ("04:02", "beichen", 1), ("04:02", "other", 1),
        ("04:04", "", 1), ("04:04", "aurora", 1)]
    by_cat = backend.counts_over_time(MentionFilter(brand="aurora"), 300, group_by="category")
    assert [(b.key, b.count) for b in by_cat] == [("", 1), ("after_sales", 1), ("logistics", 2), ("other", 1)]
    with pytest.raises(ValueError):
        backend.counts_over_time(MentionFilter(), 60, group_by="author")


def test_counts_by_orders_by_count_then_key(backend):
    assert backend.counts_by(MentionFilter(), "brand") == [("aurora", 5), ("beichen", 1), ("other", 1)]
    assert backend.counts_by(MentionFilter(), "category") == [("after_sales", 2), ("logistics", 2), ("other", 1)]
    assert backend.counts_by(MentionFilter(), "sentiment_band", limit=2) == [("negative", 4), ("neutral", 1)]
    assert backend.counts_by(MentionFilter(source="jd"), "severity") == []
    assert backend.counts_by(MentionFilter(), "severity") == [("重要", 1)]
    assert backend.counts_by(MentionFilter(), "cluster_id") == []  # none of these posts was clustered


def test_filters(backend):
    assert backend.count() == 7
    assert backend.count(MentionFilter(brand="aurora")) == 5
    assert backend.count(MentionFilter(brand="aurora", sentiment_band="negative")) == 3
    assert backend.count(MentionFilter(since=T0 + timedelta(seconds=47))) == 5
    assert backend.count(MentionFilter(until=T0 + timedelta(seconds=47))) == 2
    assert backend.count(MentionFilter(source="jd", category="after_sales")) == 1
    assert backend.count(MentionFilter(sentiment_band="unknown")) == 1


def test_top_authors_by_reach_then_mentions_then_id(backend):
    authors = backend.top_authors(MentionFilter())
    assert [(a.author_id, a.followers, a.mentions, a.negative) for a in authors] == [
        ("u3", 900, 1, 1), ("u1", 60, 2, 2), ("u2", 50, 2, 0), ("u4", 5, 1, 1)]
    assert authors[1].name == "name-u1-4"  # the greatest name seen, as SQLite's MAX()
    assert [a.author_id for a in backend.top_authors(MentionFilter(brand="aurora"), limit=2)] == ["u3", "u2"]


def test_an_unknown_follower_count_reads_back_as_none_and_ranks_below_zero(backend):
    # s.weibo.com's results give no count: u5 is known only from them, u1 from both, u0 has none at all
    backend.upsert([mention(8, "极光优选的快递又丢了", 400, sentiment=0.1, author="u5", followers=None),
                    mention(9, "极光优选退款还没到", 410, author="u5", followers=None),
                    mention(10, "极光优选仓库爆仓了", 420, author="u1", followers=None),
                    mention(11, "极光优选新品不错", 430, author="u0", followers=0)])
    assert backend.get(DATA[0].id).author.followers == 50 and backend.get(mention(8, "x", 0).id).author.followers is None
    ranked = [(a.author_id, a.followers, a.mentions) for a in backend.top_authors(MentionFilter())]
    assert ranked == [("u3", 900, 1), ("u1", 60, 3), ("u2", 50, 2), ("u4", 5, 1), ("u0", 0, 1), ("u5", None, 2)]
    # the limit-th author known, then unknown: the walk from the most followed finds the same authors
    assert [a.author_id for a in backend.top_authors(MentionFilter(), limit=5)] == [r[0] for r in ranked[:5]]
    assert [a.author_id for a in backend.top_authors(MentionFilter(), limit=6)] == [r[0] for r in ranked]
    # the posts of unknown reach come after every known one, 0 included, newest first among them
    widest = [m.native_id for m in backend.by_reach(MentionFilter(), limit=20)]
    assert widest[-3:] == ["10", "9", "8"] and widest.index("11") < widest.index("10")


def test_a_post_read_again_without_a_follower_count_keeps_the_one_it_had(backend):
    # read from the JSON API with its count, then from s.weibo.com's results, which show none
    backend.upsert([mention(30, "极光优选快递丢了", 600, author="big", followers=2_300_000)])
    again = mention(30, "极光优选快递丢了，已投诉", 600, author="big", followers=None)
    unknown = mention(31, "极光优选退款慢", 610, author="small", followers=None)
    backend.upsert([again, unknown])
    assert backend.get(again.id).author.followers == 2_300_000 and backend.get(again.id).text.endswith("已投诉")
    assert backend.get(unknown.id).author.followers is None
    assert backend.top_authors(MentionFilter())[0].followers == 2_300_000


def test_a_mention_that_replaces_an_older_id_of_its_post_leaves_one_copy(backend):
    # an X post stored under its edited version's id by an older release, read again under its first id
    old = mention(20, "极光优选的台灯坏了", 500, source="x", author="u9")
    backend.upsert([old])
    assert backend.count() == len(DATA) + 1
    again = mention(21, "极光优选的台灯坏了，客服不管", 500, source="x", author="u9", replaces=[old.id, "never-stored"])
    backend.upsert([again])
    assert backend.count() == len(DATA) + 1 and backend.get(old.id) is None
    assert [m.native_id for m in backend.search("台灯")] == ["21"]
    assert sum(b.count for b in backend.counts_over_time(MentionFilter(source="x"), 900)) == 1


def test_latest_newest_first_ties_by_id(backend):
    latest = backend.latest(MentionFilter(), limit=4)
    tied = sorted([DATA[5].id, DATA[6].id], reverse=True) + sorted([DATA[3].id, DATA[4].id], reverse=True)
    assert [m.id for m in latest] == tied
    assert [m.native_id for m in backend.latest(MentionFilter(brand="other"))] == ["4"]


def test_by_reach_widest_first_in_pages(backend):
    widest = [m.id for m in sorted(DATA, key=lambda m: (m.author.followers, m.created_at, m.id), reverse=True)]
    assert [m.id for m in backend.by_reach(MentionFilter(), limit=4)] == widest[:4]
    assert [m.id for m in backend.by_reach(MentionFilter(), limit=4, offset=4)] == widest[4:]
    assert [m.native_id for m in backend.by_reach(MentionFilter(brand="aurora", sentiment_band="negative"))] == [
        "3", "1", "5"]


def test_chinese_search(backend):
    assert [m.native_id for m in backend.search("快递")] == ["3", "1"]
    assert [m.native_id for m in backend.search("物流 快递员")] == ["3"]
    assert [m.native_id for m in backend.search("退款", MentionFilter(brand="aurora"))] == ["5"]
    assert [m.native_id for m in backend.search("iphone15")] == ["6"]
    assert backend.search("极光优选 退款") == []
    assert [m.native_id for m in backend.search("极光优选", limit=2)] == ["7", "3"]
    for hostile in ['"', "NEAR(", "a* OR b", "'; DROP TABLE mentions; --", "   "]:
        backend.search(hostile)
    assert backend.count() == 7


def test_scan_in_time_then_id_order_across_pages(backend):
    scanned = [m.id for m in backend.scan(MentionFilter(), batch_size=2)]
    assert scanned == [m.id for m in sorted(DATA, key=lambda m: (m.created_at, m.id))]
    assert [m.native_id for m in backend.scan(MentionFilter(brand="beichen"))] == ["5"]


def random_mentions(count: int, seed: int) -> list[Mention]:
    rng = random.Random(seed)
    words = ["快递", "物流", "退款", "客服", "质量", "很好", "太慢", "发货", "假货", "价格"]
    out = []
    for n in range(count):
        brands = tuple(rng.sample(["aurora", "beichen", "cosmo"], rng.randint(0, 2)))
        out.append(mention(
            n, "".join(rng.sample(words, 3)) + f" 第{n}条", rng.randint(0, 6 * 3600), brands=brands,
            sentiment=rng.choice([None, rng.random()]), author=f"u{rng.randint(0, 40)}",
            followers=rng.choice([None, 0, 10, 100, 5000]), source=rng.choice(["weibo", "jd", "tousu_sina"]),
            category=rng.choice([None, *CATEGORIES[:4]]), severity=rng.choice([None, *SEVERITIES]),
            cluster_id=rng.choice([None, "story-a", "story-b", f"own-{n}"])))
    return out


def test_same_answers_as_sqlite_on_random_data(make_backend, tmp_path):
    data = random_mentions(400, seed=5)
    reference = open_backend(f"sqlite:///{tmp_path / 'reference.db'}")
    subject = make_backend()
    for b in (reference, subject):
        b.upsert(data[:250])
        b.upsert(data[200:])  # overlapping batches: the overlap is stored once
    window = MentionFilter(since=T0 + timedelta(hours=1), until=T0 + timedelta(hours=4))
    for flt in (MentionFilter(), MentionFilter(brand="aurora"), window, MentionFilter(sentiment_band="negative"),
                MentionFilter(cluster_id="story-a", since=window.since, until=window.until)):
        assert subject.count(flt) == reference.count(flt)
        for group in (None, "brand", "source", "category", "severity"):
            assert subject.counts_over_time(flt, 900, group) == reference.counts_over_time(flt, 900, group)
        for group in ("brand", "source", "category", "sentiment_band", "severity", "cluster_id"):
            assert subject.counts_by(flt, group, limit=3) == reference.counts_by(flt, group, limit=3)
        assert subject.top_authors(flt, 8) == reference.top_authors(flt, 8)
        assert [m.id for m in subject.latest(flt, 30)] == [m.id for m in reference.latest(flt, 30)]
        assert [m.id for m in subject.scan(flt, 64)] == [m.id for m in reference.scan(flt, 64)]
        for q in ("快递", "退款 客服", "假货 很好", "第17条"):
            assert [m.id for m in subject.search(q, flt, 50)] == [m.id for m in reference.search(q, flt, 50)]
    reference.close()
