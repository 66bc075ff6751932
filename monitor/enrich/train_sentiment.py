"""Train the crisiswatch sentiment and anger models: `python -m monitor.enrich.train_sentiment`.

Needs scikit-learn and scipy (the `train` extra); inference needs only numpy.

Held-out split (also used by `benchmarks/sentiment.py`), fixed before any tuning: a row is held
out when SHA-1 of HELD_OUT_SALT + its review text, read big-endian, is 0 mod 4 (a quarter of
each file). Hashing the text rather than the row number keeps duplicate reviews on one side.
Nothing held out is trained on, so the committed artefact can be evaluated on it; settings were
chosen by validation inside the training rows.

Features: hashed character 1-3-grams as TF-IDF (IDF folded into the weights, the L2 norm from a
stored IDF-squared table). The model is a mixture of experts over 13 kinds of text (DOMAINS):
  logit(x) = sum_d P(d | x) * (sum_m a_dm * member_md(x) + k_d)
where d runs over the ten kinds of product of the online shopping set (books, tablets, phones, fruit,
shampoo, water heaters, Mengniu milk, clothes, computers, hotels), food delivery, hotel reviews and
Weibo, P(d | x) is a 13-way domain classifier on the same features, and member_md is member m's
linear model for domain d (MEMBERS, see `Member`): a general model trained on all four sets (the
same for every d), an expert trained on domain d alone, or an adapted model trained on all sets
with every n-gram once shared and once per domain (Daume 2007), whose domain-d model is the shared
weights plus domain d's. Members are NB-LR
(logistic regression on naive-Bayes log-count-ratio-scaled features, Wang & Manning 2012) or
plain LR, at their own regularisation. The mixing weights a, k are a logistic regression on
out-of-fold scores (4 folds inside the training rows), so they are never fitted on scores of rows
a base model saw and they choose, per kind of text, how much of each member to trust. Every
member is linear in the same features, so each domain's mixture folds into one weight column:
inference is one gather of 26 int8 columns (13 domains, 13 domain logits), whatever the members.
Weights are stored and gathered as int8 with a scale per column. Members and settings are chosen with
`benchmarks/sentiment_cv.py` (cross-validation inside the training rows against the fair
baseline); `--cache` reuses the out-of-fold scores it computed.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import NamedTuple

import numpy as np

from crisiswatch.errors import CrisiswatchError
from monitor.enrich.textfeatures import featurise, idf, to_csr

SENTIMENT_SETS = ("online_shopping", "waimai", "chnsenticorp_hotel", "weibo")
# Online shopping's reviews are of ten kinds of product (its `cat` column), whose words differ ("薄" of a
# shirt, "甜" of fruit, "慢" of a computer): each is a domain of its own, so the kinds of text are 13.
ONLINE_SHOPPING_CATS = ("书籍", "平板", "手机", "水果", "洗发水", "热水器", "蒙牛", "衣服", "计算机", "酒店")
DOMAINS = tuple(f"online_shopping:{c}" for c in ONLINE_SHOPPING_CATS) + SENTIMENT_SETS[1:]
SET_OF_DOMAIN = np.array([SENTIMENT_SETS.index(d.split(":")[0]) for d in DOMAINS])  # index into SENTIMENT_SETS
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


def read_domains(data: Path, name: str, rows: int) -> list[int]:
    """The domain (index into DOMAINS) of each of the `rows` rows of sentiment set `name`, in read_set's
    order: a set is one domain, except online shopping, whose `cat` column is read for it."""
    if name != SENTIMENT_SETS[0]:
        return [DOMAINS.index(name)] * rows
    with open(data / f"{name}.csv", encoding="utf-8", newline="") as fh:
        cats = [row.get("cat") or "" for row in csv.DictReader(fh)]
    unknown = sorted(set(cats) - set(ONLINE_SHOPPING_CATS))
    if unknown:
        raise CrisiswatchError(f"{data / name}.csv: product categories {', '.join(map(repr, unknown))} are not "
                               f"among {', '.join(ONLINE_SHOPPING_CATS)}")
    return [ONLINE_SHOPPING_CATS.index(c) for c in cats]


def split(rows: list[tuple[str, str]]) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    train = [r for r in rows if not is_held_out(r[0])]
    test = [r for r in rows if is_held_out(r[0])]
    return train, test


def nb_ratio(x, y: np.ndarray, alpha: float = 1.0) -> np.ndarray:
    """Naive-Bayes log-count ratios of the features' presence (Wang & Manning 2012), smoothed by alpha."""
    present = (x > 0).astype(np.float64)
    pos = np.asarray(present[y == 1].sum(0)).ravel() + alpha
    neg = np.asarray(present[y == 0].sum(0)).ravel() + alpha
    return np.log((pos / pos.sum()) / (neg / neg.sum()))


