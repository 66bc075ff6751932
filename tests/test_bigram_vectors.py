"""Bigram vectors learned without labels, a post's mean vector, and the detector and category columns that
read it. Texts written here."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from monitor.enrich.bigram_vectors import BigramVectors, learn, post_vectors
from monitor.enrich.complaint import classify_many
from monitor.enrich.complaint_model import (
    COLUMNS,
    DENSE_NAMES,
    READER_COLUMNS,
    TEXT_KINDS,
    ComplaintModel,
    load_complaint_model,
    save_model,
    vector_names,
)
from monitor.enrich.complaint_rules import CATEGORY_KEYS
from monitor.enrich.textfeatures import _hashed, featurise, ngram_keys
from monitor.enrich.train_complaint import fit, fit_bigram_vectors


def _key(bigram: str) -> np.uint64:
    (key,) = ngram_keys([bigram], 2)[1]
    return key


def _vector(table: BigramVectors, bigram: str) -> np.ndarray:
    (row,) = table.rows_of(np.array([_key(bigram)]))
    assert row >= 0, f"{bigram} not in the table"
    v = table.vectors[row].astype(np.float64)
    return v / np.linalg.norm(v)


# Two smells that share their contexts, two kinds of delivery that share theirs, and no sentence in which
# a smell and a delivery stand in the same place.
_SMELLS = ("异味", "霉味")
_DELIVERIES = ("快递", "物流")
_CORPUS = [f"房间里有一股{w}，很难闻窗户打不开" for w in _SMELLS] * 40 + [
    f"衣柜里全是{w}洗了三遍还在" for w in _SMELLS] * 40 + [
    f"这次{w}太慢了五天才送到家" for w in _DELIVERIES] * 40 + [
    f"下单以后{w}一直不更新信息" for w in _DELIVERIES] * 40 + ["晚上吃火锅"] * 3


def test_bigrams_met_in_the_same_contexts_get_near_vectors() -> None:
    table = learn(_CORPUS, dim=8, min_count=5)
    smell, mould, parcel, shipping = (_vector(table, w) for w in (*_SMELLS, *_DELIVERIES))
    assert smell @ mould > 0.8
    assert parcel @ shipping > 0.8
    assert smell @ parcel < 0.5 and mould @ shipping < 0.5
    # a bigram with punctuation in it is no word and gets no row, however often it occurs (80 times here)
    assert list(table.rows_of(np.array([_key("，很"), _key("味，"), _key("很难")])) >= 0) == [False, False, True]
    # nor does a bigram seen fewer than min_count times (3 here), which a lower min_count would keep
    assert table.rows_of(np.array([_key("火锅")]))[0] == -1
    assert learn(_CORPUS, dim=8, min_count=3).rows_of(np.array([_key("火锅")]))[0] >= 0
    # one scale brings the int8 rows back to unit length
    assert np.allclose(np.linalg.norm(table.vectors * table.scale, axis=1), 1.0, atol=0.02)


def test_learning_twice_gives_the_same_table() -> None:
    a, b = learn(_CORPUS, dim=8, min_count=5), learn(_CORPUS, dim=8, min_count=5)
    assert np.array_equal(a.keys, b.keys) and np.array_equal(a.vectors, b.vectors) and a.scale == b.scale


def test_a_post_vector_is_the_unit_mean_of_the_bigrams_the_table_knows() -> None:
    table = learn(_CORPUS, dim=8, min_count=5)
    texts = ["房间有霉味", "快递太慢", "今天天气不错", "", "霉味霉味异味"]
    out = post_vectors(texts, table)
    assert out.shape == (5, 8)
    for text, row in zip(texts, out, strict=True):
        _, keys = ngram_keys([text], 2)
        rows = table.rows_of(keys)
        known = table.vectors[rows[rows >= 0]].astype(np.float64)
        if len(known) == 0:
            assert not row.any(), text
        else:
            mean = known.sum(axis=0)
            assert np.allclose(row, mean / np.linalg.norm(mean)), text
    assert not out[2].any() and not out[3].any()  # nothing the table knows, and an empty post
    # a post's vector does not depend on the batch it comes in
    assert np.array_equal(post_vectors(texts[4:], table)[0], out[4])


def test_looking_up_keys_agrees_with_a_binary_search_where_prefixes_are_shared() -> None:
    rng = np.random.default_rng(0)
    keys = np.unique(rng.integers(0, 2**63, 5_000, dtype=np.uint64) * np.uint64(2))
    shared = (keys[:50] & ~np.uint64(0xFFFF)) | np.uint64(0x1234)  # same top bits as keys[:50], other keys
    keys = np.unique(np.concatenate([keys, shared]))
    table = BigramVectors(keys, np.zeros((keys.size, 2), np.int8), 1.0)
    probe = np.concatenate([keys[::3], rng.integers(0, 2**63, 2_000, dtype=np.uint64) * np.uint64(2) + np.uint64(1)])
    at = np.minimum(np.searchsorted(keys, probe), keys.size - 1)
    assert np.array_equal(table.rows_of(probe), np.where(keys[at] == probe, at, -1))
    assert (table.rows_of(keys) == np.arange(keys.size)).all()


def test_bigram_keys_come_from_the_batch_already_hashed() -> None:
    texts = ["屏幕有划痕，退货", "送餐太慢了", "ok fine"]
    featurise(texts, 16, (1, 2, 3))  # what the complaint model hashes first
    doc, keys = ngram_keys(texts, 2)
    fresh = _hashed(tuple(texts) + ("",), (2,))  # another batch: hashed anew, order 2 alone
    assert np.array_equal(doc, fresh.doc) and np.array_equal(keys, fresh.mixed)


def test_the_category_columns_read_the_mean_bigram_vector(tmp_path: Path) -> None:
    # a model file whose product_quality column reads nothing but the post vector's agreement with the vector
    # of "霉味" (musty), and whose logistics column that with "快递" (parcel): the wiring from text to table
    # to category column is all that decides
    real = load_complaint_model()
    assert real is not None and real.bigrams.dim > 0
    table = real.bigrams
    dense = np.zeros((len(DENSE_NAMES) + table.dim, COLUMNS))
    dense[len(DENSE_NAMES):, 1 + CATEGORY_KEYS.index("product_quality")] = 12.0 * _vector(table, "霉味")
    dense[len(DENSE_NAMES):, 1 + CATEGORY_KEYS.index("logistics")] = 12.0 * _vector(table, "快递")
    biases = np.array([20.0] + [-6.0] * (COLUMNS - 1))
    path = save_model(tmp_path / "vectors.npz", np.zeros((1 << real.bits, COLUMNS)), dense, biases, real.bits,
                      real.orders, bigrams=table)
    # texts without those two bigrams: what decides is how near their bigrams are to them
    musty, parcel = classify_many(["衣柜里一股潮味", "物流三天才到"], model_path=str(path))
    assert musty.categories == ["product_quality"], musty
    assert parcel.categories == ["logistics"], parcel
    # the names in the file say which dense rows are the vector's, and the committed model's match
    assert len(vector_names(table.dim)) == table.dim


def test_the_detector_and_the_categories_learn_from_the_vectors_and_the_grade_does_not(tmp_path: Path) -> None:
    # training on a few written posts with a small table: the vector rows of the model file carry weights
    # in the detector's and the categories' columns, none in the grade's (in cross-validation the grade
    # did not gain from them)
    written = {"logistics": "快递太慢了五天才送到，差评", "product_quality": "衣柜里全是霉味，退货",
               "after_sales": "售后拖了半个月没人上门", "service_attitude": "客服态度很差说完就挂",
               "payment_billing": "没开会员却被自动扣费", "fraud_security_privacy": "账号被盗银行卡被转走",
               "price": "刚买就降价两百不给价保", "false_advertising": "写的纯棉收到是化纤",
               "other": "健身房突然关门年卡作废"}
    complaints = [{"text": t, "complaint": True, "categories": [k], "severity": ("一般", "重要", "紧急")[i % 3]}
                  for i, (k, t) in enumerate(written.items())]
    others = [{"text": t, "complaint": False, "categories": [], "severity": None}
              for t in ("今天天气不错", "周末去爬山了", "这本书很好看", "晚上吃火锅")]
    table = learn(_CORPUS, dim=8, min_count=5)
    bits = 12
    path = fit(complaints * 3 + others * 3, tmp_path / "m.npz", (np.zeros((1 << bits, READER_COLUMNS)),
               np.zeros(READER_COLUMNS)), bits=bits, bigrams=table)
    model = ComplaintModel(path)
    assert model.bigrams.dim == 8 and np.array_equal(model.bigrams.keys, table.keys)
    rows = model.dense[len(DENSE_NAMES):]
    n_cat = len(CATEGORY_KEYS)
    assert np.abs(rows[:, 0]).max() > 0  # the detector
    assert np.abs(rows[:, 1 + CATEGORY_KEYS.index("logistics")]).max() > 0
    assert np.abs(rows[:, 1 + n_cat:]).max() == 0  # the grade


@pytest.mark.parametrize("split", ["heldout", "heldout2", "heldout3", "heldout4", "heldout5", "heldout6", "heldout7", "heldout8"])  # each held-out draw
def test_the_vectors_never_see_a_held_out_post(tmp_path: Path, split: str) -> None:
    # the held-out post's words ("鳄鱼皮靴") occur nowhere else; its copy in another set is left out by its text
    held_out = "这双鳄鱼皮靴鳄鱼皮靴鳄鱼皮靴开胶了"
    for name in TEXT_KINDS:
        rows = [held_out] if name in ("online_shopping", "weibo") else []
        rows += _CORPUS[:40]
        (tmp_path / f"{name}.csv").write_text("label,review\n" + "".join(f"0,{t}\n" for t in rows), encoding="utf-8")
    labels = tmp_path / "labels.jsonl"
    labels.write_text(json.dumps({"id": "online_shopping:0", "complaint": True, "categories": ["product_quality"],
                                  "severity": "一般", "split": split}) + "\n", encoding="utf-8")
    seen = fit_bigram_vectors(tmp_path, labels, dim=4, min_count=2)
    unseen = np.array([_key(b) for b in ("鳄鱼", "皮靴", "开胶")])
    assert (seen.rows_of(unseen) == -1).all()
    assert (seen.rows_of(np.array([_key("霉味")])) >= 0).all()
    # without the labels nothing is left out, so the same words are in the table: the test can tell
    assert (fit_bigram_vectors(tmp_path, None, dim=4, min_count=2).rows_of(unseen) >= 0).all()
