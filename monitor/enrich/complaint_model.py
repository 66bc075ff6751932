"""The learned complaint decider: complaint or not, which categories, which grade.

Three linear models read these features (trained by `crisiswatch train-complaint`, numpy only here; the grade
reads all but the bigram vectors):
- hashed character n-grams of the text (`textfeatures`), so wording nobody wrote into the lexicon counts
  ("用了几天就坏", "味道怪", "同一家酒店我手机上899，朋友的账号679"), and
- the lexicon's evidence as dense features (`complaint_evidence.evidence_features`): category scores after
  the rubric boundaries, praise, quoted praise, doubt cues, grade cues, amounts, and the lexicon's own
  verdict, so the readable words carry their weight and the model learns how much; and the rubric guards
  that hold (`complaint_guards`: praise only, a neutral question, a bystander...), weighed like the rest
  rather than obeyed, since the lexicon misreads some complaints as praise or neutral questions.
- the post's mean bigram vector (`bigram_vectors`, learned without labels from the shared sets), read by
  the detector and the category columns: a bigram few labelled posts use means what its neighbours mean.
- a sentiment score and the kind of text (online shop review, food delivery, hotel, Weibo post, personal
  Weibo post) from small models of its own (six more hashed columns), trained on the shared sentiment and
  emotion sets minus every post labelled for complaints, so no held-out post is seen by them: real reviews
  and Weibo posts are complaints mostly when they are negative, and a Weibo post far more rarely than a
  review (a diary-like outburst about a colleague is no complaint about a company).
Column 0 is the detector (logistic), the next len(keys) columns one-vs-rest category logits (fitted on
complaints only), the last len(grades) columns a multinomial grade model (complaints only). The decision
thresholds chosen in training travel with the weights.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from monitor.enrich.bigram_vectors import BigramVectors, empty, post_vectors
from monitor.enrich.complaint_evidence import (
    FEATURE_NAMES,
    LEXICON_THRESHOLD,
    Evidence,
    evidence_features,
    read_evidence,
)
from monitor.enrich.complaint_guards import GUARD_FEATURES, guard_flags
from monitor.enrich.complaint_rules import CATEGORY_KEYS, GRADES, load_lexicon
from monitor.enrich.textfeatures import featurise, linear_scores, sigmoid

MODEL_PATH = Path(__file__).parent / "models" / "complaint_model.npz"
SENTIMENT_FEATURES = ("sentiment_logit", "sentiment_positive")
# the shared sets the kinds come from: reviews, Weibo posts, and personal Weibo posts (an emotion set)
TEXT_KINDS = ("online_shopping", "waimai", "chnsenticorp_hotel", "weibo", "smp2020_emotion")
KIND_FEATURES = tuple(f"kind:{k}" for k in TEXT_KINDS)
READER_COLUMNS = 1 + len(TEXT_KINDS)  # the sentiment logit, then one logit per kind of text
COLUMNS = 1 + len(CATEGORY_KEYS) + len(GRADES)


def reader_features(logits: np.ndarray) -> np.ndarray:
    """(n, 2 + kinds) from the reader's (n, READER_COLUMNS) logits: the sentiment logit, clipped and scaled
    to [-1, 1], P(positive), and P(kind of text)."""
    sentiment, kinds = logits[:, 0], logits[:, 1:]
    kind = np.exp(kinds - kinds.max(axis=1, keepdims=True))
    return np.hstack([np.stack([np.clip(sentiment, -6.0, 6.0) / 6.0, sigmoid(sentiment)], axis=1),
                      kind / kind.sum(axis=1, keepdims=True)])


DENSE_NAMES = FEATURE_NAMES + GUARD_FEATURES + SENTIMENT_FEATURES + KIND_FEATURES
_GUARD_COLUMNS = slice(len(FEATURE_NAMES), len(FEATURE_NAMES) + len(GUARD_FEATURES))


def vector_names(dim: int) -> tuple[str, ...]:
    """The names of the mean bigram vector's components, the dense features after DENSE_NAMES."""
    return tuple(f"bigram_vector:{i}" for i in range(dim))


def dense_features(evidence: Sequence[Evidence], reader_logits: np.ndarray) -> np.ndarray:
    """What the model reads beside the n-grams: the lexicon's evidence (with its verdict at the lexicon
    decider's margin), the rubric guards that hold, the sentiment score and the kind of text."""
    evidence = list(evidence)
    guards = np.array([guard_flags(ev) for ev in evidence], dtype=np.float64).reshape(len(evidence), -1)
    return np.hstack([evidence_features(evidence, LEXICON_THRESHOLD), guards, reader_features(reader_logits)])


@dataclass(frozen=True)
class Scores:
    """The model's view of a batch: P(complaint), P(category | complaint), P(grade | complaint)."""

    complaint: np.ndarray  # (n,)
    categories: np.ndarray  # (n, len(keys))
    grades: np.ndarray  # (n, len(grades)), rows sum to 1
    guarded: np.ndarray  # (n,) bool: a rubric guard holds (the reasons then say which)


