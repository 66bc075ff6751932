"""Train the crisiswatch sentiment and anger models: `python -m monitor.enrich.train_sentiment`.

Needs scikit-learn and scipy (the `train` extra); inference needs only numpy.

Held-out split (also used by `benchmarks/sentiment.py`), fixed before any tuning: a row is held
out when SHA-1 of HELD_OUT_SALT + its review text, read big-endian, is 0 mod 4 (a quarter of
each file). Hashing the text rather than the row number keeps duplicate reviews on one side.
Nothing held out is trained on, so the committed artefact can be evaluated on it; settings were
chosen by validation inside the training rows.

Features: hashed character 1-3-grams as TF-IDF (IDF folded into the weights, the L2 norm from a
stored IDF-squared table). The model is a mixture of experts over the four kinds of text:
  logit(x) = sum_d P(d | x) * (sum_m a_dm * general_m(x) + sum_m b_dm * expert_md(x) + k_d)
where d runs over online shopping, food delivery, hotel and Weibo, P(d | x) is a 4-way domain
classifier on the same features, each `general_m` is trained on all four sets and each `expert_md`
on set d alone (MEMBERS: NB-LR, i.e. logistic regression on naive-Bayes log-count-ratio-scaled
features, Wang & Manning 2012, and plain LR, each at a strong and a weak regularisation). The
mixing weights a, b, k are a logistic regression on out-of-fold scores (4 folds inside the
training rows), so they are never fitted on scores of rows a base model saw and they choose, per
kind of text, how much of each member and regularisation strength to trust. Every member is linear
in the same features, so each domain's mixture folds into one weight column: inference is one
gather of 8 columns (4 domains, 4 domain logits), whatever the number of members. Weights are
stored as int8 with a scale per column.
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
C_NB, C_LR, C_DOMAIN, C_META, C_ANGER = 4.0, 8.0, 8.0, 0.1, 1.0
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


def nb_ratio(x, y: np.ndarray) -> np.ndarray:
    """Naive-Bayes log-count ratios of the features' presence (Wang & Manning 2012), smoothed by one."""
    present = (x > 0).astype(np.float64)
    pos = np.asarray(present[y == 1].sum(0)).ravel() + 1.0
    neg = np.asarray(present[y == 0].sum(0)).ravel() + 1.0
    return np.log((pos / pos.sum()) / (neg / neg.sum()))


class Member(NamedTuple):
    """One base model of the mixture: trained on all sets or one expert per set, NB-LR or LR, its C."""

    per_domain: bool
    nb: bool
    c: float


MEMBERS = (
    Member(per_domain=False, nb=True, c=C_NB), Member(per_domain=False, nb=False, c=C_LR),
    Member(per_domain=True, nb=True, c=C_NB),
    # Plain-LR experts at two strengths: in 4-fold cross-validation inside the training rows they
    # lifted online shopping and delivery by 0.1-0.2 point over the three members above.
    Member(per_domain=True, nb=False, c=8.0), Member(per_domain=True, nb=False, c=32.0),
)


class _Linear(NamedTuple):
    weights: np.ndarray  # per bucket, on the TF-IDF features (NB ratio folded in)
    bias: float


def _fit(x, y: np.ndarray, c: float, nb: bool) -> _Linear:
    # lazy: the train extra; tests and inference import this module without it
    from scipy.sparse import diags
    from sklearn.linear_model import LogisticRegression

    ratio = nb_ratio(x, y) if nb else np.ones(x.shape[1])
    model = LogisticRegression(C=c, max_iter=3000).fit(x @ diags(ratio), y)
    return _Linear(model.coef_.ravel() * ratio, float(model.intercept_[0]))


def _base_models(x, y: np.ndarray, domain: np.ndarray, members: tuple[Member, ...] = MEMBERS):
    """Per member, one linear model per domain (the same one for every domain unless it is an
    expert), and the domain classifier."""
    # lazy: the train extra; tests and inference import this module without it
    from sklearn.linear_model import LogisticRegression

    n = len(SENTIMENT_SETS)
    linear = []
    for m in members:
        if m.per_domain:
            linear.append([_fit(x[domain == d], y[domain == d], m.c, m.nb) for d in range(n)])
        else:
            linear.append([_fit(x, y, m.c, m.nb)] * n)
    router = LogisticRegression(C=C_DOMAIN, max_iter=3000).fit(x, domain)
    return linear, router


def _scores(models, x) -> tuple[np.ndarray, np.ndarray]:
    """(documents, domains, members) logits, and (documents, domains) P(domain)."""
    linear, router = models
    s = np.stack([np.stack([x @ e.weights + e.bias for e in per_d], axis=1) for per_d in linear], axis=2)
    return s, router.predict_proba(x)


def _meta_features(scores: np.ndarray, p_domain: np.ndarray) -> np.ndarray:
    """Per domain d, gated by P(d|x): every member's logit for d, and 1."""
    g = p_domain[:, :, None]
    cols = np.concatenate([g * scores, g], axis=2)  # (documents, domains, members + 1)
    return cols.reshape(len(cols), -1)


def fold_mixture(mix: np.ndarray, weights: np.ndarray, biases: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """One weight column and bias per domain from the mixing weights.

    `mix` is (domains, members + 1): per member a weight, then the domain's own intercept;
    `weights` is (members, domains, buckets) and `biases` (members, domains). The mixture is
    linear in the members, so sum_m mix[d, m] * (w_md . x + b_md) + mix[d, -1] is one column.
    """
    columns = np.einsum("dm,mdb->bd", mix[:, :-1], weights)
    return columns, np.einsum("dm,md->d", mix[:, :-1], biases) + mix[:, -1]


def quantise(w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """int8 per column with one float scale per column."""
    w = w.reshape(w.shape[0], -1)
    scale = np.abs(w).max(axis=0) / 127.0
    scale[scale == 0] = 1.0
    return np.round(w / scale).astype(np.int8), scale.astype(np.float32)


def train(data: Path, out: Path) -> Path:
    # lazy: the train extra; tests and inference import this module without it
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
    n = len(SENTIMENT_SETS)
    oof_scores, oof_domain = np.zeros((len(y), n, len(MEMBERS))), np.zeros((len(y), n))
    for f in range(FOLDS):
        fit = fold != f
        oof_scores[~fit], oof_domain[~fit] = _scores(_base_models(x[fit], y[fit], domain[fit]), x[~fit])
        print(f"fold {f + 1}/{FOLDS} done", file=sys.stderr)
    meta = LogisticRegression(C=C_META, max_iter=3000, fit_intercept=False).fit(
        _meta_features(oof_scores, oof_domain), y)
    mix = meta.coef_.reshape(n, len(MEMBERS) + 1)  # per domain: one weight per member, then an intercept
    linear, router = _base_models(x, y, domain)
    columns, biases = fold_mixture(
        mix, np.array([[e.weights for e in per_d] for per_d in linear]),
        np.array([[e.bias for e in per_d] for per_d in linear]))
    columns = np.concatenate([columns, router.coef_.T], axis=1)
    biases = np.concatenate([biases, router.intercept_])
    # the IDF is part of every feature value: fold it into the weights
    weights, scales = quantise(columns * idf_w[:, None])

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
    print(f"mixing weights (per domain: {', '.join(map(str, MEMBERS))}, intercept):\n{np.round(mix, 3)}", file=sys.stderr)
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
