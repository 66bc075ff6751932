"""Features of English posts for the English sentiment model (tweets: short, noisy, sarcastic).

Three views of each post, all computed per batch so training and inference share one function:
hashed word 1-3-grams, hashed character 2-5-grams (misspellings, elongations, hashtags glued
to words) and a handful of lexicon sums. The lexicon is VADER's (valence per word, MIT licence,
stored inside the model file): it knows that "furious" is negative even when the few thousand
labelled tweets never used it, which n-grams learned from them cannot.
"""

from __future__ import annotations

import math
import re
import unicodedata
import zlib
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import NamedTuple

import numpy as np

from monitor.enrich.textfeatures import SEP, Batch, featurise, hash_ngrams, linear_scores, sigmoid

MODEL_PATH = Path(__file__).parent / "models" / "sentiment_en.npz"
BATCH = 20_000
WORD_ORDERS = (1, 2, 3)
CHAR_ORDERS = (2, 3, 4, 5)
# A negator flips (and damps, as VADER does) the valence of the next few words: "not good".
NEGATORS = frozenset(
    "not no never nothing nobody none neither nor without hardly cannot cant dont doesnt didnt isnt wasnt "
    "arent werent wont wouldnt shouldnt couldnt aint".split()
)
NEGATION_WINDOW = 3
NEGATION_DAMP = -0.74
DENSE = 8

_URL = re.compile(r"https?://\S+|www\.\S+")
_USER = re.compile(r"@\w+")
_REPEAT = re.compile(r"(.)\1{2,}")  # "sooooo" -> "soo": keeps the emphasis, shares the word
_TOKEN = re.compile(r"[#@]?[a-z0-9]+(?:'[a-z]+)?|[:;=8][\-o^']?[()\[\]dpo/\\|]|[!?]+|[^\sa-z0-9]", re.I)


class EnglishBatch(NamedTuple):
    words: Batch
    chars: Batch
    dense: np.ndarray  # (documents, DENSE)


def normalise(text: str) -> str:
    text = unicodedata.normalize("NFKC", text).lower().replace(SEP, " ").replace("\u2019", "'")
    text = _URL.sub(" http ", text)
    text = _USER.sub(" @user ", text)
    return _REPEAT.sub(r"\1\1", text)


def tokens(normalised: str) -> list[str]:
    return _TOKEN.findall(normalised)


_TOKEN_IDS: dict[str, int] = {}  # memo: tweets repeat words, and crc32 per occurrence dominated


def _token_id(token: str) -> int:
    found = _TOKEN_IDS.get(token)
    if found is None:
        found = zlib.crc32(token.encode("utf-8")) + 1  # never 0, the document separator
        if len(_TOKEN_IDS) < 1_000_000:
            _TOKEN_IDS[token] = found
    return found


def lexicon_features(toks: Sequence[str], lexicon: Mapping[str, float]) -> list[float]:
    pos = neg = 0.0
    n_pos = n_neg = 0
    last_negator = -NEGATION_WINDOW - 1
    for i, tok in enumerate(toks):
        if tok in NEGATORS or tok.endswith("n't"):
            last_negator = i
            continue
        v = lexicon.get(tok[1:] if tok[0] == "#" else tok)
        if v is None:
            continue
        if i - last_negator <= NEGATION_WINDOW:
            v *= NEGATION_DAMP
        if v > 0:
            pos, n_pos = pos + v, n_pos + 1
        else:
            neg, n_neg = neg + v, n_neg + 1
    root = math.sqrt(max(len(toks), 1))
    exclaim = any(t[0] == "!" for t in toks)
    question = any(t[0] == "?" for t in toks)
    return [pos / root, neg / root, math.tanh(pos / 4), math.tanh(neg / 4), float(n_pos > 0), float(n_neg > 0),
            float(exclaim), float(question)]


def featurise_en(texts: Sequence[str], bits: int, lexicon: Mapping[str, float]) -> EnglishBatch:
    normalised = [normalise(t) for t in texts]
    per_doc = [tokens(t) for t in normalised]
    ids: list[int] = []
    for i, toks in enumerate(per_doc):
        if i:
            ids.append(0)
        ids.extend(_token_id(t) for t in toks)
    words = hash_ngrams(np.array(ids, dtype=np.uint64), len(texts), bits, WORD_ORDERS)
    chars = featurise(normalised, bits, CHAR_ORDERS)
    dense = np.array([lexicon_features(t, lexicon) for t in per_doc], dtype=np.float64).reshape(len(texts), DENSE)
    return EnglishBatch(words, chars, dense)


class EnglishSentiment:
    """Three-class sentiment of English posts (one-vs-rest NB-LR over the features above)."""

    name = "crisiswatch-en"
    LABELS = ("negative", "neutral", "positive")

    def __init__(self, path: Path = MODEL_PATH) -> None:
        with np.load(path) as z:
            self.bits = int(z["bits"])
            self.word_weights = z["word_weights"].astype(np.float32) * z["word_scales"].astype(np.float32)
            self.char_weights = z["char_weights"].astype(np.float32) * z["char_scales"].astype(np.float32)
            self.word_sq_idf = z["word_sq_idf"].astype(np.float64)
            self.char_sq_idf = z["char_sq_idf"].astype(np.float64)
            self.dense_weights = z["dense_weights"].astype(np.float64)
            self.biases = z["biases"].astype(np.float64)
            self.lexicon = dict(zip(z["lexicon_words"].tolist(), z["lexicon_valences"].tolist(), strict=True))

    def probabilities(self, texts: Sequence[str]) -> np.ndarray:
        """(documents, 3) class probabilities in LABELS order; blank text gets neutral."""
        out = np.tile([0.0, 1.0, 0.0], (len(texts), 1))
        for start in range(0, len(texts), BATCH):
            chunk = texts[start:start + BATCH]
            f = featurise_en(chunk, self.bits, self.lexicon)
            z = (linear_scores(f.words, self.word_weights, self.word_sq_idf)
                 + linear_scores(f.chars, self.char_weights, self.char_sq_idf)
                 + f.dense @ self.dense_weights + self.biases)
            p = sigmoid(z)
            out[start:start + BATCH] = p / p.sum(axis=1, keepdims=True)
        blank = [i for i, t in enumerate(texts) if not t.strip()]
        out[blank] = [0.0, 1.0, 0.0]
        return out
