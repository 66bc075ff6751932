"""Hashed n-gram features: the batched scoring equals scoring each post by hand, whatever the batch holds."""

from __future__ import annotations

import numpy as np

from monitor.enrich.textfeatures import featurise, linear_scores

TEXTS = ["快递三天还没到，客服也不回", "", "好评！", "the courier lost my parcel again 😡",
         "充电宝冒烟了，同一批次很多人都中招", "哈哈哈哈哈哈", "a"]


def by_hand(text: str, weights: np.ndarray, bits: int) -> np.ndarray:
    """One post alone: the sum of its n-grams' weight rows over sqrt(its n-gram count)."""
    batch = featurise([text], bits)
    if batch.bucket.size == 0:
        return np.zeros(weights.shape[1])
    return weights[batch.bucket].astype(np.float64).sum(axis=0) / np.sqrt(batch.bucket.size)


def test_batched_scores_equal_each_post_scored_by_hand():
    bits = 10
    weights = np.random.default_rng(3).normal(size=(1 << bits, 5)).astype(np.float32)
    scores = linear_scores(featurise(TEXTS, bits), weights)
    expected = np.vstack([by_hand(t, weights, bits) for t in TEXTS])
    assert scores.shape == (len(TEXTS), 5)
    assert np.allclose(scores, expected, rtol=1e-12, atol=1e-12)
    assert not scores[1].any() and scores[0].any()  # the empty post scores zero, the others do not


def test_int8_weights_are_summed_exactly_like_their_float_values():
    # the sentiment model gathers its quantised rows as int8 and sums them in int32: the sums must be
    # those of the same integers in float64, even for a post of thousands of n-grams at the int8 extremes
    bits = 10
    weights = np.random.default_rng(5).integers(-127, 128, size=(1 << bits, 26)).astype(np.int8)
    texts = TEXTS + ["好" * 5000]  # about 15,000 n-grams, whose rows are set to the extremes
    long_post = featurise(texts[-1:], bits).bucket
    weights[long_post, :13], weights[long_post, 13:] = 127, -127
    scores = linear_scores(featurise(texts, bits), weights)
    expected = np.vstack([by_hand(t, weights, bits) for t in texts])
    assert np.array_equal(scores, expected)
    assert np.abs(scores).max() > 0


def test_a_post_scores_the_same_in_any_batch():
    bits = 10
    weights = np.random.default_rng(4).normal(size=(1 << bits, 3)).astype(np.float32)
    alone = linear_scores(featurise(TEXTS[:1], bits), weights)[0]
    for batch in (TEXTS, TEXTS[::-1], TEXTS * 3):
        row = batch.index(TEXTS[0])
        assert np.array_equal(linear_scores(featurise(batch, bits), weights)[row], alone)


def test_a_batch_read_again_gets_the_features_of_its_own_texts_at_any_size():
    # the last batch's n-grams are kept for the next step that reads it: a table of another size must
    # get its own buckets, and a batch that differs in one text must never get the kept features
    wide = featurise(TEXTS, 20)
    narrow = featurise(list(TEXTS), 12)
    assert np.array_equal(narrow.bucket, wide.bucket >> 8) and np.array_equal(narrow.doc, wide.doc)
    changed = TEXTS[:4] + ["充电宝冒烟了，同一批次很多人都中招！"] + TEXTS[5:]
    again = featurise(changed, 12)
    fresh = featurise(changed[:4], 12), featurise(changed[4:], 12)
    first = again.doc < 4
    assert np.array_equal(np.sort(again.bucket[first]), np.sort(fresh[0].bucket))
    assert np.array_equal(np.sort(again.bucket[~first]), np.sort(fresh[1].bucket))
    assert again.bucket.size == narrow.bucket.size + 1 * 3  # one more character: one more n-gram per order
