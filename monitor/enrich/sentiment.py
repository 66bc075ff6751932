"""Chinese sentiment and anger scores for crisiswatch documents.

`load_model()` returns the crisiswatch model (hashed character n-gram TF-IDF, a mixture of
linear experts per kind of text, numpy only, trained by `monitor.enrich.train_sentiment`); `load_model("snownlp")` returns the old
baseline for comparison. Both give P(positive) in [0, 1], and 0.5 for blank text, which carries
no opinion and must not push an aggregate either way.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import NamedTuple, Protocol

import numpy as np

from crisiswatch.mention import sentiment_band
from monitor.enrich.english import EnglishSentiment
from monitor.enrich.language import UNDETERMINED, detect_languages
from monitor.enrich.textfeatures import featurise, linear_scores, sigmoid

MODEL_PATH = Path(__file__).parent / "models" / "sentiment.npz"
# Bounds peak memory (a few hundred bytes per character) while staying far past the size
# where per-batch overhead matters.
BATCH = 20_000


class SentimentModel(Protocol):
    name: str

    def predict(self, texts: Sequence[str]) -> list[float]: ...


class CrisiswatchSentiment:
    name = "crisiswatch"

    def __init__(self, path: Path = MODEL_PATH) -> None:
        with np.load(path) as z:
            self.bits = int(z["bits"])
            self.orders = tuple(int(o) for o in z["orders"])
            # Kept as int8 (one scale per column, applied to the sums): with a column per kind of text and
            # one per kind's logit, the gather of the rows is what costs, and int8 rows are a quarter of float32's.
            self.weights = z["weights"].astype(np.int8)
            self.scales = z["scales"].astype(np.float64)
            self.biases = z["biases"].astype(np.float64)
            self.sq_idf = z["sq_idf"].astype(np.float64)
            self.anger_bits = int(z["anger_bits"])
            self.anger_weights = (z["anger_weights"].astype(np.float32) * z["anger_scale"])[:, None]
            self.anger_bias = float(z["anger_bias"])

    def _batched(self, texts: Sequence[str], score: Callable[[Sequence[str]], np.ndarray]) -> list[float]:
        texts = list(texts)
        out = np.full(len(texts), 0.5)
        for start in range(0, len(texts), BATCH):
            out[start : start + BATCH] = score(texts[start : start + BATCH])
        blank = [i for i, t in enumerate(texts) if not t.strip()]
        out[blank] = 0.5
        return out.tolist()

    def _sentiment(self, texts: Sequence[str]) -> np.ndarray:
        s = linear_scores(featurise(texts, self.bits, self.orders), self.weights, self.sq_idf) * self.scales + self.biases
        # columns: one sentiment logit per kind of text, then the logits of the kind itself
        k = s.shape[1] // 2
        domain = np.exp(s[:, k:] - s[:, k:].max(axis=1, keepdims=True))
        domain /= domain.sum(axis=1, keepdims=True)
        return sigmoid((domain * s[:, :k]).sum(axis=1))

    def _anger(self, texts: Sequence[str]) -> np.ndarray:
        batch = featurise(texts, self.bits, self.orders)
        batch = batch._replace(bucket=batch.bucket >> (self.bits - self.anger_bits))
        return sigmoid(linear_scores(batch, self.anger_weights)[:, 0] + self.anger_bias)

    def predict(self, texts: Sequence[str]) -> list[float]:
        return self._batched(texts, self._sentiment)

    def anger(self, texts: Sequence[str]) -> list[float]:
        """P(angry); blank text gets 0.5 like sentiment so callers can treat both alike."""
        return self._batched(texts, self._anger)


class SnowNLPSentiment:
    """The previous baseline: slow (about 190 posts/s) and trained on product reviews only."""

    name = "snownlp"

    def predict(self, texts: Sequence[str]) -> list[float]:
        # lazy: loading snownlp takes about a second, and only the baseline model uses it
        from snownlp import SnowNLP

        return [float(SnowNLP(t).sentiments) if t.strip() else 0.5 for t in texts]


@functools.cache
def _crisiswatch() -> CrisiswatchSentiment:
    return CrisiswatchSentiment()


_MODELS: dict[str, Callable[[], SentimentModel]] = {"crisiswatch": _crisiswatch, "snownlp": SnowNLPSentiment}


def load_model(name: str = "crisiswatch") -> SentimentModel:
    if name not in _MODELS:
        raise ValueError(f"unknown sentiment model {name!r}; choose one of: {', '.join(_MODELS)}")
    return _MODELS[name]()


@functools.cache
def _english() -> EnglishSentiment:
    return EnglishSentiment()


# The sentiment bands (crisiswatch.mention.sentiment_band) a label's positivity score must fall in.
_BAND = {"negative": (0.0, 0.3999), "neutral": (0.4, 0.6), "positive": (0.6001, 1.0)}


class Scored(NamedTuple):
    lang: str
    label: str | None  # negative / neutral / positive; None when no model reads this language
    positive: float | None  # P(positive)
    score: float | None  # positivity on the 0-1 scale of the sentiment bands, in the label's band


def score_by_language(texts: Sequence[str], langs: Sequence[str] | None = None,
                      chinese: SentimentModel | None = None) -> list[Scored]:
    """Each text scored by the model of its own language, and only by that one.

    Chinese goes to `chinese` (the crisiswatch model by default), English to the English model;
    any other language is marked with its code and left unscored. Blank text carries no
    opinion: neutral, 0.5; so does text with no words a language is written in, or too few to tell
    (a bare link, a chain of //@handles, emoji, "ok": "und"). Such a post was read as Chinese or
    English before, and neutral; a missing score would count as a failure wherever scores are averaged.
    """
    texts = list(texts)
    langs = list(langs) if langs is not None else detect_languages(texts)
    out: list[Scored] = [Scored(lang, None, None, None) for lang in langs]
    zh = [i for i, lang in enumerate(langs) if lang == "zh"]
    for i, p in zip(zh, (chinese or load_model()).predict([texts[i] for i in zh]), strict=True):
        out[i] = Scored("zh", sentiment_band(p), p, p)
    en = [i for i, lang in enumerate(langs) if lang == "en"]
    if en:
        model = _english()
        for i, probs in zip(en, model.probabilities([texts[i] for i in en]), strict=True):
            label = model.LABELS[int(np.argmax(probs))]
            lo, hi = _BAND[label]
            positivity = float(probs[2] + 0.5 * probs[1])
            out[i] = Scored("en", label, float(probs[2]), min(max(positivity, lo), hi))
    for i, text in enumerate(texts):
        if not text.strip() or langs[i] == UNDETERMINED:
            out[i] = Scored(UNDETERMINED, "neutral", 0.5, 0.5)
    return out


def anger(texts: Sequence[str]) -> list[float]:
    """P(angry) in [0, 1] per text, from a model trained on SMP2020 Weibo emotions (angry vs rest)."""
    return _crisiswatch().anger(texts)
