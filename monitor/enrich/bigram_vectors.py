"""Vectors of character bigrams learned without labels, and a post's mean vector: what a bigram means.

The category model's n-gram weights know the bigrams of the complaints it was trained on, each for
itself: a bigram rare among the labelled posts ("霉味", a musty smell) carries little weight even
where a near one ("异味", an odd smell) carries much. Vectors learned from where bigrams occur in tens
of thousands of unlabelled reviews and posts put such bigrams near each other ("异味": 霉味, 怪味,
潮湿), so the post's mean vector lets what the labelled posts taught about one reach its neighbours.

How they are learned (`learn`, training only): the bigrams of two Chinese characters or two letters of
the normalised text (the n-grams `textfeatures` hashes, keyed by the same 64-bit hash) seen at least
`min_count` times; how often one occurs 2 to `window` such bigrams after another (the next one shares
a character with it; other bigrams, punctuation among them, are skipped); positive pointwise mutual
information with the context distribution smoothed by the power 0.75, factorised by a truncated SVD
(Levy, Goldberg & Dagan 2015: on par with word2vec at this corpus size, and deterministic). Rows are
unit-length and stored as int8 with one scale. The detector and the category models read the mean
vector; the choices above were made by cross-validation (`benchmarks/complaint_cv.py`).
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from monitor.enrich.textfeatures import codepoint_ngram_keys, codepoints, ngram_keys

_PREFIX_BITS = 20  # keys are well-mixed hashes: their top 20 bits spread 32,000 keys over a million prefixes


@dataclass(frozen=True, eq=False)
class BigramVectors:
    keys: np.ndarray  # uint64, sorted: the bigrams' keys (textfeatures' 64-bit n-gram hashes)
    vectors: np.ndarray  # int8 (len(keys), dim), row i belongs to keys[i]
    scale: float  # vectors * scale are the unit-length vectors (up to rounding)

    @property
    def dim(self) -> int:
        return int(self.vectors.shape[1])

    def rows_of(self, key: np.ndarray) -> np.ndarray:
        """Each key's row in the table, -1 where the table does not know it."""
        if self.keys.size == 0:
            return np.full(key.shape, -1, dtype=np.int64)
        # most prefixes hold no key or one, so one gather and one comparison find a key: twice as fast
        # as a binary search over all of them
        first = self._prefix_starts
        prefix = (key >> np.uint64(64 - _PREFIX_BITS)).astype(np.int64)
        lo, many = first[prefix], first[prefix + 1] - first[prefix] > 1
        at = np.minimum(lo, self.keys.size - 1)
        rows = np.where(self.keys[at] == key, at, -1)
        if many.any():  # a prefix several keys share: search among all
            some = np.flatnonzero(many)
            rows[some] = _search(self.keys, key[some])
        return rows

    @functools.cached_property
    def _prefix_starts(self) -> np.ndarray:
        """Where the keys of each top-bits prefix start in `keys` (one more entry: the end)."""
        prefixes = np.arange(1 << _PREFIX_BITS, dtype=np.uint64) << np.uint64(64 - _PREFIX_BITS)
        return np.append(np.searchsorted(self.keys, prefixes), self.keys.size)


def _search(keys: np.ndarray, key: np.ndarray) -> np.ndarray:
    """Each key's index in the sorted, non-empty `keys`, -1 where it is not there (binary search)."""
    at = np.minimum(np.searchsorted(keys, key), keys.size - 1)
    return np.where(keys[at] == key, at, -1)


def post_vectors(texts: Sequence[str], table: BigramVectors) -> np.ndarray:
    """(len(texts), dim): each post's mean bigram vector over the bigrams the table knows, at unit
    length (so long and short posts are on one scale); zeros for a post with none."""
    doc, key = ngram_keys(texts, 2)
    out = np.zeros((len(texts), table.dim))
    if key.size == 0 or table.keys.size == 0:
        return out
    at = table.rows_of(key)
    known = at >= 0
    doc, at = doc[known], at[known]  # doc stays non-decreasing: one order, in text order
    if doc.size == 0:
        return out
    starts = np.flatnonzero(np.r_[True, doc[1:] != doc[:-1]])
    # int8 rows of at most a few thousand bigrams: an int32 sum is exact and faster than float64
    out[doc[starts]] = np.add.reduceat(table.vectors[at], starts, axis=0, dtype=np.int32)
    norm = np.linalg.norm(out, axis=1, keepdims=True)
    return np.divide(out, norm, out=out, where=norm > 0)


def empty(dim: int) -> BigramVectors:
    """A table that knows no bigram: every post's vector is zero."""
    return BigramVectors(np.zeros(0, np.uint64), np.zeros((0, dim), np.int8), 1.0)


def learn(texts: Sequence[str], dim: int, min_count: int = 10, window: int = 4,
          chunk: int = 5_000) -> BigramVectors:  # training only: scipy and scikit-learn are not inference dependencies
    """Vectors for the bigrams of `texts` seen at least `min_count` times (see the module's docstring)."""
    # lazy: the train extra; inference imports this module without it
    from scipy.sparse import coo_matrix, csr_matrix
    from sklearn.utils.extmath import randomized_svd

    streams = [_word_bigrams(texts[i:i + chunk]) for i in range(0, len(texts), chunk)]
    keys, counts = np.unique(np.concatenate([k[word] for _, k, word in streams]), return_counts=True)
    keys = keys[counts >= min_count]
    n = keys.size
    cooc = csr_matrix((n, n))
    for doc, key, word in streams:
        doc, key = doc[word], key[word]  # distances count word bigrams only: context reaches across punctuation
        ids = _search(keys, key) if n else np.full(key.shape, -1)
        rows, cols = [], []
        for d in range(2, window + 1):
            a, b = ids[:-d], ids[d:]
            ok = (a >= 0) & (b >= 0) & (doc[:-d] == doc[d:])
            rows += [a[ok], b[ok]]
            cols += [b[ok], a[ok]]
        r, c = np.concatenate(rows), np.concatenate(cols)
        cooc = cooc + coo_matrix((np.ones(r.size), (r, c)), shape=(n, n)).tocsr()
    cooc = cooc.tocoo()
    total = cooc.data.sum()
    p_word = np.asarray(cooc.sum(axis=1)).ravel() / total
    p_context = np.asarray(cooc.sum(axis=0)).ravel() ** 0.75
    p_context /= p_context.sum()
    pmi = np.log(cooc.data / total / (p_word[cooc.row] * p_context[cooc.col]))
    keep = pmi > 0
    ppmi = csr_matrix((pmi[keep], (cooc.row[keep], cooc.col[keep])), shape=(n, n))
    u, s, _ = randomized_svd(ppmi, dim, random_state=0)
    vectors = u * np.sqrt(s)
    vectors /= np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
    scale = float(np.abs(vectors).max()) / 127.0
    return BigramVectors(keys, np.round(vectors / scale).astype(np.int8), scale)


def _is_word_char(cp: np.ndarray) -> np.ndarray:
    return ((cp >= 0x4E00) & (cp <= 0x9FFF)) | ((cp >= 0x3400) & (cp <= 0x4DBF)) | ((cp >= 0x61) & (cp <= 0x7A))


def _word_bigrams(texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(document, key, is a word bigram) for every bigram `ngram_keys` gives, in the same order."""
    cp = codepoints(texts)
    doc, key = codepoint_ngram_keys(cp, len(texts), 2)
    at = np.flatnonzero((cp[:-1] != 0) & (cp[1:] != 0))  # where those bigrams start: none spans two texts
    return doc, key, _is_word_char(cp[at]) & _is_word_char(cp[at + 1])