class ComplaintModel:
    def __init__(self, path: Path = MODEL_PATH) -> None:
        with np.load(path) as z:
            self.keys = tuple(str(k) for k in z["keys"])
            self.grades = tuple(str(g) for g in z["grades"])
            names = tuple(str(n) for n in z["feature_names"])
            self.bigrams = (BigramVectors(z["bigram_keys"].astype(np.uint64), z["bigram_vectors"].astype(np.int8),
                                          float(z["bigram_scale"])) if "bigram_keys" in z else empty(0))
            if names != DENSE_NAMES + vector_names(self.bigrams.dim):
                raise ValueError(f"{path}: trained on other lexicon features; retrain with `crisiswatch train-complaint`")
            self.bits = int(z["bits"])
            self.orders = tuple(int(o) for o in z["orders"])
            # (2**bits, columns + READER_COLUMNS): the reader's sentiment and kind logits come last
            self.hashed = z["hashed"].astype(np.float32)
            self.dense = z["dense"].astype(np.float64)  # (dense features, columns)
            self.biases = z["biases"].astype(np.float64)
            self.reader_bias = z["reader_bias"].astype(np.float64)
            self.threshold = float(z["threshold"])  # P(complaint) at or above which a post is one
            self.second = float(z["second"])  # P(category) a second category needs

    def scores(self, texts: Sequence[str], evidence: Sequence[Evidence]) -> Scores:
        """One vectorised pass for the whole batch; `evidence[i]` is what the lexicon read in `texts[i]`."""
        n = len(texts)
        if n == 0:
            return Scores(np.zeros(0), np.zeros((0, len(self.keys))), np.zeros((0, len(self.grades))),
                          np.zeros(0, dtype=bool))
        hashed = linear_scores(featurise(texts, self.bits, self.orders), self.hashed)
        dense = dense_features(evidence, hashed[:, COLUMNS:] + self.reader_bias)
        if self.bigrams.dim:
            dense = np.hstack([dense, post_vectors(texts, self.bigrams)])
        z = hashed[:, :COLUMNS] + dense @ self.dense + self.biases
        k = len(self.keys)
        grade = np.exp(z[:, 1 + k :] - z[:, 1 + k :].max(axis=1, keepdims=True))
        guards = dense[:, _GUARD_COLUMNS]
        return Scores(sigmoid(z[:, 0]), sigmoid(z[:, 1 : 1 + k]), grade / grade.sum(axis=1, keepdims=True),
                      guards.any(axis=1))

    def _read(self, texts: Sequence[str]) -> Scores:
        lex = load_lexicon()
        return self.scores(texts, [read_evidence(t, lex) for t in texts])

    def probabilities(self, texts: Sequence[str]) -> np.ndarray:
        """(len(texts), len(self.keys)) category probabilities, as if each post were a complaint."""
        return self._read(texts).categories

    def complaint_probability(self, texts: Sequence[str]) -> np.ndarray:
        return self._read(texts).complaint


def save_model(path: Path, hashed: np.ndarray, dense: np.ndarray, biases: np.ndarray, bits: int,
               orders: Sequence[int], reader: tuple[np.ndarray, np.ndarray] | None = None,
               threshold: float = 0.5, second: float = 0.5, bigrams: BigramVectors | None = None) -> Path:
    """Write a model file: `hashed` (2**bits, COLUMNS), `dense` (dense features, COLUMNS), `biases`
    (COLUMNS,) for the detector, one column per category key and one per grade; `reader` the n-gram
    weights (2**bits, READER_COLUMNS) and biases of the sentiment and kind scores (None: constant, neutral
    and every kind alike); `bigrams` the bigram vectors whose post means follow DENSE_NAMES in `dense`
    (None: no such features)."""
    bigrams = bigrams if bigrams is not None else empty(0)
    names = DENSE_NAMES + vector_names(bigrams.dim)
    if hashed.shape != (1 << bits, COLUMNS) or dense.shape != (len(names), COLUMNS):
        raise ValueError(f"weights of shape {hashed.shape} / {dense.shape} do not fit {COLUMNS} columns")
    weights, bias = reader if reader is not None else (np.zeros((1 << bits, READER_COLUMNS)), np.zeros(READER_COLUMNS))
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(
        path, hashed=np.hstack([hashed, weights]).astype(np.float16), dense=dense.astype(np.float32),
        biases=np.asarray(biases, dtype=np.float32), reader_bias=np.asarray(bias, dtype=np.float32),
        keys=np.array(CATEGORY_KEYS),
        grades=np.array(GRADES), feature_names=np.array(names), bits=bits, orders=np.array(orders),
        threshold=np.float32(threshold), second=np.float32(second),
        bigram_keys=bigrams.keys, bigram_vectors=bigrams.vectors, bigram_scale=np.float64(bigrams.scale),
    )
    return path


@functools.cache
def load_complaint_model(path: str | None = None) -> ComplaintModel | None:
    """The committed model, or None when the file is absent (the lexicon then decides alone)."""
    target = Path(path) if path else MODEL_PATH
    return ComplaintModel(target) if target.is_file() else None
