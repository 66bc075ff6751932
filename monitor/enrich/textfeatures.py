"""Hashed character n-gram features computed for a whole batch at once with numpy.

Chinese has no spaces, so character n-grams stand in for words without a segmenter (jieba
segments about 1 MB/s, far too slow for the throughput target). Doing the work per batch
rather than per document keeps the Python interpreter out of the inner loop: the batch is
joined into one string, decoded to a codepoint array and every n-gram order is one
vectorised pass. The same function feeds training and inference, so the two cannot drift.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Sequence
from typing import NamedTuple

import numpy as np

from monitor.enrich.hanzi import simplified

SEP = "\x00"
_FNV_OFFSET = np.uint64(0xCBF29CE484222325)
_FNV_PRIME = np.uint64(0x100000001B3)
# Fibonacci hashing: multiply then keep the top bits, which are well mixed even when
# the FNV state's low bits are not.
_MIX = np.uint64(0x9E3779B97F4A7C15)

# Weibo retweet chains (`//@name:`) and mentions carry user names, not sentiment; URLs
# carry nothing. Replacing them with one placeholder keeps the "this is a retweet" signal.
_NOISE = re.compile(r"https?://[^\s\x00]+|@[\w\-]{1,30}[:：]?")
_DIGITS = re.compile(r"\d+")


class Batch(NamedTuple):
    """Sparse rows: n-gram occurrence k belongs to document doc[k] and hashes to bucket[k]."""

    doc: np.ndarray  # int64, non-decreasing within each n-gram order
    bucket: np.ndarray  # int64 in [0, 2**bits)
    length: np.ndarray  # float64, n-gram occurrences per document (0 for empty ones)
    n_docs: int


def normalise(joined: str) -> str:
    # NFKC folds full-width Latin/digits/punctuation onto their ASCII forms so `！` and `!`
    # share features; lower-casing and digit folding do the same for case and numbers, and
    # Traditional characters read as the Simplified ones every model and the lexicon learned.
    joined = simplified(unicodedata.normalize("NFKC", joined)).lower()
    joined = _NOISE.sub("@", joined)
    return _DIGITS.sub("0", joined)


class _Hashed(NamedTuple):
    """A batch's n-grams before they are cut to a table size: document and full 64-bit mixed hash."""

    doc: np.ndarray
    mixed: np.ndarray  # uint64; the top `bits` bits are the bucket
    length: np.ndarray
    n_docs: int
    spans: dict[int, tuple[int, int]]  # order -> its slice of doc and mixed (orders come one after another)

    def batch(self, bits: int) -> Batch:
        return Batch(self.doc, (self.mixed >> np.uint64(64 - bits)).astype(np.int64), self.length, self.n_docs)


# The enrichment steps read one batch several times (sentiment, anger, then the complaint model on the
# same Chinese posts, with the English model's few posts in between): the n-grams of the last few
# batches are kept, so the NFKC pass and the hashing, a tenth of the stage's time, run once per batch.
# A key holds the texts themselves, so a new batch can never be served stale features; the tuple of
# entries is replaced in one assignment, so threads see the old or the new one. Training sets (tens of
# thousands of posts, hundreds of MB of n-grams) are not kept.
_recent: tuple[tuple[tuple, _Hashed], ...] = ()
_KEEP = 4  # batches
_KEEP_AT_MOST = 10_000  # documents


def featurise(texts: Sequence[str], bits: int, orders: Sequence[int] = (1, 2, 3)) -> Batch:
    return _hashed(texts, orders).batch(bits)


def ngram_keys(texts: Sequence[str], order: int) -> tuple[np.ndarray, np.ndarray]:
    """The n-grams of one order as (document, 64-bit key), in the order they occur: keys for a table
    of seen n-grams (`bigram_vectors`), the same n-grams `featurise` hashes into buckets. Taken from the
    batch `featurise` read last when its orders include this one."""
    texts = tuple(texts)
    hashed = _kept(texts, lambda orders: order in orders) or _hashed(texts, (order,))
    start, end = hashed.spans[order]
    return hashed.doc[start:end], hashed.mixed[start:end]


def codepoint_ngram_keys(cp: np.ndarray, n_docs: int, order: int) -> tuple[np.ndarray, np.ndarray]:
    """`ngram_keys` of a `codepoints` stream of `n_docs` documents, not kept for later batches."""
    hashed = _mixed_ngrams(cp, n_docs, (order,))
    return hashed.doc, hashed.mixed


def _kept(texts: tuple[str, ...], wanted: Callable[[tuple[int, ...]], bool]) -> _Hashed | None:
    """The kept batch of these texts whose orders are `wanted`, if any."""
    return next((h for (kept, orders), h in _recent if kept == texts and wanted(orders)), None)


def _hashed(texts: Sequence[str], orders: Sequence[int]) -> _Hashed:
    global _recent
    texts, orders = tuple(texts), tuple(orders)
    hashed = _kept(texts, lambda kept: kept == orders)
    if hashed is not None:
        return hashed
    hashed = _hash_texts(texts, orders)
    if len(texts) <= _KEEP_AT_MOST:
        _recent = (((texts, orders), hashed), *_recent[: _KEEP - 1])
    return hashed


def _hash_texts(texts: Sequence[str], orders: Sequence[int]) -> _Hashed:
    return _mixed_ngrams(codepoints(texts), len(texts), orders)