GENERAL, EXPERT, ADAPT = "general", "expert", "adapt"


class Member(NamedTuple):
    """One base model of the mixture: its kind, NB-LR or LR, its C and NB smoothing alpha.

    general: one model on all four sets; expert: one model per domain, on that domain alone; adapt:
    one model on all sets whose features are each n-gram once shared and once per domain
    (Daume 2007), so a domain's column is the shared weights plus its own, fitted jointly.
    """

    kind: str
    nb: bool
    c: float
    alpha: float = 1.0

    def __str__(self) -> str:
        return f"{self.kind}:{'nb' if self.nb else 'lr'}:{self.c:g}" + (f":{self.alpha:g}" if self.alpha != 1.0 else "")

    @classmethod
    def parse(cls, spec: str) -> Member:
        """KIND:MODEL:C[:ALPHA], e.g. expert:nb:4 or adapt:lr:16 (the form str() gives)."""
        kind, model, c, *alpha = spec.split(":")
        if kind not in (GENERAL, EXPERT, ADAPT) or model not in ("nb", "lr") or len(alpha) > 1:
            raise ValueError(f"bad member {spec!r}: KIND (general|expert|adapt):MODEL (nb|lr):C[:ALPHA]")
        return cls(kind, model == "nb", float(c), float(alpha[0]) if alpha else 1.0)


MEMBERS = (
    Member(GENERAL, nb=True, c=C_NB), Member(GENERAL, nb=False, c=C_LR),
    Member(EXPERT, nb=True, c=C_NB),
    # Plain-LR experts at two strengths: in 4-fold cross-validation inside the training rows they
    # lifted online shopping and delivery by 0.1-0.2 point over the three members above.
    Member(EXPERT, nb=False, c=8.0), Member(EXPERT, nb=False, c=32.0),
)
# Tried and not adopted: adapt:nb:4 expert:lr:8 general:nb:16 expert:nb:16 raised the worst set's
# CV margin (benchmarks/sentiment_cv.py) from +0.59 to +0.79 (online shopping; +0.77 nested, vs
# +0.57 nested for these five), yet on the held-out quarter online shopping fell from +0.49 to
# +0.33 point. Nested CV does not reproduce the drop, so it is likely the held-out quarter's noise
# (about 0.2 point on 9,000 rows) plus the optimism of picking 4 of 13 members on the same folds.
# Stop 30, written before its one look at the held-out quarter: the 13 kinds of text (the online shopping
# set split by kind of product, DOMAINS) instead of 4, the same five members, the router 13-way, the stacking
# weights' C 1 instead of 0.1 (13 domains have 78 of them: in CV the worst set's margin is +0.45 at C 0.1,
# +0.69 at 0.3, +0.82 to +0.87 from 1 to 10). CV margins over the fair baseline, shipped (4 kinds, C 0.1) ->
# 13 kinds (C 1): online shopping +0.59 -> +0.97, delivery +1.19 -> +1.16, hotel +0.90 -> +0.82, Weibo
# +2.25 -> +2.34. With P(kind) as P(set) from the 4-way router times P(product | online shopping) from a
# 10-way one it was +0.93 / +1.21 / +1.09 / +2.49 (C 0.1): hotel reviews of the online shopping set then
# compete less with the hotel set; not shipped, as inference would need a softmax per level. Rule: adopted if
# the worst set's held-out margin is above the shipped model's +0.49 (online shopping) and the model keeps
# >= 100x snownlp's throughput (its rows are gathered as int8 now, so 26 columns cost about what 8 did).
# Result (benchmarks/sentiment.py, the fair baseline refitted in the same run): held-out margins online
# shopping +0.49 -> +0.93 (95 % +0.52..+1.32), delivery +0.72 -> +0.72, hotel +0.71 -> +0.95, Weibo +2.49 ->
# +2.45; 193x snownlp (165x before). Adopted: these are MEMBERS and DOMAINS now.
# Also not adopted (stop 28): a sixth member, per-set LR on the post's mean bigram vector (`bigram_vectors`,
# learned from the training rows without labels), which lifted the complaint categories: CV margins
# online shopping +0.59 -> +0.59, delivery +1.19 -> +1.12, hotel +0.90 -> +0.77, Weibo +2.25 -> +2.41.


class _Linear(NamedTuple):
    weights: np.ndarray  # per bucket, on the TF-IDF features (NB ratio folded in)
    bias: float


def _fit(x, y: np.ndarray, c: float, ratio: np.ndarray | None = None) -> _Linear:
    # lazy: the train extra; tests and inference import this module without it
    from scipy.sparse import diags
    from sklearn.linear_model import LogisticRegression

    ratio = np.ones(x.shape[1]) if ratio is None else ratio
    model = LogisticRegression(C=c, max_iter=3000).fit(x @ diags(ratio), y)
    return _Linear(model.coef_.ravel() * ratio, float(model.intercept_[0]))


