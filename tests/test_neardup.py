import pytest

from monitor.enrich.neardup import NearDupIndex, normalize, simhash

ORIGINAL = (
    "小米SU7在高速上突然刹车失灵，差点追尾前车，4S店说是正常现象，这谁能接受？大家评评理 https://t.cn/A6abcdE"
)
OTHER_COMPLAINT = "小米SU7的车机系统又死机了，导航完全用不了，客服电话一直打不通，售后态度太差了"


def hamming(a: int, b: int) -> int:
    return (a ^ b).bit_count()


def test_normalize_strips_noise():
    assert (
        normalize("转发微博 //@某人: 哈哈 小米 SU7，太差了！！ https://t.cn/xyz @小米公司") == "小米su7太差了"
    )


def test_simhash_is_stable_64_bit():
    h = simhash(ORIGINAL)
    assert 0 <= h < 2**64
    # Pinned so that an accidental change of hashing (which would break load()) fails loudly.
    assert h == simhash(ORIGINAL)
    assert h == 10124375298714428881


@pytest.mark.parametrize(
    "copy",
    [
        "转发微博 //@某人: 哈哈 " + ORIGINAL,
        ORIGINAL.replace("https://t.cn/A6abcdE", "http://weibo.com/x/9Zq1"),
        "//@张三: 太可怕了 //@李四: 转 " + ORIGINAL,
        ORIGINAL + " //@王五: 真的假的",
        ORIGINAL.replace("，", "。").replace("？", "!!!"),
    ],
)
def test_copies_cluster_with_original(copy):
    idx = NearDupIndex()
    assert idx.assign("orig", ORIGINAL) == "orig"
    assert idx.assign("copy", copy) == "orig"
    assert idx.cluster_size("orig") == 2


def test_punctuation_and_emoji_changes_cluster():
    idx = NearDupIndex(max_distance=3)
    idx.assign("a", ORIGINAL)
    assert idx.assign("b", "😡😡" + ORIGINAL + "！！") == "a"
    assert idx.cluster_size("a") == 2


def test_glued_repost_comment_is_recovered():
    idx = NearDupIndex()
    idx.assign("orig", ORIGINAL)
    assert idx.assign("copy", "转发微博 //@某人:哈哈" + ORIGINAL) == "orig"


def test_different_complaints_do_not_cluster():
    assert hamming(simhash(ORIGINAL), simhash(OTHER_COMPLAINT)) > 10
    idx = NearDupIndex()
    assert idx.assign("a", ORIGINAL) == "a"
    assert idx.assign("b", OTHER_COMPLAINT) == "b"
    assert idx.cluster_size("a") == 1
    assert idx.cluster_size("b") == 1


def test_short_texts_cluster_only_on_exact_equality():
    idx = NearDupIndex()
    assert idx.assign("a", "小米太差了！") == "a"
    assert idx.assign("b", "小米 太差了") == "a"
    assert idx.assign("c", "小米太好了") == "c"
    # Texts that normalise to nothing never cluster.
    assert idx.assign("d", "😂😂 https://t.cn/x") == "d"
    assert idx.assign("e", "😂😂") == "e"


def test_assign_is_idempotent_per_key():
    idx = NearDupIndex()
    idx.assign("a", ORIGINAL)
    assert idx.assign("a", ORIGINAL) == "a"
    assert idx.cluster_size("a") == 1
    assert idx.cluster_size("missing") == 0


def test_restore_via_load():
    idx = NearDupIndex()
    idx.assign("orig", ORIGINAL)
    idx.assign("copy", "转发微博 //@某人: 哈哈 " + ORIGINAL)
    idx.assign("short", "太差了")
    rows = list(idx.items())

    restored = NearDupIndex()
    restored.load(rows)
    assert restored.cluster_size("orig") == 2
    assert restored.assign("copy2", ORIGINAL + " https://t.cn/other") == "orig"
    assert restored.cluster_size("orig") == 3
    assert restored.assign("short2", "太差了！") == "short"
    assert restored.assign("new", OTHER_COMPLAINT) == "new"


def test_load_accepts_plain_simhash_rows():
    restored = NearDupIndex()
    restored.load([("k1", simhash(ORIGINAL), "k1")])
    assert restored.assign("k2", "转发微博 " + ORIGINAL) == "k1"


def test_nearest_cluster_wins():
    idx = NearDupIndex(max_distance=3)
    idx.assign("a", ORIGINAL)
    idx.assign("b", OTHER_COMPLAINT)
    assert idx.assign("c", OTHER_COMPLAINT + " http://x.cn") == "b"


def test_bands_cover_max_distance():
    # Pigeonhole: with max_distance + 1 bands every hash within max_distance shares a band.
    idx = NearDupIndex(max_distance=3)
    base = simhash(ORIGINAL)
    idx.load([("a", base, "a")])
    flipped = base ^ (1 << 0) ^ (1 << 17) ^ (1 << 40)  # one flip in three different bands
    assert idx._nearest(flipped) == "a"
    assert idx._nearest(flipped ^ (1 << 60)) is None


def test_short_text_ignores_hashes_that_are_merely_close():
    idx = NearDupIndex()
    idx.load([("near", simhash("太差了") ^ 1, "near")])
    assert idx.assign("short", "太差了") == "short"


def test_batch_hashing_equals_one_by_one():
    from monitor.enrich.neardup import _simhash_norm, normalize, simhash_many

    texts = ["极光优选的快递十天没到，客服只会说在核实", "短", "", "abcdefghijklmnopqrstuvwxyz 0123",
             "转发微博 //@小鹿: 极光优选的快递十天没到，客服只会说在核实", "极光优选空气炸锅很好用推荐推荐"]
    norms = [normalize(t) for t in texts]
    assert simhash_many(norms) == [_simhash_norm(n) for n in norms]
    assert simhash_many([]) == []


def test_assign_many_clusters_like_assign():
    from monitor.enrich.neardup import NearDupIndex

    texts = [("a", "极光优选的快递十天没到，客服只会说在核实，核实了十天"),
             ("b", "转发微博 //@小鹿: 极光优选的快递十天没到，客服只会说在核实，核实了十天"),
             ("c", "完全不同的一条帖子，讲的是空气炸锅好用"), ("a", "重复的键")]
    one, many = NearDupIndex(), NearDupIndex()
    assert [one.assign(k, t) for k, t in texts] == many.assign_many(texts) == ["a", "a", "c", "a"]


def test_copies_differing_in_weibo_decorations_or_script_are_one_story():
    # written for this test: one complaint as Weibo, X and a Taiwanese repost show it
    post = "在极光优选买的电饭煲用了两天就坏了，客服说要等一个月才能寄修，太离谱了"
    copies = [
        post + "[怒][怒][怒]",
        post + " O网页链接",
        "#极光优选售后# " + post,
        post + " #极光优选 #售后",
        "在極光優選買的電飯煲用了兩天就壞了，客服說要等一個月才能寄修，太離譜了",
    ]
    index = NearDupIndex()
    first = index.assign("p0", post)
    assert [index.assign(f"c{i}", text) for i, text in enumerate(copies)] == [first] * len(copies)
