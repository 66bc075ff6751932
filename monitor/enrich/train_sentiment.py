"""Train the crisiswatch sentiment and anger models: `python -m monitor.enrich.train_sentiment`.

Needs scikit-learn and scipy (the `train` extra); inference needs only numpy.

Held-out split (also used by `benchmarks/sentiment.py`): a row is held out when the first four
bytes of SHA-1 of its UTF-8 review text, read big-endian, are 0 mod 5 (about 20% of each file).
Hashing the text rather than the row number keeps duplicate reviews on one side. Nothing
held out is ever trained on, so the committed artefact can be evaluated on it.

The sentiment model is three linear models over the same hashed character 1-3-grams:
  logit = general(x) + gate(x) * weibo(x),  gate = sigmoid(weibo-vs-reviews classifier)
`general` is trained on all four sets (reviews dominate it); `weibo` is a Weibo-only expert that
only speaks for text that looks like Weibo, where review-trained weights transfer badly. Both are
NB-LR (logistic regression on features scaled by naive-Bayes log-count ratios, Wang & Manning
2012), folded back into one weight per bucket. Weights are stored as int8 with a scale per model.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import sys
from pathlib import Path

import numpy as np

from monitor.enrich.textfeatures import featurise, to_csr

SENTIMENT_SETS = ("online_shopping", "waimai", "chnsenticorp_hotel", "weibo")
BITS = 20
ANGER_BITS = 16  # 1,600 training posts cannot use more buckets than this
ORDERS = (1, 2, 3)
C_GENERAL, C_WEIBO, C_GATE, C_ANGER = 16.0, 4.0, 4.0, 1.0
DEFAULT_DATA = "../shared/data/sentiment"
DEFAULT_OUT = str(Path(__file__).parent / "models")


def is_held_out(text: str) -> bool:
    return int.from_bytes(hashlib.sha1(text.encode("utf-8")).digest()[:4], "big") % 5 == 0


def read_set(data: Path, name: str) -> list[tuple[str, str]]:
    with open(data / f"{name}.csv", encoding="utf-8", newline="") as fh:
        return [(row["review"] or "", row["label"]) for row in csv.DictReader(fh)]


def split(rows: list[tuple[str, str]]) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    train = [r for r in rows if not is_held_out(r[0])]
    test = [r for r in rows if is_held_out(r[0])]
    return train, test


def _nb_lr(x, y: np.ndarray, c: float) -> tuple[np.ndarray, float]:
    from scipy.sparse import diags
    from sklearn.linear_model import LogisticRegression

    present = (x > 0).astype(np.float64)
    pos = np.asarray(present[y == 1].sum(0)).ravel() + 1.0
    neg = np.asarray(present[y == 0].sum(0)).ravel() + 1.0
    ratio = np.log((pos / pos.sum()) / (neg / neg.sum()))
    model = LogisticRegression(C=c, max_iter=3000).fit(x @ diags(ratio), y)
    return model.coef_.ravel() * ratio, float(model.intercept_[0])


def _lr(x, y: np.ndarray, c: float) -> tuple[np.ndarray, float]:
    from sklearn.linear_model import LogisticRegression

    model = LogisticRegression(C=c, max_iter=3000).fit(x, y)
    return model.coef_.ravel(), float(model.intercept_[0])


def quantise(w: np.ndarray) -> tuple[np.ndarray, float]:
    scale = float(np.abs(w).max()) / 127.0 or 1.0
    return np.round(w / scale).astype(np.int8), scale


def train(data: Path, out: Path) -> Path:
    texts, labels, is_weibo = [], [], []
    for name in SENTIMENT_SETS:
        train_rows, _ = split(read_set(data, name))
        texts += [t for t, _ in train_rows]
        labels += [int(lab) for _, lab in train_rows]
        is_weibo += [name == "weibo"] * len(train_rows)
    y, weibo = np.array(labels), np.array(is_weibo)
    x = to_csr(featurise(texts, BITS, ORDERS), BITS)
    print(f"training on {x.shape[0]} documents, {1 << BITS} buckets", file=sys.stderr)
    general = _nb_lr(x, y, C_GENERAL)
    expert = _nb_lr(x[weibo], y[weibo], C_WEIBO)
    gate = _lr(x, weibo.astype(int), C_GATE)
    columns, scales = zip(*(quantise(w) for w, _ in (general, expert, gate)), strict=True)

    emotion = split(read_set(data, "smp2020_emotion"))[0]
    batch = featurise([t for t, _ in emotion], BITS, ORDERS)
    # The top bits of the same hash: anger shares the featurisation pass with sentiment.
    anger_x = to_csr(batch._replace(bucket=batch.bucket >> (BITS - ANGER_BITS)), ANGER_BITS)
    anger_w, anger_b = _lr(anger_x, np.array([lab == "angry" for _, lab in emotion], dtype=int), C_ANGER)
    anger_q, anger_scale = quantise(anger_w)

    out.mkdir(parents=True, exist_ok=True)
    path = out / "sentiment.npz"
    np.savez_compressed(
        path,
        weights=np.stack(columns, axis=1),  # (buckets, 3): general, weibo expert, gate
        scales=np.array(scales, dtype=np.float32),
        biases=np.array([general[1], expert[1], gate[1]], dtype=np.float32),
        anger_weights=anger_q,
        anger_scale=np.float32(anger_scale),
        anger_bias=np.float32(anger_b),
        bits=BITS,
        anger_bits=ANGER_BITS,
        orders=np.array(ORDERS),
    )
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
        from crisiswatch.errors import CrisiswatchError

        raise CrisiswatchError(f"{data}: missing {', '.join(m + '.csv' for m in missing)}")
    train(data, Path(args.out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