def _fit_adapted(x, y: np.ndarray, domain: np.ndarray, m: Member) -> list[_Linear]:
    """Feature augmentation: [x, x if domain 0, ..., x if domain n-1, one-hot domain]; per domain, the
    shared weights plus its own block, and the intercept plus its indicator's weight."""
    # lazy: the train extra; tests and inference import this module without it
    from scipy.sparse import csr_matrix, diags, hstack

    n = len(DOMAINS)
    masks = [diags((domain == d).astype(np.float64)) for d in range(n)]
    onehot = csr_matrix(np.eye(n)[domain])
    ratio = None
    if m.nb:
        ratio = np.concatenate([nb_ratio(x, y, m.alpha)]
                               + [nb_ratio(x[domain == d], y[domain == d], m.alpha) for d in range(n)]
                               + [np.ones(n)])
    return split_adapted(_fit(hstack([x] + [mask @ x for mask in masks] + [onehot]).tocsr(), y, m.c, ratio), n)


def split_adapted(fitted: _Linear, n: int) -> list[_Linear]:
    """Per set d, the one linear model on plain features that scores a set-d row as the model on
    augmented features [x, x if set 0, ..., x if set n-1, one-hot set] does."""
    w, b = fitted.weights, (len(fitted.weights) - n) // (n + 1)
    return [_Linear(w[:b] + w[(d + 1) * b:(d + 2) * b], fitted.bias + w[(n + 1) * b + d]) for d in range(n)]


def fit_member(m: Member, x, y: np.ndarray, domain: np.ndarray) -> list[_Linear]:
    """One linear model per domain (the same one for every domain for a general member)."""
    n = len(DOMAINS)
    if m.kind == ADAPT:
        return _fit_adapted(x, y, domain, m)
    if m.kind == EXPERT:
        return [_fit(x[domain == d], y[domain == d], m.c,
                     nb_ratio(x[domain == d], y[domain == d], m.alpha) if m.nb else None) for d in range(n)]
    return [_fit(x, y, m.c, nb_ratio(x, y, m.alpha) if m.nb else None)] * n


def fit_router(x, domain: np.ndarray):
    """The domain classifier: P(kind of text | x)."""
    # lazy: the train extra; tests and inference import this module without it
    from sklearn.linear_model import LogisticRegression

    return LogisticRegression(C=C_DOMAIN, max_iter=3000).fit(x, domain)


def member_scores(linear: list[_Linear], x) -> np.ndarray:
    """(documents, domains): the member's logit under each domain's model."""
    return np.stack([x @ e.weights + e.bias for e in linear], axis=1)


def out_of_fold(x, y: np.ndarray, domain: np.ndarray, fold: np.ndarray, m: Member | None) -> np.ndarray:
    """(documents, domains): each document scored by member `m` (or, for None, the router's
    P(domain)) fitted on the other folds, so no score comes from a model that saw its row."""
    out = np.zeros((len(y), len(DOMAINS)))
    for i, f in enumerate(np.unique(fold)):
        fit, held = fold != f, fold == f
        if m is None:
            out[held] = fit_router(x[fit], domain[fit]).predict_proba(x[held])
        else:
            out[held] = member_scores(fit_member(m, x[fit], y[fit], domain[fit]), x[held])
        print(f"  {m or 'router'}: fold {i + 1}/{len(np.unique(fold))} done", file=sys.stderr, flush=True)
    return out


def feature_tag(bits: int, orders: tuple[int, ...]) -> str:
    """What the out-of-fold scores depend on beside the rows: the features and the number of domains."""
    return f"b{bits}-o{''.join(map(str, orders))}-d{len(DOMAINS)}"


class ScoreCache:
    """Out-of-fold scores kept on disk (outside the repository) under a folder named by what they
    depend on: the training rows and labels, and `features` (e.g. `feature_tag`). Fitting is
    deterministic, so a member's scores computed by `benchmarks/sentiment_cv.py` are the ones
    `train` would compute."""

    def __init__(self, root: Path | None, texts: list[str], y: np.ndarray, features: str) -> None:
        digest = hashlib.sha1("\x00".join(texts).encode("utf-8") + y.astype(np.int8).tobytes()).hexdigest()[:12]
        self.root = root / f"rows-{digest}-{features}" if root else None

    def get(self, key: str, compute: Callable[[], np.ndarray]) -> np.ndarray:
        path = self.root / (key.replace(":", "_") + ".npy") if self.root else None
        if path and path.is_file():
            print(f"  {key}: out-of-fold scores from {path}", file=sys.stderr)
            return np.load(path)
        started = time.perf_counter()
        value = compute()
        print(f"  {key}: {time.perf_counter() - started:.0f}s", file=sys.stderr, flush=True)
        if path:
            path.parent.mkdir(parents=True, exist_ok=True)
            np.save(path, value)
        return value


