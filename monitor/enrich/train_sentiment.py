"""Train the crisiswatch sentiment and anger models: `python -m monitor.enrich.train_sentiment`.

Needs scikit-learn and scipy (the `train` extra); inference needs only numpy.

Held-out split (also used by `benchmarks/sentiment.py`), fixed before any tuning: a row is held
out when SHA-1 of HELD_OUT_SALT + its review text, read big-endian, is 0 mod 4 (a quarter of
each file). Hashing the text rather than the row number keeps duplicate reviews on one side.
Nothing held out is trained on, so the committed artefact can be evaluated on it; settings were
chosen by validation inside the training rows.

Features: hashed character 1-3-grams as TF-IDF (IDF folded into the weights, the L2 norm from a
stored IDF-squared table). The model is a mixture of experts over the four kinds of text:
  logit(x) = sum_d P(d | x) * (a_d * general_nb(x) + b_d * general_lr(x) + c_d * expert_d(x) + k_d)
where d runs over online shopping, food delivery, hotel and Weibo, P(d | x) is a 4-way domain
classifier on the same features, `general_*` are trained on all four sets (NB-LR: logistic
regression on naive-Bayes log-count-ratio-scaled features, Wang & Manning 2012; and plain LR),
and `expert_d` is NB-LR on set d alone. The mixing weights a, b, c, k are a logistic regression on
out-of-fold scores (4 folds inside the training rows), so they are never fitted on scores of rows
a base model saw. Each domain's mixture folds into one weight column, so inference is one gather
of 8 columns (4 domains, 4 domain logits). Weights are stored as int8 with a scale per column.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import sys
from pathlib import Path
from typing import NamedTuple

import numpy as np

from crisiswatch.errors import CrisiswatchError
from monitor.enrich.textfeatures import featurise, idf, to_csr

SENTIMENT_SETS = ("online_shopping", "waimai", "chnsenticorp_hotel", "weibo")
HELD_OUT_SALT = "crisiswatch-sentiment-2024"
BITS = 20
ANGER_BITS = 16  # 1,600 training posts cannot use more buckets than this
ORDERS = (1, 2, 3)
C_NB, C_LR, C_DOMAIN, C_META, C_ANGER = 4.0, 8.0, 8.0, 1.0, 1.0
FOLDS = 4
DEFAULT_DATA = "../shared/data/sentiment"
DEFAULT_OUT = str(Path(__file__).parent / "models")


def _hash_mod(salt: str, text: str, k: int) -> int:
    return int.from_bytes(hashlib.sha1((salt + text).encode("utf-8")).digest()[:4], "big") % k


def is_held_out(text: str) -> bool:
    return _hash_mod(HELD_OUT_SALT, text, 4) == 0


def read_set(data: Path, name: str) -> list[tuple[str, str]]:
    with open(data / f"{name}.csv", encoding="utf-8", newline="") as fh:
        return [(row["review"] or "", row["label"]) for row in csv.DictReader(fh)]


def split(rows: list[tuple[str, str]]) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    train = [r for r in rows if not is_held_out(r[0])]
    test = [r for r in rows if is_held_out(r[0])]
    return train, test


def _nb_ratio(x, y: np.ndarray) -> np.ndarray:
    present = (x > 0).astype(np.float64)
    pos = np.asarray(present[y == 1].sum(0)).ravel() + 1.0
    neg = np.asarray(present[y == 0].sum(0)).ravel() + 1.0
    return np.log((pos / pos.sum()) / (neg / neg.sum()))


class _Linear(NamedTuple):
    weights: np.ndarray  # per bucket, on the TF-IDF features (NB ratio folded in)
    bias: float


def _fit(x, y: np.ndarray, c: float, nb: bool) -> _Linear:
    from scipy.sparse import diags
    from sklearn.linear_model import LogisticRegression

    ratio = _nb_ratio(x, y) if nb else np.ones(x.shape[1])
    model = LogisticRegression(C=c, max_iter=3000).fit(x @ diags(ratio), y)
    return _Linear(model.coef_.ravel() * ratio, float(model.intercept_[0]))


def _base_models(x, y: np.ndarray, domain: np.ndarray):
    """general NB-LR, general LR, one NB-LR expert per domain, and the domain classifier."""
    from sklearn.linear_model import LogisticRegression

    linear = [_fit(x, y, C_NB, nb=True), _fit(x, y, C_LR, nb=False)]
    linear += [_fit(x[domain == d], y[domain == d], C_NB, nb=True) for d in range(len(SENTIMENT_SETS))]
    router = LogisticRegression(C=C_DOMAIN, max_iter=3000).fit(x, domain)
    return linear, router


def _scores(models, x) -> tuple[np.ndarray, np.ndarray]:
    linear, router = models
    return np.stack([x @ m.weights + m.bias for m in linear], axis=1), router.predict_proba(x)


def _meta_features(scores: np.ndarray, p_domain: np.ndarray) -> np.ndarray:
    """Per domain d, gated by P(d|x): general NB-LR, general LR, expert d, and 1."""
    cols = []
    for d in range(p_domain.shape[1]):
        g = p_domain[:, d]
        cols += [g * scores[:, 0], g * scores[:, 1], g * scores[:, 2 + d], g]
    return np.stack(cols, axis=1)


def quantise(w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """int8 per column with one float scale per column."""
    w = w.reshape(w.shape[0], -1)
    scale = np.abs(w).max(axis=0) / 127.0
    scale[scale == 0] = 1.0
    return np.round(w / scale).astype(np.int8), scale.astype(np.float32)


def train(data: Path, out: Path) -> Path:
    from scipy.sparse import diags
    from sklearn.linear_model import LogisticRegression

    texts, labels, domains = [], [], []
    for d, name in enumerate(SENTIMENT_SETS):
        train_rows, _ = split(read_set(data, name))
        texts += [t for t, _ in train_rows]
        labels += [int(lab) for _, lab in train_rows]
        domains += [d] * len(train_rows)
    y, domain = np.array(labels), np.array(domains)
    batch = featurise(texts, BITS, ORDERS)
    idf_w = idf(batch, BITS)
    x = (to_csr(batch, BITS, idf_w**2) @ diags(idf_w)).tocsr()
    print(f"training on {x.shape[0]} documents, {1 << BITS} buckets", file=sys.stderr)

    fold = np.array([_hash_mod("fold", t, FOLDS) for t in texts])
    oof_scores, oof_domain = np.zeros((len(y), 2 + len(SENTIMENT_SETS))), np.zeros((len(y), len(SENTIMENT_SETS)))
    for f in range(FOLDS):
        fit = fold != f
        oof_scores[~fit], oof_domain[~fit] = _scores(_base_models(x[fit], y[fit], domain[fit]), x[~fit])
        print(f"fold {f + 1}/{FOLDS} done", file=sys.stderr)
    meta = LogisticRegression(C=C_META, max_iter=3000, fit_intercept=False).fit(
        _meta_features(oof_scores, oof_domain), y)
    mix = meta.coef_.reshape(len(SENTIMENT_SETS), 4)  # per domain: a, b, c, k
    (general_nb, general_lr, *experts), router = _base_models(x, y, domain)

    columns, biases = [], []
    for d, (a, b, c, k) in enumerate(mix):
        columns.append(a * general_nb.weights + b * general_lr.weights + c * experts[d].weights)
        biases.append(a * general_nb.bias + b * general_lr.bias + c * experts[d].bias + k)
    columns += list(router.coef_)
    biases += list(router.intercept_)
    # the IDF is part of every feature value: fold it into the weights
    weights, scales = quantise(np.stack(columns, axis=1) * idf_w[:, None])

    emotion = split(read_set(data, "smp2020_emotion"))[0]
    batch = featurise([t for t, _ in emotion], BITS, ORDERS)
    # The top bits of the same hash: anger shares the featurisation pass with sentiment.
    anger_x = to_csr(batch._replace(bucket=batch.bucket >> (BITS - ANGER_BITS)), ANGER_BITS)
    angry = np.array([lab == "angry" for _, lab in emotion], dtype=int)
    anger = LogisticRegression(C=C_ANGER, max_iter=3000).fit(anger_x, angry)
    anger_q, anger_scale = quantise(anger.coef_.ravel())

    out.mkdir(parents=True, exist_ok=True)
    path = out / "sentiment.npz"
    np.savez_compressed(
        path,
        weights=weights,  # (buckets, 8): per-domain sentiment, then domain logits
        scales=scales,
        biases=np.array(biases, dtype=np.float32),
        sq_idf=(idf_w**2).astype(np.float16),
        mix=mix.astype(np.float32),  # kept for inspection; already folded into the weights
        anger_weights=anger_q[:, 0],
        anger_scale=np.float32(anger_scale[0]),
        anger_bias=np.float32(anger.intercept_[0]),
        bits=BITS,
        anger_bits=ANGER_BITS,
        orders=np.array(ORDERS),
    )
    print(f"mixing weights (a, b, c, k per domain):\n{np.round(mix, 3)}", file=sys.stderr)
    print(f"wrote {path} ({path.stat().st_size / 1e6:.2f} MB)", file=sys.stderr)
    return path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="train_sentiment", description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=DEFAULT_DATA, help=f"labelled CSV folder (default {DEFAULT_DATA})")
    parser.add_argument("--out", default=DEFAULT_OUT, help="where to write sentiment.npz")
    args = parser.parse_args(argv)
    data = Path(args.data)
    missing = [n for n in (*SENTIMENT_SETS, "smp2020_emotion") if not (data / f"{n}.csv").is_file()]
    if missing:
        raise CrisiswatchError(f"{data}: missing {', '.join(m + '.csv' for m in missing)}")
    train(data, Path(args.out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