def codepoints(texts: Sequence[str]) -> np.ndarray:
    """The normalised texts as one uint64 stream of code points, 0 between documents."""
    n_docs = len(texts)
    joined = SEP.join(texts)
    if joined.count(SEP) != max(n_docs - 1, 0):  # a text contains the separator itself
        joined = SEP.join(t.replace(SEP, " ") for t in texts)
    joined = normalise(joined)
    if joined.count(SEP) != max(n_docs - 1, 0):  # would shift every later document's features
        raise ValueError("normalisation changed the document separators")
    return np.frombuffer(joined.encode("utf-32-le", errors="replace"), dtype=np.uint32).astype(np.uint64)


def hash_ngrams(symbols: np.ndarray, n_docs: int, bits: int, orders: Sequence[int]) -> Batch:
    """Hashed n-grams of a uint64 symbol stream in which 0 separates documents.

    Symbols are codepoints for character n-grams, or token ids (never 0) for word n-grams.
    """
    return _mixed_ngrams(symbols, n_docs, orders).batch(bits)


def _mixed_ngrams(cp: np.ndarray, n_docs: int, orders: Sequence[int]) -> _Hashed:
    is_sep = cp == 0
    # sep_before[i] = separators in cp[:i]; an n-gram at i spanning n is clean iff no
    # separator falls inside it, and its document is the number of separators before it.
    sep_before = np.concatenate(([0], np.cumsum(is_sep)))
    docs, mixed, spans, at = [], [], {}, 0
    state = np.full(cp.shape, _FNV_OFFSET, dtype=np.uint64)
    for n in range(1, max(orders) + 1):
        # FNV-1a over the n symbols, extended one order at a time from the previous state.
        state = (state[: cp.size - n + 1] ^ cp[n - 1 :]) * _FNV_PRIME
        if n not in orders:
            continue
        start = np.arange(state.size)
        clean = sep_before[start + n] == sep_before[start]
        docs.append(sep_before[start[clean]])
        mixed.append(state[clean] * _MIX)
        spans[n], at = (at, at + docs[-1].size), at + docs[-1].size
    doc = np.concatenate(docs) if docs else np.zeros(0, np.int64)
    mix = np.concatenate(mixed) if mixed else np.zeros(0, np.uint64)
    length = np.bincount(doc, minlength=n_docs).astype(np.float64)
    return _Hashed(doc.astype(np.int64), mix, length, n_docs, spans)


def sigmoid(z: np.ndarray) -> np.ndarray:
    """The logistic function, clipped so very confident scores do not overflow exp()."""
    return 1.0 / (1.0 + np.exp(-np.clip(z, -30.0, 30.0)))


def doc_norms(batch: Batch, sq_weight: np.ndarray | None = None) -> np.ndarray:
    """Each document's L2 norm: sqrt(n-gram count), or sqrt(sum of sq_weight[bucket]) (IDF squared)."""
    if sq_weight is None:
        return np.sqrt(np.maximum(batch.length, 1.0))
    sq = np.bincount(batch.doc, weights=sq_weight[batch.bucket], minlength=batch.n_docs)
    return np.sqrt(np.maximum(sq, 1e-12))


def linear_scores(batch: Batch, weights: np.ndarray, sq_weight: np.ndarray | None = None) -> np.ndarray:
    """Per document and per weight column: sum of its n-grams' weights over the document's norm.

    `weights` is (buckets, k); the result is (documents, k). Dividing by sqrt(count) is the L2
    norm of the count vector when n-grams rarely repeat, which keeps long hotel reviews and
    short Weibo posts on one scale; with `sq_weight` (IDF squared per bucket, the IDF itself
    folded into `weights`) it is the norm of the TF-IDF vector. Rows laid out per bucket make
    the gather one contiguous read. The n-grams come order by order, so they are grouped by document
    first (a stable sort: each document's sum runs in the same order whatever else is in the batch);
    then one reduceat sums every column at once, in float64, about twice as fast as a bincount per
    column over a float64 copy of the gathered rows. int8 weights (quantised, their scales applied by the
    caller) are summed exactly in int32: a quarter of float32's bytes to gather, which is what costs when
    a model has many columns.
    """
    order = np.argsort(batch.doc, kind="stable")
    counts = batch.length.astype(np.int64)
    out = np.zeros((batch.n_docs, weights.shape[1]))
    present = counts > 0
    if present.any():
        starts = (np.cumsum(counts) - counts)[present]
        # a document's n-grams number far fewer than 2**31 / 127, so the int32 sum cannot overflow
        total = np.int32 if weights.dtype == np.int8 else np.float64
        out[present] = np.add.reduceat(weights[batch.bucket[order]], starts, axis=0, dtype=total)
    return out / doc_norms(batch, sq_weight)[:, None]


def to_csr(batch: Batch, bits: int, sq_weight: np.ndarray | None = None):  # training only: scipy is not an inference dependency
    """The same features as a sparse matrix, so a model fitted on it scores identically here.

    With `sq_weight` the values are count / TF-IDF norm: multiply the columns by the IDF to get
    the TF-IDF vector, and fold the IDF back into the fitted weights.
    """
    # lazy: training only; scipy is not an inference dependency
    from scipy.sparse import csr_matrix

    values = 1.0 / doc_norms(batch, sq_weight)[batch.doc]
    return csr_matrix((values, (batch.doc, batch.bucket)), shape=(batch.n_docs, 1 << bits))


def idf(batch: Batch, bits: int, min_df: int = 1) -> np.ndarray:  # training only
    """Smoothed IDF per bucket, as scikit-learn's TfidfVectorizer computes it; 0 (dropped) below min_df."""
    pairs = np.unique(batch.doc * (1 << bits) + batch.bucket)
    df = np.bincount(pairs % (1 << bits), minlength=1 << bits)
    return np.where(df >= min_df, np.log((1 + batch.n_docs) / (1 + df)) + 1.0, 0.0)