def _meta_features(scores: np.ndarray, p_domain: np.ndarray) -> np.ndarray:
    """Per domain d, gated by P(d|x): every member's logit for d, and 1."""
    g = p_domain[:, :, None]
    cols = np.concatenate([g * scores, g], axis=2)  # (documents, domains, members + 1)
    return cols.reshape(len(cols), -1)


def fit_mix(scores: np.ndarray, p_domain: np.ndarray, y: np.ndarray, c: float = C_META) -> np.ndarray:
    """The stacking weights, (domains, members + 1): per domain one weight per member, then an
    intercept. `scores` is (documents, domains, members) of out-of-fold logits."""
    # lazy: the train extra; tests and inference import this module without it
    from sklearn.linear_model import LogisticRegression

    meta = LogisticRegression(C=c, max_iter=3000, fit_intercept=False).fit(_meta_features(scores, p_domain), y)
    return meta.coef_.reshape(p_domain.shape[1], scores.shape[2] + 1)


def mixed_logit(mix: np.ndarray, scores: np.ndarray, p_domain: np.ndarray) -> np.ndarray:
    """The mixture's sentiment logit per document, as the folded columns compute it."""
    return _meta_features(scores, p_domain) @ mix.ravel()


def training_rows(data: Path) -> tuple[list[str], np.ndarray, np.ndarray]:
    """The non-held-out rows of the four sets: texts, labels (1 positive) and domain (index into DOMAINS;
    SET_OF_DOMAIN gives the set)."""
    texts, labels, domains = [], [], []
    for name in SENTIMENT_SETS:
        rows = read_set(data, name)
        for (text, label), domain in zip(rows, read_domains(data, name, len(rows)), strict=True):
            if not is_held_out(text):
                texts.append(text)
                labels.append(int(label))
                domains.append(domain)
    return texts, np.array(labels), np.array(domains)


def tfidf(texts: list[str], bits: int = BITS, orders: tuple[int, ...] = ORDERS):
    """The training matrix (hashed n-gram TF-IDF, rows L2-normalised) and the IDF per bucket."""
    # lazy: the train extra; tests and inference import this module without it
    from scipy.sparse import diags

    batch = featurise(texts, bits, orders)
    idf_w = idf(batch, bits)
    return (to_csr(batch, bits, idf_w**2) @ diags(idf_w)).tocsr(), idf_w


def folds(texts: list[str]) -> np.ndarray:
    """The fold of each training row (a salted text hash, so duplicates share a fold)."""
    return np.array([_hash_mod("fold", t, FOLDS) for t in texts])


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


def train(data: Path, out: Path, members: tuple[Member, ...] = MEMBERS, cache: Path | None = None) -> Path:
    # lazy: the train extra; tests and inference import this module without it
    from sklearn.linear_model import LogisticRegression

    texts, y, domain = training_rows(data)
    x, idf_w = tfidf(texts)
    print(f"training on {x.shape[0]} documents, {1 << BITS} buckets", file=sys.stderr)

    fold, scores = folds(texts), ScoreCache(cache, texts, y, feature_tag(BITS, ORDERS))
    oof_scores = np.stack([scores.get(str(m), lambda m=m: out_of_fold(x, y, domain, fold, m)) for m in members], axis=2)
    mix = fit_mix(oof_scores, scores.get("router", lambda: out_of_fold(x, y, domain, fold, None)), y)
    linear = [fit_member(m, x, y, domain) for m in members]
    router = fit_router(x, domain)
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
        weights=weights,  # (buckets, 2 x domains): per-domain sentiment, then domain logits
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
    print(f"mixing weights (per domain: {', '.join(map(str, members))}, intercept):\n{np.round(mix, 3)}", file=sys.stderr)
    print(f"wrote {path} ({path.stat().st_size / 1e6:.2f} MB)", file=sys.stderr)
    return path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="train_sentiment", description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=DEFAULT_DATA, help=f"labelled CSV folder (default {DEFAULT_DATA})")
    parser.add_argument("--out", default=DEFAULT_OUT, help="where to write sentiment.npz")
    parser.add_argument("--cache", type=Path,
                        help="a folder of out-of-fold scores to reuse and fill (as benchmarks/sentiment_cv.py does)")
    args = parser.parse_args(argv)
    data = Path(args.data)
    missing = [n for n in (*SENTIMENT_SETS, "smp2020_emotion") if not (data / f"{n}.csv").is_file()]
    if missing:
        raise CrisiswatchError(f"{data}: missing {', '.join(m + '.csv' for m in missing)}")
    train(data, Path(args.out), cache=args.cache)
    return 0


if __name__ == "__main__":
    sys.exit(main())
